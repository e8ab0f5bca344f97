import type { AppDeps } from '../app';
import * as executions from '../../domain/executions';
import type { NotebookExecuteRequest } from '../../api/types';
import { json } from '../reply';
import { location, scopeOf } from './common';
import type { Handler } from './index';

/** Notebook executions (page 000); standard notebooks for now. */
export function executionHandlers({ db, queue, kernels, config }: AppDeps): Record<string, Handler> {
  return {
    executeNotebook: async (ctx) => {
      const scope = scopeOf(ctx);
      const notebookId = ctx.params.notebookId.toLowerCase();
      const body = (ctx.body ?? {}) as NotebookExecuteRequest;
      const execution = await executions.executeNotebook(db, queue, scope, notebookId, body, () =>
        kernels.kernelNames(),
      );
      const path = `/api/${scope.tenantId}/${scope.projectId}/notebook/${notebookId}/execution/${execution.executionId}`;
      return json(202, execution, location(config.publicUrl, path));
    },
    getNotebookExecution: async (ctx) =>
      json(
        200,
        await executions.getExecution(
          db,
          scopeOf(ctx),
          ctx.params.notebookId.toLowerCase(),
          ctx.params.executionId.toLowerCase(),
        ),
      ),
    getExecutionResults: async (ctx) =>
      json(
        200,
        await executions.getResults(
          db,
          scopeOf(ctx),
          ctx.params.notebookId.toLowerCase(),
          ctx.params.executionId.toLowerCase(),
          {
            outputType: ctx.query.outputType as string | undefined,
            format: ctx.query.format as string | undefined,
            cellId: ctx.query.cellId as string | undefined,
          },
          config.publicUrl,
        ),
      ),
  };
}
