import { runInThread } from '../../threads/pool';
import type { PetriNet } from './petriNet';

/**
 * Optimal alignments of traces against a labelled Petri net, and the conformance figures built on
 * them. A deviation is a log move (an event the model cannot do there) or a model move on a
 * visible transition (an activity the model needs that the trace lacks); synchronous moves and
 * silent transitions are free. An optimal alignment has the fewest deviations and ends with the
 * net in exactly its final marking.
 *
 * The search is A* over the synchronous product (marking of the net x position in the trace) with
 * integer costs, a bucket queue and a consistent heuristic built once per net from its reachability
 * graph (when that graph has at most {@link ALIGNMENT_LIMITS.heuristicMarkings} markings):
 * - `dist(m)`: the fewest visible transitions from marking m to the final marking (the memo of
 *   model-only suffix costs shared by every variant);
 * - `reach(m)`: the activities the model can still do from m on a run that can still finish.
 * From state (m, i), every remaining event whose activity is not in reach(m) is a log move, and the
 * model still needs dist(m) visible steps of which at most the other remaining events can be
 * synchronous: h = out + max(0, dist(m) - in). Without the tables (a net with a larger state space)
 * h counts the remaining events whose activity no transition has, which is admissible too.
 * The markings, their successors and the tables are shared across all variants of one run.
 */

/** Bounds of one conformance run. */
export const ALIGNMENT_LIMITS = {
  /**
   * States one variant's search may expand (take off the queue) before that variant is reported
   * `unaligned` instead of running on. One expansion costs about a microsecond per enabled transition.
   */
  maxStates: 500_000,
  /** Distinct markings of the net kept across one run (the shared marking graph); beyond, variants needing more are `unaligned`. */
  maxMarkings: 1_000_000,
  /** The reachability graph is explored in full for the heuristic tables when it has at most this many markings. */
  heuristicMarkings: 200_000,
  /** Tokens on one place; a net that puts more there (an unbounded net) leaves the variants that go there `unaligned`. */
  maxTokens: 65_535,
} as const;

/** One variant of a log: a sequence of activities and the number of cases that follow it. */
export interface Variant {
  activities: string[];
  cases: number;
}

/** The optimal alignment of one trace: counts only. */
export interface TraceAlignment {
  deviations: number;
  logMoves: number;
  modelMoves: number;
  /** Deviations per activity: [activity, log moves, model moves]. */
  byActivity: [string, number, number][];
  /** States the search expanded. */
  expanded: number;
}

/** Options of a conformance run. */
export interface ConformanceOptions {
  /** Per-variant bound on expanded states (default {@link ALIGNMENT_LIMITS.maxStates}). */
  maxStates?: number;
  /** Bound on distinct markings across the run (default {@link ALIGNMENT_LIMITS.maxMarkings}). */
  maxMarkings?: number;
  /** The heuristic tables are built when the net has at most this many markings (default {@link ALIGNMENT_LIMITS.heuristicMarkings}). */
  heuristicMarkings?: number;
  /** Checked between variants and every few thousand expansions; an aborted run rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** The conformance of one variant; `deviations` and `fitness` are null when it is unaligned. */
export interface VariantConformance {
  variant: string[];
  cases: number;
  deviations: number | null;
  fitness: number | null;
  logMoves: number | null;
  modelMoves: number | null;
  unaligned?: true;
}

/** The conformance of a log (a list of variants) against a net. */
export interface ConformanceResult {
  cases: number;
  variants: number;
  fittingCases: number;
  percentFittingCases: number;
  averageTraceFitness: number;
  /** The fewest visible transitions of a complete run of the model (null: the model has no complete run). */
  shortestRun: number | null;
  /** Every variant, by cases descending, ties by their activities. */
  perVariant: VariantConformance[];
  /**
   * Log and model moves per activity over all aligned cases (a variant's moves times its cases),
   * most deviations first, ties by name. Where optimal alignments tie, one of them is counted.
   */
  deviationsByActivity: { activity: string; logMoves: number; modelMoves: number }[];
  unalignedVariants: number;
}

/** Thrown inside a search when it passes one of its bounds. */
class LimitReached extends Error {}

const NO_LABEL = -1;
const UNREACHABLE = 0x7fffffff;

/** The net as index arrays: places 0..P-1, transitions 0..T-1, labels 0..L-1 (-1 silent). */
interface CompiledNet {
  places: number;
  labels: string[];
  labelIndex: Map<string, number>;
  transitionLabel: Int32Array;
  /** Per transition: [place, weight, place, weight, ...] consumed and produced. */
  pre: Int32Array[];
  post: Int32Array[];
  initial: Uint16Array;
  final: Uint16Array;
}

function compile(net: PetriNet): CompiledNet {
  const placeIndex = new Map(net.places.map((p, i) => [p.id, i]));
  const transitionIndex = new Map(net.transitions.map((t, i) => [t.id, i]));
  const labels: string[] = [];
  const labelIndex = new Map<string, number>();
  const transitionLabel = new Int32Array(net.transitions.length);
  net.transitions.forEach((t, i) => {
    if (t.label === null) {
      transitionLabel[i] = NO_LABEL;
      return;
    }
    let l = labelIndex.get(t.label);
    if (l === undefined) {
      l = labels.length;
      labels.push(t.label);
      labelIndex.set(t.label, l);
    }
    transitionLabel[i] = l;
  });
  const pre: number[][] = net.transitions.map(() => []);
  const post: number[][] = net.transitions.map(() => []);
  for (const arc of net.arcs) {
    const weight = arc.weight ?? 1;
    const fromPlace = placeIndex.get(arc.source);
    const toPlace = placeIndex.get(arc.target);
    if (fromPlace !== undefined) {
      const t = transitionIndex.get(arc.target);
      if (t !== undefined) pre[t].push(fromPlace, weight);
    } else if (toPlace !== undefined) {
      const t = transitionIndex.get(arc.source);
      if (t !== undefined) post[t].push(toPlace, weight);
    }
  }
  const marking = (m: Record<string, number>) => {
    const tokens = new Uint16Array(net.places.length);
    for (const [id, n] of Object.entries(m)) {
      const p = placeIndex.get(id);
      if (p !== undefined) tokens[p] = Math.min(n, ALIGNMENT_LIMITS.maxTokens);
    }
    return tokens;
  };
  return {
    places: net.places.length,
    labels,
    labelIndex,
    transitionLabel,
    pre: pre.map((a) => Int32Array.from(a)),
    post: post.map((a) => Int32Array.from(a)),
    initial: marking(net.initialMarking),
    final: marking(net.finalMarking),
  };
}

function keyOf(tokens: Uint16Array): string {
  return String.fromCharCode.apply(null, tokens as unknown as number[]);
}

/**
 * The reachable markings met so far, each with its successors (transition, marking) computed the
 * first time they are asked for: the part of the state space every variant shares.
 */
class MarkingGraph {
  readonly tokens: Uint16Array[] = [];
  private readonly ids = new Map<string, number>();
  /** Per marking: [transition, target, transition, target, ...], or undefined until asked. */
  private readonly succ: (Int32Array | undefined)[] = [];
  readonly initial: number;
  readonly final: number;

  constructor(
    readonly net: CompiledNet,
    private readonly maxMarkings: number,
  ) {
    this.initial = this.intern(net.initial);
    this.final = this.intern(net.final);
  }

  get size(): number {
    return this.tokens.length;
  }

  private intern(tokens: Uint16Array): number {
    const key = keyOf(tokens);
    let id = this.ids.get(key);
    if (id === undefined) {
      if (this.tokens.length >= this.maxMarkings) throw new LimitReached('markings');
      id = this.tokens.length;
      this.ids.set(key, id);
      this.tokens.push(tokens);
      this.succ.push(undefined);
    }
    return id;
  }

  successors(id: number): Int32Array {
    const known = this.succ[id];
    if (known) return known;
    const m = this.tokens[id];
    const out: number[] = [];
    const { pre, post } = this.net;
    for (let t = 0; t < pre.length; t++) {
      const p = pre[t];
      let enabled = true;
      for (let k = 0; k < p.length; k += 2) {
        if (m[p[k]] < p[k + 1]) {
          enabled = false;
          break;
        }
      }
      if (!enabled) continue;
      const next = m.slice();
      for (let k = 0; k < p.length; k += 2) next[p[k]] -= p[k + 1];
      const q = post[t];
      for (let k = 0; k < q.length; k += 2) {
        const n = next[q[k]] + q[k + 1];
        if (n > ALIGNMENT_LIMITS.maxTokens) throw new LimitReached('tokens');
        next[q[k]] = n;
      }
      out.push(t, this.intern(next));
    }
    const list = Int32Array.from(out);
    this.succ[id] = list;
    return list;
  }
}

/** Open states of one f value: a queue per trace position (`heads` the next to take), `top` the furthest non-empty one. */
interface Bucket {
  byPosition: number[][];
  heads: Int32Array;
  top: number;
  size: number;
}

/** State keys to state numbers: an open-addressing hash table of integers, far lighter than a Map. */
class StateIndex {
  private keys = new Float64Array(1 << 12).fill(-1);
  private values = new Int32Array(1 << 12);
  private count = 0;

  get(key: number): number | undefined {
    const mask = this.keys.length - 1;
    for (let at = hash(key) & mask; ; at = (at + 1) & mask) {
      const k = this.keys[at];
      if (k === key) return this.values[at];
      if (k === -1) return undefined;
    }
  }

  set(key: number, value: number): void {
    if (2 * (this.count + 1) > this.keys.length) this.grow();
    const mask = this.keys.length - 1;
    for (let at = hash(key) & mask; ; at = (at + 1) & mask) {
      const k = this.keys[at];
      if (k === key || k === -1) {
        if (k === -1) this.count++;
        this.keys[at] = key;
        this.values[at] = value;
        return;
      }
    }
  }

  private grow(): void {
    const [keys, values] = [this.keys, this.values];
    this.keys = new Float64Array(keys.length * 2).fill(-1);
    this.values = new Int32Array(keys.length * 2);
    this.count = 0;
    for (let at = 0; at < keys.length; at++) if (keys[at] !== -1) this.set(keys[at], values[at]);
  }
}

function hash(key: number): number {
  // Keys are below 2^53; mix the high and low halves, then scramble (a multiplicative hash).
  const mixed = (key | 0) ^ ((key / 4294967296) | 0);
  return Math.imul(mixed ^ (mixed >>> 16), 0x45d9f3b) >>> 0;
}

/** The heuristic tables of a fully explored reachability graph (see the module comment). */
interface Tables {
  dist: Int32Array;
  /** Per marking, a bitset of label indexes in `words` 32-bit words. */
  reach: Uint32Array;
  /** Per marking, the labels that can be done after silent steps only (same layout). */
  next: Uint32Array;
  words: number;
}

/** Explores the whole reachability graph when it is small enough and builds dist and reach. */
function buildTables(graph: MarkingGraph, limit: number): Tables | null {
  try {
    for (let id = 0; id < graph.size; id++) {
      graph.successors(id);
      if (graph.size > limit) return null;
    }
  } catch (err) {
    if (err instanceof LimitReached) return null;
    throw err;
  }
  const n = graph.size;
  const label = graph.net.transitionLabel;
  // Reverse edges for the backward searches.
  const predCount = new Int32Array(n + 1);
  for (let m = 0; m < n; m++) {
    const s = graph.successors(m);
    for (let k = 1; k < s.length; k += 2) predCount[s[k] + 1]++;
  }
  for (let m = 0; m < n; m++) predCount[m + 1] += predCount[m];
  const predFrom = new Int32Array(predCount[n]);
  const predT = new Int32Array(predCount[n]);
  const fill = predCount.slice(0, n);
  for (let m = 0; m < n; m++) {
    const s = graph.successors(m);
    for (let k = 0; k < s.length; k += 2) {
      const at = fill[s[k + 1]]++;
      predFrom[at] = m;
      predT[at] = s[k];
    }
  }
  // dist: 0-1 BFS backwards from the final marking, one cost level at a time.
  const dist = new Int32Array(n).fill(UNREACHABLE);
  dist[graph.final] = 0;
  let level = [graph.final];
  for (let d = 0; level.length > 0; d++) {
    const next: number[] = [];
    while (level.length > 0) {
      const m = level.pop() as number;
      if (dist[m] !== d) continue;
      for (let k = predCount[m]; k < predCount[m + 1]; k++) {
        const p = predFrom[k];
        const c = label[predT[k]] === NO_LABEL ? 0 : 1;
        if (d + c < dist[p]) {
          dist[p] = d + c;
          (c === 0 ? level : next).push(p);
        }
      }
    }
    level = next;
  }
  // reach: labels on edges into live markings, propagated backwards along every edge; next: the
  // same labels propagated backwards along silent edges only (what can be done after silent steps).
  const words = Math.max(1, Math.ceil(graph.net.labels.length / 32));
  const seed = new Uint32Array(n * words);
  for (let m = 0; m < n; m++) {
    const s = graph.successors(m);
    for (let k = 0; k < s.length; k += 2) {
      const l = label[s[k]];
      if (l !== NO_LABEL && dist[s[k + 1]] !== UNREACHABLE) seed[m * words + (l >>> 5)] |= 1 << (l & 31);
    }
  }
  const propagate = (silentOnly: boolean): Uint32Array => {
    const bits = seed.slice();
    const queued = new Uint8Array(n).fill(1);
    const work: number[] = [];
    for (let m = 0; m < n; m++) work.push(m);
    while (work.length > 0) {
      const m = work.pop() as number;
      queued[m] = 0;
      if (dist[m] === UNREACHABLE) continue;
      for (let k = predCount[m]; k < predCount[m + 1]; k++) {
        if (silentOnly && label[predT[k]] !== NO_LABEL) continue;
        const p = predFrom[k];
        let changed = false;
        for (let w = 0; w < words; w++) {
          const merged = bits[p * words + w] | bits[m * words + w];
          if (merged !== bits[p * words + w]) {
            bits[p * words + w] = merged;
            changed = true;
          }
        }
        if (changed && !queued[p]) {
          queued[p] = 1;
          work.push(p);
        }
      }
    }
    return bits;
  };
  return { dist, reach: propagate(false), next: propagate(true), words };
}

/** A net prepared for aligning many traces: the shared marking graph and the heuristic tables. */
export class Aligner {
  private readonly graph: MarkingGraph;
  private readonly tables: Tables | null;
  /** The fewest visible transitions of a complete run (null when the final marking cannot be reached). */
  readonly shortestRun: number | null;

  constructor(
    net: PetriNet,
    private readonly opts: ConformanceOptions = {},
  ) {
    const compiled = compile(net);
    this.graph = new MarkingGraph(compiled, opts.maxMarkings ?? ALIGNMENT_LIMITS.maxMarkings);
    this.tables = buildTables(
      this.graph,
      Math.min(
        opts.heuristicMarkings ?? ALIGNMENT_LIMITS.heuristicMarkings,
        opts.maxMarkings ?? ALIGNMENT_LIMITS.maxMarkings,
      ),
    );
    if (this.tables) {
      const d = this.tables.dist[this.graph.initial];
      this.shortestRun = d === UNREACHABLE ? null : d;
    } else {
      const empty = this.align([]);
      this.shortestRun = empty === null ? null : empty.deviations;
    }
  }

  /** Whether the heuristic tables were built (the reachability graph was small enough). */
  get exhaustive(): boolean {
    return this.tables !== null;
  }

  /** The optimal alignment of one trace, or null when its search passes a bound or no complete run exists. */
  align(trace: readonly string[]): TraceAlignment | null {
    try {
      return this.search(trace);
    } catch (err) {
      if (err instanceof LimitReached) return null;
      throw err;
    }
  }

  private search(trace: readonly string[]): TraceAlignment | null {
    const graph = this.graph;
    const net = graph.net;
    const labelOf = net.transitionLabel;
    const n = trace.length;
    const maxStates = this.opts.maxStates ?? ALIGNMENT_LIMITS.maxStates;
    const signal = this.opts.signal;
    // The trace's events as label indexes; -1 for an activity no transition has.
    const events = new Int32Array(n);
    for (let i = 0; i < n; i++) events[i] = net.labelIndex.get(trace[i]) ?? NO_LABEL;
    // Suffix counts: events from i on without a transition, and per distinct label of the trace.
    const distinct = [...new Set(events)].filter((l) => l !== NO_LABEL);
    const k = distinct.length;
    const unknownFrom = new Int32Array(n + 1);
    const countFrom = new Int32Array((n + 1) * k);
    for (let i = n - 1; i >= 0; i--) {
      unknownFrom[i] = unknownFrom[i + 1] + (events[i] === NO_LABEL ? 1 : 0);
      for (let j = 0; j < k; j++)
        countFrom[i * k + j] = countFrom[(i + 1) * k + j] + (events[i] === distinct[j] ? 1 : 0);
    }
    const tables = this.tables;
    const h = (m: number, i: number): number => {
      if (!tables) return unknownFrom[i];
      const d = tables.dist[m];
      if (d === UNREACHABLE) return UNREACHABLE;
      let out = unknownFrom[i];
      const base = m * tables.words;
      for (let j = 0; j < k; j++) {
        const l = distinct[j];
        if ((tables.reach[base + (l >>> 5)] & (1 << (l & 31))) === 0) out += countFrom[i * k + j];
      }
      const inside = n - i - out;
      const estimate = out + (d > inside ? d - inside : 0);
      // The next event needs a deviation first (or is one) when silent steps cannot enable it.
      if (estimate === 0 && i < n) {
        const l = events[i];
        if ((tables.next[base + (l >>> 5)] & (1 << (l & 31))) === 0) return 1;
      }
      return estimate;
    };

    // States: key = marking * (n + 1) + position. Per state index: g, the move into it, its parent.
    const index = new StateIndex();
    const g: number[] = [];
    const parent: number[] = [];
    /** The move into the state: 0 free, 1 + 2 * event position (log move), 2 + 2 * transition (model move). */
    const move: number[] = [];
    const position: number[] = [];
    const marking: number[] = [];
    const closed: number[] = [];
    // The open states by f = g + h; within one f, by trace position, the furthest taken first
    // (any state of the lowest f that reaches the goal is optimal, so going deep first is free),
    // and first in, first out at one position (measured: a third of the expansions of last in, first out).
    const buckets: (Bucket | undefined)[] = [];
    let lowest = 0;

    const push = (m: number, i: number, cost: number, from: number, via: number) => {
      const key = m * (n + 1) + i;
      let s = index.get(key);
      if (s !== undefined && g[s] <= cost) return;
      const est = h(m, i);
      if (est === UNREACHABLE) return;
      if (s === undefined) {
        s = g.length;
        index.set(key, s);
        g.push(cost);
        parent.push(from);
        move.push(via);
        position.push(i);
        marking.push(m);
        closed.push(0);
      } else {
        g[s] = cost;
        parent[s] = from;
        move[s] = via;
      }
      const f = cost + est;
      while (buckets.length <= f) buckets.push(undefined);
      let bucket = buckets[f];
      if (!bucket) {
        buckets[f] = bucket = {
          byPosition: Array.from({ length: n + 1 }, () => []),
          heads: new Int32Array(n + 1),
          top: -1,
          size: 0,
        };
      }
      bucket.byPosition[i].push(s);
      if (i > bucket.top) bucket.top = i;
      bucket.size++;
      if (f < lowest) lowest = f;
    };

    push(graph.initial, 0, 0, -1, 0);
    let expanded = 0;
    for (;;) {
      while (lowest < buckets.length && (buckets[lowest]?.size ?? 0) === 0) lowest++;
      if (lowest >= buckets.length) return null;
      const bucket = buckets[lowest] as Bucket;
      while (bucket.heads[bucket.top] === bucket.byPosition[bucket.top].length) bucket.top--;
      const queue = bucket.byPosition[bucket.top];
      const s = queue[bucket.heads[bucket.top]++];
      if (bucket.heads[bucket.top] === queue.length) {
        queue.length = 0;
        bucket.heads[bucket.top] = 0;
      }
      bucket.size--;
      if (closed[s]) continue;
      closed[s] = 1;
      const m = marking[s];
      const i = position[s];
      if (i === n && m === graph.final) return this.result(s, g, parent, move, trace, expanded);
      if (++expanded > maxStates) throw new LimitReached('states');
      if ((expanded & 4095) === 0 && signal?.aborted) throw signal.reason;
      const cost = g[s];
      if (i < n) push(m, i + 1, cost + 1, s, 1 + 2 * i);
      const succ = graph.successors(m);
      for (let j = 0; j < succ.length; j += 2) {
        const t = succ[j];
        const target = succ[j + 1];
        const l = labelOf[t];
        if (l === NO_LABEL) push(target, i, cost, s, 0);
        else {
          if (i < n && events[i] === l) push(target, i + 1, cost, s, 0);
          push(target, i, cost + 1, s, 2 + 2 * t);
        }
      }
    }
  }

  private result(
    goal: number,
    g: number[],
    parent: number[],
    move: number[],
    trace: readonly string[],
    expanded: number,
  ): TraceAlignment {
    const byActivity = new Map<string, [string, number, number]>();
    let logMoves = 0;
    let modelMoves = 0;
    for (let s = goal; s > 0; s = parent[s]) {
      const mv = move[s];
      if (mv === 0) continue;
      const activity =
        mv % 2 === 1 ? trace[(mv - 1) / 2] : this.graph.net.labels[this.graph.net.transitionLabel[(mv - 2) / 2]];
      let entry = byActivity.get(activity);
      if (!entry) byActivity.set(activity, (entry = [activity, 0, 0]));
      if (mv % 2 === 1) {
        logMoves++;
        entry[1]++;
      } else {
        modelMoves++;
        entry[2]++;
      }
    }
    return { deviations: g[goal], logMoves, modelMoves, byActivity: [...byActivity.values()], expanded };
  }
}

/**
 * Trace fitness as pm4py computes it: 1 - deviations / (trace length + shortest complete run),
 * in that order of operations (an integer quotient, then the subtraction), so the doubles are equal.
 */
export function traceFitness(deviations: number, traceLength: number, shortestRun: number): number {
  const denominator = traceLength + shortestRun;
  return denominator > 0 ? 1 - deviations / denominator : 1;
}

/** How long the run keeps the event loop before it yields (it is checked between variants), in ms. */
const YIELD_EVERY_MS = 20;

/**
 * The conformance of a log against a net: every variant aligned once, figures weighted by cases.
 * Variants are ordered by cases descending, ties by their activities (a sequence compared
 * activity by activity, a prefix first). An `unaligned` variant (a search that passed its bound)
 * has null figures and counts in neither `fittingCases` nor `averageTraceFitness`, whose
 * denominators are the cases of the aligned variants; `unalignedVariants` says how many there are.
 * It yields to the event loop every few milliseconds and stops with the signal's reason when aborted.
 */
export async function conformance(
  variants: readonly Variant[],
  net: PetriNet,
  opts: ConformanceOptions = {},
): Promise<ConformanceResult> {
  const signal = opts.signal;
  signal?.throwIfAborted();
  const aligner = new Aligner(net, opts);
  const merged = new Map<string, Variant>();
  for (const v of variants) {
    const key = v.activities.join('\u0000');
    const found = merged.get(key);
    if (found) found.cases += v.cases;
    else merged.set(key, { activities: [...v.activities], cases: v.cases });
  }
  const ordered = [...merged.values()].sort(
    (a, b) => b.cases - a.cases || compareSequences(a.activities, b.activities),
  );
  const perVariant: VariantConformance[] = [];
  const byActivity = new Map<string, { activity: string; logMoves: number; modelMoves: number }>();
  let lastYield = Date.now();
  for (const v of ordered) {
    if (Date.now() - lastYield >= YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = Date.now();
    }
    signal?.throwIfAborted();
    const a = aligner.shortestRun === null ? null : aligner.align(v.activities);
    if (a === null || aligner.shortestRun === null) {
      perVariant.push({
        variant: v.activities,
        cases: v.cases,
        deviations: null,
        fitness: null,
        logMoves: null,
        modelMoves: null,
        unaligned: true,
      });
      continue;
    }
    perVariant.push({
      variant: v.activities,
      cases: v.cases,
      deviations: a.deviations,
      fitness: traceFitness(a.deviations, v.activities.length, aligner.shortestRun),
      logMoves: a.logMoves,
      modelMoves: a.modelMoves,
    });
    for (const [activity, log, model] of a.byActivity) {
      let entry = byActivity.get(activity);
      if (!entry) byActivity.set(activity, (entry = { activity, logMoves: 0, modelMoves: 0 }));
      entry.logMoves += log * v.cases;
      entry.modelMoves += model * v.cases;
    }
  }
  return summarize(perVariant, aligner.shortestRun, [...byActivity.values()]);
}

function summarize(
  perVariant: VariantConformance[],
  shortestRun: number | null,
  byActivity: ConformanceResult['deviationsByActivity'],
): ConformanceResult {
  let cases = 0;
  let alignedCases = 0;
  let fittingCases = 0;
  let fitnessSum = 0;
  let unalignedVariants = 0;
  for (const v of perVariant) {
    cases += v.cases;
    if (v.fitness === null) {
      unalignedVariants++;
      continue;
    }
    alignedCases += v.cases;
    if (v.deviations === 0) fittingCases += v.cases;
    // fitness x cases summed over the variants in their order (cases descending), then divided
    // by the cases: the reference's order of operations, so the double is the same.
    fitnessSum += v.fitness * v.cases;
  }
  return {
    cases,
    variants: perVariant.length,
    fittingCases,
    percentFittingCases: alignedCases > 0 ? (100 * fittingCases) / alignedCases : 0,
    averageTraceFitness: alignedCases > 0 ? fitnessSum / alignedCases : 0,
    shortestRun,
    perVariant,
    deviationsByActivity: byActivity.sort(
      (a, b) =>
        b.logMoves + b.modelMoves - (a.logMoves + a.modelMoves) ||
        (a.activity < b.activity ? -1 : a.activity > b.activity ? 1 : 0),
    ),
    unalignedVariants,
  };
}

/** Sequences compared activity by activity (code-unit order), a prefix first. */
export function compareSequences(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

/** Logs with at least this many events over their variants are aligned in a worker thread, so the event loop stays free. */
export const THREAD_FROM_EVENTS = 20_000;

/**
 * {@link conformance}, in a worker thread (threads/pool.ts, its heap bounded) when the variants hold
 * at least {@link THREAD_FROM_EVENTS} events. The signal ends the thread where it is; the returned
 * promise then rejects with the signal's reason.
 */
export async function runConformance(
  variants: readonly Variant[],
  net: PetriNet,
  opts: ConformanceOptions = {},
): Promise<ConformanceResult> {
  let events = 0;
  for (const v of variants) events += v.activities.length;
  if (events < THREAD_FROM_EVENTS) return conformance(variants, net, opts);
  const { signal, ...plain } = opts;
  return runInThread('alignVariants', { variants: [...variants], net, opts: plain }, 'import', { signal });
}
