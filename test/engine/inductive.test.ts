import fs from 'node:fs';
import path from 'node:path';
import { compareSequences, conformance, type Variant } from '../../src/engine/models/alignments';
import {
  discoverProcessTree,
  INDUCTIVE_LIMITS,
  inductiveMiner,
  processTreeToPetriNet,
  reduceSilentSteps,
  type ProcessTree,
} from '../../src/engine/models/inductive';
import { checkWorkflowNet } from '../../src/engine/models/workflowNet';
import { readVariants, type CsvColumns } from '../support/event-logs';
import { SHARED_DATA } from '../support/shared-data';

/** A tree in a short text form: `->(a, x(tau, b))`, `+` parallel, `x` choice, `*` loop. */
function show(tree: ProcessTree): string {
  if (tree.kind === 'activity') return tree.label;
  if (tree.kind === 'tau') return 'tau';
  const op = { sequence: '->', xor: 'x', parallel: '+', loop: '*' }[tree.kind];
  return `${op}(${tree.children.map(show).join(', ')})`;
}

const log = (...traces: string[]): Variant[] =>
  traces.map((t) => ({ activities: t === '' ? [] : t.split(' '), cases: 1 }));

describe('the Inductive Miner on small logs', () => {
  test.each<[string, Variant[], string]>([
    ['one trace: a sequence', log('a b c'), '->(a, b, c)'],
    ['an exclusive choice', log('a b', 'a c'), '->(a, x(b, c))'],
    ['a parallel block', log('a b c d', 'a c b d'), '->(a, +(b, c), d)'],
    ['a loop with a redo part', log('a', 'a b a', 'a b a b a'), '*(a, b)'],
    ['an empty trace: a skip', log('a', ''), 'x(tau, a)'],
    ['a repeated activity: a tau loop', log('a', 'a a'), '*(a, tau)'],
    ['an optional middle', log('a b c', 'a c'), '->(a, x(tau, b), c)'],
  ])('%s', (_name, variants, tree) => {
    expect(show(discoverProcessTree(variants))).toBe(tree);
  });

  test('the net of a tree is a workflow net that replays the log', async () => {
    const variants = log('a b c d', 'a c b d', 'a e d', 'a b c d b c d');
    const net = inductiveMiner(variants);
    expect(() => checkWorkflowNet(net)).not.toThrow();
    const r = await conformance(variants, net);
    expect(r.perVariant.map((v) => v.deviations)).toEqual([0, 0, 0, 0]);
  });

  test('removing silent steps keeps the language and the workflow net', async () => {
    const variants = log('a b', 'a b a b', 'c', 'a d b');
    const full = processTreeToPetriNet(discoverProcessTree(variants));
    const reduced = reduceSilentSteps(full);
    expect(reduced.transitions.length).toBeLessThan(full.transitions.length);
    expect(() => checkWorkflowNet(reduced)).not.toThrow();
    const probes = log('a b', 'a b a b', 'c', 'a d b', 'a', 'b', 'c c', 'a b c', '', 'a d b a b');
    const before = await conformance(probes, full);
    const after = await conformance(probes, reduced);
    expect(after.perVariant.map((v) => v.deviations)).toEqual(before.perVariant.map((v) => v.deviations));
    expect(after.shortestRun).toBe(before.shortestRun);
  });

  test('a log with more distinct activities than the bound is refused', () => {
    const wide = Array.from({ length: INDUCTIVE_LIMITS.maxActivities + 1 }, (_, k) => `a${k}`);
    expect(() => discoverProcessTree([{ activities: wide, cases: 1 }])).toThrow(/at most 200/);
    expect(() => discoverProcessTree([{ activities: wide.slice(1), cases: 1 }])).not.toThrow();
  });

  test('a noise threshold outside 0..1 is refused', () => {
    expect(() => discoverProcessTree(log('a'), { noiseThreshold: 1.5 })).toThrow(RangeError);
    expect(() => discoverProcessTree(log('a'), { noiseThreshold: Number.NaN })).toThrow(RangeError);
  });
});

const CSV = (separator: string, caseId: string, activity: string, timestamp: string): CsvColumns => ({
  separator,
  caseId,
  activity,
  timestamp,
});
const PM4PY_CSV = CSV(',', 'case:concept:name', 'concept:name', 'time:timestamp');

/**
 * Every log of ../shared/data. 17_bpic2012_1t_per_variant (4,366 variants) takes minutes on a busy
 * 2-core machine, so its proof runs in `npm run bench:conformance`, which prints its fitness.
 */
const SHARED_LOGS: [string, CsvColumns | undefined][] = [
  ['running-example.xes', undefined],
  ['running-example.csv', PM4PY_CSV],
  ['roadtraffic100traces.xes', undefined],
  ['roadtraffic100traces.csv', PM4PY_CSV],
  ['08_receipt.xes.gz', undefined],
  ['receipt.csv', PM4PY_CSV],
  ['interval_event_log.xes', undefined],
  ['19_roadtraffic_1t_per_variant.xes.gz', undefined],
  ['sepsis.csv', CSV(';', 'Case ID', 'Activity', 'Complete Timestamp')],
];

describe.each(SHARED_LOGS)('IM on %s', (file, csv) => {
  test('replays its own log perfectly: every variant 0 deviations, fitness 1', async () => {
    const variants = await readVariants(file, csv);
    const net = inductiveMiner(variants);
    expect(() => checkWorkflowNet(net)).not.toThrow();
    const r = await conformance(variants, net);
    expect(r.unalignedVariants).toBe(0);
    expect(r.perVariant.filter((v) => v.deviations !== 0)).toEqual([]);
    expect(r.perVariant.every((v) => v.fitness === 1)).toBe(true);
    expect([r.averageTraceFitness, r.percentFittingCases]).toEqual([1, 100]);
  }, 120_000);
});

/** The reference models: pm4py 2.7.14's IM on the log's k most frequent variants (ties by sequence). */
const PM4PY_MODELS: [string, string, CsvColumns | undefined, number][] = [
  ['running-example', 'running-example.xes', undefined, 2],
  ['roadtraffic100traces', 'roadtraffic100traces.xes', undefined, 3],
  ['receipt', '08_receipt.xes.gz', undefined, 5],
  ['sepsis', 'sepsis.csv', CSV(';', 'Case ID', 'Activity', 'Complete Timestamp'), 5],
];

describe.each(PM4PY_MODELS)('IM on the top variants of %s', (name, file, csv, k) => {
  test(`gives pm4py's model: the same transitions and the same alignments of the whole log`, async () => {
    const ref = JSON.parse(fs.readFileSync(path.join(SHARED_DATA, 'conformance', `${name}.conformance.json`), 'utf8'));
    const variants = await readVariants(file, csv);
    const top = [...variants]
      .sort((a, b) => b.cases - a.cases || compareSequences(a.activities, b.activities))
      .slice(0, k);
    const net = inductiveMiner(top);
    expect([net.transitions.length, net.transitions.filter((t) => t.label !== null).length]).toEqual([
      ref.transitions,
      ref.visibleTransitions,
    ]);
    const r = await conformance(variants, net);
    expect(r.perVariant.map((v) => v.deviations)).toEqual(
      ref.perVariant.map((v: { deviations: number }) => v.deviations),
    );
    expect(r.averageTraceFitness).toBe(ref.averageTraceFitness);
  }, 60_000);
});

describe('IMf', () => {
  test('on Sepsis with threshold 0.2 gives a smaller workflow net that still aligns every variant', async () => {
    const variants = await readVariants('sepsis.csv', CSV(';', 'Case ID', 'Activity', 'Complete Timestamp'));
    const im = inductiveMiner(variants);
    const imf = inductiveMiner(variants, { noiseThreshold: 0.2 });
    expect(() => checkWorkflowNet(imf)).not.toThrow();
    // Measured: IM 52 transitions and 41 places; IMf 0.2 34 transitions and 27 places.
    expect(imf.transitions.length).toBeLessThan(im.transitions.length);
    expect(imf.places.length).toBeLessThan(im.places.length);
    const r = await conformance(variants, imf);
    expect(r.unalignedVariants).toBe(0);
    expect(r.averageTraceFitness).toBeGreaterThan(0.9);
    expect(r.averageTraceFitness).toBeLessThan(1);
  }, 120_000);

  test('with threshold 0 is IM', () => {
    const variants = log('a b c', 'a c b', 'a d', 'a b c b c');
    expect(show(discoverProcessTree(variants, { noiseThreshold: 0 }))).toBe(show(discoverProcessTree(variants)));
  });

  test('drops an infrequent empty trace and an infrequent detour', () => {
    const variants: Variant[] = [
      { activities: ['a', 'b', 'c'], cases: 50 },
      { activities: ['a', 'c', 'b'], cases: 40 },
      { activities: [], cases: 1 },
      { activities: ['a', 'c', 'a', 'b'], cases: 1 },
    ];
    expect(show(discoverProcessTree(variants, { noiseThreshold: 0.2 }))).toBe('->(a, +(b, c))');
  });
});
