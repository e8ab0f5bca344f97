import type { AppDeps } from '../app';
import * as investigations from '../../domain/investigations';
import type { InvestigationCreate, InvestigationUpdate } from '../../api/types';
import { empty, json } from '../reply';
import { location, pageOf, scopeOf } from './common';
import type { Handler } from './index';

/** Investigations of a project. */
export function investigationHandlers({ db, config }: AppDeps): Record<string, Handler> {
  return {
    createInvestigation: async (ctx) => {
      const scope = scopeOf(ctx);
      const created = await investigations.createInvestigation(db, scope, ctx.body as InvestigationCreate);
      const path = `/api/${scope.tenantId}/${scope.projectId}/investigation/${created.investigationId}`;
      return json(201, created, location(config.publicUrl, path));
    },
    listInvestigations: async (ctx) =>
      json(
        200,
        await investigations.listInvestigations(
          db,
          scopeOf(ctx),
          pageOf(ctx),
          ctx.query.datasetId as string | undefined,
        ),
      ),
    getInvestigation: async (ctx) =>
      json(200, await investigations.getInvestigation(db, scopeOf(ctx), ctx.params.investigationId.toLowerCase())),
    updateInvestigation: async (ctx) =>
      json(
        200,
        await investigations.updateInvestigation(
          db,
          scopeOf(ctx),
          ctx.params.investigationId.toLowerCase(),
          ctx.body as InvestigationUpdate,
        ),
      ),
    deleteInvestigation: async (ctx) => {
      await investigations.deleteInvestigation(
        db,
        config.dataDir,
        scopeOf(ctx),
        ctx.params.investigationId.toLowerCase(),
      );
      return empty();
    },
  };
}
