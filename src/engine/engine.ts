import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { duckErrorKind, ident, literal, rows } from './duck';
import { importEventLog, type ColumnMapping, type ImportResult } from './importLog';
import { LogRefused } from './limits';
import { profileLog, type LogProfile } from './profile';

/** The analysis engine of one process: a DuckDB instance and the files of imported logs. */
export class Engine {
  private constructor(private readonly instance: DuckDBInstance) {}

  /** Opens DuckDB in memory with a memory limit (`DUCKDB_MEMORY_LIMIT`) and a place to spill. */
  static async open(opts: { memoryLimit: string; tempDirectory: string }): Promise<Engine> {
    fs.mkdirSync(opts.tempDirectory, { recursive: true });
    const instance = await DuckDBInstance.create(':memory:', {
      memory_limit: opts.memoryLimit,
      temp_directory: opts.tempDirectory,
      // DuckDB's default, pinned: logs are read in their stored order (log.ts, importLog.ts).
      preserve_insertion_order: 'true',
    });
    return new Engine(instance);
  }

  /**
   * Runs `work` on a connection of its own, closed afterwards, so temp views never leak between
   * calls. When `signal` aborts, the query running on it is interrupted (DuckDB's own interrupt)
   * and every later statement fails at once.
   */
  async withConnection<T>(work: (con: DuckDBConnection) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    const con = await this.instance.connect();
    const interrupt = () => con.interrupt();
    signal?.addEventListener('abort', interrupt);
    try {
      return await work(signal ? guarded(con, signal) : con);
    } finally {
      signal?.removeEventListener('abort', interrupt);
      con.closeSync();
    }
  }

  /** Imports the log at `source` into `dir/events.parquet` and profiles it. */
  async importLog(
    source: string,
    format: 'csv' | 'xes' | 'xes.gz',
    mapping: ColumnMapping | null,
    dir: string,
  ): Promise<{ result: ImportResult; profile: LogProfile }> {
    const parquet = eventsFile(dir);
    try {
      return await this.withConnection(async (con) => {
        const result = await importEventLog(con, { source, format, mapping, parquet, workDir: path.join(dir, 'work') });
        fs.rmSync(path.join(dir, 'work'), { recursive: true, force: true });
        return { result, profile: await profileLog(con, parquetRelation(parquet)) };
      });
    } catch (err) {
      throw importRefusal(err) ?? err;
    }
  }

  /** Profiles the log in `dir/events.parquet` (a derived log, such as an enriched one). */
  async profile(dir: string, signal?: AbortSignal): Promise<LogProfile> {
    return this.withConnection((con) => profileLog(con, parquetRelation(eventsFile(dir))), signal);
  }

  /**
   * Writes the events of an imported log as CSV or Parquet to `target`: the core columns under
   * `names` (XES attribute names unless given; a null name leaves the column out), then the
   * attribute columns under their own names.
   */
  async exportLog(
    dir: string,
    format: 'csv' | 'parquet',
    target: string,
    signal?: AbortSignal,
    names: ExportNames = XES_NAMES,
  ): Promise<void> {
    const relation = parquetRelation(eventsFile(dir));
    await this.withConnection(async (con) => {
      const columns = (await rows(con, `SELECT column_name FROM (DESCRIBE SELECT * FROM ${relation})`)).map((r) =>
        String(r.column_name),
      );
      const core: [string, string | null][] = [
        ['case_id', names.caseId],
        ['activity', names.activity],
        [`strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ')`, names.timestamp],
        ['resource', names.resource],
        ['lifecycle', names.lifecycle],
      ];
      const selected = [
        ...core.filter(([, name]) => name !== null).map(([sql, name]) => `${sql} AS ${ident(name!)}`),
        ...columns.filter((c) => c.startsWith('a:')).map((c) => `${ident(c)} AS ${ident(c.slice(2))}`),
      ];
      const select = `SELECT ${selected.join(', ')} FROM ${relation} ORDER BY case_key, event_index`;
      const options = format === 'csv' ? '(FORMAT csv, HEADER true)' : '(FORMAT parquet, COMPRESSION zstd)';
      await con.run(`COPY (${select}) TO ${literal(target)} ${options}`);
    }, signal);
  }

  close(): void {
    this.instance.closeSync();
  }
}

/** The column names of an export's core columns; null leaves the column out. */
export interface ExportNames {
  caseId: string;
  activity: string;
  timestamp: string | null;
  resource: string | null;
  lifecycle: string | null;
}

/** XES attribute names: the default of exports. */
export const XES_NAMES: ExportNames = {
  caseId: 'case:concept:name',
  activity: 'concept:name',
  timestamp: 'time:timestamp',
  resource: 'org:resource',
  lifecycle: 'lifecycle:transition',
};

/** A connection whose statements refuse to start once `signal` has aborted. */
function guarded(con: DuckDBConnection, signal: AbortSignal): DuckDBConnection {
  return new Proxy(con, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (key === 'run' || key === 'runAndReadAll' || key === 'stream' || key === 'prepare')
        return (...args: unknown[]) => {
          signal.throwIfAborted();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

/** Where an imported log's events are, inside its dataset directory. */
export function eventsFile(dir: string): string {
  return path.join(dir, 'events.parquet');
}

/**
 * The SQL relation of a Parquet file, with each row's position in the file (`file_row_number`):
 * an imported log is stored in order, and that position is the order (see log.ts).
 */
export function parquetRelation(file: string): string {
  return `read_parquet(${literal(file)}, file_row_number = true)`;
}

/** The refusal of a log DuckDB could not import for the log's own sake (too large, unreadable CSV); null for anything else. */
function importRefusal(err: unknown): LogRefused | null {
  const kind = duckErrorKind(err);
  if (kind === 'Out of Memory') {
    return new LogRefused(
      'LOG_TOO_LARGE',
      'Importing the log needed more memory than the analysis engine may use (DUCKDB_MEMORY_LIMIT), also spilling to disk. Split the log, or try again when fewer imports run at once.',
    );
  }
  if (kind === 'Invalid Input' || kind === 'Conversion' || kind === 'CSV') {
    return new LogRefused(
      'INVALID_CSV_FILE',
      `The CSV file could not be read: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  return null;
}
