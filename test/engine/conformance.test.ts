import fs from 'node:fs';
import path from 'node:path';
import {
  Aligner,
  conformance,
  runConformance,
  THREAD_FROM_EVENTS,
  traceFitness,
  type ConformanceResult,
  type Variant,
} from '../../src/engine/models/alignments';
import { parseBpmn } from '../../src/engine/models/bpmn';
import type { PetriNet } from '../../src/engine/models/petriNet';
import { parsePnml } from '../../src/engine/models/pnml';
import { readVariants, type CsvColumns } from '../support/event-logs';
import { SHARED_DATA } from '../support/shared-data';

const SEPSIS: CsvColumns = { separator: ';', caseId: 'Case ID', activity: 'Activity', timestamp: 'Complete Timestamp' };

/** The four logs with pm4py's alignments in ../shared/data/conformance. */
const REFERENCES: [string, string, CsvColumns | undefined][] = [
  ['running-example', 'running-example.xes', undefined],
  ['roadtraffic100traces', 'roadtraffic100traces.xes', undefined],
  ['receipt', '08_receipt.xes.gz', undefined],
  ['sepsis', 'sepsis.csv', SEPSIS],
];

interface Reference {
  cases: number;
  variants: number;
  fittingCases: number;
  percentFittingCases: number;
  averageTraceFitness: number;
  perVariant: { variant: string[]; cases: number; deviations: number; fitness: number }[];
}

function modelFile(name: string): string {
  return fs.readFileSync(path.join(SHARED_DATA, 'conformance', name), 'utf8');
}

/** A net from arcs written `p>t` / `t>p`, transitions `t=label` (`t=` silent), source `i` and sink `o`. */
function net(transitions: Record<string, string>, arcs: string[]): PetriNet {
  const places = new Set<string>();
  for (const arc of arcs) for (const end of arc.split('>')) if (!(end in transitions)) places.add(end);
  return {
    places: [...places].map((id) => ({ id })),
    transitions: Object.entries(transitions).map(([id, label]) => ({ id, label: label === '' ? null : label })),
    arcs: arcs.map((a) => ({ source: a.split('>')[0], target: a.split('>')[1] })),
    initialMarking: { i: 1 },
    finalMarking: { o: 1 },
  };
}

/** a, then b or a silent skip, then c. */
const ABC = net({ a: 'a', b: 'b', skip: '', c: 'c' }, ['i>a', 'a>p', 'p>b', 'p>skip', 'b>q', 'skip>q', 'q>c', 'c>o']);

describe('optimal alignments on hand-built nets', () => {
  test.each<[string, string[], number, number, number]>([
    ['a fitting trace', ['a', 'b', 'c'], 0, 0, 0],
    ['a fitting trace through the silent skip', ['a', 'c'], 0, 0, 0],
    ['a missing activity: one model move', ['b', 'c'], 1, 0, 1],
    ['an extra event: one log move', ['a', 'x', 'c'], 1, 1, 0],
    ['a swap: the late b is one log move (b is skippable)', ['a', 'c', 'b'], 1, 1, 0],
    ['a swap of required activities: one log and one model move', ['c', 'a'], 2, 1, 1],
    ['the empty trace: the shortest run', [], 2, 0, 2],
  ])('%s', (_name, trace, deviations, logMoves, modelMoves) => {
    const a = new Aligner(ABC).align(trace);
    expect(a).not.toBeNull();
    expect([a?.deviations, a?.logMoves, a?.modelMoves]).toEqual([deviations, logMoves, modelMoves]);
  });

  test('the shortest complete run counts visible transitions only', () => {
    expect(new Aligner(ABC).shortestRun).toBe(2);
  });

  test('trace fitness is 1 - deviations / (trace length + shortest run)', () => {
    expect(traceFitness(2, 3, 2)).toBe(1 - 2 / 5);
    expect(traceFitness(0, 0, 0)).toBe(1);
  });

  test('a net whose final marking cannot be reached leaves every variant unaligned', async () => {
    const dead = net({ a: 'a' }, ['i>a', 'a>p', 'o>a']);
    const r = await conformance([{ activities: ['a'], cases: 3 }], dead);
    expect(r.shortestRun).toBeNull();
    expect(r.unalignedVariants).toBe(1);
    expect(r.perVariant[0]).toMatchObject({ deviations: null, fitness: null, unaligned: true });
  });

  test('deviations by activity are weighted by cases', async () => {
    const r = await conformance(
      [
        { activities: ['a', 'c', 'b'], cases: 2 },
        { activities: ['a', 'b', 'c'], cases: 5 },
      ],
      ABC,
    );
    expect(r.fittingCases).toBe(5);
    const total = r.deviationsByActivity.reduce((s, d) => s + d.logMoves + d.modelMoves, 0);
    expect(total).toBe(2);
    expect(r.deviationsByActivity).toEqual([{ activity: 'b', logMoves: 2, modelMoves: 0 }]);
  });
});

describe.each(REFERENCES)('conformance of %s matches pm4py 2.7.14 exactly', (name, file, csv) => {
  let variants: Variant[];
  let ref: Reference;
  beforeAll(async () => {
    variants = await readVariants(file, csv);
    ref = JSON.parse(fs.readFileSync(path.join(SHARED_DATA, 'conformance', `${name}.conformance.json`), 'utf8'));
  }, 60_000);

  const check = (r: ConformanceResult) => {
    expect(r.unalignedVariants).toBe(0);
    expect([r.cases, r.variants]).toEqual([ref.cases, ref.variants]);
    // Every variant, in the reference's order, with its exact deviations and fitness.
    expect(r.perVariant.map((v) => [v.variant, v.cases, v.deviations, v.fitness])).toEqual(
      ref.perVariant.map((v) => [v.variant, v.cases, v.deviations, v.fitness]),
    );
    for (const v of r.perVariant) expect((v.logMoves ?? 0) + (v.modelMoves ?? 0)).toBe(v.deviations);
    expect(r.fittingCases).toBe(ref.fittingCases);
    expect(r.percentFittingCases).toBe(ref.percentFittingCases);
    expect(r.averageTraceFitness).toBe(ref.averageTraceFitness);
  };

  test('against the PNML model', async () => {
    check(await conformance(variants, parsePnml(modelFile(`${name}.model.pnml`))));
  }, 60_000);

  test('against the BPMN model', async () => {
    check(await conformance(variants, parseBpmn(modelFile(`${name}.model.bpmn`))));
  }, 60_000);
});

describe('bounds and cancellation', () => {
  /** Ten activities in parallel between a silent split and join: 2^10 markings. */
  const PARALLEL = (() => {
    const letters = 'abcdefghij'.split('');
    const transitions: Record<string, string> = { split: '', join: '' };
    const arcs = ['i>split', 'join>o'];
    for (const l of letters) {
      transitions[`t_${l}`] = l;
      arcs.push(`split>in_${l}`, `in_${l}>t_${l}`, `t_${l}>out_${l}`, `out_${l}>join`);
    }
    return { net: net(transitions, arcs), letters };
  })();

  test('a variant whose search passes the state limit is reported unaligned, the others are not', async () => {
    const reversed = [...PARALLEL.letters].reverse();
    const scrambled = ['x', 'y', ...PARALLEL.letters.slice(5), 'z', 'z', 'z', 'z'];
    const unbounded = await conformance(
      [
        { activities: reversed, cases: 2 },
        { activities: scrambled, cases: 1 },
      ],
      PARALLEL.net,
    );
    expect(unbounded.unalignedVariants).toBe(0);
    expect(unbounded.perVariant.map((v) => v.deviations)).toEqual([0, 11]);
    const bounded = await conformance(
      [
        { activities: reversed, cases: 2 },
        { activities: scrambled, cases: 1 },
      ],
      PARALLEL.net,
      { maxStates: 30 },
    );
    expect(bounded.unalignedVariants).toBe(1);
    expect(bounded.perVariant[1]).toMatchObject({ deviations: null, fitness: null, unaligned: true });
    // Figures over the aligned cases only.
    expect([bounded.fittingCases, bounded.averageTraceFitness]).toEqual([2, 1]);
  });

  test('a net with more markings than the table bound is searched without the tables, to the same optimum', () => {
    const scrambled = ['x', ...PARALLEL.letters.slice(5), 'y', ...PARALLEL.letters.slice(0, 3)];
    const withTables = new Aligner(PARALLEL.net);
    const without = new Aligner(PARALLEL.net, { heuristicMarkings: 100 });
    expect([withTables.exhaustive, without.exhaustive]).toEqual([true, false]);
    expect(without.shortestRun).toBe(withTables.shortestRun);
    expect(without.align(scrambled)?.deviations).toBe(withTables.align(scrambled)?.deviations);
  });

  test('a net with more markings than the marking bound leaves the variants that need them unaligned', async () => {
    const r = await conformance([{ activities: PARALLEL.letters, cases: 1 }], PARALLEL.net, { maxMarkings: 500 });
    expect(r.perVariant[0].unaligned).toBe(true);
  });

  test('an aborted signal stops a run between variants', async () => {
    const variants = await readVariants('sepsis.csv', SEPSIS);
    const model = parsePnml(modelFile('sepsis.model.pnml'));
    const before = new AbortController();
    before.abort(new Error('cancelled before'));
    await expect(conformance(variants, model, { signal: before.signal })).rejects.toThrow('cancelled before');
    const during = new AbortController();
    const run = conformance(variants, model, { signal: during.signal });
    setTimeout(() => during.abort(new Error('cancelled during')), 5);
    await expect(run).rejects.toThrow('cancelled during');
  }, 60_000);

  /** Enough variants to pass the thread threshold: every ordering of five of the parallel activities, doubled. */
  function manyVariants(): Variant[] {
    const out: Variant[] = [];
    const perms = (rest: string[], prefix: string[]) => {
      if (rest.length === 0) out.push({ activities: [...prefix, ...PARALLEL.letters.slice(5)], cases: 1 });
      rest.forEach((x, i) => perms([...rest.slice(0, i), ...rest.slice(i + 1)], [...prefix, x]));
    };
    perms(PARALLEL.letters.slice(0, 5), []);
    const extra = out.map((v) => ({ activities: [...v.activities, 'k'], cases: 2 }));
    return [...out, ...extra];
  }

  test('a large log is aligned in a worker thread with the same figures, and an abort ends the thread', async () => {
    const variants = manyVariants();
    expect(variants.reduce((s, v) => s + v.activities.length, 0)).toBeGreaterThanOrEqual(THREAD_FROM_EVENTS / 10);
    const big = Array.from({ length: 10 }, (_, k) =>
      variants.map((v) => ({ activities: [...v.activities, ...Array<string>(k).fill('z')], cases: v.cases })),
    ).flat();
    expect(big.reduce((s, v) => s + v.activities.length, 0)).toBeGreaterThanOrEqual(THREAD_FROM_EVENTS);
    const inThread = await runConformance(big, PARALLEL.net);
    const here = await conformance(big, PARALLEL.net);
    expect(inThread).toEqual(here);
    const controller = new AbortController();
    const run = runConformance(big, PARALLEL.net, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stopped')), 5);
    await expect(run).rejects.toThrow('stopped');
  }, 60_000);
});
