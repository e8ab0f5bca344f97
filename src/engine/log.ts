import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, rows } from './duck';

/**
 * An event log as the engine sees it at one step of a notebook: `relation` holds its events with
 * the columns of importLog.ts; `ordered` (the same table) adds `timed` and each event's position
 * `seq` in its case; `cases` has one row per case with its trace, duration and first/last timestamps.
 */
export interface Log {
  relation: string;
  ordered: string;
  cases: string;
}

let counter = 0;

/**
 * Builds the tables of a log over `relation`, once, for every calculator and filter after it.
 * Events of a case are ordered by timestamp, ties in file order; a case with an event without
 * a timestamp keeps file order and has no duration.
 */
export async function defineLog(con: DuckDBConnection, relation: string): Promise<Log> {
  const id = ++counter;
  // The events themselves are the ordered table (with `timed` and `seq`), materialized once:
  // every calculator reads it, and re-reading Parquet or a chain of filters each time costs more.
  const log = { relation: `log_${id}_ordered`, ordered: `log_${id}_ordered`, cases: `log_${id}_cases` };
  await con.run(
    `CREATE OR REPLACE TEMP TABLE ${log.ordered} AS
     SELECT *, row_number() OVER (PARTITION BY case_key ORDER BY CASE WHEN timed THEN ts END, event_index) AS seq
     FROM (SELECT *, bool_and(ts IS NOT NULL) OVER (PARTITION BY case_key) AS timed FROM ${relation})`,
  );
  await con.run(
    `CREATE OR REPLACE TEMP TABLE ${log.cases} AS
     SELECT case_key, any_value(case_id) AS case_id, list(activity ORDER BY seq) AS trace, count(*) AS events,
       bool_and(timed) AS timed, min(ts) AS first_ts, max(ts) AS last_ts,
       CASE WHEN bool_and(timed) THEN (epoch_us(max(ts)) - epoch_us(min(ts))) / 1e6 END AS duration_s
     FROM ${log.ordered} GROUP BY case_key`,
  );
  return log;
}

/** Cases and events of a log, for the in/out figures of each block. */
export async function sizeOf(con: DuckDBConnection, log: Log): Promise<{ cases: number; events: number }> {
  const [r] = await rows(con, `SELECT count(DISTINCT case_key) AS cases, count(*) AS events FROM ${log.relation}`);
  return { cases: Number(r.cases), events: Number(r.events) };
}

/** Thrown when a configuration names something the log does not have. */
export class UnknownAttributeError extends Error {
  constructor(readonly attribute: string) {
    super(`The dataset has no attribute '${attribute}'.`);
  }
}

/** The attribute names a relation has (as the dataset record lists them), mapped to their SQL columns. */
export async function attributeColumns(con: DuckDBConnection, relation: string): Promise<Map<string, string>> {
  const described = await rows(con, `SELECT column_name FROM (DESCRIBE SELECT * FROM ${relation})`);
  const columns = new Map<string, string>([
    ['concept:name', 'activity'],
    ['case:concept:name', 'case_id'],
    ['org:resource', 'resource'],
    ['lifecycle:transition', 'lifecycle'],
    ['time:timestamp', 'ts'],
  ]);
  for (const { column_name } of described) {
    const name = String(column_name);
    if (name.startsWith('a:')) columns.set(name.slice(2), ident(name));
  }
  return columns;
}

/** The SQL column of an attribute of the log, or UnknownAttributeError. */
export async function columnOf(con: DuckDBConnection, log: Log, attribute: string): Promise<string> {
  const column = (await attributeColumns(con, log.relation)).get(attribute);
  if (!column) throw new UnknownAttributeError(attribute);
  return column;
}
