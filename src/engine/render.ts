/** The process map calculator's output, as far as rendering needs it. */
export interface ProcessMapDocument {
  nodes: { activity: string; eventCount: number }[];
  edges: { from: string; to: string; count: number; meanDurationSeconds: number | null }[];
  startActivities: Record<string, number>;
  endActivities: Record<string, number>;
}

type GraphvizModule = typeof import('@hpcc-js/wasm-graphviz');
let graphviz: Promise<Awaited<ReturnType<GraphvizModule['Graphviz']['load']>>> | undefined;

/** Renders a process map to SVG with Graphviz (compiled to WebAssembly, loaded once per process). */
export async function renderProcessMap(map: ProcessMapDocument, minEdgeCount = 1): Promise<string> {
  // The package is ESM only; a dynamic import loads it from this CommonJS build.
  graphviz ??= import('@hpcc-js/wasm-graphviz').then((m) => m.Graphviz.load());
  return (await graphviz).dot(toDot(map, minEdgeCount));
}

/** The DOT text of a process map: activities with their counts, edges with counts and mean waits. */
export function toDot(map: ProcessMapDocument, minEdgeCount = 1): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = [
    'digraph process {',
    '  rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=10];',
    '  "__start" [label="", shape=circle, width=0.25, fillcolor="#4c9a2a"]; "__end" [label="", shape=doublecircle, width=0.2, fillcolor="#b3261e"];',
  ];
  for (const n of map.nodes) lines.push(`  ${q(n.activity)} [label=${q(`${n.activity}\n${n.eventCount}`)}];`);
  for (const [a, n] of Object.entries(map.startActivities))
    lines.push(`  "__start" -> ${q(a)} [label=${q(String(n))}, style=dashed];`);
  for (const e of map.edges.filter((e) => e.count >= minEdgeCount)) {
    const wait = e.meanDurationSeconds === null ? '' : `\n${formatSeconds(e.meanDurationSeconds)}`;
    lines.push(`  ${q(e.from)} -> ${q(e.to)} [label=${q(`${e.count}${wait}`)}, penwidth=${penWidth(e.count, map)}];`);
  }
  for (const [a, n] of Object.entries(map.endActivities))
    lines.push(`  ${q(a)} -> "__end" [label=${q(String(n))}, style=dashed];`);
  lines.push('}');
  return lines.join('\n');
}

function penWidth(count: number, map: ProcessMapDocument): string {
  const max = Math.max(1, ...map.edges.map((e) => e.count));
  return (1 + (4 * count) / max).toFixed(2);
}

function formatSeconds(s: number): string {
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}
