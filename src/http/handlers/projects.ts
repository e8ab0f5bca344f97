import type { AppDeps } from '../app';
import { createProject, deleteProject, getProject, listProjects } from '../../domain/projects';
import type { ProjectCreate } from '../../api/types';
import { empty, json } from '../reply';
import { location, pageOf } from './common';
import type { Handler } from './index';

/** Projects of the caller's tenant. */
export function projectHandlers({ db, config }: AppDeps): Record<string, Handler> {
  const tenantOf = (ctx: Parameters<Handler>[0]) => ctx.params.tenantId.toLowerCase();
  return {
    createProject: async (ctx) => {
      const project = await createProject(db, tenantOf(ctx), ctx.body as ProjectCreate, ctx.caller!.keyId);
      return json(201, project, location(config.publicUrl, `/api/${project.tenantId}/project/${project.projectId}`));
    },
    listProjects: async (ctx) => json(200, await listProjects(db, tenantOf(ctx), pageOf(ctx))),
    getProject: async (ctx) => json(200, await getProject(db, tenantOf(ctx), ctx.params.projectId.toLowerCase())),
    deleteProject: async (ctx) => {
      await deleteProject(db, config.dataDir, tenantOf(ctx), ctx.params.projectId.toLowerCase());
      return empty();
    },
  };
}
