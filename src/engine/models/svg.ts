import { dotToSvg, q } from '../render';
import type { PetriNet } from './petriNet';

/**
 * The most places and transitions drawn; a larger net is answered with an SVG that says so.
 * Block-structured nets (what discovery makes, what BPMN translates to) of this size lay out in
 * seconds; a tangle of random arcs can take Graphviz minutes, which is why the service draws in a
 * worker thread with a time limit (`DRAW_TIMEOUT_MS` in src/domain/models.ts).
 */
export const MAX_DRAWN_NODES = 1_500;

/**
 * Draws a Petri net as SVG with Graphviz, left to right: places as circles (the initial marking's
 * tokens shown, final places doubled), visible transitions as boxes named by their activity,
 * silent transitions as narrow black bars, arc weights above 1 written on the arc.
 */
export async function renderPetriNet(net: PetriNet): Promise<string> {
  const nodes = net.places.length + net.transitions.length;
  if (nodes > MAX_DRAWN_NODES) return tooLarge(nodes);
  return dotToSvg(petriNetDot(net));
}

/** The DOT text of a Petri net (see `renderPetriNet`). */
export function petriNetDot(net: PetriNet): string {
  const ids = new Map<string, string>();
  const lines = [
    'digraph petrinet {',
    '  graph [rankdir=LR, ranksep=0.35, nodesep=0.25, fontname="Helvetica"];',
    '  node [fontname="Helvetica", fontsize=11, penwidth=0.9, color="#4a6a94"];',
    '  edge [arrowsize=0.6, color="#555555", fontname="Helvetica", fontsize=9];',
  ];
  net.places.forEach((place, i) => {
    const id = `p${i}`;
    ids.set(place.id, id);
    const tokens = net.initialMarking[place.id] ?? 0;
    const label = tokens === 0 ? '' : tokens === 1 ? '●' : String(tokens);
    const shape = net.finalMarking[place.id] ? 'doublecircle' : 'circle';
    const fill = tokens > 0 ? '#dff0d8' : net.finalMarking[place.id] ? '#f6dcdc' : 'white';
    lines.push(
      `  ${id} [shape=${shape}, width=0.3, fixedsize=true, style=filled, fillcolor="${fill}", label=${q(label)}, tooltip=${q(place.name ?? place.id)}, class="place"];`,
    );
  });
  net.transitions.forEach((transition, i) => {
    const id = `t${i}`;
    ids.set(transition.id, id);
    if (transition.label === null) {
      lines.push(
        `  ${id} [shape=box, width=0.12, height=0.4, fixedsize=true, style=filled, fillcolor="#222222", label="", tooltip=${q(`silent ${transition.id}`)}, class="silent"];`,
      );
    } else {
      lines.push(
        `  ${id} [shape=box, style="rounded,filled", fillcolor="#e6eef8", height=0.4, margin="0.1,0.03", label=${q(transition.label)}, tooltip=${q(transition.label)}, class="transition"];`,
      );
    }
  });
  for (const arc of net.arcs) {
    const weight = arc.weight ?? 1;
    const label = weight > 1 ? ` [label=${q(String(weight))}]` : '';
    lines.push(`  ${ids.get(arc.source)} -> ${ids.get(arc.target)}${label};`);
  }
  lines.push('}');
  return lines.join('\n');
}

function tooLarge(nodes: number): string {
  return noteSvg(`This model has ${nodes} places and transitions, more than the ${MAX_DRAWN_NODES} that are drawn.`);
}

/** An SVG of one line of text, in place of a drawing that is not made. */
export function noteSvg(text: string): string {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="40" viewBox="0 0 640 40"><text x="10" y="25" font-family="Helvetica" font-size="13">${escaped}</text></svg>\n`;
}
