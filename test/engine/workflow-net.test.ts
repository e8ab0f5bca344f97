import fs from 'node:fs';
import path from 'node:path';
import { parseBpmn } from '../../src/engine/models/bpmn';
import { ModelError } from '../../src/engine/models/modelError';
import type { PetriNet } from '../../src/engine/models/petriNet';
import { parsePnml } from '../../src/engine/models/pnml';
import { MAX_DRAWN_NODES, renderPetriNet } from '../../src/engine/models/svg';
import { checkWorkflowNet } from '../../src/engine/models/workflowNet';
import { DRAW_TIMEOUT_MS } from '../../src/domain/models';
import { runInThread, ThreadTimeoutError } from '../../src/threads/pool';
import { SHARED_DATA } from '../support/shared-data';

const DIR = path.join(SHARED_DATA, 'conformance');

/** A net from `place>transition` / `transition>place` arcs; places are named p*, the rest are transitions labelled by their id. */
function net(
  arcs: string[],
  initial: Record<string, number> = { i: 1 },
  final: Record<string, number> = { o: 1 },
): PetriNet {
  const nodes = new Set(arcs.flatMap((a) => a.split('>')));
  const isPlace = (id: string) => id === 'i' || id === 'o' || id.startsWith('p');
  return {
    places: [...nodes].filter(isPlace).map((id) => ({ id })),
    transitions: [...nodes].filter((id) => !isPlace(id)).map((id) => ({ id, label: id })),
    arcs: arcs.map((a) => {
      const [source, target] = a.split('>');
      return { source, target };
    }),
    initialMarking: initial,
    finalMarking: final,
  };
}

function refusal(n: PetriNet): ModelError {
  try {
    checkWorkflowNet(n);
  } catch (err) {
    if (err instanceof ModelError) return err;
    throw err;
  }
  throw new Error('accepted as a workflow net');
}

/** A sequence of `n` visible transitions: n + 1 places. */
function chain(n: number): PetriNet {
  const arcs: string[] = [];
  for (let k = 0; k < n; k++) arcs.push(`${k === 0 ? 'i' : `p${k}`}>t${k}`, `t${k}>${k === n - 1 ? 'o' : `p${k + 1}`}`);
  return net(arcs);
}

describe('checkWorkflowNet', () => {
  test.each(['running-example', 'roadtraffic100traces', 'receipt', 'sepsis', 'bpic2012-variants'])(
    'the shared %s model is a workflow net in both formats',
    (name) => {
      const pnml = checkWorkflowNet(parsePnml(fs.readFileSync(path.join(DIR, `${name}.model.pnml`))));
      expect([pnml.source, pnml.sink]).toEqual(['source', 'sink']);
      const bpmn = checkWorkflowNet(parseBpmn(fs.readFileSync(path.join(DIR, `${name}.model.bpmn`))));
      expect(bpmn.net.initialMarking).toEqual({ [bpmn.source]: 1 });
      expect(bpmn.net.finalMarking).toEqual({ [bpmn.sink]: 1 });
    },
  );

  test('an empty initial marking is read as one token on the source place', () => {
    expect(checkWorkflowNet(net(['i>a', 'a>o'], {})).net.initialMarking).toEqual({ i: 1 });
  });

  const cases: [string, PetriNet, RegExp][] = [
    [
      'no transitions',
      { places: [{ id: 'i' }], transitions: [], arcs: [], initialMarking: { i: 1 }, finalMarking: { i: 1 } },
      /no transitions/,
    ],
    ['two source places', net(['i>a', 'p1>a', 'a>o']), /2 source places .*\("i", "p1"\); a workflow net has one/],
    ['two sink places', net(['i>a', 'a>o', 'a>p1']), /2 sink places .*\("o", "p1"\)/],
    ['no sink place (a cycle)', net(['i>a', 'a>p1', 'p1>b', 'b>p1']), /0 sink places/],
    [
      'a transition without input place',
      net(['i>a', 'a>o', 'b>p1', 'p1>a']),
      /2 node\(s\) are not on a path .*: "p1", "b" \(b\)/,
    ],
    ['a transition that leads nowhere', net(['i>a', 'a>o', 'p1>c', 'c>p1', 'a>p1']), /"c" \(c\)/],
    ['an initial marking elsewhere', net(['i>a', 'a>o'], { o: 1 }), /initial marking is 1 on "o"; .* source place "i"/],
    ['two initial tokens', net(['i>a', 'a>o'], { i: 2 }), /initial marking is 2 on "i"/],
    ['an empty final marking', net(['i>a', 'a>o'], { i: 1 }, {}), /final marking is empty/],
  ];
  test.each(cases)('%s is not a workflow net', (_name, n, message) => {
    const err = refusal(n);
    expect(err.code).toBe('NOT_A_WORKFLOW_NET');
    expect(err.message).toMatch(message);
  });

  test('a message lists five stray nodes and counts the rest', () => {
    const arcs = [
      'i>a',
      'a>o',
      ...Array.from({ length: 8 }, (_, k) => [`a>p${k}`, `p${k}>x${k}`, `x${k}>p${k}`]).flat(),
    ];
    expect(refusal(net(arcs)).message).toMatch(/16 node\(s\) .* and 11 more\.$/);
  });
});

describe('renderPetriNet', () => {
  test('draws places, visible and silent transitions as SVG', async () => {
    const sepsis = parsePnml(fs.readFileSync(path.join(DIR, 'sepsis.model.pnml')));
    const svg = await renderPetriNet(sepsis);
    expect(svg).toMatch(/^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/);
    expect(svg.match(/class="node place"/g)).toHaveLength(sepsis.places.length);
    expect(svg.match(/class="node transition"/g)).toHaveLength(8);
    expect(svg.match(/class="node silent"/g)).toHaveLength(5);
    expect(svg).toContain('ER Sepsis Triage');
  });

  test(`a net of up to ${MAX_DRAWN_NODES} nodes is drawn in seconds; a larger one gets a note instead`, async () => {
    const largest = chain(MAX_DRAWN_NODES / 2 - 1);
    expect(largest.places.length + largest.transitions.length).toBe(MAX_DRAWN_NODES - 1);
    const started = Date.now();
    const svg = await renderPetriNet(largest);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(svg.match(/class="node transition"/g)).toHaveLength(largest.transitions.length);
    const note = await renderPetriNet(chain(MAX_DRAWN_NODES / 2));
    expect(note).toMatch(/^<svg[^>]*>.*1501 places and transitions, more than the 1500 that are drawn/);
  }, 30_000);
});

describe('drawing in a worker thread', () => {
  /** A tangle of 1,400 nodes (random arcs): Graphviz takes minutes on it, far past any time limit. */
  function tangle(): PetriNet {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const places = Array.from({ length: 500 }, (_, i) => ({ id: `p${i}` }));
    const transitions = Array.from({ length: 900 }, (_, i) => ({ id: `t${i}`, label: i % 3 ? `a${i}` : null }));
    const arcs = transitions.flatMap((t) => [
      { source: `p${Math.floor(random() * 500)}`, target: t.id },
      { source: t.id, target: `p${Math.floor(random() * 500)}` },
    ]);
    return { places, transitions, arcs, initialMarking: { p0: 1 }, finalMarking: {} };
  }

  test('a drawing that takes longer than its time limit is stopped', async () => {
    const started = Date.now();
    await expect(runInThread('drawModel', { net: tangle() }, 'answer', 500)).rejects.toBeInstanceOf(ThreadTimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test('a drawing within its time limit comes back', async () => {
    const svg = await runInThread('drawModel', { net: chain(3) }, 'answer', DRAW_TIMEOUT_MS);
    expect(svg.match(/class="node transition"/g)).toHaveLength(3);
  });
});
