import type { DuckDBConnection } from '@duckdb/node-api';
import type { AlertOutcome, AlertSeverity, ComparisonOperator } from '../api/types';
import { rows } from './duck';
import * as calc from './calculators';
import { casesOf, type Log } from './log';

/** An alert configuration of the contract's catalogue (AlertConfiguration). */
export type AlertConfig = { alertType: string; operator: string; threshold: number; severity?: string } & Record<
  string,
  unknown
>;

const SQL_OPERATORS: Record<string, string> = { gt: '>', gte: '>=', lt: '<', lte: '<=', eq: '=', neq: '<>' };

/**
 * Evaluates an alert on the log as filtered so far; its outcome is the contract's AlertOutcome of
 * its `alertType` (case-level alerts name the first 100 violating cases).
 */
export async function evaluateAlert(con: DuckDBConnection, log: Log, c: AlertConfig): Promise<AlertOutcome> {
  const severity = (c.severity ?? 'Warning') as AlertSeverity;
  const base = { severity, threshold: c.threshold, operator: c.operator as ComparisonOperator };
  if (c.alertType === 'metricThreshold') {
    const output =
      c.calculatorType === 'throughputTime' ? await calc.throughputTime(con, log) : await calc.summary(con, log);
    const value = (output as Record<string, unknown>)[String(c.metric)];
    const observed = typeof value === 'number' ? value : null;
    return {
      alertType: 'metricThreshold',
      ...base,
      observedValue: observed,
      fired: observed !== null && compare(observed, c.operator, c.threshold),
    };
  }
  if (c.alertType === 'caseCondition') {
    const metric = await caseMetricSql(con, String(c.caseMetric), log);
    const op = SQL_OPERATORS[c.operator];
    const violating = `(SELECT case_key, case_id, metric FROM ${metric} WHERE metric ${op} ${Number(c.threshold)})`;
    const [{ n }] = await rows(con, `SELECT count(*) AS n FROM ${violating}`);
    const first = await rows(con, `SELECT case_id FROM ${violating} ORDER BY case_key LIMIT 100`);
    const count = Number(n);
    return {
      alertType: 'caseCondition',
      ...base,
      observedValue: count,
      violatingCaseCount: count,
      violatingCases: first.map((r) => String(r.case_id)),
      fired: count > Number(c.maxViolatingCases ?? 0),
    };
  }
  throw new Error(`Unknown alert ${c.alertType}`);
}

async function caseMetricSql(con: DuckDBConnection, metric: string, log: Log): Promise<string> {
  switch (metric) {
    case 'durationSeconds':
      return `(SELECT case_key, case_id, duration_s AS metric FROM ${await casesOf(con, log)} WHERE duration_s IS NOT NULL)`;
    case 'eventCount':
      return `(SELECT case_key, case_id, events AS metric FROM ${await casesOf(con, log)})`;
    case 'reworkCount':
      return `(SELECT case_key, any_value(case_id) AS case_id, sum(n - 1) AS metric
               FROM (SELECT case_key, any_value(case_id) AS case_id, count(*) AS n FROM ${log.relation} GROUP BY case_key, activity)
               GROUP BY case_key)`;
    default:
      throw new Error(`Unknown case metric ${metric}`);
  }
}

function compare(value: number, operator: string, threshold: number): boolean {
  switch (operator) {
    case 'gt':
      return value > threshold;
    case 'gte':
      return value >= threshold;
    case 'lt':
      return value < threshold;
    case 'lte':
      return value <= threshold;
    case 'eq':
      return value === threshold;
    default:
      return value !== threshold;
  }
}
