import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { SHARED_DATA } from '../support/shared-data';
import * as calc from '../../src/engine/calculators';
import { openEngine } from '../../src/engine/duck';
import { importEventLog, type ColumnMapping } from '../../src/engine/importLog';
import { parquetRelation } from '../../src/engine/engine';
import { defineLog, type Log } from '../../src/engine/log';
import { writeOlderLayout } from '../support/older-layout';

const DATA = SHARED_DATA;
const PM4PY_COLUMNS: ColumnMapping = {
  caseIdColumn: 'case:concept:name',
  activityColumn: 'concept:name',
  timestampColumn: 'time:timestamp',
};

/** The public logs of ../shared/data with their mappings (see its README). */
const LOGS: [string, ColumnMapping | null][] = [
  ['running-example.xes', null],
  ['running-example.csv', PM4PY_COLUMNS],
  ['roadtraffic100traces.xes', null],
  ['roadtraffic100traces.csv', PM4PY_COLUMNS],
  ['08_receipt.xes.gz', null],
  ['receipt.csv', PM4PY_COLUMNS],
  ['interval_event_log.xes', null],
  ['19_roadtraffic_1t_per_variant.xes.gz', null],
  [
    'sepsis.csv',
    {
      caseIdColumn: 'Case ID',
      activityColumn: 'Activity',
      timestampColumn: 'Complete Timestamp',
      resourceColumn: 'org:group',
    },
  ],
  ['17_bpic2012_1t_per_variant.xes.gz', null],
];

interface Reference {
  cases: number;
  events: number;
  activities: number;
  variants: number;
  top_variants: { count: number; share: number; activities: string[] }[];
  dfg_edges: number;
  dfg_total_transitions: number;
  dfg: { from: string; to: string; count: number; mean_duration_s: number | null }[];
  start_activities: Record<string, number>;
  end_activities: Record<string, number>;
  activity_counts: Record<string, number>;
  case_duration_s: { cases_with_timestamps: number; median: number; mean: number; min: number; max: number } | null;
}

/**
 * Python's round(), which the reference used: it rounds the double's exact decimal value, and an
 * exact tie to the even digit (toFixed alone would round a tie up).
 */
function round(v: number | null, digits: number): number | null {
  if (v === null) return null;
  const exact = Math.abs(v).toFixed(Math.min(100, digits + 30));
  const [whole, fraction] = exact.split('.');
  const rest = fraction.slice(digits);
  if (/^50*$/.test(rest)) {
    const kept = `${whole}.${fraction.slice(0, digits)}`;
    const lastDigit = Number((whole + fraction.slice(0, digits)).slice(-1));
    const down = Number(kept);
    const result = lastDigit % 2 === 0 ? down : down + 10 ** -digits;
    return Math.sign(v) * Number(result.toFixed(digits));
  }
  return Number(v.toFixed(digits));
}

/** How the imported file is stored: as the import writes it, and as versions before it wrote it. */
const LAYOUTS = ['in order, as imported', 'unsorted, by an older version'];

describe.each(LOGS)('the engine on %s matches the independent reference figures', (file, mapping) => {
  let con: DuckDBConnection;
  const logs: Record<string, Log> = {};
  let ref: Reference;
  let workDir: string;
  beforeAll(async () => {
    ref = JSON.parse(fs.readFileSync(path.join(DATA, file.replace(/\.(xes\.gz|xes|csv)$/, '.reference.json')), 'utf8'));
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-engine-'));
    con = await openEngine({ memoryLimit: '1GB' });
    const format = file.endsWith('.xes.gz') ? 'xes.gz' : file.endsWith('.xes') ? 'xes' : 'csv';
    const parquet = path.join(workDir, 'events.parquet');
    await importEventLog(con, { source: path.join(DATA, file), format, mapping, parquet, workDir });
    logs[LAYOUTS[0]] = await defineLog(con, parquetRelation(parquet));
    const older = path.join(workDir, 'older.parquet');
    await writeOlderLayout(con, parquet, older);
    logs[LAYOUTS[1]] = await defineLog(con, parquetRelation(older));
  }, 120_000);
  afterAll(() => {
    con?.closeSync();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  test.each(LAYOUTS)('summary: cases, events, activities, variants, stored %s', async (layout) => {
    const log = logs[layout];
    const s = await calc.summary(con, log);
    expect([s.caseCount, s.eventCount, s.activityCount, s.variantCount]).toEqual([
      ref.cases,
      ref.events,
      ref.activities,
      ref.variants,
    ]);
  });

  test.each(LAYOUTS)('variants: the top five with counts and shares, in order, stored %s', async (layout) => {
    const log = logs[layout];
    const v = await calc.variants(con, log, 5);
    expect(v.variantCount).toBe(ref.variants);
    expect(v.variants.map((x) => ({ count: x.caseCount, share: round(x.share, 6), activities: x.activities }))).toEqual(
      ref.top_variants.map((x) => ({ count: x.count, share: x.share, activities: x.activities })),
    );
  });

  test.each(LAYOUTS)(
    'process map: every directly-follows edge with its count and mean duration, start and end activities, stored %s',
    async (layout) => {
      const log = logs[layout];
      const map = await calc.processMap(con, log);
      expect(map.edges.length).toBe(ref.dfg_edges);
      expect(map.edges.reduce((sum, e) => sum + e.count, 0)).toBe(ref.dfg_total_transitions);
      const byKey = (e: { from: string; to: string }) => `${e.from}\u0000${e.to}`;
      const ours = Object.fromEntries(map.edges.map((e) => [byKey(e), [e.count, round(e.meanDurationSeconds, 3)]]));
      const theirs = Object.fromEntries(ref.dfg.map((e) => [byKey(e), [e.count, e.mean_duration_s]]));
      expect(ours).toEqual(theirs);
      expect(map.startActivities).toEqual(ref.start_activities);
      expect(map.endActivities).toEqual(ref.end_activities);
      expect(Object.fromEntries(map.nodes.map((n) => [n.activity, n.eventCount]))).toEqual(ref.activity_counts);
    },
  );

  test.each(LAYOUTS)('throughput time: cases with timestamps, median, mean, min, max, stored %s', async (layout) => {
    const log = logs[layout];
    const t = await calc.throughputTime(con, log);
    const expected = ref.case_duration_s;
    if (!expected) {
      expect(t.caseCount).toBe(0);
      return;
    }
    expect([t.caseCount, round(t.medianSeconds, 6), round(t.meanSeconds, 3), t.minSeconds, t.maxSeconds]).toEqual([
      expected.cases_with_timestamps,
      expected.median,
      expected.mean,
      expected.min,
      expected.max,
    ]);
  });
});
