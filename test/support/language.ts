import type { PetriNet } from '../../src/engine/models/petriNet';

/**
 * Language checks for small bounded Petri nets, by brute force: the tests' independent reading of
 * what a net accepts (a word of visible activities that some run, silent transitions free,
 * takes from the initial marking to exactly the final marking).
 */
interface Compiled {
  places: Map<string, number>;
  transitions: { label: string | null; take: [number, number][]; give: [number, number][] }[];
  initial: number[];
  final: string;
}

function compile(net: PetriNet): Compiled {
  const places = new Map(net.places.map((p, i) => [p.id, i]));
  const index = new Map(net.transitions.map((t, i) => [t.id, i]));
  const transitions = net.transitions.map((t) => ({
    label: t.label,
    take: [] as [number, number][],
    give: [] as [number, number][],
  }));
  for (const arc of net.arcs) {
    const w = arc.weight ?? 1;
    if (places.has(arc.source)) transitions[index.get(arc.target)!].take.push([places.get(arc.source)!, w]);
    else transitions[index.get(arc.source)!].give.push([places.get(arc.target)!, w]);
  }
  const vector = (marking: Record<string, number>) => {
    const m = new Array<number>(places.size).fill(0);
    for (const [id, n] of Object.entries(marking)) m[places.get(id)!] = n;
    return m;
  };
  return { places, transitions, initial: vector(net.initialMarking), final: vector(net.finalMarking).join(',') };
}

function fire(net: Compiled, m: number[], t: number): number[] | undefined {
  const { take, give } = net.transitions[t];
  if (take.some(([p, w]) => m[p] < w)) return undefined;
  const next = m.slice();
  for (const [p, w] of take) next[p] -= w;
  for (const [p, w] of give) next[p] += w;
  return next;
}

/** Every marking reachable from `start` by silent transitions, at most `cap` of them. */
function closure(net: Compiled, start: number[][], cap: number): Map<string, number[]> {
  const seen = new Map(start.map((m) => [m.join(','), m]));
  const stack = [...start];
  while (stack.length > 0) {
    const m = stack.pop()!;
    net.transitions.forEach((t, i) => {
      if (t.label !== null) return;
      const next = fire(net, m, i);
      if (!next) return;
      const key = next.join(',');
      if (seen.has(key)) return;
      if (seen.size >= cap) throw new Error(`more than ${cap} markings: is the net bounded?`);
      seen.set(key, next);
      stack.push(next);
    });
  }
  return seen;
}

function step(net: Compiled, markings: Map<string, number[]>, label: string, cap: number): Map<string, number[]> {
  const next: number[][] = [];
  for (const m of markings.values()) {
    net.transitions.forEach((t, i) => {
      if (t.label !== label) return;
      const fired = fire(net, m, i);
      if (fired) next.push(fired);
    });
  }
  return closure(net, next, cap);
}

function labelsEnabled(net: Compiled, markings: Map<string, number[]>, into: Set<string>) {
  for (const m of markings.values()) {
    net.transitions.forEach((t, i) => {
      if (t.label !== null && fire(net, m, i)) into.add(t.label);
    });
  }
}

/** Whether the net accepts the trace. */
export function accepts(net: PetriNet, trace: string[], cap = 100_000): boolean {
  const c = compile(net);
  let markings = closure(c, [c.initial], cap);
  for (const activity of trace) {
    markings = step(c, markings, activity, cap);
    if (markings.size === 0) return false;
  }
  return markings.has(c.final);
}

/**
 * Decides whether two bounded nets accept the same words, by exploring both nets' determinised
 * state spaces (sets of markings after each word) side by side. Returns a word that one accepts
 * and the other does not, or undefined when the languages are equal.
 */
export function languageDifference(a: PetriNet, b: PetriNet, cap = 200_000): string[] | undefined {
  const ca = compile(a);
  const cb = compile(b);
  const key = (x: Map<string, number[]>, y: Map<string, number[]>) =>
    `${[...x.keys()].sort().join(';')}|${[...y.keys()].sort().join(';')}`;
  const first = { x: closure(ca, [ca.initial], cap), y: closure(cb, [cb.initial], cap), word: [] as string[] };
  const seen = new Set([key(first.x, first.y)]);
  const queue = [first];
  while (queue.length > 0) {
    const { x, y, word } = queue.shift()!;
    if (x.has(ca.final) !== y.has(cb.final)) return word;
    const labels = new Set<string>();
    labelsEnabled(ca, x, labels);
    labelsEnabled(cb, y, labels);
    for (const label of [...labels].sort()) {
      const next = { x: step(ca, x, label, cap), y: step(cb, y, label, cap), word: [...word, label] };
      const k = key(next.x, next.y);
      if (seen.has(k)) continue;
      if (seen.size >= cap) throw new Error(`more than ${cap} state pairs`);
      seen.add(k);
      queue.push(next);
    }
  }
  return undefined;
}

/** The accepted words of at most `maxLength` activities, sorted, each joined by spaces. */
export function languageUpTo(net: PetriNet, maxLength: number, cap = 100_000): string[] {
  const c = compile(net);
  const words: string[] = [];
  const walk = (markings: Map<string, number[]>, word: string[]) => {
    if (markings.has(c.final)) words.push(word.join(' '));
    if (word.length === maxLength) return;
    const labels = new Set<string>();
    labelsEnabled(c, markings, labels);
    for (const label of labels) walk(step(c, markings, label, cap), [...word, label]);
  };
  walk(closure(c, [c.initial], cap), []);
  return words.sort();
}
