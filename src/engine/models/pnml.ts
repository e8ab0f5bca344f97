import { MODEL_LIMITS, ModelError } from './modelError';
import type { PetriArc, PetriNet, PetriPlace, PetriTransition } from './petriNet';
import { childNamed, childrenNamed, escapeXml, parseXml, type XmlElement } from './xml';

/** The activity value of pm4py's and ProM's `<toolspecific>` marker for a silent transition. */
const INVISIBLE = '$invisible$';

/**
 * Reads a PNML place/transition net (ISO/IEC 15909-2) into a `PetriNet`, safely (see `parseXml`).
 *
 * - The first and only `<net>` is read; places, transitions and arcs may sit directly in it or in
 *   (nested) `<page>`s. Reference nodes are refused.
 * - A transition is silent when it has no name (or an empty one), or carries a `<toolspecific>`
 *   with `activity="$invisible$"`, as pm4py and ProM write them; otherwise its name is its activity.
 * - An arc's weight is its `<inscription>` (1 when absent); an arc must join a place and a transition.
 * - The initial marking is every place's `<initialMarking>`.
 * - The final marking: PNML core has none. pm4py and ProM write one in `<finalmarkings>`; when it
 *   is there and not empty its first `<marking>` is used, otherwise every sink place (a place
 *   without outgoing arcs) gets one token.
 */
export function parsePnml(input: string | Buffer): PetriNet {
  return pnmlToNet(parseXml(input, 'PNML'));
}

/** The Petri net of a PNML document already read as XML (see `parsePnml`). */
export function pnmlToNet(root: XmlElement): PetriNet {
  if (root.name !== 'pnml') throw invalid(`The root element is <${root.name}>, not <pnml>.`);
  const nets = childrenNamed(root, 'net');
  if (nets.length === 0) throw invalid('The PNML file has no <net>.');
  if (nets.length > 1) throw invalid(`The PNML file holds ${nets.length} nets; upload one net per file.`);
  const net = nets[0];

  const places: PetriPlace[] = [];
  const transitions: PetriTransition[] = [];
  const arcElements: XmlElement[] = [];
  const initialMarking: Record<string, number> = {};
  const ids = new Set<string>();
  const claim = (element: XmlElement): string => {
    const id = element.attributes.id;
    if (!id) throw invalid(`A <${element.name}> has no id.`);
    if (ids.has(id)) throw invalid(`The id "${id}" is used by more than one place or transition.`);
    if (ids.size >= MODEL_LIMITS.maxNodes) {
      throw invalid(`The net has more than ${MODEL_LIMITS.maxNodes} places and transitions.`);
    }
    ids.add(id);
    return id;
  };

  const visit = (container: XmlElement) => {
    for (const element of container.children) {
      if (element.name === 'page') visit(element);
      else if (element.name === 'place') {
        const id = claim(element);
        const name = nameOf(element);
        places.push(name === undefined ? { id } : { id, name });
        const marking = childNamed(element, 'initialMarking');
        if (marking) {
          const tokens = count(textOf(marking), `the initial marking of place "${id}"`, 0);
          if (tokens > 0) initialMarking[id] = tokens;
        }
      } else if (element.name === 'transition') {
        const id = claim(element);
        const name = nameOf(element);
        const silent =
          name === undefined ||
          name.trim() === '' ||
          childrenNamed(element, 'toolspecific').some((tool) => tool.attributes.activity === INVISIBLE);
        transitions.push({ id, label: silent ? null : name });
      } else if (element.name === 'arc') {
        if (arcElements.length >= MODEL_LIMITS.maxArcs) {
          throw invalid(`The net has more than ${MODEL_LIMITS.maxArcs} arcs.`);
        }
        arcElements.push(element);
      } else if (element.name === 'referencePlace' || element.name === 'referenceTransition') {
        throw new ModelError(
          'UNSUPPORTED_MODEL_ELEMENT',
          `PNML <${element.name}> (id "${element.attributes.id ?? ''}") is not supported; flatten the net's pages.`,
        );
      }
    }
  };
  visit(net);

  const arcs = readArcs(arcElements, places, transitions);
  const finalMarking = readFinalMarking(net, places, arcs);
  return { places, transitions, arcs, initialMarking, finalMarking };
}

function readArcs(elements: XmlElement[], places: PetriPlace[], transitions: PetriTransition[]): PetriArc[] {
  const placeIds = new Set(places.map((place) => place.id));
  const transitionIds = new Set(transitions.map((transition) => transition.id));
  // Two arcs between the same nodes add up, as a multiset of arcs does.
  const byEnds = new Map<string, PetriArc>();
  for (const element of elements) {
    const { id = '', source, target } = element.attributes;
    const what = `arc "${id}"`;
    if (!source || !target) throw invalid(`The ${what} has no source or no target.`);
    for (const end of [source, target]) {
      if (!placeIds.has(end) && !transitionIds.has(end))
        throw invalid(`The ${what} refers to "${end}", no node of the net.`);
    }
    if (placeIds.has(source) === placeIds.has(target)) {
      throw invalid(`The ${what} joins "${source}" and "${target}"; an arc must join a place and a transition.`);
    }
    const inscription = childNamed(element, 'inscription');
    const weight = inscription ? count(textOf(inscription), `the weight of ${what}`, 1) : 1;
    const key = `${source}\u0000${target}`;
    const known = byEnds.get(key);
    if (known) {
      known.weight = (known.weight ?? 1) + weight;
      if (known.weight > MODEL_LIMITS.maxTokens)
        throw invalid(`The arcs from "${source}" to "${target}" weigh more than ${MODEL_LIMITS.maxTokens}.`);
    } else byEnds.set(key, weight === 1 ? { source, target } : { source, target, weight });
  }
  return [...byEnds.values()];
}

function readFinalMarking(net: XmlElement, places: PetriPlace[], arcs: PetriArc[]): Record<string, number> {
  const placeIds = new Set(places.map((place) => place.id));
  const written = childNamed(net, 'finalmarkings');
  const marking = written && childNamed(written, 'marking');
  if (marking) {
    const final: Record<string, number> = {};
    for (const place of childrenNamed(marking, 'place')) {
      const id = place.attributes.idref;
      if (!id || !placeIds.has(id)) throw invalid(`The final marking refers to "${id ?? ''}", no place of the net.`);
      const tokens = count(textOf(place), `the final marking of place "${id}"`, 0);
      if (tokens > 0) final[id] = (final[id] ?? 0) + tokens;
    }
    // An empty <marking/> says nothing: fall back to the sink places as without one.
    if (Object.keys(final).length > 0) return final;
  }
  const withOutgoing = new Set(arcs.filter((arc) => placeIds.has(arc.source)).map((arc) => arc.source));
  const final: Record<string, number> = {};
  for (const place of places) if (!withOutgoing.has(place.id)) final[place.id] = 1;
  return final;
}

/** The text of a `<name><text>` (undefined without one). */
function nameOf(element: XmlElement): string | undefined {
  const name = childNamed(element, 'name');
  if (!name) return undefined;
  const text = childNamed(name, 'text');
  if (!text) return undefined;
  if (text.text.length > MODEL_LIMITS.maxNameChars) {
    throw invalid(
      `The name of "${element.attributes.id ?? ''}" is longer than ${MODEL_LIMITS.maxNameChars} characters.`,
    );
  }
  return text.text;
}

/** The text of a `<text>` child (a marking, an inscription), or the element's own text. */
function textOf(element: XmlElement): string {
  return (childNamed(element, 'text') ?? element).text.trim();
}

function count(text: string, what: string, min: number): number {
  if (!/^\d+$/.test(text)) throw invalid(`${capitalise(what)} is "${text.slice(0, 40)}", not a whole number.`);
  const value = Number(text);
  if (value < min || value > MODEL_LIMITS.maxTokens) {
    throw invalid(
      `${capitalise(what)} is ${text.slice(0, 40)}; it must be between ${min} and ${MODEL_LIMITS.maxTokens}.`,
    );
  }
  return value;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function invalid(message: string): ModelError {
  return new ModelError('INVALID_MODEL_FILE', message);
}

/**
 * Writes a net as PNML in the shape pm4py writes (one page, `<finalmarkings>`, silent transitions
 * named by their id and marked `$invisible$`), which pm4py, ProM and `parsePnml` read back.
 */
export function writePnml(net: PetriNet, name = 'net'): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<pnml>',
    '  <net id="net" type="http://www.pnml.org/version-2009/grammar/pnmlcoremodel">',
    `    <name><text>${escapeXml(name)}</text></name>`,
    '    <page id="page">',
  ];
  for (const place of net.places) {
    lines.push(`      <place id="${escapeXml(place.id)}">`);
    if (place.name !== undefined) lines.push(`        <name><text>${escapeXml(place.name)}</text></name>`);
    const tokens = net.initialMarking[place.id];
    if (tokens) lines.push(`        <initialMarking><text>${tokens}</text></initialMarking>`);
    lines.push('      </place>');
  }
  for (const transition of net.transitions) {
    lines.push(`      <transition id="${escapeXml(transition.id)}">`);
    if (transition.label === null) {
      lines.push(`        <name><text>${escapeXml(transition.id)}</text></name>`);
      lines.push(
        `        <toolspecific tool="ProM" version="6.4" activity="${INVISIBLE}" localNodeID="${escapeXml(transition.id)}"/>`,
      );
    } else lines.push(`        <name><text>${escapeXml(transition.label)}</text></name>`);
    lines.push('      </transition>');
  }
  net.arcs.forEach((arc, index) => {
    const open = `      <arc id="arc${index}" source="${escapeXml(arc.source)}" target="${escapeXml(arc.target)}"`;
    if ((arc.weight ?? 1) === 1) lines.push(`${open}/>`);
    else lines.push(`${open}>`, `        <inscription><text>${arc.weight}</text></inscription>`, '      </arc>');
  });
  lines.push('    </page>', '    <finalmarkings>', '      <marking>');
  for (const [place, tokens] of Object.entries(net.finalMarking)) {
    if (tokens > 0) lines.push(`        <place idref="${escapeXml(place)}"><text>${tokens}</text></place>`);
  }
  lines.push('      </marking>', '    </finalmarkings>', '  </net>', '</pnml>', '');
  return lines.join('\n');
}
