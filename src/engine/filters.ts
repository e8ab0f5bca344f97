import type { DuckDBConnection } from '@duckdb/node-api';
import { literal } from './duck';
import { casesOf, columnOf, neighboursOf, type Log } from './log';

/** A filter configuration of the contract's catalogue (FilterConfiguration). */
export type FilterConfig = { filterType: string; reverse?: boolean } & Record<string, unknown>;

let counter = 0;

/**
 * Applies a filter to a log and returns the relation of the events it keeps. Case filters keep
 * or remove whole cases (`reverse` swaps which); event filters keep or remove single events, and a
 * case left without events disappears.
 */
export async function applyFilter(con: DuckDBConnection, log: Log, config: FilterConfig): Promise<string> {
  const name = `filtered_${++counter}`;
  const reverse = config.reverse === true;
  const condition = await conditionOf(con, log, config);
  const keep = condition.on === 'cases' ? `case_key IN (SELECT case_key FROM ${condition.sql})` : `(${condition.sql})`;
  // Event conditions can be null (an event without the attribute); such events never match.
  const where = reverse ? `NOT coalesce(${keep}, false)` : `coalesce(${keep}, false)`;
  // Whole cases keep their order (`timed`, `seq`); a case that lost events is ordered again by
  // defineLog, since losing its events without a timestamp can make it timed.
  const drop = condition.on === 'cases' ? '' : 'EXCLUDE (timed, seq)';
  await con.run(`CREATE OR REPLACE TEMP VIEW ${name} AS SELECT * ${drop} FROM ${log.relation} WHERE ${where}`);
  return name;
}

/** Either a subquery of matching case keys, or a condition on single events. */
type Condition = { on: 'cases'; sql: string } | { on: 'events'; sql: string };

async function conditionOf(con: DuckDBConnection, log: Log, c: FilterConfig): Promise<Condition> {
  const table = () => casesOf(con, log);
  const cases = async (where: string): Promise<Condition> => ({
    on: 'cases',
    sql: `(SELECT case_key FROM ${await table()} WHERE ${where})`,
  });
  const list = (values: unknown) => (values as string[]).map((v) => literal(String(v))).join(', ');
  switch (c.filterType) {
    case 'dateRange': {
      const start = c.startDate ? bound(String(c.startDate), 'start') : undefined;
      const end = c.endDate ? bound(String(c.endDate), 'end') : undefined;
      const between = (col: string) =>
        `(${start ? `${col} >= ${start}` : 'true'} AND ${end ? `${col} < ${end}` : 'true'})`;
      switch (c.mode ?? 'casesIntersecting') {
        case 'events':
          return { on: 'events', sql: between('ts') };
        case 'casesContained':
          return cases(`timed AND ${between('first_ts')} AND ${between('last_ts')}`);
        case 'casesStarting':
          return cases(`timed AND ${between('first_ts')}`);
        case 'casesEnding':
          return cases(`timed AND ${between('last_ts')}`);
        default:
          return { on: 'cases', sql: `(SELECT DISTINCT case_key FROM ${log.relation} WHERE ${between('ts')})` };
      }
    }
    case 'caseAttribute': {
      const column = await columnOf(con, log, String(c.attribute));
      const perCase = `(SELECT case_key, any_value(${column}) AS v FROM ${log.relation} GROUP BY case_key)`;
      return { on: 'cases', sql: `(SELECT case_key FROM ${perCase} WHERE ${valueTest('v', c)})` };
    }
    case 'eventAttribute': {
      const column = await columnOf(con, log, String(c.attribute));
      const test = valueTest(column, c);
      if (c.mode === 'events') return { on: 'events', sql: test };
      return { on: 'cases', sql: `(SELECT DISTINCT case_key FROM ${log.relation} WHERE ${test})` };
    }
    case 'activityPresence': {
      const activities = c.activities as string[];
      const present = `count(DISTINCT activity) FILTER (WHERE activity IN (${list(activities)}))`;
      const needed = c.match === 'all' ? new Set(activities).size : 1;
      return {
        on: 'cases',
        sql: `(SELECT case_key FROM ${log.relation} GROUP BY case_key HAVING ${present} >= ${needed})`,
      };
    }
    case 'startActivities':
      return cases(`trace[1] IN (${list(c.activities)})`);
    case 'endActivities':
      return cases(`trace[len(trace)] IN (${list(c.activities)})`);
    case 'caseDuration': {
      const min = c.minSeconds !== undefined ? `duration_s >= ${Number(c.minSeconds)}` : 'true';
      const max = c.maxSeconds !== undefined ? `duration_s <= ${Number(c.maxSeconds)}` : 'true';
      return cases(`duration_s IS NOT NULL AND ${min} AND ${max}`);
    }
    case 'variants': {
      // Every criterion given must hold; ranks break ties by the variant's activities.
      const ranked = `(SELECT trace, count(*) AS n, row_number() OVER (ORDER BY count(*) DESC, trace) AS rank FROM ${await table()} GROUP BY trace)`;
      const tests = ['true'];
      if (c.variants) {
        const listed = (c.variants as string[][]).map((v) => `[${list(v)}]::VARCHAR[]`).join(', ');
        tests.push(`trace IN (${listed})`);
      }
      if (c.top !== undefined) tests.push(`rank <= ${Number(c.top)}`);
      if (c.minCaseCount !== undefined) tests.push(`n >= ${Number(c.minCaseCount)}`);
      return cases(`trace IN (SELECT trace FROM ${ranked} WHERE ${tests.join(' AND ')})`);
    }
    case 'directlyFollows':
      return {
        on: 'cases',
        sql: `(SELECT case_key FROM ${neighboursOf(log)}
               WHERE follows AND prev_activity = ${literal(String(c.from))} AND activity = ${literal(String(c.to))})`,
      };
    case 'rework': {
      const which = typeof c.activity === 'string' ? `WHERE activity = ${literal(c.activity)}` : '';
      const min = Number(c.minOccurrences ?? 2);
      return {
        on: 'cases',
        sql: `(SELECT case_key FROM ${log.relation} ${which} GROUP BY case_key, activity HAVING count(*) >= ${min})`,
      };
    }
    default:
      throw new Error(`Unknown filter ${c.filterType}`);
  }
}

/** A date is a whole UTC day: as a start it is its midnight, as an end the next midnight (exclusive). */
function bound(value: string, side: 'start' | 'end'): string {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
  if (dateOnly)
    return side === 'start'
      ? `TIMESTAMPTZ ${literal(`${value} 00:00:00+00`)}`
      : `(TIMESTAMPTZ ${literal(`${value} 00:00:00+00`)} + INTERVAL 1 DAY)`;
  const instant = `TIMESTAMPTZ ${literal(value)}`;
  // An end given to the instant is inclusive.
  return side === 'start' ? instant : `(${instant} + INTERVAL 1 MICROSECOND)`;
}

/** Whether a text attribute value matches the configuration's values (each compared in its own type) or range. */
function valueTest(column: string, c: FilterConfig): string {
  if (Array.isArray(c.values)) {
    const tests = (c.values as unknown[]).map((v) => {
      if (typeof v === 'number') return `TRY_CAST(${column} AS DOUBLE) = ${v}`;
      if (typeof v === 'boolean') return `lower(${column}) = ${literal(String(v))}`;
      return `${column} = ${literal(String(v))}`;
    });
    return `(${tests.join(' OR ')})`;
  }
  const range = (v: unknown, op: string) =>
    typeof v === 'number'
      ? `TRY_CAST(${column} AS DOUBLE) ${op} ${v}`
      : `TRY_CAST(${column} AS TIMESTAMPTZ) ${op} TIMESTAMPTZ ${literal(String(v))}`;
  const tests = ['true'];
  if (c.min !== undefined) tests.push(range(c.min, '>='));
  if (c.max !== undefined) tests.push(range(c.max, '<='));
  return `(${tests.join(' AND ')})`;
}
