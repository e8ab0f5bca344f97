import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, rows } from './duck';

/**
 * An event log as the engine sees it at one step of a notebook: `relation` holds its events with
 * the columns of importLog.ts plus `timed` (every event of the case has a timestamp) and `seq`
 * (increasing along the case's events), and it is read in order: the events of a case follow one
 * another in their order, so that a window with an empty `OVER ()` (which keeps the order of a
 * single table or file, as DuckDB documents) sees each directly-follows pair as two neighbours.
 * Its per-case table comes from {@link casesOf}, built on first use.
 */
export interface Log {
  relation: string;
  /** The name of the per-case table once built; see casesOf. */
  cases?: Promise<string>;
  /** Its number of cases and events once counted; see sizeOf. */
  size?: Promise<{ cases: number; events: number }>;
}

let counter = 0;

/**
 * Defines the log of `relation`, once, for every calculator and filter after it. Events of a case
 * are ordered by timestamp, ties in file order; a case with an event without a timestamp keeps
 * file order and has no duration. A Parquet file written by the import (or by an enrichment) is
 * already in that order with `timed` stored, and is read as it is, its row number as `seq`.
 */
export async function defineLog(con: DuckDBConnection, relation: string): Promise<Log> {
  const id = ++counter;
  const columns = new Set(
    (await rows(con, `SELECT column_name FROM (DESCRIBE SELECT * FROM ${relation})`)).map((r) => String(r.column_name)),
  );
  const name = `log_${id}`;
  if (columns.has('timed') && columns.has('file_row_number')) {
    // A sorted file: nothing to compute, and scans of the file read only the columns they need.
    await con.run(
      `CREATE OR REPLACE TEMP VIEW ${name} AS SELECT * EXCLUDE (file_row_number), file_row_number AS seq FROM ${relation}`,
    );
    return { relation: name };
  }
  // Otherwise the events are put in order once and materialized: every calculator reads them, and
  // re-reading a chain of filters each time costs more. A case filter's events (with `timed` and
  // `seq`) only need their order back; other events (a Parquet file of an older version, which was
  // written unsorted; an event filter's events) get both computed again.
  const stale = ['file_row_number', 'timed', 'seq'].filter((c) => columns.has(c));
  const ordered =
    columns.has('timed') && columns.has('seq')
      ? relation
      : `(SELECT *, row_number() OVER (PARTITION BY case_key ORDER BY CASE WHEN timed THEN ts END, event_index) AS seq
          FROM (SELECT * ${stale.length ? `EXCLUDE (${stale.join(', ')})` : ''},
                  bool_and(ts IS NOT NULL) OVER (PARTITION BY case_key) AS timed
                FROM ${relation}))`;
  await con.run(`CREATE OR REPLACE TEMP TABLE ${name} AS SELECT * FROM ${ordered} ORDER BY case_key, seq`);
  return { relation: name };
}

/**
 * The per-case table of a log, built on first use and shared by the calculators after it:
 * `case_key`, `case_id`, `trace` (the activities in order), `events`, `timed`, `first_ts`,
 * `last_ts` and `duration_s` (null unless timed).
 */
export function casesOf(con: DuckDBConnection, log: Log): Promise<string> {
  log.cases ??= buildCases(con, log.relation);
  return log.cases;
}

async function buildCases(con: DuckDBConnection, relation: string): Promise<string> {
  const name = `${relation}_cases`;
  // The trace sorts each case's (seq, activity) pairs itself: cheaper than an ordered aggregate.
  await con.run(
    `CREATE OR REPLACE TEMP TABLE ${name} AS
     SELECT case_key, any_value(case_id) AS case_id,
       list_transform(list_sort(list({'s': seq, 'a': activity})), e -> e.a) AS trace, count(*) AS events,
       bool_and(timed) AS timed, min(ts) AS first_ts, max(ts) AS last_ts,
       CASE WHEN bool_and(timed) THEN (epoch_us(max(ts)) - epoch_us(min(ts))) / 1e6 END AS duration_s
     FROM ${relation} GROUP BY case_key`,
  );
  return name;
}

/**
 * The events of a log each with the one before it in its case (`prev_activity`, `prev_ts`; the
 * first event of a case has none: `follows` is false), in one pass over the ordered events,
 * without a join or a sort.
 */
export function neighboursOf(log: Log): string {
  return `(SELECT *, coalesce(lag(case_key) OVER () = case_key, false) AS follows,
     lag(activity) OVER () AS prev_activity, lag(ts) OVER () AS prev_ts
   FROM ${log.relation})`;
}

/**
 * Cases and events of a log, for the in/out figures of each block: counted once, as a log's
 * events never change (a filter makes a new log).
 */
export function sizeOf(con: DuckDBConnection, log: Log): Promise<{ cases: number; events: number }> {
  log.size ??= rows(con, `SELECT count(DISTINCT case_key) AS cases, count(*) AS events FROM ${log.relation}`).then(
    ([r]) => ({ cases: Number(r.cases), events: Number(r.events) }),
  );
  return log.size;
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
