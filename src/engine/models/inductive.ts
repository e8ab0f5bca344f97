import type { Variant } from './alignments';
import type { PetriNet } from './petriNet';

/**
 * The Inductive Miner (Leemans, Fahland, van der Aalst 2013) and, with a noise threshold above 0,
 * IMf (2014). The log (variants with case counts) is split recursively: at each step the
 * directly-follows graph is searched for an exclusive-choice, sequence, parallel or loop cut, the
 * log is projected onto the parts, and each part is mined on its own. Where no cut exists a
 * fall-through applies, in this order: empty traces (a skip), an activity that occurs once in every
 * trace, an activity whose removal leaves a cut, a strict tau loop (split where an end activity is
 * followed by a start activity), a tau loop (split before each start activity), and last the
 * flower model. Each step keeps every trace of its log in the language of the tree it builds, so
 * with noise 0 the model replays its log perfectly.
 *
 * IMf: empty traces are only modelled as a skip when they are more than `noiseThreshold` of the
 * traces; and where the full graph has no cut, the cuts are searched again on the graph without
 * its infrequent edges (an edge a->b is dropped when its count is at most `noiseThreshold` times
 * the most frequent way out of a, an edge or the end of a trace); the projections then drop the
 * events that do not fit the cut.
 */

/** A process tree: the block-structured model the Inductive Miner builds. */
export type ProcessTree =
  | { kind: 'activity'; label: string }
  | { kind: 'tau' }
  | { kind: 'sequence' | 'xor' | 'parallel' | 'loop'; children: ProcessTree[] };

/** Bounds of one discovery. */
export const INDUCTIVE_LIMITS = {
  /**
   * Distinct activities of the log. The cut searches compare activities pairwise and the
   * fall-throughs try each activity, so time grows with the cube of this; beyond it the miner
   * refuses (a RangeError) instead of running for minutes. Measured worst case at the bound (500
   * random traces of 30 events over 200 activities, which end in the flower model): about 14 s
   * on a busy 2-core machine; real logs (BPIC 2012: 24 activities) take under a second.
   */
  maxActivities: 200,
} as const;

/** Options of the miner. */
export interface InductiveOptions {
  /** 0 (default) is IM; above 0 (at most 1) is IMf with that threshold. */
  noiseThreshold?: number;
}

/** A log of distinct traces of activity indexes, with how many cases follow each. */
interface Log {
  traces: number[][];
  counts: number[];
}

/** The directly-follows graph of a log with its frequencies. */
interface Dfg {
  activities: number[];
  /** Edge a->b under key a * size + b, with its count. */
  edges: Map<number, number>;
  succ: Map<number, number[]>;
  start: Map<number, number>;
  end: Map<number, number>;
}

type Operator = 'sequence' | 'xor' | 'parallel' | 'loop';
interface Cut {
  operator: Operator;
  groups: number[][];
}

/** The process tree of a log. */
export function discoverProcessTree(variants: readonly Variant[], opts: InductiveOptions = {}): ProcessTree {
  const noise = opts.noiseThreshold ?? 0;
  if (!(noise >= 0 && noise <= 1)) throw new RangeError('noiseThreshold is a number from 0 to 1.');
  const names: string[] = [];
  const index = new Map<string, number>();
  const pairs: [number[], number][] = [];
  for (const v of variants) {
    if (v.cases <= 0) continue;
    const trace = v.activities.map((a) => {
      let i = index.get(a);
      if (i === undefined) {
        i = names.length;
        names.push(a);
        index.set(a, i);
      }
      return i;
    });
    pairs.push([trace, v.cases]);
  }
  if (names.length > INDUCTIVE_LIMITS.maxActivities) {
    throw new RangeError(
      `The log has ${names.length} distinct activities; discovery takes at most ${INDUCTIVE_LIMITS.maxActivities}.`,
    );
  }
  const miner = new Miner(names, noise);
  return simplify(miner.mine(makeLog(pairs)));
}

/** The Inductive Miner's model as a workflow net: one source place, one sink place. */
export function inductiveMiner(variants: readonly Variant[], opts: InductiveOptions = {}): PetriNet {
  return reduceSilentSteps(processTreeToPetriNet(discoverProcessTree(variants, opts)));
}

function makeLog(pairs: Iterable<[number[], number]>): Log {
  const byKey = new Map<string, number>();
  const log: Log = { traces: [], counts: [] };
  for (const [trace, count] of pairs) {
    const key = trace.join(',');
    const at = byKey.get(key);
    if (at !== undefined) log.counts[at] += count;
    else {
      byKey.set(key, log.traces.length);
      log.traces.push(trace);
      log.counts.push(count);
    }
  }
  return log;
}

class Miner {
  constructor(
    private readonly names: string[],
    private readonly noise: number,
  ) {}

  private get size(): number {
    return this.names.length;
  }

  mine(log: Log): ProcessTree {
    const total = sum(log.counts);
    if (total === 0 || log.traces.every((t) => t.length === 0)) return { kind: 'tau' };
    const emptyCount = sum(log.counts.filter((_, i) => log.traces[i].length === 0));
    if (emptyCount > 0) {
      const rest = makeLog(
        log.traces.map((t, i) => [t, log.counts[i]] as [number[], number]).filter(([t]) => t.length > 0),
      );
      if (emptyCount > this.noise * total) return { kind: 'xor', children: [{ kind: 'tau' }, this.mine(rest)] };
      log = rest;
    }
    const activities = alphabet(log);
    if (activities.length === 1 && log.traces.every((t) => t.length === 1)) {
      return { kind: 'activity', label: this.names[activities[0]] };
    }
    const dfg = this.dfg(log);
    let cut = findCut(dfg, this.size);
    if (!cut && this.noise > 0) cut = findCut(this.filtered(dfg), this.size);
    if (cut) return { kind: cut.operator, children: this.project(log, cut).map((l) => this.mine(l)) };
    return this.fallThrough(log, activities, dfg);
  }

  private dfg(log: Log): Dfg {
    const edges = new Map<number, number>();
    const succ = new Map<number, number[]>();
    const start = new Map<number, number>();
    const end = new Map<number, number>();
    log.traces.forEach((t, i) => {
      const c = log.counts[i];
      if (t.length === 0) return;
      start.set(t[0], (start.get(t[0]) ?? 0) + c);
      end.set(t[t.length - 1], (end.get(t[t.length - 1]) ?? 0) + c);
      for (let k = 1; k < t.length; k++) {
        const key = t[k - 1] * this.size + t[k];
        const before = edges.get(key);
        edges.set(key, (before ?? 0) + c);
        if (before === undefined) {
          let list = succ.get(t[k - 1]);
          if (!list) succ.set(t[k - 1], (list = []));
          list.push(t[k]);
        }
      }
    });
    return { activities: alphabet(log), edges, succ, start, end };
  }

  /** IMf: the graph without the edges at most `noise` times the most frequent way out of their source. */
  private filtered(dfg: Dfg): Dfg {
    const maxOut = new Map<number, number>();
    for (const [key, count] of dfg.edges) {
      const a = Math.floor(key / this.size);
      maxOut.set(a, Math.max(maxOut.get(a) ?? 0, count, dfg.end.get(a) ?? 0));
    }
    const edges = new Map<number, number>();
    const succ = new Map<number, number[]>();
    for (const [key, count] of dfg.edges) {
      const a = Math.floor(key / this.size);
      if (count <= this.noise * (maxOut.get(a) ?? 0)) continue;
      edges.set(key, count);
      let list = succ.get(a);
      if (!list) succ.set(a, (list = []));
      list.push(key % this.size);
    }
    return { ...dfg, edges, succ };
  }

  private project(log: Log, cut: Cut): Log[] {
    const groupOf = new Map<number, number>();
    cut.groups.forEach((g, i) => g.forEach((a) => groupOf.set(a, i)));
    const parts: [number[], number][][] = cut.groups.map(() => []);
    log.traces.forEach((t, i) => {
      const c = log.counts[i];
      if (cut.operator === 'xor') {
        const counts = new Array<number>(cut.groups.length).fill(0);
        for (const a of t) counts[groupOf.get(a) as number]++;
        // The group with most of the trace's events (IMf drops the others; IM has just one).
        let best = 0;
        for (let g = 1; g < counts.length; g++) if (counts[g] > counts[best]) best = g;
        parts[best].push([t.filter((a) => groupOf.get(a) === best), c]);
      } else if (cut.operator === 'parallel') {
        cut.groups.forEach((_, g) => parts[g].push([t.filter((a) => groupOf.get(a) === g), c]));
      } else if (cut.operator === 'sequence') {
        sequencePieces(t, groupOf, cut.groups.length).forEach((piece, g) => parts[g].push([piece, c]));
      } else {
        for (const [g, piece] of loopPieces(t, groupOf, cut.groups.length)) parts[g].push([piece, c]);
      }
    });
    return parts.map((p) => makeLog(p));
  }

  private fallThrough(log: Log, activities: number[], dfg: Dfg): ProcessTree {
    // Candidates by name, so the model does not depend on the order of the log (as pm4py does).
    const byName = [...activities].sort((a, b) => (this.names[a] < this.names[b] ? -1 : 1));
    if (activities.length > 1) {
      // An activity that occurs exactly once in every trace runs in parallel with the rest.
      for (const a of byName) {
        if (log.traces.every((t) => t.filter((x) => x === a).length === 1)) return this.splitOff(log, a);
      }
      // An activity whose removal leaves a cut runs in parallel with the rest.
      for (const a of byName) {
        const without = makeLog(log.traces.map((t, i) => [t.filter((x) => x !== a), log.counts[i]]));
        if (findCut(this.dfg(without), this.size)) return this.splitOff(log, a);
      }
    }
    const strict = splitLog(log, (prev, next) => dfg.end.has(prev) && dfg.start.has(next));
    if (strict) return { kind: 'loop', children: [this.mine(strict), { kind: 'tau' }] };
    const tau = splitLog(log, (_prev, next) => dfg.start.has(next));
    if (tau) return { kind: 'loop', children: [this.mine(tau), { kind: 'tau' }] };
    return {
      kind: 'loop',
      children: [{ kind: 'tau' }, ...activities.map((a): ProcessTree => ({ kind: 'activity', label: this.names[a] }))],
    };
  }

  private splitOff(log: Log, a: number): ProcessTree {
    const only = makeLog(log.traces.map((t, i) => [t.filter((x) => x === a), log.counts[i]]));
    const rest = makeLog(log.traces.map((t, i) => [t.filter((x) => x !== a), log.counts[i]]));
    return { kind: 'parallel', children: [this.mine(only), this.mine(rest)] };
  }
}

/** The traces cut before every position where `at(previous, next)` holds, or null when none is. */
function splitLog(log: Log, at: (prev: number, next: number) => boolean): Log | null {
  const pieces: [number[], number][] = [];
  let split = false;
  log.traces.forEach((t, i) => {
    let from = 0;
    for (let k = 1; k < t.length; k++) {
      if (at(t[k - 1], t[k])) {
        pieces.push([t.slice(from, k), log.counts[i]]);
        from = k;
        split = true;
      }
    }
    pieces.push([t.slice(from), log.counts[i]]);
  });
  return split ? makeLog(pieces) : null;
}

/**
 * A trace cut into one piece per group of a sequence cut: each piece ends where the balance of the
 * group's events against the later groups' events is best, and keeps only the group's events (with
 * an exact cut, the trace is just its groups' events one group after another).
 */
function sequencePieces(t: number[], groupOf: Map<number, number>, groups: number, from = 0): number[][] {
  const pieces: number[][] = [];
  let at = from;
  for (let g = 0; g < groups; g++) {
    let balance = 0;
    let best = 0;
    let end = at;
    if (g === groups - 1) end = t.length;
    else {
      for (let k = at; k < t.length; k++) {
        const h = groupOf.get(t[k]) as number;
        if (h === g) balance--;
        else if (h > g) balance++;
        if (balance < best) {
          best = balance;
          end = k + 1;
        }
      }
    }
    pieces.push(t.slice(at, end).filter((a) => groupOf.get(a) === g));
    at = end;
  }
  return pieces;
}

/**
 * A trace cut into the loop's do parts (group 0) and redo parts: do, redo, do, ..., do. A redo part
 * goes to the redo group with most of its events (with an exact cut, all of them), and a trace
 * that starts or ends with a redo part (only under IMf) gets an empty do part there.
 */
function loopPieces(t: number[], groupOf: Map<number, number>, groups: number): [number, number[]][] {
  const out: [number, number[]][] = [];
  let k = 0;
  for (;;) {
    const doPart: number[] = [];
    while (k < t.length && groupOf.get(t[k]) === 0) doPart.push(t[k++]);
    out.push([0, doPart]);
    if (k >= t.length) return out;
    const redo: number[] = [];
    while (k < t.length && groupOf.get(t[k]) !== 0) redo.push(t[k++]);
    const counts = new Array<number>(groups).fill(0);
    for (const a of redo) counts[groupOf.get(a) as number]++;
    let best = 1;
    for (let g = 2; g < groups; g++) if (counts[g] > counts[best]) best = g;
    out.push([best, redo.filter((a) => groupOf.get(a) === best)]);
  }
}

/** The first cut of the graph, tried in the order exclusive choice, sequence, parallel, loop. */
function findCut(dfg: Dfg, size: number): Cut | null {
  if (dfg.activities.length < 2) return loopOf(loopCut(dfg, size));
  const xor = components(dfg.activities, (a, b) => dfg.edges.has(a * size + b) || dfg.edges.has(b * size + a));
  if (xor.length > 1) return { operator: 'xor', groups: xor };
  const seq = strictSequence(dfg, size, sequenceCut(dfg, size));
  if (seq) return { operator: 'sequence', groups: seq };
  const par = parallelCut(dfg, size);
  if (par) return { operator: 'parallel', groups: par };
  return loopOf(loopCut(dfg, size));
}

function loopOf(groups: number[][] | null): Cut | null {
  return groups ? { operator: 'loop', groups } : null;
}

/** The connected components of the activities under a symmetric relation, in order of their first activity. */
function components(activities: number[], related: (a: number, b: number) => boolean): number[][] {
  const root = new Map(activities.map((a) => [a, a]));
  const find = (a: number): number => {
    let r = a;
    while (root.get(r) !== r) r = root.get(r) as number;
    root.set(a, r);
    return r;
  };
  for (let i = 0; i < activities.length; i++) {
    for (let j = i + 1; j < activities.length; j++) {
      const [a, b] = [activities[i], activities[j]];
      if (find(a) !== find(b) && related(a, b)) root.set(find(a), find(b));
    }
  }
  const groups = new Map<number, number[]>();
  for (const a of activities) {
    const r = find(a);
    let g = groups.get(r);
    if (!g) groups.set(r, (g = []));
    g.push(a);
  }
  return [...groups.values()];
}

function stronglyConnected(dfg: Dfg): boolean {
  const pred = new Map<number, number[]>();
  for (const [a, list] of dfg.succ) for (const b of list) (pred.get(b) ?? pred.set(b, []).get(b))?.push(a);
  const covers = (next: Map<number, number[]>) => {
    const seen = new Set<number>([dfg.activities[0]]);
    const stack = [dfg.activities[0]];
    while (stack.length > 0) {
      for (const b of next.get(stack.pop() as number) ?? []) {
        if (!seen.has(b)) {
          seen.add(b);
          stack.push(b);
        }
      }
    }
    return seen.size === dfg.activities.length;
  };
  return covers(dfg.succ) && covers(pred);
}

/** What each activity can reach through one or more edges of the graph. */
function reachability(dfg: Dfg): Map<number, Set<number>> {
  const reach = new Map<number, Set<number>>();
  for (const a of dfg.activities) {
    const seen = new Set<number>();
    const stack = [...(dfg.succ.get(a) ?? [])];
    while (stack.length > 0) {
      const b = stack.pop() as number;
      if (seen.has(b)) continue;
      seen.add(b);
      for (const c of dfg.succ.get(b) ?? []) if (!seen.has(c)) stack.push(c);
    }
    reach.set(a, seen);
  }
  return reach;
}

/**
 * Sequence: activities that reach each other, or that do not reach each other either way, are in
 * the same group; the groups are ordered by reachability and the cut kept only when every earlier
 * group reaches every later one and never back.
 */
function sequenceCut(dfg: Dfg, _size: number): number[][] | null {
  // A strongly connected graph (every activity reaches every other) has no sequence cut: two
  // searches from one activity tell, where the pairwise reachability below costs far more.
  if (stronglyConnected(dfg)) return null;
  const reach = reachability(dfg);
  const r = (a: number, b: number) => (reach.get(a) as Set<number>).has(b);
  const groups = components(dfg.activities, (a, b) => r(a, b) === r(b, a));
  if (groups.length < 2) return null;
  const rank = (g: number[]) => {
    const a = g[0];
    let predecessors = 0;
    for (const b of dfg.activities) if (r(b, a)) predecessors++;
    return predecessors + (dfg.activities.length - (reach.get(a) as Set<number>).size);
  };
  groups.sort((x, y) => rank(x) - rank(y));
  for (let i = 0; i < groups.length; i++) {
    for (let j = i + 1; j < groups.length; j++) {
      for (const a of groups[i]) for (const b of groups[j]) if (!r(a, b) || r(b, a)) return null;
    }
  }
  return groups;
}

/**
 * The strict sequence cut (Leemans 2022, p. 233): around a group that can be skipped (an edge
 * jumps over it, or the traces start after it or end before it), the neighbouring groups that
 * are only entered from it or only left to it are merged into it, so that a run of skippable
 * groups becomes one skippable group (one skip instead of one per group). Merging neighbours of a
 * sequence cut keeps it a sequence cut.
 */
function strictSequence(dfg: Dfg, size: number, groups: number[][] | null): number[][] | null {
  if (!groups) return null;
  const c = groups.map((g) => [...g]);
  const groupOf = new Map<number, number>();
  c.forEach((g, i) => g.forEach((a) => groupOf.set(a, i)));
  const edges = [...dfg.edges.keys()].map((key) => [Math.floor(key / size), key % size]);
  // minFrom[g]: the earliest group with an edge into g (-inf for a group with a start activity);
  // maxTo[g]: the latest group g has an edge to (+inf for a group with an end activity).
  const minFrom = c.map((g) => (g.some((a) => dfg.start.has(a)) ? -Infinity : Infinity));
  const maxTo = c.map((g) => (g.some((a) => dfg.end.has(a)) ? Infinity : -Infinity));
  for (const [a, b] of edges) {
    const [ga, gb] = [groupOf.get(a) as number, groupOf.get(b) as number];
    minFrom[gb] = Math.min(minFrom[gb], ga);
    maxTo[ga] = Math.max(maxTo[ga], gb);
  }
  const skippable = (p: number): boolean => {
    const at = new Map<number, number>();
    c.forEach((g, i) => g.forEach((a) => at.set(a, i)));
    for (const [a, b] of edges) if ((at.get(a) as number) < p && (at.get(b) as number) > p) return true;
    for (let j = p + 1; j < c.length; j++) if (c[j].some((a) => dfg.start.has(a))) return true;
    for (let i = 0; i < p; i++) if (c[i].some((a) => dfg.end.has(a))) return true;
    return false;
  };
  for (let p = 0; p < c.length; p++) {
    if (!skippable(p)) continue;
    for (let q = p - 1; q >= 0 && maxTo[q] <= p; q--) c[p].push(...c[q].splice(0));
    for (let q = p + 1; q < c.length && minFrom[q] >= p; q++) c[p].push(...c[q].splice(0));
  }
  const merged = c.filter((g) => g.length > 0);
  return merged.length > 1 ? merged : null;
}

/**
 * Parallel: activities not linked both ways are in the same group; a group without a start or
 * an end activity is merged into another. Kept when at least two groups remain.
 */
function parallelCut(dfg: Dfg, size: number): number[][] | null {
  const groups = components(dfg.activities, (a, b) => !(dfg.edges.has(a * size + b) && dfg.edges.has(b * size + a)));
  groups.sort((x, y) => x.length - y.length);
  let i = 0;
  while (i < groups.length && groups.length > 1) {
    if (groups[i].some((a) => dfg.start.has(a)) && groups[i].some((a) => dfg.end.has(a))) {
      i++;
      continue;
    }
    const [group] = groups.splice(i, 1);
    groups[i === 0 ? 0 : i - 1].push(...group);
  }
  if (groups.length < 2) return null;
  // Both ways between every pair of groups, as the cut requires (merging cannot break it, but a check is cheap).
  for (let x = 0; x < groups.length; x++) {
    for (let y = x + 1; y < groups.length; y++) {
      for (const a of groups[x]) {
        for (const b of groups[y]) if (!(dfg.edges.has(a * size + b) && dfg.edges.has(b * size + a))) return null;
      }
    }
  }
  return groups;
}

/**
 * Loop: the start and end activities are the do part; the other activities, in the components
 * they form without it, are redo parts unless a component is entered from a do activity that is
 * not an end activity, leaves to one that is not a start activity, or is not linked with all
 * start (or end) activities the way the cut requires; such a component joins the do part.
 */
function loopCut(dfg: Dfg, size: number): number[][] | null {
  if (dfg.edges.size === 0) return null;
  const edge = (a: number, b: number) => dfg.edges.has(a * size + b);
  const doPart = new Set<number>([...dfg.start.keys(), ...dfg.end.keys()]);
  const rest = dfg.activities.filter((a) => !doPart.has(a));
  const redo: number[][] = [];
  for (const component of components(rest, (a, b) => edge(a, b) || edge(b, a))) {
    let fits = true;
    for (const a of component) {
      for (const d of doPart) {
        if (edge(d, a) && !dfg.end.has(d)) fits = false;
        if (edge(a, d) && !dfg.start.has(d)) fits = false;
      }
      const toStart = [...dfg.start.keys()].some((s) => edge(a, s));
      if (toStart && ![...dfg.start.keys()].every((s) => edge(a, s))) fits = false;
      const fromEnd = [...dfg.end.keys()].some((e) => edge(e, a));
      if (fromEnd && ![...dfg.end.keys()].every((e) => edge(e, a))) fits = false;
      if (!fits) break;
    }
    if (fits) redo.push(component);
    else for (const a of component) doPart.add(a);
  }
  if (redo.length === 0) return null;
  return [dfg.activities.filter((a) => doPart.has(a)), ...redo];
}

function alphabet(log: Log): number[] {
  const seen = new Set<number>();
  for (const t of log.traces) for (const a of t) seen.add(a);
  return [...seen].sort((a, b) => a - b);
}

function sum(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** Nested operators of the same kind flattened (not loops), and a sequence's taus dropped. */
function simplify(tree: ProcessTree): ProcessTree {
  if (tree.kind === 'activity' || tree.kind === 'tau') return tree;
  let children = tree.children.map(simplify);
  if (tree.kind !== 'loop') children = children.flatMap((c) => (c.kind === tree.kind ? c.children : [c]));
  if (tree.kind === 'sequence' || tree.kind === 'parallel') children = children.filter((c) => c.kind !== 'tau');
  if (tree.kind === 'xor' && children.filter((c) => c.kind === 'tau').length > 1) {
    children = [{ kind: 'tau' }, ...children.filter((c) => c.kind !== 'tau')];
  }
  if (tree.kind !== 'loop') {
    if (children.length === 0) return { kind: 'tau' };
    if (children.length === 1) return children[0];
  }
  return { kind: tree.kind, children };
}

/**
 * A process tree as a sound workflow net. Each node runs from an entry place to an exit place:
 * an activity or tau is one transition, a sequence chains its children, a choice puts them side by
 * side, parallel branches open and close with silent transitions, and a loop enters and leaves its
 * body through silent transitions so that going round never leaks into a sibling's places.
 */
export function processTreeToPetriNet(tree: ProcessTree): PetriNet {
  const net: PetriNet = {
    places: [{ id: 'source' }, { id: 'sink' }],
    transitions: [],
    arcs: [],
    initialMarking: { source: 1 },
    finalMarking: { sink: 1 },
  };
  let places = 0;
  let transitions = 0;
  const place = () => {
    const id = `p${++places}`;
    net.places.push({ id });
    return id;
  };
  const transition = (label: string | null, from: string[], to: string[]) => {
    const id = `t${++transitions}`;
    net.transitions.push({ id, label });
    for (const p of from) net.arcs.push({ source: p, target: id });
    for (const p of to) net.arcs.push({ source: id, target: p });
  };
  const build = (node: ProcessTree, entry: string, exit: string): void => {
    switch (node.kind) {
      case 'activity':
        transition(node.label, [entry], [exit]);
        return;
      case 'tau':
        transition(null, [entry], [exit]);
        return;
      case 'xor':
        for (const c of node.children) build(c, entry, exit);
        return;
      case 'sequence': {
        let from = entry;
        node.children.forEach((c, i) => {
          const to = i === node.children.length - 1 ? exit : place();
          build(c, from, to);
          from = to;
        });
        return;
      }
      case 'parallel': {
        const starts = node.children.map(() => place());
        const ends = node.children.map(() => place());
        transition(null, [entry], starts);
        node.children.forEach((c, i) => build(c, starts[i], ends[i]));
        transition(null, ends, [exit]);
        return;
      }
      case 'loop': {
        const [body, ...redo] = node.children;
        const top = place();
        const bottom = place();
        transition(null, [entry], [top]);
        build(body, top, bottom);
        for (const r of redo) build(r, bottom, top);
        transition(null, [bottom], [exit]);
        return;
      }
    }
  };
  build(tree, 'source', 'sink');
  return net;
}

/**
 * Silent transitions that only move a token from one place to the next, removed by fusing the two
 * places where that keeps the language (Murata's fusion of series places): a silent t with one
 * input place p and one output place q (p != q, weight 1) goes when t is p's only way out (p is
 * fused into q), or when t is q's only way in (q is fused into p). Fewer silent steps mean fewer
 * markings for the alignments to search; the visible behaviour and soundness are unchanged.
 */
export function reduceSilentSteps(net: PetriNet): PetriNet {
  let places = net.places.map((p) => p.id);
  let transitions = [...net.transitions];
  let arcs = net.arcs.map((a) => ({ ...a }));
  const initial = { ...net.initialMarking };
  const final = { ...net.finalMarking };
  const isPlace = () => new Set(places);
  for (let changed = true; changed;) {
    changed = false;
    const placeSet = isPlace();
    const inputs = new Map<string, string[]>();
    const outputs = new Map<string, string[]>();
    for (const a of arcs) {
      (outputs.get(a.source) ?? outputs.set(a.source, []).get(a.source))?.push(a.target);
      (inputs.get(a.target) ?? inputs.set(a.target, []).get(a.target))?.push(a.source);
    }
    for (const t of transitions) {
      if (t.label !== null) continue;
      const ins = inputs.get(t.id) ?? [];
      const outs = outputs.get(t.id) ?? [];
      if (ins.length !== 1 || outs.length !== 1 || !placeSet.has(ins[0]) || !placeSet.has(outs[0])) continue;
      const [p, q] = [ins[0], outs[0]];
      // The source and sink stay as they are, so the result is still a workflow net.
      if (p in initial || p in final || q in initial || q in final) continue;
      if (p === q || arcs.some((a) => (a.source === t.id || a.target === t.id) && (a.weight ?? 1) !== 1)) continue;
      let keep: string;
      let drop: string;
      if ((outputs.get(p) ?? []).length === 1) [keep, drop] = [q, p];
      else if ((inputs.get(q) ?? []).length === 1) [keep, drop] = [p, q];
      else continue;
      transitions = transitions.filter((x) => x.id !== t.id);
      arcs = arcs.filter((a) => a.source !== t.id && a.target !== t.id);
      for (const a of arcs) {
        if (a.source === drop) a.source = keep;
        if (a.target === drop) a.target = keep;
      }
      places = places.filter((x) => x !== drop);
      changed = true;
      break;
    }
  }
  const kept = new Set(places);
  return {
    places: net.places.filter((p) => kept.has(p.id)),
    transitions,
    arcs,
    initialMarking: initial,
    finalMarking: final,
  };
}
