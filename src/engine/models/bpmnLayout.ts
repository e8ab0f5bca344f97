import { dotLayout, q } from '../render';
import { bpmnGraph, writeBpmn, type BpmnGraph, type BpmnLayout } from './bpmn';
import type { PetriNet } from './petriNet';

/** Sizes of BPMN shapes in points (= BPMN DI pixels), as modelers draw them. */
const SIZE = { task: { width: 100, height: 80 }, gateway: { width: 50, height: 50 }, event: { width: 36, height: 36 } };

/**
 * Writes a workflow net as BPMN with diagram data (BPMN DI), laid out left to right by Graphviz,
 * so that modelers (bpmn.io, Camunda, Signavio) show it on opening. See `writeBpmn`.
 */
export async function writeBpmnLaidOut(input: { net: PetriNet; name: string }): Promise<string> {
  const graph = bpmnGraph(input.net);
  const json = JSON.parse(await dotLayout(bpmnDot(graph), 'json')) as GraphvizJson;
  return writeBpmn(input.net, input.name, toLayout(json));
}

/** The DOT text of the BPMN elements: node and edge ids are the BPMN ids. */
export function bpmnDot(graph: BpmnGraph): string {
  const inches = (points: number) => (points / 72).toFixed(3);
  const lines = ['digraph bpmn {', '  graph [rankdir=LR, ranksep=0.5, nodesep=0.4, splines=polyline];'];
  for (const node of graph.nodes) {
    const { width, height } = SIZE[node.kind];
    const shape = node.kind === 'task' ? 'box' : node.kind === 'gateway' ? 'diamond' : 'circle';
    lines.push(
      `  ${q(node.id)} [shape=${shape}, fixedsize=true, width=${inches(width)}, height=${inches(height)}, label=""];`,
    );
  }
  for (const flow of graph.flows) lines.push(`  ${q(flow.from)} -> ${q(flow.to)} [id=${q(flow.id)}];`);
  lines.push('}');
  return lines.join('\n');
}

interface GraphvizJson {
  bb: string;
  objects?: { _gvid: number; name: string; pos?: string; width?: string; height?: string }[];
  edges?: { tail: number; head: number; id?: string; pos?: string }[];
}

/** Graphviz's positions (points, y up, shape centres) as BPMN DI bounds and waypoints (y down, corners). */
function toLayout(json: GraphvizJson): BpmnLayout {
  const [, , , top] = json.bb.split(',').map(Number);
  const point = (text: string) => {
    const [x, y] = text.split(',').map(Number);
    return { x, y: top - y };
  };
  const layout: BpmnLayout = { shapes: {}, edges: {} };
  for (const object of json.objects ?? []) {
    if (!object.pos) continue;
    const centre = point(object.pos);
    const width = Number(object.width) * 72;
    const height = Number(object.height) * 72;
    layout.shapes[object.name] = { x: centre.x - width / 2, y: centre.y - height / 2, width, height };
  }
  for (const edge of json.edges ?? []) {
    if (!edge.id || !edge.pos) continue;
    // "e,x,y p1 p2 ... pn": the control points, then the arrow's tip; polylines pass through every point.
    const parts = edge.pos.split(' ');
    const tip = parts[0].startsWith('e,') ? point(parts.shift()!.slice(2)) : undefined;
    const points = parts.filter((p) => !p.startsWith('s,')).map(point);
    const waypoints = points.filter((_, i) => i % 3 === 0 || i === points.length - 1);
    if (tip) waypoints.push(tip);
    layout.edges[edge.id] = waypoints;
  }
  return layout;
}
