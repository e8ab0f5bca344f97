import type { AppDeps } from '../app';
import { datasetFile } from '../../domain/datasetDownloads';
import * as datasets from '../../domain/datasets';
import { sendFile } from '../download';
import { empty, json } from '../reply';
import { location, pageOf, scopeOf, uploadedFile } from './common';
import type { OperationHandlers } from './types';

/** Event logs: upload, list, read, download, delete. */
export function datasetHandlers({ db, engine, config }: AppDeps) {
  const storage = { storageLimitBytes: config.tenantStorageLimitBytes };
  return {
    uploadDataset: async (ctx) => {
      const file = uploadedFile(ctx, 'the event log');
      const scope = scopeOf(ctx);
      const created = await datasets.storeDataset(db, engine, config.dataDir, scope, file, ctx.body, storage);
      const path = `/api/${scope.tenantId}/${scope.projectId}/dataset/${created.datasetId}`;
      return json(201, created, location(config.publicUrl, path));
    },
    listDatasets: async (ctx) => json(200, await datasets.listDatasets(db, scopeOf(ctx), pageOf(ctx), storage)),
    getDataset: async (ctx) => json(200, await datasets.getDataset(db, scopeOf(ctx), ctx.params.datasetId)),
    deleteDataset: async (ctx) => {
      await datasets.deleteDataset(db, config.dataDir, scopeOf(ctx), ctx.params.datasetId);
      return empty();
    },
    downloadDataset: async (ctx) => {
      const id = ctx.params.datasetId;
      const file = await datasetFile(db, engine, config.dataDir, scopeOf(ctx), id, ctx.query.format ?? 'csv');
      return sendFile(file, ctx, { DatasetId: id });
    },
  } satisfies Partial<OperationHandlers>;
}
