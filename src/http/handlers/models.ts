import type { AppDeps } from '../app';
import * as models from '../../domain/models';
import { contentDisposition } from '../download';
import { empty, json, type RawReply } from '../reply';
import { location, pageOf, scopeOf, uploadedFile } from './common';
import type { OperationHandlers } from './types';

/** Process models: upload, list, read, download, delete. */
export function modelHandlers({ db, config }: AppDeps) {
  const storage = { storageLimitBytes: config.tenantStorageLimitBytes };
  return {
    uploadModel: async (ctx) => {
      const file = uploadedFile(ctx, 'the model');
      const scope = scopeOf(ctx);
      const created = await models.uploadModel(db, scope, file, ctx.body, storage);
      const path = `/api/${scope.tenantId}/${scope.projectId}/model/${created.modelId}`;
      return json(201, created, location(config.publicUrl, path));
    },
    listModels: async (ctx) => json(200, await models.listModels(db, scopeOf(ctx), pageOf(ctx))),
    getModel: async (ctx) => json(200, await models.getModel(db, scopeOf(ctx), ctx.params.modelId)),
    deleteModel: async (ctx) => {
      await models.deleteModel(db, scopeOf(ctx), ctx.params.modelId);
      return empty();
    },
    downloadModel: async (ctx): Promise<RawReply<200>> => {
      const file = await models.modelFile(db, scopeOf(ctx), ctx.params.modelId, ctx.query.format ?? 'pnml');
      return {
        status: 200,
        body: file.body,
        contentType: file.contentType,
        headers: { 'Content-Disposition': contentDisposition(file.fileName) },
      };
    },
  } satisfies Partial<OperationHandlers>;
}
