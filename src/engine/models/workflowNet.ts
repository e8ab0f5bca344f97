import { ModelError } from './modelError';
import type { PetriNet } from './petriNet';

/** A checked workflow net, its markings filled in, with its source and sink places. */
export interface WorkflowNet {
  net: PetriNet;
  source: string;
  sink: string;
}

/** How many nodes a message lists before it says "and N more". */
const LISTED = 5;

/**
 * Checks that a net is a workflow net (van der Aalst): exactly one source place (no incoming arc),
 * exactly one sink place (no outgoing arc), and every place and transition on a path from the
 * source to the sink. Its initial marking must be one token on the source (an empty initial
 * marking is read as that) and its final marking one token on the sink. Returns the net with its
 * markings so filled in, or throws a `NOT_A_WORKFLOW_NET` ModelError that names what is wrong.
 */
export function checkWorkflowNet(net: PetriNet): WorkflowNet {
  if (net.transitions.length === 0) throw notWorkflow('The net has no transitions.');
  const incoming = new Map<string, string[]>();
  const outgoing = new Map<string, string[]>();
  for (const arc of net.arcs) {
    (outgoing.get(arc.source) ?? outgoing.set(arc.source, []).get(arc.source)!).push(arc.target);
    (incoming.get(arc.target) ?? incoming.set(arc.target, []).get(arc.target)!).push(arc.source);
  }
  const sources = net.places.filter((place) => !incoming.has(place.id)).map((place) => place.id);
  const sinks = net.places.filter((place) => !outgoing.has(place.id)).map((place) => place.id);
  if (sources.length !== 1) {
    throw notWorkflow(
      `The net has ${sources.length} source places (places without incoming arcs)${listed(sources)}; a workflow net has one.`,
    );
  }
  if (sinks.length !== 1) {
    throw notWorkflow(
      `The net has ${sinks.length} sink places (places without outgoing arcs)${listed(sinks)}; a workflow net has one.`,
    );
  }
  const [source] = sources;
  const [sink] = sinks;

  const fromSource = reach(source, outgoing);
  const toSink = reach(sink, incoming);
  const labels = new Map(net.transitions.map((t) => [t.id, t.label]));
  const stray = [...net.places.map((p) => p.id), ...net.transitions.map((t) => t.id)].filter(
    (id) => !fromSource.has(id) || !toSink.has(id),
  );
  if (stray.length > 0) {
    const named = stray.map((id) => {
      const label = labels.get(id);
      return label ? `"${id}" (${label})` : `"${id}"`;
    });
    throw notWorkflow(
      `${stray.length} node(s) are not on a path from the source place "${source}" to the sink place "${sink}": ${named.slice(0, LISTED).join(', ')}${more(stray)}.`,
    );
  }

  const initialMarking = Object.keys(net.initialMarking).length === 0 ? { [source]: 1 } : net.initialMarking;
  if (!isOneTokenOn(initialMarking, source)) {
    throw notWorkflow(
      `The initial marking is ${describe(initialMarking)}; a workflow net starts with one token on its source place "${source}".`,
    );
  }
  if (!isOneTokenOn(net.finalMarking, sink)) {
    throw notWorkflow(
      `The final marking is ${describe(net.finalMarking)}; a workflow net ends with one token on its sink place "${sink}".`,
    );
  }
  return { net: { ...net, initialMarking, finalMarking: { [sink]: 1 } }, source, sink };
}

function reach(start: string, next: Map<string, string[]>): Set<string> {
  const seen = new Set([start]);
  const stack = [start];
  while (stack.length > 0) {
    for (const node of next.get(stack.pop()!) ?? []) {
      if (!seen.has(node)) {
        seen.add(node);
        stack.push(node);
      }
    }
  }
  return seen;
}

function isOneTokenOn(marking: Record<string, number>, place: string): boolean {
  const marked = Object.entries(marking).filter(([, tokens]) => tokens > 0);
  return marked.length === 1 && marked[0][0] === place && marked[0][1] === 1;
}

function describe(marking: Record<string, number>): string {
  const marked = Object.entries(marking).filter(([, tokens]) => tokens > 0);
  if (marked.length === 0) return 'empty';
  return `${marked
    .slice(0, LISTED)
    .map(([place, tokens]) => `${tokens} on "${place}"`)
    .join(', ')}${more(marked)}`;
}

function listed(ids: string[]): string {
  return ids.length === 0
    ? ''
    : ` (${ids
        .slice(0, LISTED)
        .map((id) => `"${id}"`)
        .join(', ')}${more(ids)})`;
}

function more(items: unknown[]): string {
  return items.length > LISTED ? ` and ${items.length - LISTED} more` : '';
}

function notWorkflow(message: string): ModelError {
  return new ModelError('NOT_A_WORKFLOW_NET', message);
}
