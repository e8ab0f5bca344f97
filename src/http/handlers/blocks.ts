import type { AppDeps } from '../app';
import type { ContractSchemas } from '../../api/schemas';
import { Blocks } from '../../domain/blocks';
import { empty, json } from '../reply';
import { location, scopeOf } from './common';
import type { OperationHandlers } from './types';

/** Blocks of standard notebooks (created through their notebook). */
export function blockHandlers({ db, config }: AppDeps, schemas: ContractSchemas) {
  const blocks = new Blocks(db, schemas);
  return {
    listBlocks: async (ctx) => json(200, await blocks.list(scopeOf(ctx), ctx.params.notebookId)),
    createBlock: async (ctx) => {
      const scope = scopeOf(ctx);
      const created = await blocks.create(scope, ctx.params.notebookId, ctx.body);
      const path = `/api/${scope.tenantId}/${scope.projectId}/block/${created.blockId}`;
      return json(201, created, location(config.publicUrl, path));
    },
    getBlock: async (ctx) => json(200, await blocks.get(scopeOf(ctx), ctx.params.blockId)),
    updateBlock: async (ctx) => json(200, await blocks.update(scopeOf(ctx), ctx.params.blockId, ctx.body)),
    deleteBlock: async (ctx) => {
      await blocks.delete(scopeOf(ctx), ctx.params.blockId);
      return empty();
    },
  } satisfies Partial<OperationHandlers>;
}
