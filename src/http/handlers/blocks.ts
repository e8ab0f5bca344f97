import type { AppDeps } from '../app';
import type { ContractSchemas } from '../../api/schemas';
import { Blocks } from '../../domain/blocks';
import type { BlockCreate, BlockUpdate } from '../../api/types';
import { empty, json } from '../reply';
import { location, scopeOf } from './common';
import type { Handler } from './index';

/** Blocks of standard notebooks (page 004, creation through the notebook). */
export function blockHandlers({ db, config }: AppDeps, schemas: ContractSchemas): Record<string, Handler> {
  const blocks = new Blocks(db, schemas);
  return {
    listBlocks: async (ctx) => json(200, await blocks.list(scopeOf(ctx), ctx.params.notebookId.toLowerCase())),
    createBlock: async (ctx) => {
      const scope = scopeOf(ctx);
      const created = await blocks.create(scope, ctx.params.notebookId.toLowerCase(), ctx.body as BlockCreate);
      return json(
        201,
        created,
        location(config.publicUrl, `/api/${scope.tenantId}/${scope.projectId}/block/${created.blockId}`),
      );
    },
    getBlock: async (ctx) => json(200, await blocks.get(scopeOf(ctx), ctx.params.blockId.toLowerCase())),
    updateBlock: async (ctx) =>
      json(200, await blocks.update(scopeOf(ctx), ctx.params.blockId.toLowerCase(), ctx.body as BlockUpdate)),
    deleteBlock: async (ctx) => {
      await blocks.delete(scopeOf(ctx), ctx.params.blockId.toLowerCase());
      return empty();
    },
  };
}
