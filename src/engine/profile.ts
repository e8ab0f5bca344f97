import type { DuckDBConnection } from '@duckdb/node-api';
import { ident, rows } from './duck';
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

/**
 * Profiles an imported log: the summary figures, its activities, and for each attribute column
 * its type (the narrowest that every value parses as) and scope (`case` when it never varies
 * within a case).
 */
export async function profileLog(con: DuckDBConnection, relation: string): Promise<LogProfile> {
  const log = await defineLog(con, relation);
  const summary = await calc.summary(con, log);
  const activities = (await rows(con, `SELECT DISTINCT activity FROM ${relation} ORDER BY 1`)).map((r) =>
    String(r.activity),
  );
  const columns = (await rows(con, `SELECT column_name FROM (DESCRIBE SELECT * FROM ${relation})`))
    .map((r) => String(r.column_name))
    .filter((c) => c.startsWith('a:'));
  const attributes: LogProfile['attributes'] = [];
  for (const column of columns) {
    const c = ident(column);
    const [r] = await rows(
      con,
      `SELECT
         bool_and(TRY_CAST(${c} AS DOUBLE) IS NOT NULL) FILTER (WHERE ${c} IS NOT NULL) AS numeric,
         bool_and(lower(${c}) IN ('true', 'false')) FILTER (WHERE ${c} IS NOT NULL) AS boolean,
         bool_and(TRY_CAST(${c} AS TIMESTAMPTZ) IS NOT NULL) FILTER (WHERE ${c} IS NOT NULL) AS datetime,
         (SELECT coalesce(max(n), 0) FROM (SELECT count(DISTINCT ${c}) AS n FROM ${relation} GROUP BY case_key)) AS per_case
       FROM ${relation}`,
    );
    const name = column.slice(2);
    const dataType = r.numeric ? 'number' : r.boolean ? 'boolean' : r.datetime ? 'datetime' : 'string';
    const scope = name.startsWith('case:') || Number(r.per_case) <= 1 ? 'case' : 'event';
    attributes.push({ name, scope, dataType });
  }
  return { ...summary, activities, attributes };
}
