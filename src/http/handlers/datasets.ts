import fs from 'node:fs';
import type { AppDeps } from '../app';
import * as datasets from '../../domain/datasets';
import { ConflictError, InvalidError } from '../../domain/errors';
import { empty, json } from '../reply';
import { location, pageOf, scopeOf } from './common';
import type { Handler } from './index';

const CONTENT_TYPES = { csv: 'text/csv', xes: 'application/xml', 'xes.gz': 'application/gzip' } as const;

/** Event logs: upload, list, read, download, delete. */
export function datasetHandlers({ db, config }: AppDeps): Record<string, Handler> {
  return {
    uploadDataset: async (ctx) => {
      if (!ctx.file)
        throw new InvalidError('Validation failed', 'Send the event log as the `file` field.', [
          { field: 'body.file', message: 'is required' },
        ]);
      const scope = scopeOf(ctx);
      const form = ctx.body as datasets.DatasetForm;
      const file = { path: ctx.file.path, originalName: ctx.file.originalname, size: ctx.file.size };
      const created = await datasets.storeDataset(db, config.dataDir, scope, file, form);
      return json(
        201,
        created,
        location(config.publicUrl, `/api/${scope.tenantId}/${scope.projectId}/dataset/${created.datasetId}`),
      );
    },
    listDatasets: async (ctx) => json(200, await datasets.listDatasets(db, scopeOf(ctx), pageOf(ctx))),
    getDataset: async (ctx) =>
      json(200, await datasets.getDataset(db, scopeOf(ctx), ctx.params.datasetId.toLowerCase())),
    deleteDataset: async (ctx) => {
      await datasets.deleteDataset(db, config.dataDir, scopeOf(ctx), ctx.params.datasetId.toLowerCase());
      return empty();
    },
    downloadDataset: async (ctx) => {
      const id = ctx.params.datasetId.toLowerCase();
      const file = await datasets.originalFile(db, config.dataDir, scopeOf(ctx), id);
      const format = (ctx.query.format as string | undefined) ?? 'csv';
      const asUploaded =
        format === 'original' || (format === 'csv' && file.sourceFormat === 'csv' && file.status !== 'Ready');
      if (!asUploaded) {
        // Imported CSV and Parquet come with the analysis engine; until a dataset is Ready only the upload exists.
        throw new ConflictError(
          'Dataset not ready',
          `The dataset is not imported yet; download it with format=original.`,
          {
            DatasetId: id,
            CurrentStatus: file.status,
          },
        );
      }
      return {
        status: 200,
        stream: fs.createReadStream(file.path),
        contentType: format === 'original' ? 'application/octet-stream' : CONTENT_TYPES[file.sourceFormat],
        headers: { 'Content-Disposition': contentDisposition(file.fileName) },
      };
    },
  };
}

/** `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266). */
function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}
