import { MODEL_LIMITS, ModelError } from './modelError';
import type { PetriArc, PetriNet, PetriPlace, PetriTransition } from './petriNet';
import { escapeXml, parseXml, type XmlElement } from './xml';
import { checkWorkflowNet } from './workflowNet';

/** The task kinds read as one visible transition each (their kind does not change the control flow). */
const TASKS = new Set([
  'task',
  'userTask',
  'serviceTask',
  'manualTask',
  'scriptTask',
  'sendTask',
  'receiveTask',
  'businessRuleTask',
]);

/** Children of `<definitions>` that declare things or draw the diagram, and do not change the control flow. */
const DECLARATIONS = new Set([
  'BPMNDiagram',
  'collaboration',
  'message',
  'signal',
  'error',
  'escalation',
  'itemDefinition',
  'dataStore',
  'category',
  'import',
  'extension',
  'documentation',
  'extensionElements',
  'relationship',
]);

/** Children of `<process>` that are annotations, lanes or data, and do not change the control flow. */
const ANNOTATIONS = new Set([
  'documentation',
  'extensionElements',
  'laneSet',
  'textAnnotation',
  'association',
  'group',
  'dataObject',
  'dataObjectReference',
  'dataStoreReference',
  'property',
  'ioSpecification',
]);

/** Children of a flow node or flow that do not change the control flow (conditions are not evaluated). */
const NODE_DETAILS = new Set([
  'incoming',
  'outgoing',
  'documentation',
  'extensionElements',
  'ioSpecification',
  'dataInputAssociation',
  'dataOutputAssociation',
  'property',
  'script',
  'rendering',
  'conditionExpression',
]);

/** Children of `<collaboration>` that do not change the control flow of its one process. */
const COLLABORATION_PARTS = new Set([
  'participant',
  'documentation',
  'extensionElements',
  'textAnnotation',
  'association',
]);

type Kind = 'start' | 'end' | 'task' | 'xor' | 'and';

interface FlowNode {
  id: string;
  kind: Kind;
  name: string;
  incoming: string[];
  outgoing: string[];
}

interface SequenceFlow {
  id: string;
  source: string;
  target: string;
}

/** Where a node's tokens arrive or leave in the Petri net: a place, or a transition that moves them. */
type Side = { place: string } | { transition: string };

/**
 * Reads a BPMN 2.0 process (XML, read safely as `parseXml` does) and translates it to a Petri net
 * with the same language of visible activities.
 *
 * Translated: start and end events (without event definitions), tasks of any kind (a task with a
 * name is a visible transition labelled with that name, one without a name is silent), exclusive
 * and parallel gateways in any direction, and sequence flows (conditions are not evaluated: every
 * outgoing flow of an exclusive gateway may be taken). Diagram data, lanes, annotations, data
 * objects and declarations are ignored; any other element is refused with an
 * `UNSUPPORTED_MODEL_ELEMENT` that names it. One process per file (a collaboration may name it).
 *
 * The translation, with as few silent transitions as BPMN's token semantics allow:
 * - an exclusive gateway is one place, which every incoming flow fills and every outgoing flow empties;
 * - a parallel gateway is one silent transition consuming from each incoming flow and producing on each outgoing one;
 * - a task is one transition; several incoming flows meet in a place first (BPMN's implicit
 *   exclusive merge), several outgoing flows all get a token (BPMN's implicit parallel split);
 * - a flow between two transitions is a place, a flow between two places a silent transition,
 *   and a flow between a place and a transition an arc;
 * - the start events share the source place (several start events are alternatives; one with
 *   several outgoing flows starts them all through a silent transition) and the end events share
 *   the sink place (so branches ending in separate end events are read as alternatives too).
 */
export function parseBpmn(input: string | Buffer): PetriNet {
  return bpmnToNet(parseXml(input, 'BPMN'));
}

/** The Petri net of a BPMN document already read as XML (see `parseBpmn`). */
export function bpmnToNet(root: XmlElement): PetriNet {
  if (root.name !== 'definitions') throw invalid(`The root element is <${root.name}>, not <definitions>.`);
  const process = theProcess(root);
  const { nodes, flows } = readProcess(process);
  return translate(nodes, flows);
}

function theProcess(root: XmlElement): XmlElement {
  const processes: XmlElement[] = [];
  for (const child of root.children) {
    if (child.name === 'process') processes.push(child);
    else if (child.name === 'collaboration') {
      for (const part of child.children)
        if (!COLLABORATION_PARTS.has(part.name)) throw unsupported(part, 'in a collaboration');
    } else if (!DECLARATIONS.has(child.name)) throw unsupported(child, 'in <definitions>');
  }
  if (processes.length === 0) throw invalid('The BPMN file has no <process>.');
  if (processes.length > 1)
    throw invalid(`The BPMN file holds ${processes.length} processes; upload one process per file.`);
  return processes[0];
}

function readProcess(process: XmlElement): { nodes: Map<string, FlowNode>; flows: SequenceFlow[] } {
  const nodes = new Map<string, FlowNode>();
  const flowElements: XmlElement[] = [];
  const ids = new Set<string>();
  const claim = (element: XmlElement): string => {
    const id = element.attributes.id;
    if (!id) throw invalid(`A <${element.name}> has no id.`);
    if (ids.has(id)) throw invalid(`The id "${id}" is used by more than one element.`);
    if (ids.size >= MODEL_LIMITS.maxNodes)
      throw invalid(`The process has more than ${MODEL_LIMITS.maxNodes} elements.`);
    ids.add(id);
    return id;
  };
  for (const element of process.children) {
    const kind = kindOf(element.name);
    if (element.name === 'sequenceFlow') {
      claim(element);
      checkDetails(element);
      flowElements.push(element);
    } else if (kind) {
      const id = claim(element);
      checkDetails(element);
      const name = element.attributes.name ?? '';
      if (name.length > MODEL_LIMITS.maxNameChars) {
        throw invalid(`The name of "${id}" is longer than ${MODEL_LIMITS.maxNameChars} characters.`);
      }
      nodes.set(id, { id, kind, name, incoming: [], outgoing: [] });
    } else if (!ANNOTATIONS.has(element.name)) throw unsupported(element, 'in the process');
  }

  const flows: SequenceFlow[] = [];
  for (const element of flowElements) {
    const { id, sourceRef: source, targetRef: target } = element.attributes;
    if (!source || !target) throw invalid(`The sequence flow "${id}" has no sourceRef or no targetRef.`);
    const from = nodes.get(source);
    const to = nodes.get(target);
    if (!from)
      throw invalid(`The sequence flow "${id}" starts at "${source}", no element of the process that it reads.`);
    if (!to) throw invalid(`The sequence flow "${id}" ends at "${target}", no element of the process that it reads.`);
    from.outgoing.push(id);
    to.incoming.push(id);
    flows.push({ id, source, target });
  }
  checkConnected(nodes);
  return { nodes, flows };
}

function kindOf(name: string): Kind | undefined {
  if (TASKS.has(name)) return 'task';
  if (name === 'startEvent') return 'start';
  if (name === 'endEvent') return 'end';
  if (name === 'exclusiveGateway') return 'xor';
  if (name === 'parallelGateway') return 'and';
  return undefined;
}

/** Refuses what inside a node or flow would change its behaviour: event definitions, loop and multi-instance markers. */
function checkDetails(element: XmlElement) {
  for (const child of element.children) {
    if (!NODE_DETAILS.has(child.name)) throw unsupported(child, `in <${element.name}> "${element.attributes.id}"`);
  }
  if (element.attributes.eventDefinitionRefs !== undefined) {
    throw new ModelError(
      'UNSUPPORTED_MODEL_ELEMENT',
      `The <${element.name}> "${element.attributes.id}" has event definitions, which are not supported.`,
    );
  }
}

function checkConnected(nodes: Map<string, FlowNode>) {
  const all = [...nodes.values()];
  if (!all.some((node) => node.kind === 'start')) throw invalid('The process has no start event.');
  if (!all.some((node) => node.kind === 'end')) throw invalid('The process has no end event.');
  for (const node of all) {
    const what = `The ${describe(node)}`;
    if (node.kind === 'start' && node.incoming.length > 0) throw invalid(`${what} has an incoming sequence flow.`);
    if (node.kind === 'end' && node.outgoing.length > 0) throw invalid(`${what} has an outgoing sequence flow.`);
    if (node.kind !== 'start' && node.incoming.length === 0) throw invalid(`${what} has no incoming sequence flow.`);
    if (node.kind !== 'end' && node.outgoing.length === 0) throw invalid(`${what} has no outgoing sequence flow.`);
  }
}

function describe(node: FlowNode): string {
  const kind = {
    start: 'start event',
    end: 'end event',
    task: 'task',
    xor: 'exclusive gateway',
    and: 'parallel gateway',
  }[node.kind];
  return node.name ? `${kind} "${node.name}" ("${node.id}")` : `${kind} "${node.id}"`;
}

function translate(nodes: Map<string, FlowNode>, flows: SequenceFlow[]): PetriNet {
  const taken = new Set([...nodes.keys(), ...flows.map((flow) => flow.id)]);
  const fresh = (base: string): string => {
    let id = base;
    for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
    taken.add(id);
    return id;
  };
  const places: PetriPlace[] = [];
  const transitions: PetriTransition[] = [];
  const weights = new Map<string, PetriArc>();
  const arc = (source: string, target: string) => {
    const key = `${source}\u0000${target}`;
    const known = weights.get(key);
    // Two flows between the same place and transition move two tokens, as BPMN's tokens do.
    if (known) known.weight = (known.weight ?? 1) + 1;
    else weights.set(key, { source, target });
  };
  const source = fresh('source');
  const sink = fresh('sink');
  places.push({ id: source, name: 'start' });

  const into = new Map<string, Side>();
  const outOf = new Map<string, Side>();
  for (const node of nodes.values()) {
    const name = node.name === '' ? undefined : node.name;
    if (node.kind === 'xor') {
      places.push(name === undefined ? { id: node.id } : { id: node.id, name });
      into.set(node.id, { place: node.id });
      outOf.set(node.id, { place: node.id });
    } else if (node.kind === 'and' || node.kind === 'task') {
      const label = node.kind === 'task' && node.name.trim() !== '' ? node.name : null;
      transitions.push({ id: node.id, label });
      outOf.set(node.id, { transition: node.id });
      if (node.incoming.length > 1 && node.kind === 'task') {
        const merge = fresh(`${node.id}_in`);
        places.push({ id: merge });
        arc(merge, node.id);
        into.set(node.id, { place: merge });
      } else into.set(node.id, { transition: node.id });
    } else if (node.kind === 'start') {
      if (node.outgoing.length > 1) {
        transitions.push({ id: node.id, label: null });
        arc(source, node.id);
        outOf.set(node.id, { transition: node.id });
      } else outOf.set(node.id, { place: source });
    } else into.set(node.id, { place: sink });
  }

  for (const flow of flows) {
    const from = outOf.get(flow.source)!;
    const to = into.get(flow.target)!;
    if ('place' in from && 'place' in to) {
      transitions.push({ id: flow.id, label: null });
      arc(from.place, flow.id);
      arc(flow.id, to.place);
    } else if ('place' in from && 'transition' in to) arc(from.place, to.transition);
    else if ('transition' in from && 'place' in to) arc(from.transition, to.place);
    else if ('transition' in from && 'transition' in to) {
      places.push({ id: flow.id });
      arc(from.transition, flow.id);
      arc(flow.id, to.transition);
    }
  }
  places.push({ id: sink, name: 'end' });

  if (places.length + transitions.length > MODEL_LIMITS.maxNodes) {
    throw invalid(`The process translates to more than ${MODEL_LIMITS.maxNodes} places and transitions.`);
  }
  if (weights.size > MODEL_LIMITS.maxArcs)
    throw invalid(`The process translates to more than ${MODEL_LIMITS.maxArcs} arcs.`);
  return {
    places,
    transitions,
    arcs: [...weights.values()],
    initialMarking: { [source]: 1 },
    finalMarking: { [sink]: 1 },
  };
}

function unsupported(element: XmlElement, where: string): ModelError {
  const id = element.attributes.id ? ` "${element.attributes.id}"` : '';
  return new ModelError('UNSUPPORTED_MODEL_ELEMENT', `BPMN <${element.name}>${id} ${where} is not supported.`);
}

function invalid(message: string): ModelError {
  return new ModelError('INVALID_MODEL_FILE', message);
}

/** A node of the written BPMN: its id, its kind, and its XML given its flows. */
interface Written {
  id: string;
  kind: 'task' | 'gateway' | 'event';
  xml: (incoming: string[], outgoing: string[]) => string;
}

/** The BPMN elements a net is written as (see `writeBpmn`), before they are written. */
export interface BpmnGraph {
  nodes: Written[];
  flows: { id: string; from: string; to: string }[];
}

/** Where each shape and flow of a written BPMN process is drawn (BPMN DI), by element id. */
export interface BpmnLayout {
  shapes: Record<string, { x: number; y: number; width: number; height: number }>;
  edges: Record<string, { x: number; y: number }[]>;
}

/**
 * Writes a workflow net as a BPMN 2.0 process that `parseBpmn` reads back to a net with the same
 * language, and that BPMN tools open (with `layout`, diagram data is written too; see
 * bpmnLayout.ts). The translation:
 * - a visible transition is a task named by its activity; a silent one is a parallel gateway;
 * - a transition with several input places waits for them in a converging parallel gateway, and
 *   one with several output places fills them through a diverging parallel gateway;
 * - a place with one transition before and one after it is a sequence flow between them; any
 *   other place is an exclusive gateway (a choice, a merge, or both);
 * - the source place follows a start event and the sink place leads to an end event.
 * Ids are generated (`task_1`, `gateway_1`, `flow_1` ...), since Petri net ids need not be XML
 * names. Arc weights above 1 have no BPMN equivalent and are refused.
 */
export function writeBpmn(input: PetriNet, name = 'process', layout?: BpmnLayout): string {
  const { nodes, flows } = bpmnGraph(input);
  const incoming = new Map<string, string[]>();
  const outgoing = new Map<string, string[]>();
  for (const f of flows) {
    outgoing.set(f.from, [...(outgoing.get(f.from) ?? []), f.id]);
    incoming.set(f.to, [...(incoming.get(f.to) ?? []), f.id]);
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" targetNamespace="https://assay.invalid/bpmn">',
    `  <bpmn:process id="process" name="${escapeXml(name)}" isExecutable="false">`,
    ...nodes.map((node) => node.xml(incoming.get(node.id) ?? [], outgoing.get(node.id) ?? [])),
    ...flows.map((f) => `    <bpmn:sequenceFlow id="${f.id}" sourceRef="${f.from}" targetRef="${f.to}"/>`),
    '  </bpmn:process>',
    ...(layout ? diagram({ nodes, flows }, layout) : []),
    '</bpmn:definitions>',
    '',
  ].join('\n');
}

function diagram(graph: BpmnGraph, layout: BpmnLayout): string[] {
  const n = (v: number) => String(Math.round(v));
  const lines = ['  <bpmndi:BPMNDiagram id="diagram">', '    <bpmndi:BPMNPlane id="plane" bpmnElement="process">'];
  for (const node of graph.nodes) {
    const b = layout.shapes[node.id];
    if (!b) continue;
    lines.push(
      `      <bpmndi:BPMNShape id="${node.id}_di" bpmnElement="${node.id}">`,
      `        <dc:Bounds x="${n(b.x)}" y="${n(b.y)}" width="${n(b.width)}" height="${n(b.height)}"/>`,
      '      </bpmndi:BPMNShape>',
    );
  }
  for (const flow of graph.flows) {
    const points = layout.edges[flow.id];
    if (!points || points.length < 2) continue;
    lines.push(
      `      <bpmndi:BPMNEdge id="${flow.id}_di" bpmnElement="${flow.id}">`,
      ...points.map((p) => `        <di:waypoint x="${n(p.x)}" y="${n(p.y)}"/>`),
      '      </bpmndi:BPMNEdge>',
    );
  }
  lines.push('    </bpmndi:BPMNPlane>', '  </bpmndi:BPMNDiagram>');
  return lines;
}

/** The BPMN elements of a workflow net (see `writeBpmn`); refuses nets that are not workflow nets or have weights. */
export function bpmnGraph(input: PetriNet): BpmnGraph {
  const { net, source, sink } = checkWorkflowNet(input);
  const heavy = net.arcs.find((a) => (a.weight ?? 1) > 1);
  if (heavy) {
    throw new ModelError(
      'UNSUPPORTED_MODEL_ELEMENT',
      `The arc from "${heavy.source}" to "${heavy.target}" weighs ${heavy.weight}; BPMN has no weighted flows.`,
    );
  }
  const counters = new Map<string, number>();
  const nextId = (kind: string) => {
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    return `${kind}_${n}`;
  };
  const nodes: Written[] = [];
  const flows: { id: string; from: string; to: string }[] = [];
  const flow = (from: string, to: string) => flows.push({ id: nextId('flow'), from, to });
  const element = (tag: string, attributes: string) => (incoming: string[], outgoing: string[]) =>
    [
      `    <bpmn:${tag} ${attributes}>`,
      ...incoming.map((id) => `      <bpmn:incoming>${id}</bpmn:incoming>`),
      ...outgoing.map((id) => `      <bpmn:outgoing>${id}</bpmn:outgoing>`),
      `    </bpmn:${tag}>`,
    ].join('\n');
  const gateway = (kind: 'parallel' | 'exclusive', direction: string): string => {
    const id = nextId('gateway');
    nodes.push({ id, kind: 'gateway', xml: element(`${kind}Gateway`, `id="${id}" gatewayDirection="${direction}"`) });
    return id;
  };

  const inputs = new Map<string, string[]>();
  const outputs = new Map<string, string[]>();
  const producers = new Map<string, string[]>();
  const consumers = new Map<string, string[]>();
  const push = (map: Map<string, string[]>, key: string, value: string) => {
    const list = map.get(key) ?? [];
    if (!list.includes(value)) list.push(value);
    map.set(key, list);
  };
  const placeIds = new Set(net.places.map((p) => p.id));
  for (const a of net.arcs) {
    if (placeIds.has(a.source)) {
      push(inputs, a.target, a.source);
      push(consumers, a.source, a.target);
    } else {
      push(outputs, a.source, a.target);
      push(producers, a.target, a.source);
    }
  }

  // Each transition's BPMN node where tokens enter it and where they leave it.
  const entry = new Map<string, string>();
  const exit = new Map<string, string>();
  const start = 'start';
  const end = 'end';
  nodes.push({ id: start, kind: 'event', xml: element('startEvent', `id="${start}" name="start"`) });
  nodes.push({ id: end, kind: 'event', xml: element('endEvent', `id="${end}" name="end"`) });
  for (const transition of net.transitions) {
    const ins = inputs.get(transition.id)?.length ?? 0;
    const outs = outputs.get(transition.id)?.length ?? 0;
    if (transition.label === null) {
      const id = gateway(
        'parallel',
        ins > 1 && outs > 1 ? 'Mixed' : ins > 1 ? 'Converging' : outs > 1 ? 'Diverging' : 'Unspecified',
      );
      entry.set(transition.id, id);
      exit.set(transition.id, id);
      continue;
    }
    const id = nextId('task');
    nodes.push({ id, kind: 'task', xml: element('task', `id="${id}" name="${escapeXml(transition.label)}"`) });
    entry.set(transition.id, id);
    exit.set(transition.id, id);
    if (ins > 1) {
      const join = gateway('parallel', 'Converging');
      flow(join, id);
      entry.set(transition.id, join);
    }
    if (outs > 1) {
      const split = gateway('parallel', 'Diverging');
      flow(id, split);
      exit.set(transition.id, split);
    }
  }
  for (const place of net.places) {
    const before = place.id === source ? [start] : (producers.get(place.id) ?? []).map((t) => exit.get(t)!);
    const after = place.id === sink ? [end] : (consumers.get(place.id) ?? []).map((t) => entry.get(t)!);
    if (before.length === 1 && after.length === 1) {
      flow(before[0], after[0]);
      continue;
    }
    const id = gateway(
      'exclusive',
      before.length > 1 && after.length > 1 ? 'Mixed' : before.length > 1 ? 'Converging' : 'Diverging',
    );
    for (const from of before) flow(from, id);
    for (const to of after) flow(id, to);
  }

  return { nodes, flows };
}
