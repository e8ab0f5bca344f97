import type { AppDeps } from '../app';
import { datasetFile, type DownloadFormat } from '../../domain/datasetDownloads';
import * as datasets from '../../domain/datasets';
import { InvalidError } from '../../domain/errors';
import { sendFile } from '../download';
import { empty, json } from '../reply';
import { location, pageOf, scopeOf } from './common';
import type { Handler } from './index';

/** Event logs: upload, list, read, download, delete. */
export function datasetHandlers({ db, engine, config }: AppDeps): Record<string, Handler> {
  return {
    uploadDataset: async (ctx) => {
      if (!ctx.file)
        throw new InvalidError('Validation failed', 'Send the event log as the `file` field.', [
          { field: 'body.file', message: 'is required' },
        ]);
      const scope = scopeOf(ctx);
      const form = ctx.body as datasets.DatasetForm;
      const file = { path: ctx.file.path, originalName: ctx.file.originalname, size: ctx.file.size };
      const created = await datasets.storeDataset(db, engine, config.dataDir, scope, file, form, {
        storageLimitBytes: config.tenantStorageLimitBytes,
      });
      return json(
        201,
        created,
        location(config.publicUrl, `/api/${scope.tenantId}/${scope.projectId}/dataset/${created.datasetId}`),
      );
    },
    listDatasets: async (ctx) =>
      json(
        200,
        await datasets.listDatasets(db, scopeOf(ctx), pageOf(ctx), {
          storageLimitBytes: config.tenantStorageLimitBytes,
        }),
      ),
    getDataset: async (ctx) =>
      json(200, await datasets.getDataset(db, scopeOf(ctx), ctx.params.datasetId.toLowerCase())),
    deleteDataset: async (ctx) => {
      await datasets.deleteDataset(db, config.dataDir, scopeOf(ctx), ctx.params.datasetId.toLowerCase());
      return empty();
    },
    downloadDataset: async (ctx) => {
      const id = ctx.params.datasetId.toLowerCase();
      const format = (ctx.query.format as DownloadFormat | undefined) ?? 'csv';
      const file = await datasetFile(db, engine, config.dataDir, scopeOf(ctx), id, format);
      return sendFile(file, ctx, { DatasetId: id });
    },
  };
}
