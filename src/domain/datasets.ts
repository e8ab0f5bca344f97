import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset, DatasetUpload } from '../api/types';
import { eventsFile, type Engine } from '../engine/engine';
import { checkCsvHeader, type ColumnMapping, type ImportWarning } from '../engine/importLog';
import { figure, LOG_LIMITS, LogRefused, type LogRefusal } from '../engine/limits';
import { lineTooLong } from '../engine/scanCsv';
import type { LogProfile } from '../engine/profile';
import * as store from '../store/datasets';
import type { Db } from '../store/db';
import { ThreadMemoryError } from '../threads/pool';
import { ConflictError, InvalidError, NotFoundError, type FieldProblem } from './errors';
import { moveFile } from './files';
import { reserveStorage, storedBytes } from './storage';
import { iso, isoOrNull, pageInfo, type PageRequest, type Scope } from './scope';

/** An uploaded file as the HTTP layer hands it over: already on local disk, not in memory. */
export interface UploadedFile {
  path: string;
  originalName: string;
  size: number;
}

/** The form fields of an upload besides the file (the contract's DatasetUpload). */
export type DatasetForm = Omit<DatasetUpload, 'file'>;

type SourceFormat = Dataset['sourceFormat'];

/** Where a dataset's files live under `DATA_DIR`; named by id only, never by a client's file name. */
export function datasetDir(dataDir: string, datasetId: string): string {
  return path.join(dataDir, 'datasets', datasetId);
}

/** How a dataset is stored. */
export interface StoreOptions {
  /** The tenant's stored-bytes quota (`TENANT_STORAGE_LIMIT_BYTES`; absent or 0: none). */
  storageLimitBytes?: number;
}

/**
 * Stores an uploaded event log: checks its type and, for CSV, that the mapped columns are in the
 * header; imports it into the analysis engine (parsing in a worker thread) in a folder of its
 * own under `DATA_DIR/tmp`, and records it with its figures. Only then is the folder moved into
 * `DATA_DIR/datasets`: on any failure nothing is kept, neither a row nor a file.
 */
export async function storeDataset(
  db: Db,
  engine: Engine,
  dataDir: string,
  scope: Scope,
  file: UploadedFile,
  form: DatasetForm,
  opts: StoreOptions = {},
): Promise<Dataset> {
  const originalName = safeFileName(file.originalName);
  const head = await readHead(file.path, LOG_LIMITS.maxRecordBytes + 1);
  const sourceFormat = detectFormat(originalName, head);
  const mapping = sourceFormat === 'csv' ? checkCsvMapping(head, form) : null;
  // An upload that cannot fit is refused before any work; what the import stored is checked again below.
  await reserveStorage(db, scope.tenantId, file.size, opts.storageLimitBytes, 'this upload');
  const id = randomUUID();
  const staging = stagingDir(dataDir, id);
  try {
    const stored = path.join(staging, `original.${sourceFormat}`);
    moveFile(file.path, stored);
    const { result, profile } = await importOrExplain(engine, stored, sourceFormat, mapping, staging);
    return await recordDataset(db, dataDir, scope, opts, staging, {
      id,
      name: form.name?.trim() || originalName,
      sourceFormat,
      originalFileName: originalName,
      sizeBytes: file.size,
      sha256: result.sha256,
      mapping,
      profile,
      importWarnings: { invalidRowCount: result.invalidRowCount, warnings: result.warnings },
    });
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Stores a log the service derived itself (an enriched dataset): `parquet` has the import's
 * columns. It is profiled like an upload, and its CSV export (XES attribute names) is kept as
 * its original file. The Parquet file is moved, not copied.
 */
export async function storeDerivedDataset(
  db: Db,
  engine: Engine,
  dataDir: string,
  scope: Scope,
  d: { name: string; parquet: string; fromDatasetId: string; signal?: AbortSignal } & StoreOptions,
): Promise<Dataset> {
  const id = randomUUID();
  const staging = stagingDir(dataDir, id);
  try {
    moveFile(d.parquet, eventsFile(staging));
    const original = path.join(staging, 'original.csv');
    await engine.exportLog(staging, 'csv', original, d.signal);
    const profile = await engine.profile(staging, d.signal);
    return await recordDataset(db, dataDir, scope, d, staging, {
      id,
      name: d.name,
      sourceFormat: 'csv',
      originalFileName: `${safeFileName(d.name)}.csv`,
      sizeBytes: fs.statSync(original).size,
      sha256: await hashFile(original),
      mapping: {
        caseIdColumn: 'case:concept:name',
        activityColumn: 'concept:name',
        timestampColumn: 'time:timestamp',
        resourceColumn: 'org:resource',
        timestampFormat: null,
      },
      profile,
      importWarnings: {
        invalidRowCount: 0,
        warnings: [{ line: null, message: `Derived from dataset ${d.fromDatasetId}.` }],
      },
    });
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/** A new dataset's own folder while it is imported: under `DATA_DIR/tmp`, on the same filesystem as its final place. */
function stagingDir(dataDir: string, id: string): string {
  const dir = path.join(dataDir, 'tmp', `import-${id}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Imports untouched this long are not running any more: their process died. */
export const STALE_IMPORT_MS = 6 * 3600_000;

/**
 * Removes the folders of imports whose process died (a kill, a power cut) and returns how many.
 * Other processes sharing `DATA_DIR` may be importing right now, so only folders untouched for
 * {@link STALE_IMPORT_MS} go.
 */
export function removeStaleImports(dataDir: string, now = Date.now()): number {
  const tmp = path.join(dataDir, 'tmp');
  if (!fs.existsSync(tmp)) return 0;
  let removed = 0;
  for (const entry of fs.readdirSync(tmp, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('import-')) continue;
    const dir = path.join(tmp, entry.name);
    if (now - fs.statSync(dir).mtimeMs < STALE_IMPORT_MS) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

/**
 * Records an imported dataset, within the tenant's quota (its original file and Parquet events
 * count), and moves its staged folder into place in the same transaction: the row and the
 * folder appear together or not at all.
 */
async function recordDataset(
  db: Db,
  dataDir: string,
  scope: Scope,
  opts: StoreOptions,
  staging: string,
  d: {
    id: string;
    name: string;
    sourceFormat: SourceFormat;
    originalFileName: string;
    sizeBytes: number;
    sha256: string;
    mapping: ColumnMapping | null;
    profile: LogProfile;
    importWarnings: { invalidRowCount: number; warnings: ImportWarning[] };
  },
): Promise<Dataset> {
  const storedBytes = d.sizeBytes + fs.statSync(eventsFile(staging)).size;
  const { activities, attributes, ...figures } = d.profile;
  const final = datasetDir(dataDir, d.id);
  try {
    return await db.transaction(async (tx) => {
      await reserveStorage(tx, scope.tenantId, storedBytes, opts.storageLimitBytes, 'this dataset');
      const row = await store.insertDataset(tx, {
        id: d.id,
        project_id: scope.projectId,
        name: d.name,
        source_format: d.sourceFormat,
        original_file_name: d.originalFileName,
        size_bytes: d.sizeBytes,
        stored_bytes: storedBytes,
        sha256: d.sha256,
        status: 'Ready',
        column_mapping: d.mapping,
        stats: { ...figures, activities },
        attributes,
        import_warnings: d.importWarnings,
        created_at: new Date(),
        created_by: scope.actor,
      });
      fs.mkdirSync(path.dirname(final), { recursive: true });
      fs.renameSync(staging, final);
      return toDataset(row);
    });
  } catch (err) {
    fs.rmSync(final, { recursive: true, force: true });
    throw err;
  }
}

/** Imports a stored log; input the engine cannot read or refuses is a 400 that says why, not a 500. */
async function importOrExplain(
  engine: Engine,
  stored: string,
  format: SourceFormat,
  mapping: ColumnMapping | null,
  dir: string,
) {
  let imported: Awaited<ReturnType<Engine['importLog']>>;
  try {
    imported = await engine.importLog(stored, format, mapping, dir);
  } catch (err) {
    throw explainImportError(err);
  }
  if (imported.result.eventCount === 0) {
    throw invalidFile(
      `The log has no event with a case, an activity and a readable timestamp (${imported.result.invalidRowCount} rows were not).`,
      'EMPTY_EVENT_LOG',
    );
  }
  return imported;
}

/** The 400 of an import the engine refused or could not read; anything else stays what it is (a 500). */
function explainImportError(err: unknown): unknown {
  if (err instanceof LogRefused) return invalidFile(err.message, err.code);
  if (err instanceof ThreadMemoryError) {
    return invalidFile(`${err.message} Split the log or simplify it.`, 'LOG_TOO_DEMANDING');
  }
  return err;
}

/** Lists the project's datasets, newest first, with what the tenant stores against its quota. */
export async function listDatasets(db: Db, scope: Scope, paging: PageRequest, opts: StoreOptions = {}) {
  const offset = (paging.page - 1) * paging.pageSize;
  const { rows, count } = await store.datasetsOf(db, scope.projectId, paging.pageSize, offset);
  const storage = { usedBytes: await storedBytes(db, scope.tenantId), limitBytes: opts.storageLimitBytes || null };
  return { datasets: rows.map(toDataset), ...pageInfo(paging, count), storage };
}

/** Returns a dataset of the project, or 404. */
export async function getDataset(db: Db, scope: Scope, id: string): Promise<Dataset> {
  return toDataset(await requireDataset(db, scope, id));
}

/** The stored row of a dataset of the project, or 404; other domains use it to check references. */
export async function requireDataset(db: Db, scope: Scope, id: string): Promise<store.DatasetRow> {
  const row = await store.findDataset(db, scope.projectId, id);
  if (!row) throw new NotFoundError('DATASET_NOT_FOUND', 'DatasetId', id);
  return row;
}

/** The activities and attribute names of a Ready dataset, for checking block configurations. */
export async function datasetVocabulary(
  db: Db,
  scope: Scope,
  id: string,
): Promise<{ activities: string[]; attributes: string[] } | null> {
  const row = await requireDataset(db, scope, id);
  if (row.status !== 'Ready') return null;
  const attributes = row.attributes.map((a) => a.name);
  return {
    activities: row.stats?.activities ?? [],
    attributes: ['concept:name', 'org:resource', 'lifecycle:transition', 'case:concept:name', ...attributes],
  };
}

/** Deletes a dataset and its files, unless an investigation or a notebook is bound to it. */
export async function deleteDataset(db: Db, dataDir: string, scope: Scope, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    await requireDataset(tx, scope, id);
    const user = await store.aUserOfDataset(tx, id);
    if (user) {
      throw new ConflictError(
        'DATASET_IN_USE',
        `${user.kind} ${user.id} is bound to this dataset; delete it or bind it to another dataset first.`,
        { DatasetId: id, [`${user.kind}Id`]: user.id },
      );
    }
    await store.deleteDataset(tx, id);
  });
  fs.rmSync(datasetDir(dataDir, id), { recursive: true, force: true });
}

/** The path of the file as uploaded, with the name to offer it under. */
export async function originalFile(db: Db, dataDir: string, scope: Scope, id: string) {
  const row = await requireDataset(db, scope, id);
  return {
    path: path.join(datasetDir(dataDir, id), `original.${row.source_format}`),
    fileName: row.original_file_name,
  };
}

// --- file checks --------------------------------------------------------------------------------

function safeFileName(name: string): string {
  // Keep the base name only, without control characters: the name is shown, never used as a path.
  const printable = [...name.replace(/\\/g, '/')]
    .filter((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f)
    .join('');
  const base = path.basename(printable);
  return base.length > 0 && base !== '.' && base !== '..' ? base.slice(0, 255) : 'upload';
}

async function readHead(file: string, bytes: number): Promise<Buffer> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

function detectFormat(name: string, head: Buffer): SourceFormat {
  const lower = name.toLowerCase();
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (gzip) {
    if (lower.endsWith('.xes.gz') || lower.endsWith('.gz')) return 'xes.gz';
    throw invalidFile('A gzipped upload must be a gzipped XES file named `.xes.gz`.');
  }
  const start = head
    .toString('utf8', 0, Math.min(head.length, 512))
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (lower.endsWith('.xes') || lower.endsWith('.xml')) {
    if (!start.startsWith('<')) throw invalidFile('The file is named as XES but does not start like XML.');
    return 'xes';
  }
  if (lower.endsWith('.csv') || lower.endsWith('.txt') || !start.startsWith('<')) {
    // A NUL near the start is a binary file; one further on is a bad line, which the import names.
    if (head.subarray(0, 64 * 1024).includes(0)) throw invalidFile('The file is binary, not CSV text.');
    return 'csv';
  }
  return 'xes';
}

function invalidFile(message: string, code: LogRefusal = 'UNSUPPORTED_FILE'): InvalidError {
  const text =
    code === 'UNSUPPORTED_FILE'
      ? `${message} Upload CSV, XES or gzipped XES; nothing was stored.`
      : `${message.replace(/\.$/, '')}; nothing was stored.`;
  return new InvalidError(code, text, [{ field: 'body.file', message }]);
}

/**
 * Checks that the mapping is complete and names columns of the CSV header line, and the header
 * against the attribute limit and for names that differ only in case.
 */
function checkCsvMapping(head: Buffer, form: DatasetForm): ColumnMapping {
  const problems: FieldProblem[] = [];
  const required = ['caseIdColumn', 'activityColumn', 'timestampColumn'] as const;
  for (const key of required) {
    if (!form[key]?.trim()) problems.push({ field: `body.${key}`, message: 'is required for a CSV upload' });
  }
  const header = parseHeader(head);
  if (!header) problems.push({ field: 'body.file', message: 'the CSV has no header line' });
  for (const key of [...required, 'resourceColumn'] as const) {
    const column = form[key];
    if (header && column && !header.includes(column)) {
      problems.push({
        field: `body.${key}`,
        message: `column '${column}' is not in the header (${listed(header)})`,
      });
    }
  }
  if (problems.length > 0) {
    throw new InvalidError(
      'VALIDATION_FAILED',
      'The column mapping does not match the CSV file; nothing was stored.',
      problems,
    );
  }
  const mapped = [form.caseIdColumn, form.activityColumn, form.timestampColumn, form.resourceColumn];
  try {
    checkCsvHeader(
      header!,
      mapped.filter((c): c is string => Boolean(c)),
    );
  } catch (err) {
    throw explainImportError(err);
  }
  return {
    caseIdColumn: form.caseIdColumn!,
    activityColumn: form.activityColumn!,
    timestampColumn: form.timestampColumn!,
    resourceColumn: form.resourceColumn || null,
    timestampFormat: form.timestampFormat || null,
  };
}

/** The column names of the first line, with the delimiter guessed among `,` `;` tab and `|`. */
function parseHeader(head: Buffer): string[] | undefined {
  const newline = head.indexOf(10);
  // The head holds one byte more than a line may have: without a newline in it, line 1 is too long.
  if (newline < 0 && head.length > LOG_LIMITS.maxRecordBytes) throw explainImportError(lineTooLong(1));
  const firstLine = head
    .toString('utf8', 0, newline < 0 ? head.length : newline)
    .replace(/^\uFEFF/, '')
    .replace(/\r$/, '');
  if (!firstLine.trim()) return undefined;
  const delimiters = [',', ';', '\t', '|'];
  const delimiter = delimiters.reduce((best, d) => (count(firstLine, d) > count(firstLine, best) ? d : best), ',');
  return splitCsvLine(firstLine, delimiter).map((c) => c.trim());
}

/** Column names for a message: the first 20, and how many more. */
function listed(header: string[]): string {
  const shown = header.slice(0, 20).join(', ');
  return header.length > 20 ? `${shown}, and ${figure(header.length - 20)} more` : shown;
}

function count(line: string, ch: string): number {
  return line.split(ch).length - 1;
}

function splitCsvLine(line: string, delimiter: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === delimiter) {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  cells.push(cell);
  return cells;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function toDataset(row: store.DatasetRow): Dataset {
  const stats = row.stats ?? {};
  const num = (v: unknown) => (v === undefined || v === null ? null : Number(v));
  return {
    datasetId: row.id,
    projectId: row.project_id,
    name: row.name,
    sourceFormat: row.source_format,
    originalFileName: row.original_file_name,
    sizeBytes: row.size_bytes,
    status: row.status,
    columnMapping: (row.column_mapping as Dataset['columnMapping']) ?? null,
    caseCount: num(stats.caseCount),
    eventCount: num(stats.eventCount),
    activityCount: num(stats.activityCount),
    variantCount: num(stats.variantCount),
    startTime: isoOrNull(stats.startTime),
    endTime: isoOrNull(stats.endTime),
    attributes: row.attributes as Dataset['attributes'],
    importWarnings: row.import_warnings,
    dateCreated: iso(row.created_at),
    createdBy: row.created_by,
  };
}
