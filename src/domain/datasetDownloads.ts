import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { eventsFile, XES_NAMES, type Engine, type ExportNames } from '../engine/engine';
import type { DatasetRow } from '../store/datasets';
import type { Db } from '../store/db';
import { datasetDir, requireDataset } from './datasets';
import { ConflictError, NotFoundError } from './errors';
import { moveFile } from './files';
import type { Scope } from './scope';

/** How a dataset can be downloaded: its imported events as CSV or Parquet, or the file as uploaded. */
export type DownloadFormat = 'csv' | 'parquet' | 'original';

/** A file ready to send, with what a download needs: size, sha256 (the ETag), type and name. */
export interface DatasetFile {
  path: string;
  sizeBytes: number;
  sha256: string;
  contentType: string;
  fileName: string;
}

/**
 * Bumped when the export's layout changes, so that exports kept from an older version are not
 * sent any more (they stay until the dataset is deleted).
 */
const EXPORT_VERSION = 'v2';

const CONTENT_TYPES: Record<DownloadFormat, string> = {
  csv: 'text/csv',
  parquet: 'application/vnd.apache.parquet',
  original: 'application/octet-stream',
};

/**
 * A dataset's file to download. The export of the imported events is written once, on the first
 * download, and kept with its sha256 in its name, so that later downloads (ranges, HEAD, 304)
 * send the same bytes under the same ETag without exporting again.
 */
export async function datasetFile(
  db: Db,
  engine: Engine,
  dataDir: string,
  scope: Scope,
  id: string,
  format: DownloadFormat,
): Promise<DatasetFile> {
  const row = await requireDataset(db, scope, id);
  try {
    return await fileOf(engine, dataDir, row, id, format);
  } catch (err) {
    // Deleted while this download was on its way: its folder is gone, and so is the dataset.
    if (!fs.existsSync(datasetDir(dataDir, id))) throw new NotFoundError('DATASET_NOT_FOUND', 'DatasetId', id);
    throw err;
  }
}

async function fileOf(engine: Engine, dataDir: string, row: DatasetRow, id: string, format: DownloadFormat) {
  const dir = datasetDir(dataDir, id);
  const originalName = row.original_file_name;
  if (format === 'original') {
    const file = path.join(dir, `original.${row.source_format}`);
    return { ...(await described(file, row.sha256)), contentType: CONTENT_TYPES.original, fileName: originalName };
  }
  if (row.status !== 'Ready') {
    throw new ConflictError('DATASET_NOT_READY', `Dataset ${id} is ${row.status}; only a Ready dataset exports.`, {
      DatasetId: id,
      CurrentStatus: row.status,
    });
  }
  const file = findExport(dir, format) ?? (await writeExport(engine, dataDir, dir, format, exportNames(row)));
  const baseName = originalName.replace(/\.(xes\.gz|xes|csv|gz)$/i, '');
  return {
    ...(await described(file)),
    contentType: CONTENT_TYPES[format],
    fileName: `${baseName}.${format}`,
  };
}

/**
 * The names of the exported core columns: a CSV upload's own column names (its mapping), so that
 * its columns come back as they were sent; XES attribute names for XES uploads.
 */
export function exportNames(row: Pick<DatasetRow, 'source_format' | 'column_mapping'>): ExportNames {
  const mapping = row.column_mapping;
  if (row.source_format !== 'csv' || !mapping?.caseIdColumn || !mapping.activityColumn) return XES_NAMES;
  return {
    caseId: mapping.caseIdColumn,
    activity: mapping.activityColumn,
    timestamp: mapping.timestampColumn ?? null,
    resource: mapping.resourceColumn ?? null,
    lifecycle: null, // a CSV's own `lifecycle:transition` column comes back as an attribute column
  };
}

function exportsDir(dir: string): string {
  return path.join(dir, 'exports', EXPORT_VERSION);
}

function findExport(dir: string, format: 'csv' | 'parquet'): string | undefined {
  const folder = exportsDir(dir);
  const name = fs.existsSync(folder) ? fs.readdirSync(folder).find((f) => f.endsWith(`.${format}`)) : undefined;
  return name === undefined ? undefined : path.join(folder, name);
}

/** Exports to a temp file, then moves it into place named by its sha256 (concurrent first downloads agree). */
async function writeExport(
  engine: Engine,
  dataDir: string,
  dir: string,
  format: 'csv' | 'parquet',
  names: ExportNames,
): Promise<string> {
  const temp = path.join(dataDir, 'tmp', `${randomUUID()}.${format}`);
  fs.mkdirSync(path.dirname(temp), { recursive: true });
  try {
    await engine.exportLog(dir, format, temp, undefined, names);
    const target = path.join(exportsDir(dir), `${await sha256Of(temp)}.${format}`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    moveFile(temp, target);
    // Deleted meanwhile: its folder went before the export was put back into it; leave nothing.
    if (!fs.existsSync(eventsFile(dir))) fs.rmSync(dir, { recursive: true, force: true });
    return target;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

async function described(
  file: string,
  knownSha256?: unknown,
): Promise<{ path: string; sizeBytes: number; sha256: string }> {
  const sha256 = typeof knownSha256 === 'string' && knownSha256 ? knownSha256 : await sha256Of(file);
  return { path: file, sizeBytes: fs.statSync(file).size, sha256 };
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
