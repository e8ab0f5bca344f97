import { simplifyMap, type MapArc, type SimplifyOptions } from './simplify';

/** The process map calculator's output, as far as rendering needs it. */
export interface ProcessMapDocument {
  nodes: { activity: string; eventCount: number }[];
  edges: { from: string; to: string; count: number; meanDurationSeconds: number | null }[];
  startActivities: Record<string, number>;
  endActivities: Record<string, number>;
}

/** How a map is drawn: what it keeps (see simplify.ts) and what its edges show. */
export interface RenderOptions extends SimplifyOptions {
  /** `frequency`: edges labelled and weighted by count; `performance`: labelled and coloured by mean wait. */
  perspective: 'frequency' | 'performance';
}

/**
 * The defaults of the process map calculator (the contract's `ProcessMapCalculator` says the same):
 * every activity, and the most frequent fifth of the paths, with each activity's main way in and
 * out. The Sepsis log's map (16 activities, 115 transitions) then fits a 1400 x 1000 page.
 */
export const DEFAULT_RENDER: RenderOptions = {
  activitiesPercent: 100,
  pathsPercent: 20,
  minEdgeCount: 1,
  perspective: 'frequency',
};

type GraphvizModule = typeof import('@hpcc-js/wasm-graphviz');
let graphviz: Promise<Awaited<ReturnType<GraphvizModule['Graphviz']['load']>>> | undefined;

/** Renders a process map to SVG with Graphviz (compiled to WebAssembly, loaded once per process). */
export async function renderProcessMap(map: ProcessMapDocument, options: Partial<RenderOptions> = {}): Promise<string> {
  return dotToSvg(toDot(map, options));
}

/** Lays out a DOT graph and draws it as SVG with Graphviz (compiled to WebAssembly, loaded once per process). */
export async function dotToSvg(dot: string): Promise<string> {
  return dotLayout(dot, 'svg');
}

/** Lays out a DOT graph with Graphviz's `dot` and writes it in `format` (`svg`, or `json` for positions). */
export async function dotLayout(dot: string, format: 'svg' | 'json'): Promise<string> {
  // The package is ESM only; a dynamic import loads it from this CommonJS build.
  graphviz ??= import('@hpcc-js/wasm-graphviz').then((m) => m.Graphviz.load());
  return (await graphviz).layout(dot, format, 'dot');
}

/** The render options of a process map calculator's configuration, defaults filled in. */
export function renderOptionsOf(config: Record<string, unknown>): RenderOptions {
  const num = (key: keyof SimplifyOptions) => (typeof config[key] === 'number' ? config[key] : DEFAULT_RENDER[key]);
  return {
    activitiesPercent: num('activitiesPercent'),
    pathsPercent: num('pathsPercent'),
    minEdgeCount: num('minEdgeCount'),
    perspective: config.perspective === 'performance' ? 'performance' : 'frequency',
  };
}

/**
 * The DOT text of a process map, top to bottom: the start of cases at the top, their end at the
 * bottom, activities shaded by their number of events, and the arcs simplification keeps.
 */
export function toDot(map: ProcessMapDocument, options: Partial<RenderOptions> = {}): string {
  const o = { ...DEFAULT_RENDER, ...options };
  const drawn = simplifyMap(map, o);
  const names = new Set(map.nodes.map((n) => n.activity));
  // Node ids are the activity names (they become the SVG's tooltips); start and end take ids no activity has.
  const start = freeId('start', names);
  const end = freeId('end', names);
  const idOf = (activity: string | null, missing: string) => q(activity ?? missing);
  const events = new Map(map.nodes.map((n) => [n.activity, n.eventCount]));
  const maxEvents = Math.max(1, ...drawn.activities.map((a) => events.get(a)!));
  const caption = `${drawn.activities.length} of ${map.nodes.length} activities, ${
    drawn.arcs.filter((a) => a.from !== null && a.to !== null).length
  } of ${map.edges.length} transitions drawn (${o.perspective})`;
  const lines = [
    'digraph process {',
    `  graph [rankdir=TB, ranksep=0.25, nodesep=0.3, fontname="Helvetica", fontsize=10, fontcolor="#555555", labelloc=b, label=${q(caption)}];`,
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, height=0.4, margin="0.1,0.03", penwidth=0.8, color="#4a6a94", class="activity"];',
    '  edge [fontname="Helvetica", fontsize=10, arrowsize=0.7];',
    `  { rank=source; ${q(start)} [label="Start", shape=circle, width=0.55, fixedsize=true, fontsize=10, fillcolor="#4c9a2a", color="#3a7a1f", fontcolor="white", class="start"]; }`,
    `  { rank=sink; ${q(end)} [label="End", shape=doublecircle, width=0.5, fixedsize=true, fontsize=10, fillcolor="#b3261e", color="#8c1d17", fontcolor="white", class="end"]; }`,
  ];
  for (const activity of drawn.activities) {
    const n = events.get(activity)!;
    const t = n / maxEvents;
    const fill = mix('#e6eef8', '#1f4f8f', t);
    const font = t > 0.45 ? 'white' : '#1a1a1a';
    lines.push(`  ${q(activity)} [label=${q(`${activity}\n${n}`)}, fillcolor="${fill}", fontcolor="${font}"];`);
  }
  const style = arcStyle(map, drawn.arcs, o.perspective);
  for (const arc of drawn.arcs) lines.push(`  ${idOf(arc.from, start)} -> ${idOf(arc.to, end)} [${style(arc)}];`);
  lines.push('}');
  return lines.join('\n');
}

/** The attributes of an arc: width and colour by count, or colour by mean wait; starts and ends dashed. */
function arcStyle(map: ProcessMapDocument, arcs: MapArc[], perspective: RenderOptions['perspective']) {
  const waits = new Map(map.edges.map((e) => [`${e.from}\u0000${e.to}`, e.meanDurationSeconds]));
  const waitOf = (arc: MapArc) =>
    arc.from === null || arc.to === null ? null : (waits.get(`${arc.from}\u0000${arc.to}`) ?? null);
  // Widths compare transitions with one another; the starts and ends of cases are drawn apart.
  const maxCount = Math.max(1, ...arcs.filter((a) => a.from !== null && a.to !== null).map((a) => a.count));
  const timed = arcs.map(waitOf).filter((w): w is number => w !== null);
  // Waits span seconds to months: a log scale between the shortest and the longest tells them apart.
  const [low, high] = [Math.log1p(Math.min(...timed)), Math.log1p(Math.max(...timed))];
  const slowness = (wait: number) => (high > low ? (Math.log1p(wait) - low) / (high - low) : 1);
  return (arc: MapArc): string => {
    const share = arc.count / maxCount;
    // Graphviz keeps heavier edges shorter and straighter: the main flow runs straight down.
    const weight = `weight=${1 + Math.round(9 * Math.min(1, share))}`;
    const wait = waitOf(arc);
    if (arc.from === null || arc.to === null) {
      return `label=${q(String(arc.count))}, style=dashed, color="#8a8a8a", fontcolor="#666666", ${weight}`;
    }
    if (perspective === 'frequency') {
      const color = mix('#9fb0c6', '#1c3d6b', Math.sqrt(share));
      return `label=${q(String(arc.count))}, penwidth=${(0.8 + 4.2 * share).toFixed(2)}, color="${color}", ${weight}`;
    }
    if (wait === null) return `label=${q('n/a')}, color="#b0b0b0", style=dotted, ${weight}`;
    const slow = slowness(wait);
    const color = mix('#e9b96e', '#a50f15', slow);
    return `label=${q(formatSeconds(wait))}, penwidth=${(1 + 3 * slow).toFixed(2)}, color="${color}", fontcolor="${mix('#7a5a2a', '#a50f15', slow)}", ${weight}`;
  };
}

/** A DOT string literal. */
export function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** `base`, or `base_1`, `base_2` ... whichever no activity is named. */
function freeId(base: string, taken: Set<string>): string {
  let id = base;
  for (let i = 1; taken.has(id); i++) id = `${base}_${i}`;
  return id;
}

/** The colour a share `t` (0 to 1) of the way from `a` to `b`, as `#rrggbb`. */
function mix(a: string, b: string, t: number): string {
  const channel = (hex: string, i: number) => parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16);
  const share = Math.min(1, Math.max(0, t));
  return `#${[0, 1, 2]
    .map((i) =>
      Math.round(channel(a, i) + (channel(b, i) - channel(a, i)) * share)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

function formatSeconds(s: number): string {
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}
