import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AppDeps } from '../app';
import * as datasets from '../../domain/datasets';
import { InvalidError } from '../../domain/errors';
import { empty, json, type Reply } from '../reply';
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
      const file = await datasets.originalFile(db, config.dataDir, scopeOf(ctx), id);
      const format = (ctx.query.format as 'csv' | 'parquet' | 'original' | undefined) ?? 'csv';
      if (format === 'original') {
        return download(fs.createReadStream(file.path), 'application/octet-stream', file.fileName);
      }
      // The imported events with XES attribute names, written to a temp file that goes when sent.
      const target = path.join(config.dataDir, 'tmp', `${randomUUID()}.${format}`);
      await engine.exportLog(datasets.datasetDir(config.dataDir, id), format, target);
      const baseName = file.fileName.replace(/\.(xes\.gz|xes|csv|gz)$/i, '');
      const type = format === 'csv' ? 'text/csv' : 'application/vnd.apache.parquet';
      const reply = download(fs.createReadStream(target), type, `${baseName}.${format}`);
      return { ...reply, onDone: () => fs.rmSync(target, { force: true }) };
    },
  };
}

function download(stream: fs.ReadStream, contentType: string, fileName: string): Reply {
  return { status: 200, stream, contentType, headers: { 'Content-Disposition': contentDisposition(fileName) } };
}

/** `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266). */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}
