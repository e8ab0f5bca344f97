import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

/** Settings of the analysis engine's DuckDB, independent of tenants and HTTP. */
export interface EngineOptions {
  /** DuckDB's memory limit, such as `2GB`; bounds memory on large logs. */
  memoryLimit?: string;
  /** Where DuckDB may spill when a query needs more than the limit. */
  tempDirectory?: string;
}

/**
 * Opens an in-memory DuckDB connection. Without the ICU extension (it cannot be downloaded here)
 * TIMESTAMPTZ values are UTC instants: offsets in the input are honoured, a missing one means UTC.
 */
export async function openEngine(opts: EngineOptions = {}): Promise<DuckDBConnection> {
  const instance = await DuckDBInstance.create(':memory:', {
    memory_limit: opts.memoryLimit ?? '2GB',
    ...(opts.tempDirectory ? { temp_directory: opts.tempDirectory } : {}),
  });
  return instance.connect();
}

/** Quotes a string as an SQL literal. */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Quotes a name as an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Runs a query and returns its rows as plain objects, bigints turned into numbers. */
export async function rows(con: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await con.runAndReadAll(sql);
  return reader.getRowObjectsJS().map((row) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) out[k] = plain(v);
    return out;
  });
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

/**
 * The kind of a DuckDB error, such as `Out of Memory` or `Conversion`. DuckDB's errors carry no
 * code: their message starts with the exception type (`Conversion Error: ...`), read here once.
 */
export function duckErrorKind(err: unknown): string | null {
  const message = err instanceof Error ? err.message : '';
  return /^([A-Z][A-Za-z ]{0,40}) Error: /.exec(message)?.[1] ?? null;
}
