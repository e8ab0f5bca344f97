import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, literal, rows } from './duck';
import { readXes } from './xes';

/** Which CSV columns hold what; XES needs none. */
export interface ColumnMapping {
  caseIdColumn: string;
  activityColumn: string;
  timestampColumn: string;
  resourceColumn?: string | null;
  /** A strftime format for DuckDB's strptime; absent means ISO 8601 or epoch seconds/milliseconds. */
  timestampFormat?: string | null;
}

/** A problem with one row of the input, by its line in the file where that is known. */
export interface ImportWarning {
  line: number | null;
  message: string;
}

/** What an import produced: the Parquet file, its attribute columns and what was left out. */
export interface ImportResult {
  eventCount: number;
  invalidRowCount: number;
  /** The first 100 problems. */
  warnings: ImportWarning[];
  attributes: { name: string; scope: 'case' | 'event'; dataType: 'string' }[];
}

/**
 * The columns every imported log has, whatever its source. Attribute columns follow them, named
 * `a:<attribute>` (`a:case:<attribute>` for trace attributes of XES) so they never clash with these.
 */
export const CORE_COLUMNS = ['case_key', 'case_id', 'activity', 'ts', 'resource', 'lifecycle', 'event_index'] as const;

const MAX_WARNINGS = 100;

/**
 * Imports an event log into Parquet with the engine's columns: `case_key` (cases in order of
 * first appearance), `case_id`, `activity`, `ts` (a UTC instant, null when missing),
 * `resource`, `lifecycle`, `event_index` (file order), then the attribute columns.
 */
export async function importEventLog(
  con: DuckDBConnection,
  opts: {
    source: string;
    format: 'csv' | 'xes' | 'xes.gz';
    mapping?: ColumnMapping | null;
    parquet: string;
    workDir: string;
  },
): Promise<ImportResult> {
  fs.mkdirSync(opts.workDir, { recursive: true });
  const result =
    opts.format === 'csv'
      ? await stageCsv(con, opts.source, requireMapping(opts.mapping))
      : await stageXes(con, opts.source, opts.format === 'xes.gz', opts.workDir);
  // Unsorted: readers order events themselves, and a sort of the whole log here would cost a pass.
  await con.run(`COPY (SELECT * FROM staged_events) TO ${literal(opts.parquet)} (FORMAT parquet, COMPRESSION zstd)`);
  await con.run(
    'DROP VIEW staged_events; DROP TABLE IF EXISTS raw_csv; DROP TABLE IF EXISTS parsed_csv; DROP TABLE IF EXISTS parsed_xes',
  );
  return result;
}

function requireMapping(mapping: ColumnMapping | null | undefined): ColumnMapping {
  if (!mapping) throw new Error('A CSV import needs a column mapping');
  return mapping;
}

/** Parses a timestamp text column: strptime format, epoch seconds or milliseconds, or ISO 8601 with `-` or `/`. */
function timestampSql(column: string, format: string | null | undefined): string {
  if (format) return `TRY_CAST(try_strptime(${column}, ${literal(format)}) AS TIMESTAMPTZ)`;
  // ISO 8601 is the common case and the fast path; only values it does not read try the others.
  return `CASE WHEN TRY_CAST(${column} AS TIMESTAMPTZ) IS NOT NULL THEN TRY_CAST(${column} AS TIMESTAMPTZ)
    WHEN regexp_full_match(${column}, '\\d{12,13}(\\.\\d+)?') THEN make_timestamptz(CAST(CAST(${column} AS DOUBLE) * 1000 AS BIGINT))
    WHEN regexp_full_match(${column}, '\\d{9,11}(\\.\\d+)?') THEN make_timestamptz(CAST(CAST(${column} AS DOUBLE) * 1000000 AS BIGINT))
    ELSE TRY_CAST(regexp_replace(trim(${column}), '^(\\d{4})/(\\d{2})/(\\d{2})', '\\1-\\2-\\3') AS TIMESTAMPTZ) END`;
}

async function stageCsv(con: DuckDBConnection, source: string, mapping: ColumnMapping): Promise<ImportResult> {
  // All text first: the mapping decides what each column means, and bad values become warnings, not failures.
  await con.run(
    `CREATE OR REPLACE TEMP TABLE raw_csv AS
     SELECT * FROM read_csv(${literal(source)}, all_varchar = true, header = true, store_rejects = true)`,
  );
  // Rows DuckDB could not split into the header's columns are left out and reported by line.
  const rejected = (await rows(con, 'SELECT line, error_message FROM reject_errors ORDER BY line')).map((r) => ({
    line: Number(r.line),
    message: String(r.error_message),
  }));
  await con.run('DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans');
  const columns = (await rows(con, `SELECT column_name FROM (DESCRIBE raw_csv)`)).map((r) => String(r.column_name));
  const mapped = [mapping.caseIdColumn, mapping.activityColumn, mapping.timestampColumn, mapping.resourceColumn].filter(
    Boolean,
  ) as string[];
  for (const c of mapped) if (!columns.includes(c)) throw new Error(`column '${c}' is not in the CSV header`);
  const value = (c: string | null | undefined) => (c ? `NULLIF(trim(${ident(c)}), '')` : 'NULL');
  const tsText = value(mapping.timestampColumn);
  const attributes = columns.filter((c) => !mapped.includes(c) && c.trim() !== '');
  await con.run(
    `CREATE OR REPLACE TEMP TABLE parsed_csv AS SELECT
       ${value(mapping.caseIdColumn)} AS case_id,
       ${value(mapping.activityColumn)} AS activity,
       ${tsText} AS ts_text,
       ${timestampSql(tsText, mapping.timestampFormat)} AS ts,
       ${value(mapping.resourceColumn)} AS resource,
       ${columns.includes('lifecycle:transition') && !mapped.includes('lifecycle:transition') ? value('lifecycle:transition') : 'NULL'} AS lifecycle,
       rowid + 2 AS event_index
       ${attributes.map((c) => `, ${value(c)} AS ${ident(`a:${c}`)}`).join('')}
     FROM raw_csv`,
  );
  const invalid = `case_id IS NULL OR activity IS NULL OR (ts_text IS NOT NULL AND ts IS NULL)`;
  const [{ n: unusable }] = await rows(con, `SELECT count(*) AS n FROM parsed_csv WHERE ${invalid}`);
  const invalidRowCount = Number(unusable) + rejected.length;
  const rowWarnings = (
    await rows(
      con,
      `SELECT event_index AS line, CASE WHEN case_id IS NULL THEN 'no case id' WHEN activity IS NULL THEN 'no activity'
         ELSE 'timestamp ''' || ts_text || ''' could not be read' END AS message
       FROM parsed_csv WHERE ${invalid} ORDER BY event_index LIMIT ${MAX_WARNINGS}`,
    )
  ).map((r) => ({ line: lineOf(Number(r.line), rejected), message: String(r.message) }));
  const warnings = [...rejected, ...rowWarnings].sort((a, b) => a.line - b.line).slice(0, MAX_WARNINGS);
  // A view: the Parquet writer computes it in one pass. Cases are numbered in order of first appearance.
  await con.run(
    `CREATE OR REPLACE TEMP VIEW staged_events AS
     SELECT dense_rank() OVER (ORDER BY first_line) - 1 AS case_key, * EXCLUDE (first_line, ts_text)
     FROM (SELECT min(event_index) OVER (PARTITION BY case_id) AS first_line, * FROM parsed_csv WHERE NOT (${invalid}))`,
  );
  const [{ n: total }] = await rows(con, 'SELECT count(*) AS n FROM parsed_csv');
  const eventCount = Number(total) - Number(unusable);
  return {
    eventCount: Number(eventCount),
    invalidRowCount: Number(invalidRowCount),
    warnings,
    attributes: attributes.map((name) => ({
      name,
      scope: name.startsWith('case:') ? 'case' : 'event',
      dataType: 'string',
    })),
  };
}

/**
 * The file line of an accepted row: its position counted from line 2 (after the header), moved
 * past every rejected line at or before it.
 */
function lineOf(positionLine: number, rejected: { line: number }[]): number {
  let line = positionLine;
  for (const r of rejected) if (r.line <= line) line++;
  return line;
}

const XES_CORE = new Set(['concept:name', 'time:timestamp', 'org:resource', 'lifecycle:transition']);

async function stageXes(
  con: DuckDBConnection,
  source: string,
  gzipped: boolean,
  workDir: string,
): Promise<ImportResult> {
  // Events go to newline-delimited JSON on disk as they stream in, so memory stays flat; DuckDB reads it back.
  const staged = path.join(workDir, 'events.ndjson');
  const out = fs.createWriteStream(staged);
  const eventKeys = new Set<string>();
  const caseKeys = new Set<string>();
  const warnings: ImportWarning[] = [];
  let invalid = 0;
  let eventIndex = 0;
  await readXes(source, gzipped, async (events) => {
    let text = '';
    for (const e of events) {
      eventIndex++;
      const activity = e.attributes['concept:name'];
      if (activity === undefined) {
        invalid++;
        if (warnings.length < MAX_WARNINGS)
          warnings.push({ line: null, message: `event ${eventIndex} has no concept:name` });
        continue;
      }
      const row: Record<string, unknown> = {
        case_key: e.caseIndex,
        case_id: e.caseAttributes['concept:name'] ?? null,
        activity,
        ts_text: e.attributes['time:timestamp'] ?? null,
        resource: e.attributes['org:resource'] ?? null,
        lifecycle: e.attributes['lifecycle:transition'] ?? null,
        event_index: eventIndex,
      };
      for (const [k, v] of Object.entries(e.attributes)) {
        if (XES_CORE.has(k)) continue;
        eventKeys.add(k);
        row[`a:${k}`] = v;
      }
      for (const [k, v] of Object.entries(e.caseAttributes)) {
        if (k === 'concept:name') continue;
        caseKeys.add(k);
        row[`c:${k}`] = v;
      }
      text += JSON.stringify(row) + '\n';
    }
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  });
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  const spec: Record<string, string> = {
    case_key: 'BIGINT',
    case_id: 'VARCHAR',
    activity: 'VARCHAR',
    ts_text: 'VARCHAR',
    resource: 'VARCHAR',
    lifecycle: 'VARCHAR',
    event_index: 'BIGINT',
  };
  for (const k of eventKeys) spec[`a:${k}`] = 'VARCHAR';
  for (const k of caseKeys) spec[`c:${k}`] = 'VARCHAR';
  const columns = `{${Object.entries(spec)
    .map(([k, t]) => `${literal(k)}: ${literal(t)}`)
    .join(', ')}}`;
  const attrSelect = [
    ...[...eventKeys].map((k) => `, ${ident(`a:${k}`)}`),
    ...[...caseKeys]
      .filter((k) => !eventKeys.has(`case:${k}`))
      .map((k) => `, ${ident(`c:${k}`)} AS ${ident(`a:case:${k}`)}`),
  ].join('');
  await con.run(
    `CREATE OR REPLACE TEMP TABLE parsed_xes AS
     SELECT case_key, case_id, activity, ts_text, ${timestampSql('ts_text', null)} AS ts, resource, lifecycle, event_index ${attrSelect}
     FROM read_json(${literal(staged)}, format = 'newline_delimited', columns = ${columns})`,
  );
  fs.rmSync(staged, { force: true });
  const badTs = await rows(
    con,
    `SELECT event_index, ts_text FROM parsed_xes WHERE ts_text IS NOT NULL AND ts IS NULL ORDER BY event_index`,
  );
  for (const r of badTs) {
    if (warnings.length < MAX_WARNINGS)
      warnings.push({
        line: null,
        message: `event ${String(r.event_index)}: timestamp '${String(r.ts_text)}' could not be read`,
      });
  }
  await con.run(
    `CREATE OR REPLACE TEMP VIEW staged_events AS SELECT * EXCLUDE (ts_text) FROM parsed_xes WHERE NOT (ts_text IS NOT NULL AND ts IS NULL)`,
  );
  const [{ n: eventCount }] = await rows(con, 'SELECT count(*) AS n FROM staged_events');
  return {
    eventCount: Number(eventCount),
    invalidRowCount: invalid + badTs.length,
    warnings,
    attributes: [
      ...[...eventKeys].map((name) => ({ name, scope: 'event' as const, dataType: 'string' as const })),
      ...[...caseKeys].map((name) => ({ name: `case:${name}`, scope: 'case' as const, dataType: 'string' as const })),
    ],
  };
}
