import type { AppDeps } from '../app';
import * as investigations from '../../domain/investigations';
import { empty, json } from '../reply';
import { location, pageOf, scopeOf } from './common';
import type { OperationHandlers } from './types';

/** Investigations of a project. */
export function investigationHandlers({ db, config }: AppDeps) {
  return {
    createInvestigation: async (ctx) => {
      const scope = scopeOf(ctx);
      const created = await investigations.createInvestigation(db, scope, ctx.body);
      const path = `/api/${scope.tenantId}/${scope.projectId}/investigation/${created.investigationId}`;
      return json(201, created, location(config.publicUrl, path));
    },
    listInvestigations: async (ctx) =>
      json(200, await investigations.listInvestigations(db, scopeOf(ctx), pageOf(ctx), ctx.query.datasetId)),
    getInvestigation: async (ctx) =>
      json(200, await investigations.getInvestigation(db, scopeOf(ctx), ctx.params.investigationId)),
    updateInvestigation: async (ctx) =>
      json(200, await investigations.updateInvestigation(db, scopeOf(ctx), ctx.params.investigationId, ctx.body)),
    deleteInvestigation: async (ctx) => {
      await investigations.deleteInvestigation(db, config.dataDir, scopeOf(ctx), ctx.params.investigationId);
      return empty();
    },
  } satisfies Partial<OperationHandlers>;
}
