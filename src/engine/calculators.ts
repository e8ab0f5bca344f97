import type { DuckDBConnection } from '@duckdb/node-api';
import { rows } from './duck';

/**
 * The calculators over a relation of events with the engine's columns (see importLog.ts).
 * Events of a case are ordered by timestamp, ties in file order; a case with an event without
 * a timestamp keeps file order and has no duration.
 */

/** Creates `ordered_events` over `relation`: every event with its position `seq` in its case. */
export async function orderEvents(con: DuckDBConnection, relation: string): Promise<void> {
  await con.run(
    `CREATE OR REPLACE TEMP VIEW ordered_events AS
     SELECT *, row_number() OVER (PARTITION BY case_key ORDER BY CASE WHEN timed THEN ts END, event_index) AS seq
     FROM (SELECT *, bool_and(ts IS NOT NULL) OVER (PARTITION BY case_key) AS timed FROM ${relation})`,
  );
  await con.run(
    `CREATE OR REPLACE TEMP VIEW case_traces AS
     SELECT case_key, any_value(case_id) AS case_id, list(activity ORDER BY seq) AS trace, count(*) AS events,
       bool_and(timed) AS timed, min(ts) AS first_ts, max(ts) AS last_ts,
       CASE WHEN bool_and(timed) THEN (epoch_us(max(ts)) - epoch_us(min(ts))) / 1e6 END AS duration_s
     FROM ordered_events GROUP BY case_key`,
  );
}

/** `{caseCount, eventCount, activityCount, variantCount, startTime, endTime}`. */
export async function summary(con: DuckDBConnection) {
  const [r] = await rows(
    con,
    `SELECT (SELECT count(*) FROM case_traces) AS cases, count(*) AS events, count(DISTINCT activity) AS activities,
       (SELECT count(DISTINCT trace) FROM case_traces) AS variants, min(ts) AS start_time, max(ts) AS end_time
     FROM ordered_events`,
  );
  return {
    caseCount: Number(r.cases),
    eventCount: Number(r.events),
    activityCount: Number(r.activities),
    variantCount: Number(r.variants),
    startTime: r.start_time ? (r.start_time as Date).toISOString() : null,
    endTime: r.end_time ? (r.end_time as Date).toISOString() : null,
  };
}

/** Variants by case count, descending, ties by their activities; durations over timed cases. */
export async function variants(con: DuckDBConnection, limit = 100) {
  const [{ total, n }] = await rows(con, 'SELECT count(*) AS total, count(DISTINCT trace) AS n FROM case_traces');
  const list = await rows(
    con,
    `SELECT trace, count(*) AS cases, avg(duration_s) AS mean_s FROM case_traces GROUP BY trace`,
  );
  const sorted = list
    .map((r) => ({ activities: r.trace as string[], caseCount: Number(r.cases), mean: r.mean_s as number | null }))
    .sort((a, b) => b.caseCount - a.caseCount || compareSequences(a.activities, b.activities))
    .slice(0, limit);
  return {
    variantCount: Number(n),
    variants: sorted.map((v) => ({
      activities: v.activities,
      caseCount: v.caseCount,
      share: v.caseCount / Number(total),
      meanDurationSeconds: v.mean === null ? null : round(v.mean, 6),
    })),
  };
}

/** The directly-follows graph with frequencies and durations, start and end activities. */
export async function processMap(con: DuckDBConnection) {
  const nodes = await rows(
    con,
    `SELECT activity, count(*) AS events, count(DISTINCT case_key) AS cases FROM ordered_events GROUP BY activity`,
  );
  const edges = await rows(
    con,
    `SELECT a.activity AS source, b.activity AS target, count(*) AS n,
       CASE WHEN bool_and(a.timed) THEN avg(epoch_us(b.ts) - epoch_us(a.ts)) / 1e6 END AS mean_s,
       CASE WHEN bool_and(a.timed) THEN median(epoch_us(b.ts) - epoch_us(a.ts)) / 1e6 END AS median_s
     FROM ordered_events a JOIN ordered_events b ON a.case_key = b.case_key AND b.seq = a.seq + 1
     GROUP BY 1, 2`,
  );
  const ends = await rows(con, `SELECT trace[1] AS first, trace[len(trace)] AS last FROM case_traces`);
  const count = (key: 'first' | 'last') => {
    const counter = new Map<string, number>();
    for (const r of ends) counter.set(String(r[key]), (counter.get(String(r[key])) ?? 0) + 1);
    return Object.fromEntries([...counter].sort((a, b) => b[1] - a[1] || compareText(a[0], b[0])));
  };
  return {
    nodes: nodes
      .map((r) => ({ activity: String(r.activity), eventCount: Number(r.events), caseCount: Number(r.cases) }))
      .sort((a, b) => b.eventCount - a.eventCount || compareText(a.activity, b.activity)),
    edges: edges
      .map((r) => ({
        from: String(r.source),
        to: String(r.target),
        count: Number(r.n),
        meanDurationSeconds: r.mean_s === null ? null : round(r.mean_s as number, 6),
        medianDurationSeconds: r.median_s === null ? null : round(r.median_s as number, 6),
      }))
      .sort((a, b) => b.count - a.count || compareText(a.from, b.from) || compareText(a.to, b.to)),
    startActivities: count('first'),
    endActivities: count('last'),
  };
}

/** Case durations of the cases whose events all have timestamps. */
export async function throughputTime(con: DuckDBConnection) {
  const [r] = await rows(
    con,
    `SELECT count(duration_s) AS n, avg(duration_s) AS mean, median(duration_s) AS median,
       quantile_cont(duration_s, 0.9) AS p90, min(duration_s) AS min, max(duration_s) AS max
     FROM case_traces`,
  );
  const n = Number(r.n);
  const num = (v: unknown) => (n === 0 || v === null ? null : round(Number(v), 6));
  return {
    caseCount: n,
    meanSeconds: num(r.mean),
    medianSeconds: num(r.median),
    p90Seconds: num(r.p90),
    minSeconds: num(r.min),
    maxSeconds: num(r.max),
  };
}

// Rounds on the exact decimal value of the double (as Python's round does), not on value * 10^digits.
function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

// Code point order, as Python and most references sort text.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareSequences(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareText(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
