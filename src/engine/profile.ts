import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, rows } from './duck';
import { figure, LOG_LIMITS, LogRefused } from './limits';
import { defineLog } from './log';
import * as calc from './calculators';

/** What a dataset record says about an imported log. */
export interface LogProfile {
  caseCount: number;
  eventCount: number;
  activityCount: number;
  variantCount: number;
  startTime: string | null;
  endTime: string | null;
  activities: string[];
  attributes: { name: string; scope: 'case' | 'event'; dataType: 'string' | 'number' | 'boolean' | 'datetime' }[];
}

/** Attribute columns typed by one query: a few scans of the log instead of one per column. */
const COLUMNS_PER_QUERY = 100;

/**
 * Profiles an imported log: the summary figures, its activities, and for each attribute column
 * its type (the narrowest that every value parses as) and scope (`case` when it never varies
 * within a case). A log beyond the shape limits is refused first, before anything is built
 * per case or brought into JavaScript.
 */
export async function profileLog(con: DuckDBConnection, relation: string): Promise<LogProfile> {
  await checkShape(con, relation);
  const log = await defineLog(con, relation);
  // The summary's figures without its `calculatorType`: a profile is not a calculator's result.
  const { calculatorType: _, ...summary } = await calc.summary(con, log);
  const activities = (await rows(con, `SELECT DISTINCT activity FROM ${relation} ORDER BY 1`)).map((r) =>
    String(r.activity),
  );
  const columns = (await rows(con, `SELECT column_name FROM (DESCRIBE SELECT * FROM ${relation})`))
    .map((r) => String(r.column_name))
    .filter((c) => c.startsWith('a:'));
  const attributes: LogProfile['attributes'] = [];
  for (let i = 0; i < columns.length; i += COLUMNS_PER_QUERY) {
    attributes.push(...(await typeColumns(con, relation, columns.slice(i, i + COLUMNS_PER_QUERY))));
  }
  return { ...summary, activities, attributes };
}

/** Refuses a log with a case longer than the limit, or more distinct activities than the limit. */
async function checkShape(con: DuckDBConnection, relation: string): Promise<void> {
  const [longest] = await rows(
    con,
    `SELECT any_value(case_id) AS case_id, count(*) AS n FROM ${relation} GROUP BY case_key ORDER BY n DESC LIMIT 1`,
  );
  if (longest && Number(longest.n) > LOG_LIMITS.maxCaseEvents) {
    const max = figure(LOG_LIMITS.maxCaseEvents);
    throw new LogRefused(
      'CASE_TOO_LONG',
      `Case '${String(longest.case_id).slice(0, 100)}' has ${figure(Number(longest.n))} events; a case may have at most ${max} events.`,
    );
  }
  const [{ n: activities }] = await rows(con, `SELECT count(DISTINCT activity) AS n FROM ${relation}`);
  if (Number(activities) > LOG_LIMITS.maxActivities) {
    const max = figure(LOG_LIMITS.maxActivities);
    throw new LogRefused(
      'TOO_MANY_ACTIVITIES',
      `The log has ${figure(Number(activities))} distinct activities; a log may have at most ${max}.`,
    );
  }
}

/**
 * Types and scopes of some attribute columns: a type holds when every non-null value parses as
 * it; the scope is `case` when within every case the smallest and largest value are the same.
 */
async function typeColumns(
  con: DuckDBConnection,
  relation: string,
  columns: string[],
): Promise<LogProfile['attributes']> {
  const c = columns.map((column) => ident(column));
  const holds = (alias: string, col: string, condition: string) =>
    `bool_and(${condition}) FILTER (WHERE ${col} IS NOT NULL) AS ${alias}`;
  const [types] = await rows(
    con,
    `SELECT ${c
      .flatMap((col, i) => [
        holds(`n${i}`, col, `TRY_CAST(${col} AS DOUBLE) IS NOT NULL`),
        holds(`b${i}`, col, `lower(${col}) IN ('true', 'false')`),
        holds(`d${i}`, col, `TRY_CAST(${col} AS TIMESTAMPTZ) IS NOT NULL`),
      ])
      .join(', ')} FROM ${relation}`,
  );
  const [scopes] = await rows(
    con,
    `SELECT ${c.map((_, i) => `coalesce(bool_and(lo${i} = hi${i}), true) AS s${i}`).join(', ')}
     FROM (SELECT ${c.map((col, i) => `min(${col}) AS lo${i}, max(${col}) AS hi${i}`).join(', ')} FROM ${relation} GROUP BY case_key)`,
  );
  return columns.map((column, i) => {
    const name = column.slice(2);
    const dataType = types[`n${i}`] ? 'number' : types[`b${i}`] ? 'boolean' : types[`d${i}`] ? 'datetime' : 'string';
    const scope = name.startsWith('case:') || scopes[`s${i}`] ? 'case' : 'event';
    return { name, scope, dataType };
  });
}
