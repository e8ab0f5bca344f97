import fs from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { runInThread } from '../threads/pool';
import { ident, literal, rows } from './duck';
import { figure, LOG_LIMITS, LogRefused } from './limits';
import type { ImportWarning } from './stageXes';

export type { ImportWarning } from './stageXes';

/** Which CSV columns hold what; XES needs none. */
export interface ColumnMapping {
  caseIdColumn: string;
  activityColumn: string;
  timestampColumn: string;
  resourceColumn?: string | null;
  /** A strftime format for DuckDB's strptime; absent means ISO 8601 or epoch seconds/milliseconds. */
  timestampFormat?: string | null;
}

/** What an import produced: the Parquet file, its attribute columns and what was left out. */
export interface ImportResult {
  eventCount: number;
  invalidRowCount: number;
  /** The first 100 problems. */
  warnings: ImportWarning[];
  attributes: { name: string; scope: 'case' | 'event'; dataType: 'string' }[];
  /** Of the file as stored, computed while reading it. */
  sha256: string;
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
  await writeSorted(con, opts.parquet);
  await con.run(
    'DROP VIEW staged_events; DROP TABLE IF EXISTS parsed_csv; DROP TABLE IF EXISTS csv_cases; DROP TABLE IF EXISTS parsed_xes',
  );
  return result;
}

/**
 * Writes `staged_events` to Parquet in the order every analysis reads a log (log.ts): by case,
 * then by timestamp with ties in file order, or in file order in a case with an event without a
 * timestamp; `timed` says which, per case. Sorted once here, the log is never sorted again. A
 * staging may give `timed` itself (the CSV's does, from the pass that numbers its cases).
 */
async function writeSorted(con: DuckDBConnection, parquet: string): Promise<void> {
  const columns = (await rows(con, 'SELECT column_name FROM (DESCRIBE staged_events)')).map((r) =>
    String(r.column_name),
  );
  const events = columns.includes('timed')
    ? 'staged_events'
    : `(SELECT e.*, t.timed FROM staged_events e
        JOIN (SELECT case_key, bool_and(ts IS NOT NULL) AS timed FROM staged_events GROUP BY case_key) t USING (case_key))`;
  await con.run(
    `COPY (SELECT * FROM ${events} ORDER BY case_key, CASE WHEN timed THEN ts END, event_index)
     TO ${literal(parquet)} (FORMAT parquet, COMPRESSION zstd)`,
  );
}

function requireMapping(mapping: ColumnMapping | null | undefined): ColumnMapping {
  if (!mapping) throw new Error('A CSV import needs a column mapping');
  return mapping;
}

/** Parses a timestamp text column: strptime format, epoch seconds or milliseconds, or ISO 8601 with `-` or `/`. */
function timestampSql(column: string, format: string | null | undefined): string {
  if (format) return `TRY_CAST(try_strptime(${column}, ${literal(format)}) AS TIMESTAMPTZ)`;
  // ISO 8601 is the common case and the fast path; only values it does not read try the others.
  // COALESCE evaluates its second argument only for the rows whose first is NULL: one cast per value.
  return `coalesce(TRY_CAST(${column} AS TIMESTAMPTZ), CASE
    WHEN regexp_full_match(${column}, '\\d{12,13}(\\.\\d+)?') THEN make_timestamptz(CAST(CAST(${column} AS DOUBLE) * 1000 AS BIGINT))
    WHEN regexp_full_match(${column}, '\\d{9,11}(\\.\\d+)?') THEN make_timestamptz(CAST(CAST(${column} AS DOUBLE) * 1000000 AS BIGINT))
    ELSE TRY_CAST(regexp_replace(trim(${column}), '^(\\d{4})/(\\d{2})/(\\d{2})', '\\1-\\2-\\3') AS TIMESTAMPTZ) END)`;
}

/**
 * Checks the column names of a CSV header line: the attribute limit (beyond the mapped columns);
 * no name twice (a mapping could not say which is meant); and no two attributes whose names
 * differ only in case, which would be one SQL column. A mapped column may share an attribute's
 * name but for case (`activity` mapped, `Activity` an attribute): they land in different columns.
 */
export function checkCsvHeader(header: string[], mapped: string[]): void {
  const attributes = header.filter((c) => !mapped.includes(c) && c.trim() !== '');
  if (attributes.length > LOG_LIMITS.maxAttributes) {
    const max = figure(LOG_LIMITS.maxAttributes);
    throw new LogRefused(
      'TOO_MANY_ATTRIBUTES',
      `The CSV has ${figure(header.length)} columns, ${figure(attributes.length)} of them attributes besides the mapped ones; a log may have at most ${max} attributes.`,
    );
  }
  const seen = new Map<string, number>();
  header.forEach((name, i) => {
    if (name.trim() === '') return;
    const attribute = !mapped.includes(name);
    const key = attribute ? `a:${name.toLowerCase()}` : name;
    const first = seen.get(key);
    if (first !== undefined) {
      throw new LogRefused(
        'DUPLICATE_COLUMN_NAMES',
        `Columns ${first + 1} and ${i + 1} are named '${header[first]}' and '${name}'; ${attribute ? 'attribute names are compared without case, so each must be unique' : 'a mapped column must be named once'}.`,
      );
    }
    seen.set(key, i);
  });
}

async function stageCsv(con: DuckDBConnection, source: string, mapping: ColumnMapping): Promise<ImportResult> {
  // A pass in a worker thread, beside DuckDB's read: the hash, and lines DuckDB would refuse slowly
  // or name wrongly. Its refusal wins over whatever DuckDB made of the file, and stops DuckDB.
  const scan = runInThread('scanCsv', { source }, 'import');
  scan.catch(() => con.interrupt());
  try {
    const staged = await parseCsv(con, source, mapping);
    const { sha256 } = await scan;
    return { ...staged, sha256 };
  } catch (err) {
    await scan;
    throw err;
  }
}

/**
 * Reads the CSV with DuckDB, all text and the header line as the first row (DuckDB would rename
 * columns whose names differ only in case, so columns are taken by position and named from that
 * row), parsed into `parsed_csv` with the engine's columns as it is read; then `staged_events`.
 */
async function parseCsv(
  con: DuckDBConnection,
  source: string,
  mapping: ColumnMapping,
): Promise<Omit<ImportResult, 'sha256'>> {
  const read = `read_csv(${literal(source)}, all_varchar = true, header = false, store_rejects = true)`;
  const { header, columnOf } = await csvHeader(con, read);
  const mapped = [mapping.caseIdColumn, mapping.activityColumn, mapping.timestampColumn, mapping.resourceColumn].filter(
    Boolean,
  ) as string[];
  checkCsvHeader(header, mapped);
  for (const c of mapped) {
    if (!header.includes(c)) throw new LogRefused('INVALID_CSV_FILE', `Column '${c}' is not in the CSV header.`);
  }
  const value = (c: string | null | undefined) => (c ? `NULLIF(trim(${columnOf(c)}), '')` : 'NULL');
  const tsText = value(mapping.timestampColumn);
  const attributes = header.filter((c) => !mapped.includes(c) && c.trim() !== '');
  // One pass over the file, in parallel. The table keeps the file's order (insertion order is
  // preserved), so a row's `rowid` is its place in the file, the header being 0: `event_index`
  // is that place counted from 1, without a window over the whole log (an empty OVER () runs on
  // one thread and cost a fifth of the import).
  await con.run(
    `CREATE OR REPLACE TEMP TABLE parsed_csv_rows AS SELECT
       ${value(mapping.caseIdColumn)} AS case_id,
       ${value(mapping.activityColumn)} AS activity,
       ${tsText} AS ts_text,
       ${timestampSql(tsText, mapping.timestampFormat)} AS ts,
       ${value(mapping.resourceColumn)} AS resource,
       ${header.includes('lifecycle:transition') && !mapped.includes('lifecycle:transition') ? value('lifecycle:transition') : 'NULL'} AS lifecycle
       ${attributes.map((c) => `, ${value(c)} AS ${ident(`a:${c}`)}`).join('')}
     FROM ${read};
     -- Materialised with its event_index: read through a view, the sorted write after it ran 170 ms slower.
     CREATE OR REPLACE TEMP TABLE parsed_csv AS
       SELECT case_id, activity, ts_text, ts, resource, lifecycle, rowid + 1 AS event_index
         ${attributes.map((c) => `, ${ident(`a:${c}`)}`).join('')}
       FROM parsed_csv_rows WHERE rowid > 0;
     DROP TABLE parsed_csv_rows`,
  );
  // Rows DuckDB could not split into the header's columns are left out and reported by line. The
  // first 100 are enough to place every warning that can be among the first 100 (see lineOf).
  const rejected = (
    await rows(
      con,
      `SELECT line, left(error_message, 300) AS message FROM reject_errors ORDER BY line LIMIT ${MAX_WARNINGS}`,
    )
  ).map((r) => ({ line: Number(r.line), message: String(r.message) }));
  const [{ n: rejectedCount }] = await rows(con, 'SELECT count(*) AS n FROM reject_errors');
  await con.run('DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans');
  const invalid = `case_id IS NULL OR activity IS NULL OR (ts_text IS NOT NULL AND ts IS NULL)`;
  const [{ n: unusable }] = await rows(con, `SELECT count(*) AS n FROM parsed_csv WHERE ${invalid}`);
  const invalidRowCount = Number(unusable) + Number(rejectedCount);
  const rowWarnings = (
    await rows(
      con,
      `SELECT event_index AS line, CASE WHEN case_id IS NULL THEN 'no case id' WHEN activity IS NULL THEN 'no activity'
         ELSE 'timestamp ''' || left(ts_text, 100) || ''' could not be read' END AS message
       FROM parsed_csv WHERE ${invalid} ORDER BY event_index LIMIT ${MAX_WARNINGS}`,
    )
  ).map((r) => ({ line: lineOf(Number(r.line), rejected), message: String(r.message) }));
  const warnings = [...rejected, ...rowWarnings].sort((a, b) => a.line - b.line).slice(0, MAX_WARNINGS);
  // Cases numbered in order of first appearance: one hash aggregate over the events, then a sort
  // of the cases alone (a window over every event would sort the whole log).
  await con.run(
    `CREATE OR REPLACE TEMP TABLE csv_cases AS
     SELECT case_id, row_number() OVER (ORDER BY min(event_index)) - 1 AS case_key, bool_and(ts IS NOT NULL) AS timed
     FROM parsed_csv WHERE NOT (${invalid}) GROUP BY case_id`,
  );
  await con.run(
    `CREATE OR REPLACE TEMP VIEW staged_events AS
     SELECT k.case_key, p.* EXCLUDE (ts_text), k.timed
     FROM (SELECT * FROM parsed_csv WHERE NOT (${invalid})) p JOIN csv_cases k ON k.case_id = p.case_id`,
  );
  const [{ n: total }] = await rows(con, 'SELECT count(*) AS n FROM parsed_csv');
  return {
    eventCount: Number(total) - Number(unusable),
    invalidRowCount,
    warnings,
    attributes: attributes.map((name) => ({
      name,
      scope: name.startsWith('case:') ? 'case' : 'event',
      dataType: 'string',
    })),
  };
}

/**
 * The header of a CSV read without one (`read`): its names (the values of its first line,
 * trimmed) and, for each name, the SQL column DuckDB gave its position. Only the start of the
 * file is read. A first line DuckDB could not split into the columns of the rows is refused.
 */
async function csvHeader(
  con: DuckDBConnection,
  read: string,
): Promise<{ header: string[]; columnOf: (name: string) => string }> {
  const [first] = await rows(con, `SELECT * FROM ${read} LIMIT 1`);
  // An empty file has no row, and no header: every mapped column is then missing from it.
  const positions = Object.keys(first ?? {});
  const [refused] = await rows(con, 'SELECT left(error_message, 300) AS message FROM reject_errors WHERE line = 1');
  await con.run('DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans');
  if (refused) {
    throw new LogRefused(
      'INVALID_CSV_FILE',
      `Line 1, the header, does not have the columns of the rows: ${String(refused.message)}.`,
    );
  }
  const header = positions.map((p, i) => {
    const name = String(first?.[p] ?? '').trim();
    return i === 0 ? name.replace(/^\uFEFF/, '') : name;
  });
  return { header, columnOf: (name) => ident(positions[header.indexOf(name)]) };
}

/**
 * The file line of an accepted row: its position counted from line 2 (after the header), moved
 * past every rejected line at or before it. Given only the first rejected lines, a row beyond the
 * last of them comes out after it, where the first 100 warnings no longer reach.
 */
function lineOf(positionLine: number, rejected: { line: number }[]): number {
  let line = positionLine;
  for (const r of rejected) if (r.line <= line) line++;
  return line;
}

/** Imports an XES log: parsed and staged in a worker thread, then read and typed by DuckDB. */
async function stageXes(
  con: DuckDBConnection,
  source: string,
  gzipped: boolean,
  workDir: string,
): Promise<ImportResult> {
  const staged = await runInThread('stageXes', { source, gzipped, workDir }, 'import');
  const attributeColumns = staged.columns.map((_, i) => `x${i}`);
  const fields = (names: string[]) => names.map((n) => [n, 'VARCHAR'] as [string, string]);
  const events = stagedCsv(
    staged.eventsFile,
    [['k', 'BIGINT'], ['i', 'BIGINT'], ...fields(['a', 't', 'r', 'l', 'n', ...attributeColumns])],
    staged.lineBreaks,
  );
  // Traces with attributes after some of their events were written again whole when they closed.
  const joined = staged.lateTraces > 0;
  const lateTraces = stagedCsv(
    staged.lateTracesFile,
    [['k', 'BIGINT'], ...fields(['n', ...attributeColumns])],
    staged.lineBreaks,
  );
  const caseValue = (column: string) =>
    joined ? `CASE WHEN c.k IS NULL THEN e.${column} ELSE c.${column} END` : `e.${column}`;
  const columnOf = new Map(staged.columns.map((c, i) => [`${c.scope}:${c.key}`, attributeColumns[i]]));
  const eventKeys = new Set(staged.eventKeys);
  const attrSelect = [
    ...staged.eventKeys.map((k) => `, e.${columnOf.get(`event:${k}`)} AS ${ident(`a:${k}`)}`),
    // A trace key `x` next to an event key `case:x` is the same attribute; the event's value wins.
    ...staged.caseKeys
      .filter((k) => !eventKeys.has(`case:${k}`))
      .map((k) => `, ${caseValue(columnOf.get(`case:${k}`) ?? '')} AS ${ident(`a:case:${k}`)}`),
  ].join('');
  await con.run(
    `CREATE OR REPLACE TEMP TABLE parsed_xes AS
     SELECT e.k AS case_key, ${caseValue('n')} AS case_id, e.a AS activity, e.t AS ts_text, ${timestampSql('e.t', null)} AS ts,
       e.r AS resource, e.l AS lifecycle, e.i AS event_index ${attrSelect}
     FROM ${events} e ${joined ? `LEFT JOIN ${lateTraces} c ON c.k = e.k` : ''}`,
  );
  fs.rmSync(staged.eventsFile, { force: true });
  fs.rmSync(staged.lateTracesFile, { force: true });
  const warnings = [...staged.warnings];
  const badTs = await rows(
    con,
    `SELECT event_index, left(ts_text, 100) AS ts_text FROM parsed_xes WHERE ts_text IS NOT NULL AND ts IS NULL
     ORDER BY event_index LIMIT ${MAX_WARNINGS}`,
  );
  for (const r of badTs) {
    if (warnings.length < MAX_WARNINGS)
      warnings.push({
        line: null,
        message: `event ${String(r.event_index)}: timestamp '${String(r.ts_text)}' could not be read`,
      });
  }
  const [{ n: badTsCount }] = await rows(
    con,
    'SELECT count(*) AS n FROM parsed_xes WHERE ts_text IS NOT NULL AND ts IS NULL',
  );
  await con.run(
    `CREATE OR REPLACE TEMP VIEW staged_events AS SELECT * EXCLUDE (ts_text) FROM parsed_xes WHERE NOT (ts_text IS NOT NULL AND ts IS NULL)`,
  );
  const [{ n: eventCount }] = await rows(con, 'SELECT count(*) AS n FROM staged_events');
  return {
    eventCount: Number(eventCount),
    invalidRowCount: staged.invalidCount + Number(badTsCount),
    warnings,
    sha256: staged.sha256,
    attributes: [
      ...staged.eventKeys.map((name) => ({ name, scope: 'event' as const, dataType: 'string' as const })),
      ...staged.caseKeys.map((name) => ({ name: `case:${name}`, scope: 'case' as const, dataType: 'string' as const })),
    ],
  };
}

/**
 * DuckDB's relation of a staging CSV of `stageXes`: the given columns, every text quoted (an
 * empty field is NULL, `""` the empty text), rows that end early padded with NULL. DuckDB's
 * parallel reader cannot pad rows when a quoted value holds a line break, so those are read by one thread.
 */
function stagedCsv(file: string, columns: [string, string][], lineBreaks: boolean): string {
  const spec = columns.map(([k, t]) => `${literal(k)}: ${literal(t)}`).join(', ');
  return `read_csv(${literal(file)}, columns = {${spec}}, header = false, auto_detect = false, delim = ',',
    quote = '"', escape = '"', new_line = '\\n', null_padding = true, allow_quoted_nulls = false, parallel = ${!lineBreaks})`;
}
