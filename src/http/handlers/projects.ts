import type { AppDeps } from '../app';
import { createProject, deleteProject, getProject, listProjects } from '../../domain/projects';
import { empty, json } from '../reply';
import { location, pageOf } from './common';
import type { OperationHandlers } from './types';

/** Projects of the caller's tenant. */
export function projectHandlers({ db, config }: AppDeps) {
  return {
    createProject: async (ctx) => {
      const project = await createProject(db, ctx.params.tenantId, ctx.body, ctx.caller!.keyId);
      return json(201, project, location(config.publicUrl, `/api/${project.tenantId}/project/${project.projectId}`));
    },
    listProjects: async (ctx) => json(200, await listProjects(db, ctx.params.tenantId, pageOf(ctx))),
    getProject: async (ctx) => json(200, await getProject(db, ctx.params.tenantId, ctx.params.projectId)),
    deleteProject: async (ctx) => {
      await deleteProject(db, config.dataDir, ctx.params.tenantId, ctx.params.projectId);
      return empty();
    },
  } satisfies Partial<OperationHandlers>;
}
