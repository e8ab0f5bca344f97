import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { evaluateAlert, type AlertConfig } from '../../src/engine/alerts';
import { openEngine, rows } from '../../src/engine/duck';
import { applyFilter, type FilterConfig } from '../../src/engine/filters';
import { importEventLog } from '../../src/engine/importLog';
import { parquetRelation } from '../../src/engine/engine';
import { defineLog, type Log } from '../../src/engine/log';
import { writeOlderLayout } from '../support/older-layout';
import { calculate, runBlocks } from '../../src/engine/pipeline';

/**
 * A hand-made log. Ordered by time: c1 a,b,c (2 days); c2 a,c,b,b (6 days; its file order
 * differs); c3 a,b,c (9 days); c4 b,a (1 day); c5 a,b with a missing timestamp (file order, no duration).
 */
const CSV = `case,activity,time,resource,channel,amount
c1,a,2024-01-01T00:00:00Z,Pete,web,10
c1,b,2024-01-02T00:00:00Z,Mike,web,10
c1,c,2024-01-03T00:00:00Z,Pete,web,10
c2,a,2024-01-01T00:00:00Z,Sue,phone,20
c2,b,2024-01-06T00:00:00Z,Pete,phone,20
c2,c,2024-01-05T00:00:00Z,Sue,phone,20
c2,b,2024-01-07T00:00:00Z,Pete,phone,20
c3,a,2024-02-01T00:00:00Z,Mike,web,30
c3,b,2024-02-02T00:00:00Z,Mike,web,30
c3,c,2024-02-10T00:00:00Z,Mike,web,30
c4,b,2024-03-01T00:00:00Z,Sue,,
c4,a,2024-03-02T00:00:00Z,Sue,,
c5,a,,,,
c5,b,2024-03-05T00:00:00Z,Mike,,
`;
const DAY = 86_400;

/** How the imported file is stored: as the import writes it, and as versions before it wrote it. */
const LAYOUTS = ['in order, as imported', 'unsorted, by an older version'];
const files: Record<string, string> = {};

let con: DuckDBConnection;
let log: Log;
let workDir: string;
beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-ops-'));
  fs.writeFileSync(path.join(workDir, 'log.csv'), CSV);
  con = await openEngine({ memoryLimit: '512MB' });
  const parquet = path.join(workDir, 'log.parquet');
  const mapping = {
    caseIdColumn: 'case',
    activityColumn: 'activity',
    timestampColumn: 'time',
    resourceColumn: 'resource',
  };
  await importEventLog(con, { source: path.join(workDir, 'log.csv'), format: 'csv', mapping, parquet, workDir });
  files[LAYOUTS[0]] = parquet;
  files[LAYOUTS[1]] = path.join(workDir, 'older.parquet');
  await writeOlderLayout(con, parquet, files[LAYOUTS[1]]);
}, 60_000);
afterAll(() => {
  con?.closeSync();
  fs.rmSync(workDir, { recursive: true, force: true });
});

async function keptCases(config: FilterConfig): Promise<string[]> {
  const relation = await applyFilter(con, log, config);
  return (await rows(con, `SELECT DISTINCT case_id FROM ${relation} ORDER BY 1`)).map((r) => String(r.case_id));
}

const filterCases: [string, FilterConfig, string[]][] = [
  [
    'dateRange from a date keeps cases with an event on or after it',
    { filterType: 'dateRange', startDate: '2024-02-01' },
    ['c3', 'c4', 'c5'],
  ],
  [
    'dateRange casesContained keeps timed cases wholly inside',
    { filterType: 'dateRange', endDate: '2024-01-31', mode: 'casesContained' },
    ['c1', 'c2'],
  ],
  [
    'dateRange casesStarting',
    { filterType: 'dateRange', startDate: '2024-02-01', mode: 'casesStarting' },
    ['c3', 'c4'],
  ],
  [
    'dateRange casesEnding with a date-time end',
    { filterType: 'dateRange', endDate: '2024-01-07T00:00:00Z', mode: 'casesEnding' },
    ['c1', 'c2'],
  ],
  [
    'dateRange events keeps only events inside, end day included',
    { filterType: 'dateRange', startDate: '2024-01-02', endDate: '2024-01-03', mode: 'events' },
    ['c1'],
  ],
  ['dateRange reverse', { filterType: 'dateRange', startDate: '2024-02-01', reverse: true }, ['c1', 'c2']],
  ['caseAttribute by text value', { filterType: 'caseAttribute', attribute: 'channel', values: ['web'] }, ['c1', 'c3']],
  [
    'caseAttribute reverse keeps cases without the value too',
    { filterType: 'caseAttribute', attribute: 'channel', values: ['web'], reverse: true },
    ['c2', 'c4', 'c5'],
  ],
  ['caseAttribute numeric range', { filterType: 'caseAttribute', attribute: 'amount', min: 15, max: 30 }, ['c2', 'c3']],
  ['caseAttribute numeric value', { filterType: 'caseAttribute', attribute: 'amount', values: [10] }, ['c1']],
  [
    'eventAttribute cases with an event by Pete',
    { filterType: 'eventAttribute', attribute: 'org:resource', values: ['Pete'] },
    ['c1', 'c2'],
  ],
  ['activityPresence any', { filterType: 'activityPresence', activities: ['c'] }, ['c1', 'c2', 'c3']],
  [
    'activityPresence all',
    { filterType: 'activityPresence', activities: ['b', 'c'], match: 'all' },
    ['c1', 'c2', 'c3'],
  ],
  ['activityPresence reverse', { filterType: 'activityPresence', activities: ['c'], reverse: true }, ['c4', 'c5']],
  ['startActivities after sorting by time', { filterType: 'startActivities', activities: ['b'] }, ['c4']],
  ['endActivities after sorting by time', { filterType: 'endActivities', activities: ['b'] }, ['c2', 'c5']],
  [
    'caseDuration at most 3 days (untimed cases never match)',
    { filterType: 'caseDuration', maxSeconds: 3 * DAY },
    ['c1', 'c4'],
  ],
  ['caseDuration at least 5 days', { filterType: 'caseDuration', minSeconds: 5 * DAY }, ['c2', 'c3']],
  ['variants top 1', { filterType: 'variants', top: 1 }, ['c1', 'c3']],
  ['variants with at least 2 cases', { filterType: 'variants', minCaseCount: 2 }, ['c1', 'c3']],
  [
    'variants listed',
    {
      filterType: 'variants',
      variants: [
        ['b', 'a'],
        ['a', 'b'],
      ],
    },
    ['c4', 'c5'],
  ],
  ['directlyFollows after sorting by time', { filterType: 'directlyFollows', from: 'a', to: 'c' }, ['c2']],
  [
    'directlyFollows reverse',
    { filterType: 'directlyFollows', from: 'b', to: 'a', reverse: true },
    ['c1', 'c2', 'c3', 'c5'],
  ],
  ['rework of any activity', { filterType: 'rework' }, ['c2']],
  ['rework of one activity', { filterType: 'rework', activity: 'a', minOccurrences: 2 }, []],
];

describe.each(LAYOUTS)('on a log stored %s', (layout) => {
  beforeAll(async () => {
    log = await defineLog(con, parquetRelation(files[layout]));
  });

  describe('filters', () => {
    test.each(filterCases)('%s', async (_name, given, want) => {
      expect(await keptCases(given)).toEqual(want);
    });

    test('an event filter drops single events: events by Pete only', async () => {
      const relation = await applyFilter(con, log, {
        filterType: 'eventAttribute',
        attribute: 'org:resource',
        values: ['Pete'],
        mode: 'events',
      });
      const [{ n }] = await rows(con, `SELECT count(*) AS n FROM ${relation}`);
      expect(n).toBe(4);
    });

    test('an attribute the log does not have is refused with its name', async () => {
      await expect(
        applyFilter(con, log, { filterType: 'caseAttribute', attribute: 'nope', values: ['x'] }),
      ).rejects.toThrow("no attribute 'nope'");
    });
  });

  describe('calculators', () => {
    test('summary', async () => {
      expect(await calculate(con, log, { calculatorType: 'summary' })).toEqual({
        calculatorType: 'summary',
        caseCount: 5,
        eventCount: 14,
        activityCount: 3,
        variantCount: 4,
        startTime: '2024-01-01T00:00:00.000Z',
        endTime: '2024-03-05T00:00:00.000Z',
      });
    });

    test('variants with shares and mean durations of timed cases', async () => {
      const out = (await calculate(con, log, { calculatorType: 'variants', limit: 2 })) as { variants: unknown[] };
      expect(out).toEqual({
        calculatorType: 'variants',
        variantCount: 4,
        variants: [
          { activities: ['a', 'b', 'c'], caseCount: 2, share: 0.4, meanDurationSeconds: 5.5 * DAY },
          { activities: ['a', 'b'], caseCount: 1, share: 0.2, meanDurationSeconds: null },
        ],
      });
    });

    test('throughput time over timed cases', async () => {
      expect(await calculate(con, log, { calculatorType: 'throughputTime' })).toEqual({
        calculatorType: 'throughputTime',
        caseCount: 4,
        meanSeconds: 4.5 * DAY,
        medianSeconds: 4 * DAY,
        p90Seconds: 8.1 * DAY, // interpolated: 6 + 0.7 × (9 − 6) days
        minSeconds: 1 * DAY,
        maxSeconds: 9 * DAY,
      });
    });

    test('process map edges, start and end activities', async () => {
      const map = (await calculate(con, log, { calculatorType: 'processMap' })) as {
        edges: { from: string; to: string; count: number; meanDurationSeconds: number | null }[];
        startActivities: Record<string, number>;
        endActivities: Record<string, number>;
      };
      expect(map.edges.find((e) => e.from === 'a' && e.to === 'b')).toMatchObject({
        count: 3,
        meanDurationSeconds: null,
      });
      expect(map.edges.find((e) => e.from === 'b' && e.to === 'c')).toMatchObject({
        count: 2,
        meanDurationSeconds: 4.5 * DAY,
      });
      expect(map.startActivities).toEqual({ a: 4, b: 1 });
      expect(map.endActivities).toEqual({ b: 2, c: 2, a: 1 });
    });

    test.each<{ name: string; given: Record<string, unknown>; want: string[] }>([
      { name: 'slowest edges first, untimed edges left out', given: { minCount: 1, limit: 2 }, want: ['b>c', 'a>c'] },
      { name: 'edges seen fewer than minCount times left out', given: { minCount: 2 }, want: ['b>c'] },
      { name: 'by default, edges seen fewer than 5 times left out', given: {}, want: [] },
    ])('bottlenecks: $name', async ({ given, want }) => {
      const out = (await calculate(con, log, { calculatorType: 'bottlenecks', ...given })) as {
        edges: { from: string; to: string }[];
      };
      expect(out.edges.map((e) => `${e.from}>${e.to}`)).toEqual(want);
    });

    test('rework and activity frequency', async () => {
      expect(await calculate(con, log, { calculatorType: 'rework' })).toEqual({
        calculatorType: 'rework',
        caseCount: 5,
        casesWithRework: 1,
        share: 0.2,
        activities: [{ activity: 'b', caseCount: 1, extraOccurrences: 1 }],
      });
      const freq = (await calculate(con, log, { calculatorType: 'activityFrequency' })) as { activities: unknown[] };
      expect(freq.activities[0]).toEqual({ activity: 'b', eventCount: 6, caseCount: 5, share: 0.428571 });
    });

    test('resource workload, busiest first', async () => {
      const out = (await calculate(con, log, { calculatorType: 'resourceWorkload' })) as {
        resources: { resource: string; eventCount: number; caseCount: number }[];
      };
      expect(out.resources.map((r) => [r.resource, r.eventCount, r.caseCount])).toEqual([
        ['Mike', 5, 3],
        ['Pete', 4, 2],
        ['Sue', 4, 2],
      ]);
    });
  });

  describe('alerts', () => {
    const cases: [string, AlertConfig, Record<string, unknown>][] = [
      [
        'case condition: cases longer than 5 days',
        {
          alertType: 'caseCondition',
          caseMetric: 'durationSeconds',
          operator: 'gt',
          threshold: 5 * DAY,
          severity: 'Critical',
        },
        { fired: true, observedValue: 2, violatingCaseCount: 2, violatingCases: ['c2', 'c3'], severity: 'Critical' },
      ],
      [
        'case condition within its allowance does not fire',
        { alertType: 'caseCondition', caseMetric: 'reworkCount', operator: 'gte', threshold: 1, maxViolatingCases: 1 },
        { fired: false, violatingCases: ['c2'], severity: 'Warning' },
      ],
      [
        'metric threshold on the summary',
        { alertType: 'metricThreshold', calculatorType: 'summary', metric: 'caseCount', operator: 'gte', threshold: 5 },
        { fired: true, observedValue: 5 },
      ],
      [
        'metric threshold on throughput time',
        {
          alertType: 'metricThreshold',
          calculatorType: 'throughputTime',
          metric: 'p90Seconds',
          operator: 'lt',
          threshold: DAY,
        },
        { fired: false, observedValue: 8.1 * DAY },
      ],
    ];
    test.each(cases)('%s', async (_name, given, want) => {
      expect(await evaluateAlert(con, log, given)).toMatchObject(want);
    });
  });

  test('a notebook of a filter, a calculator and an alert runs in order with sizes in and out', async () => {
    const outcomes = await runBlocks(con, log.relation, [
      { id: 'f', blockType: 'Filter', configuration: { filterType: 'activityPresence', activities: ['c'] } },
      { id: 's', blockType: 'Calculator', configuration: { calculatorType: 'summary' } },
      {
        id: 'x',
        blockType: 'Alert',
        configuration: {
          alertType: 'metricThreshold',
          calculatorType: 'summary',
          metric: 'caseCount',
          operator: 'gt',
          threshold: 2,
        },
      },
    ]);
    expect(outcomes.map((o) => [o.blockId, o.status, o.casesIn, o.casesOut, o.eventsIn, o.eventsOut])).toEqual([
      ['f', 'Success', 5, 3, 14, 10],
      ['s', 'Success', 3, 3, 10, 10],
      ['x', 'Success', 3, 3, 10, 10],
    ]);
    expect(outcomes[1].output).toMatchObject({ caseCount: 3, variantCount: 2 });
    expect(outcomes[2].output).toMatchObject({ fired: true, observedValue: 3 });
  });

  test('a block that fails stops the run and says why', async () => {
    const outcomes = await runBlocks(con, log.relation, [
      {
        id: 'bad',
        blockType: 'Filter',
        configuration: { filterType: 'caseAttribute', attribute: 'missing', values: ['x'] },
      },
      { id: 'never', blockType: 'Calculator', configuration: { calculatorType: 'summary' } },
    ]);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({
      status: 'Error',
      error: { errorMessage: "The dataset has no attribute 'missing'." },
    });
  });
});

test('an event filter that drops the only event without a timestamp orders its case by time again', async () => {
  // File order x, y, z; z has no timestamp, so the case keeps file order until z is filtered out.
  const csv = 'case,activity,time\nk,x,2024-01-02T00:00:00Z\nk,y,2024-01-01T00:00:00Z\nk,z,\n';
  fs.writeFileSync(path.join(workDir, 'untimed.csv'), csv);
  const parquet = path.join(workDir, 'untimed.parquet');
  const mapping = { caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'time' };
  await importEventLog(con, { source: path.join(workDir, 'untimed.csv'), format: 'csv', mapping, parquet, workDir });
  const edges = async (l: Log) =>
    ((await calculate(con, l, { calculatorType: 'processMap' })) as { edges: { from: string; to: string }[] }).edges
      .map((e) => `${e.from}>${e.to}`)
      .sort();
  const whole = await defineLog(con, parquetRelation(parquet));
  expect(await edges(whole)).toEqual(['x>y', 'y>z']);
  const timed = await defineLog(
    con,
    await applyFilter(con, whole, {
      filterType: 'eventAttribute',
      attribute: 'concept:name',
      values: ['z'],
      mode: 'events',
      reverse: true,
    }),
  );
  expect(await edges(timed)).toEqual(['y>x']);
  expect(await calculate(con, timed, { calculatorType: 'throughputTime' })).toMatchObject({ caseCount: 1 });
});
