/**
 * Simplification of a process map for drawing, as Disco and Celonis do it: keep the most frequent
 * activities and the paths that carry the flow, so that every activity drawn can be reached from
 * the start and reaches the end. Only the drawing is simplified: the map's figures are not.
 */

/** The part of a process map that simplification reads. */
export interface MapGraph {
  nodes: { activity: string; eventCount: number }[];
  edges: { from: string; to: string; count: number }[];
  startActivities: Record<string, number>;
  endActivities: Record<string, number>;
}

/** How much of a map to draw. */
export interface SimplifyOptions {
  /** The share of activities kept, most frequent first (0 to 100; at least one is kept). */
  activitiesPercent: number;
  /** The share of paths between kept activities kept, most frequent first (0 to 100). */
  pathsPercent: number;
  /** Transitions seen fewer times than this are never drawn. */
  minEdgeCount: number;
}

/** A path of the drawing: a transition, or the start of cases (`from` null) or their end (`to` null). */
export interface MapArc {
  from: string | null;
  to: string | null;
  count: number;
}

/** What to draw: the activities (most frequent first) and the arcs between them and the start and end. */
export interface SimplifiedMap {
  activities: string[];
  arcs: MapArc[];
}

/** Draw everything. */
export const KEEP_ALL: SimplifyOptions = { activitiesPercent: 100, pathsPercent: 100, minEdgeCount: 1 };

/**
 * Picks what to draw of a map:
 * 1. the `activitiesPercent` most frequent activities (by events; ties by name);
 * 2. of the arcs among them (transitions, starts and ends), the `pathsPercent` most frequent;
 * 3. for each kept activity, its most frequent incoming and outgoing arc among kept ones;
 * 4. for each kept activity the start cannot reach (or that cannot reach the end) through the arcs
 *    so far, the widest path (the one whose rarest arc is most frequent) from the start (or to the
 *    end): through kept activities if one exists, otherwise through others, which are kept too.
 */
export function simplifyMap(map: MapGraph, options: SimplifyOptions): SimplifiedMap {
  const ranked = [...map.nodes].sort((a, b) => b.eventCount - a.eventCount || compareText(a.activity, b.activity));
  const share = (n: number, percent: number) => Math.ceil((n * clampPercent(percent)) / 100);
  const kept = new Set(ranked.slice(0, Math.max(1, share(ranked.length, options.activitiesPercent))).map(activityOf));
  const all = allArcs(map, options.minEdgeCount);
  const among = (arc: Arc) => isKept(kept, arc.from) && isKept(kept, arc.to);
  const candidates = all.filter(among);
  const chosen = new Set(candidates.slice(0, share(candidates.length, options.pathsPercent)));
  // Candidates come most frequent first: the first arc into (out of) an activity is its main way in (out).
  const wayIn = new Map<string, Arc>();
  const wayOut = new Map<string, Arc>();
  for (const arc of candidates) {
    if (arc.from === arc.to) continue;
    if (arc.to !== null && !wayIn.has(arc.to)) wayIn.set(arc.to, arc);
    if (arc.from !== null && !wayOut.has(arc.from)) wayOut.set(arc.from, arc);
  }
  for (const arc of [...wayIn.values(), ...wayOut.values()]) chosen.add(arc);
  connect(all, kept, chosen, 'forward');
  connect(all, kept, chosen, 'backward');
  return {
    activities: ranked.map(activityOf).filter((a) => kept.has(a)),
    arcs: all.filter((a) => chosen.has(a)).map(({ from, to, count }) => ({ from, to, count })),
  };
}

interface Arc extends MapArc {
  /** Position in the order of all arcs: most frequent first. */
  rank: number;
}

type Direction = 'forward' | 'backward';

// The start and the end as graph vertices; activity names are strings, so these cannot collide.
const START = Symbol('start');
const END = Symbol('end');
type Vertex = string | typeof START | typeof END;

/** Every arc of the map that `minEdgeCount` leaves, most frequent first (ties: starts, transitions, ends, by name). */
function allArcs(map: MapGraph, minEdgeCount: number): Arc[] {
  const starts = Object.entries(map.startActivities).map(([a, n]) => ({ from: null, to: a, count: n, kind: 0 }));
  const transitions = map.edges
    .filter((e) => e.count >= minEdgeCount)
    .map((e) => ({ from: e.from, to: e.to, count: e.count, kind: 1 }));
  const ends = Object.entries(map.endActivities).map(([a, n]) => ({ from: a, to: null, count: n, kind: 2 }));
  return [...starts, ...transitions, ...ends]
    .sort(
      (a, b) =>
        b.count - a.count ||
        a.kind - b.kind ||
        compareText(a.from ?? '', b.from ?? '') ||
        compareText(a.to ?? '', b.to ?? ''),
    )
    .map(({ from, to, count }, rank) => ({ from, to, count, rank }));
}

/**
 * Adds arcs until every kept activity is reached from the start ('forward') or reaches the end
 * ('backward') through chosen arcs, keeping the activities those arcs pass through.
 */
function connect(all: Arc[], kept: Set<string>, chosen: Set<Arc>, direction: Direction): void {
  const source: Vertex = direction === 'forward' ? START : END;
  // What the chosen arcs reach, kept up to date as arcs are added.
  const next = new Map<Vertex, Vertex[]>();
  const link = (arc: Arc) => {
    const [a, b] = ends(arc, direction);
    const list = next.get(a);
    if (list) list.push(b);
    else next.set(a, [b]);
  };
  const reached = new Set<Vertex>();
  const spread = (from: Vertex[]) => {
    const queue = from.filter((v) => !reached.has(v));
    for (const v of queue) reached.add(v);
    while (queue.length > 0) {
      for (const w of next.get(queue.pop()!) ?? []) {
        if (reached.has(w)) continue;
        reached.add(w);
        queue.push(w);
      }
    }
  };
  for (const arc of chosen) link(arc);
  spread([source]);
  const missing = [...kept].filter((a) => !reached.has(a));
  if (missing.length === 0) return;
  const among = widestTree(
    source,
    all.filter((a) => isKept(kept, a.from) && isKept(kept, a.to)),
    direction,
  );
  const anywhere = widestTree(source, all, direction);
  for (const activity of missing) {
    if (reached.has(activity)) continue;
    const tree = among.has(activity) ? among : anywhere;
    if (!tree.has(activity)) continue;
    // Walk back towards the source until the path joins what is reached already.
    const added: string[] = [];
    let at: Vertex = activity;
    while (typeof at === 'string' && !reached.has(at)) {
      const arc: Arc = tree.get(at)!;
      if (!chosen.has(arc)) {
        chosen.add(arc);
        link(arc);
      }
      kept.add(at);
      added.push(at);
      at = vertexOf(direction === 'forward' ? arc.from : arc.to, direction === 'forward' ? START : END);
    }
    spread(added);
  }
}

/**
 * The widest paths from `source` through `arcs` (Dijkstra on the rarest arc): for each activity
 * reached, the arc by which its widest path arrives. Ties go to the path found first, which
 * follows more frequent arcs.
 */
function widestTree(source: Vertex, arcs: Arc[], direction: Direction): Map<string, Arc> {
  const out = new Map<Vertex, Arc[]>();
  for (const arc of arcs) {
    const [a] = ends(arc, direction);
    out.set(a, [...(out.get(a) ?? []), arc]);
  }
  const width = new Map<Vertex, number>([[source, Infinity]]);
  const via = new Map<string, Arc>();
  const done = new Set<Vertex>();
  const heap = new MaxHeap<Vertex>();
  heap.push(source, Infinity);
  for (let top = heap.pop(); top !== undefined; top = heap.pop()) {
    const v = top;
    if (done.has(v)) continue;
    done.add(v);
    for (const arc of out.get(v) ?? []) {
      const [, w] = ends(arc, direction);
      if (typeof w !== 'string' || done.has(w)) continue;
      const through = Math.min(width.get(v)!, arc.count);
      if (through <= (width.get(w) ?? -1)) continue;
      width.set(w, through);
      via.set(w, arc);
      heap.push(w, through);
    }
  }
  return via;
}

/** An arc's tail and head in the direction of travel. */
function ends(arc: Arc, direction: Direction): [Vertex, Vertex] {
  const from = vertexOf(arc.from, START);
  const to = vertexOf(arc.to, END);
  return direction === 'forward' ? [from, to] : [to, from];
}

function vertexOf(activity: string | null, missing: typeof START | typeof END): Vertex {
  return activity ?? missing;
}

/** The start and end (null) always stay; activities when kept. */
function isKept(kept: Set<string>, activity: string | null): boolean {
  return activity === null || kept.has(activity);
}

function clampPercent(percent: number): number {
  return Math.min(100, Math.max(0, percent));
}

function activityOf(node: { activity: string }): string {
  return node.activity;
}

// Code point order, as the calculators sort text.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A binary heap giving the item of highest priority first; ties in the order pushed. */
class MaxHeap<T> {
  private readonly items: { item: T; priority: number; order: number }[] = [];
  private pushed = 0;

  push(item: T, priority: number): void {
    this.items.push({ item, priority, order: this.pushed++ });
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): T | undefined {
    if (this.items.length === 0) return undefined;
    const top = this.items[0].item;
    const last = this.items.pop()!;
    if (this.items.length > 0) {
      this.items[0] = last;
      let i = 0;
      for (;;) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let best = i;
        if (l < this.items.length && this.before(l, best)) best = l;
        if (r < this.items.length && this.before(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }

  private before(a: number, b: number): boolean {
    const [x, y] = [this.items[a], this.items[b]];
    return x.priority > y.priority || (x.priority === y.priority && x.order < y.order);
  }

  private swap(a: number, b: number): void {
    [this.items[a], this.items[b]] = [this.items[b], this.items[a]];
  }
}
