import type { DuckDBConnection } from '@duckdb/node-api';
import type * as api from '../api/types';
import { rows } from './duck';
import { casesOf, columnOf, neighboursOf, type Log } from './log';

/**
 * The calculators: each measures a log (see log.ts) and returns its result as the contract types it
 * (`<Name>Result`, one of CalculatorResult), so that a change of shape here does not compile until
 * the contract changes with it.
 */

/** `{caseCount, eventCount, activityCount, variantCount, startTime, endTime}`. */
export async function summary(con: DuckDBConnection, log: Log): Promise<api.SummaryResult> {
  const cases = await casesOf(con, log);
  const [r] = await rows(
    con,
    `SELECT (SELECT count(*) FROM ${cases}) AS cases, count(*) AS events, count(DISTINCT activity) AS activities,
       (SELECT count(DISTINCT trace) FROM ${cases}) AS variants, min(ts) AS start_time, max(ts) AS end_time
     FROM ${log.relation}`,
  );
  return {
    calculatorType: 'summary',
    caseCount: Number(r.cases),
    eventCount: Number(r.events),
    activityCount: Number(r.activities),
    variantCount: Number(r.variants),
    startTime: r.start_time ? (r.start_time as Date).toISOString() : null,
    endTime: r.end_time ? (r.end_time as Date).toISOString() : null,
  };
}

/** Variants by case count, descending, ties by their activities; durations over timed cases. */
export async function variants(con: DuckDBConnection, log: Log, limit = 100): Promise<api.VariantsResult> {
  const cases = await casesOf(con, log);
  const [{ total, n }] = await rows(con, `SELECT count(*) AS total, count(DISTINCT trace) AS n FROM ${cases}`);
  const list = await rows(
    con,
    `SELECT trace, count(*) AS cases, avg(duration_s) AS mean_s FROM ${cases} GROUP BY trace`,
  );
  const sorted = list
    .map((r) => ({ activities: r.trace as string[], caseCount: Number(r.cases), mean: r.mean_s as number | null }))
    .sort((a, b) => b.caseCount - a.caseCount || compareSequences(a.activities, b.activities))
    .slice(0, limit);
  return {
    calculatorType: 'variants',
    variantCount: Number(n),
    variants: sorted.map((v) => ({
      activities: v.activities,
      caseCount: v.caseCount,
      share: round(v.caseCount / Number(total), 6),
      meanDurationSeconds: v.mean === null ? null : round(v.mean, 6),
    })),
  };
}

type Edge = api.DirectlyFollowsEdge;

/** Directly-follows edges with count and waiting times (null where a case lacks timestamps). */
async function edges(con: DuckDBConnection, log: Log): Promise<Edge[]> {
  const list = await rows(
    con,
    `SELECT prev_activity AS source, activity AS target, count(*) AS n,
       CASE WHEN bool_and(timed) THEN avg(epoch_us(ts) - epoch_us(prev_ts)) / 1e6 END AS mean_s,
       CASE WHEN bool_and(timed) THEN median(epoch_us(ts) - epoch_us(prev_ts)) / 1e6 END AS median_s
     FROM ${neighboursOf(log)} WHERE follows GROUP BY 1, 2`,
  );
  return list
    .map((r) => ({
      from: String(r.source),
      to: String(r.target),
      count: Number(r.n),
      meanDurationSeconds: r.mean_s === null ? null : round(r.mean_s as number, 6),
      medianDurationSeconds: r.median_s === null ? null : round(r.median_s as number, 6),
    }))
    .sort((a, b) => b.count - a.count || compareText(a.from, b.from) || compareText(a.to, b.to));
}

/** The directly-follows graph with frequencies and durations, start and end activities. */
export async function processMap(con: DuckDBConnection, log: Log): Promise<api.ProcessMapResult> {
  const nodes = await rows(
    con,
    `SELECT activity, count(*) AS events, count(DISTINCT case_key) AS cases FROM ${log.relation} GROUP BY activity`,
  );
  // Each case's first and last activity by its order, without building its trace.
  const ends = await rows(
    con,
    `SELECT first, last, count(*) AS n
     FROM (SELECT arg_min(activity, seq) AS first, arg_max(activity, seq) AS last FROM ${log.relation} GROUP BY case_key)
     GROUP BY ALL`,
  );
  const count = (key: 'first' | 'last') => {
    const counter = new Map<string, number>();
    for (const r of ends) counter.set(String(r[key]), (counter.get(String(r[key])) ?? 0) + Number(r.n));
    return Object.fromEntries([...counter].sort((a, b) => b[1] - a[1] || compareText(a[0], b[0])));
  };
  return {
    calculatorType: 'processMap',
    nodes: nodes
      .map((r) => ({ activity: String(r.activity), eventCount: Number(r.events), caseCount: Number(r.cases) }))
      .sort((a, b) => b.eventCount - a.eventCount || compareText(a.activity, b.activity)),
    edges: await edges(con, log),
    startActivities: count('first'),
    endActivities: count('last'),
  };
}

/** Case durations of the cases whose events all have timestamps. */
export async function throughputTime(con: DuckDBConnection, log: Log): Promise<api.ThroughputTimeResult> {
  const [r] = await rows(
    con,
    `SELECT count(duration_s) AS n, avg(duration_s) AS mean, median(duration_s) AS median,
       quantile_cont(duration_s, 0.9) AS p90, min(duration_s) AS min, max(duration_s) AS max
     FROM ${await casesOf(con, log)}`,
  );
  const n = Number(r.n);
  const num = (v: unknown) => (n === 0 || v === null ? null : round(Number(v), 6));
  return {
    calculatorType: 'throughputTime',
    caseCount: n,
    meanSeconds: num(r.mean),
    medianSeconds: num(r.median),
    p90Seconds: num(r.p90),
    minSeconds: num(r.min),
    maxSeconds: num(r.max),
  };
}

/** Per activity: events, cases containing it, and its share of all events; most frequent first. */
export async function activityFrequency(
  con: DuckDBConnection,
  log: Log,
  limit = 100,
): Promise<api.ActivityFrequencyResult> {
  const list = await rows(
    con,
    `SELECT activity, count(*) AS events, count(DISTINCT case_key) AS cases, count(*) / sum(count(*)) OVER () AS share
     FROM ${log.relation} GROUP BY activity`,
  );
  const activities = list
    .map((r) => ({
      activity: String(r.activity),
      eventCount: Number(r.events),
      caseCount: Number(r.cases),
      share: round(Number(r.share), 6),
    }))
    .sort((a, b) => b.eventCount - a.eventCount || compareText(a.activity, b.activity));
  return {
    calculatorType: 'activityFrequency',
    activityCount: activities.length,
    activities: activities.slice(0, limit),
  };
}

/**
 * Directly-follows edges by mean waiting time, slowest first: edges seen at least `minCount` times
 * (so that a transition seen once does not top the list), edges without timestamps left out.
 */
export async function bottlenecks(
  con: DuckDBConnection,
  log: Log,
  limit = 100,
  minCount = BOTTLENECK_MIN_COUNT,
): Promise<api.BottlenecksResult> {
  type Timed = Edge & { meanDurationSeconds: number; medianDurationSeconds: number };
  const timed = (await edges(con, log)).filter(
    (e): e is Timed => e.meanDurationSeconds !== null && e.medianDurationSeconds !== null && e.count >= minCount,
  );
  timed.sort(
    (a, b) => b.meanDurationSeconds - a.meanDurationSeconds || compareText(a.from, b.from) || compareText(a.to, b.to),
  );
  return { calculatorType: 'bottlenecks', edges: timed.slice(0, limit) };
}

/** The default of the bottlenecks calculator's `minCount`: fewer transitions than this are anecdotes. */
export const BOTTLENECK_MIN_COUNT = 5;

/** Per activity: the cases in which it occurs more than once and the occurrences beyond the first. */
export async function rework(con: DuckDBConnection, log: Log, limit = 100): Promise<api.ReworkResult> {
  const list = await rows(
    con,
    `SELECT activity, count(*) FILTER (WHERE n > 1) AS cases, sum(n - 1) AS extra
     FROM (SELECT case_key, activity, count(*) AS n FROM ${log.relation} GROUP BY 1, 2) GROUP BY activity HAVING sum(n - 1) > 0`,
  );
  const [{ total }] = await rows(con, `SELECT count(DISTINCT case_key) AS total FROM ${log.relation}`);
  const [{ reworked }] = await rows(
    con,
    `SELECT count(DISTINCT case_key) AS reworked FROM (SELECT case_key, activity FROM ${log.relation} GROUP BY 1, 2 HAVING count(*) > 1)`,
  );
  const activities = list
    .map((r) => ({ activity: String(r.activity), caseCount: Number(r.cases), extraOccurrences: Number(r.extra) }))
    .sort((a, b) => b.extraOccurrences - a.extraOccurrences || compareText(a.activity, b.activity));
  return {
    calculatorType: 'rework',
    caseCount: Number(total),
    casesWithRework: Number(reworked),
    share: Number(total) === 0 ? 0 : round(Number(reworked) / Number(total), 6),
    activities: activities.slice(0, limit),
  };
}

/** Per resource: events, cases and distinct activities handled; busiest first. */
export async function resourceWorkload(
  con: DuckDBConnection,
  log: Log,
  resourceAttribute = 'org:resource',
  limit = 100,
): Promise<api.ResourceWorkloadResult> {
  const column = await columnOf(con, log, resourceAttribute);
  const list = await rows(
    con,
    `SELECT ${column} AS resource, count(*) AS events, count(DISTINCT case_key) AS cases, count(DISTINCT activity) AS activities
     FROM ${log.relation} WHERE ${column} IS NOT NULL GROUP BY 1`,
  );
  const resources = list
    .map((r) => ({
      resource: String(r.resource),
      eventCount: Number(r.events),
      caseCount: Number(r.cases),
      activityCount: Number(r.activities),
    }))
    .sort((a, b) => b.eventCount - a.eventCount || compareText(a.resource, b.resource));
  return {
    calculatorType: 'resourceWorkload',
    resourceAttribute,
    resourceCount: resources.length,
    resources: resources.slice(0, limit),
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
