import type { AppDeps } from '../app';
import * as executions from '../../domain/executions';
import { json } from '../reply';
import { location, scopeOf } from './common';
import type { OperationHandlers } from './types';

/** Executions of notebooks of both types: start one, follow it, read its results. */
export function executionHandlers({ db, queue, kernels, config }: AppDeps) {
  return {
    executeNotebook: async (ctx) => {
      const scope = scopeOf(ctx);
      const notebookId = ctx.params.notebookId;
      const execution = await executions.executeNotebook(db, queue, scope, notebookId, ctx.body ?? {}, () =>
        kernels.kernelNames(),
      );
      const path = `/api/${scope.tenantId}/${scope.projectId}/notebook/${notebookId}/execution/${execution.executionId}`;
      return json(202, execution, location(config.publicUrl, path));
    },
    getNotebookExecution: async (ctx) =>
      json(200, await executions.getExecution(db, scopeOf(ctx), ctx.params.notebookId, ctx.params.executionId)),
    getExecutionResults: async (ctx) => {
      const { notebookId, executionId } = ctx.params;
      const results = await executions.getResults(
        db,
        scopeOf(ctx),
        notebookId,
        executionId,
        ctx.query,
        config.publicUrl,
      );
      return json(200, results);
    },
  } satisfies Partial<OperationHandlers>;
}
