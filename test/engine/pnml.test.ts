import fs from 'node:fs';
import path from 'node:path';
import { MODEL_LIMITS, ModelError } from '../../src/engine/models/modelError';
import { visibleActivities, type PetriNet } from '../../src/engine/models/petriNet';
import { parsePnml, writePnml } from '../../src/engine/models/pnml';
import { SHARED_DATA } from '../support/shared-data';

const DIR = path.join(SHARED_DATA, 'conformance');
const MODELS = fs
  .readdirSync(DIR)
  .filter((file) => file.endsWith('.model.pnml'))
  .map((file) => file.replace('.model.pnml', ''));

/** The counts the reference file gives (bpic2012-variants has no reference file; its README gives 29 and 13). */
function expectedCounts(name: string): { places?: number; transitions: number; visibleTransitions: number } {
  const file = path.join(DIR, `${name}.conformance.json`);
  if (!fs.existsSync(file)) return { transitions: 29, visibleTransitions: 13 };
  const reference = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>;
  return {
    places: reference.places,
    transitions: reference.transitions,
    visibleTransitions: reference.visibleTransitions,
  };
}

function refusal(input: string | Buffer): ModelError {
  try {
    parsePnml(input);
  } catch (err) {
    if (err instanceof ModelError) return err;
    throw err;
  }
  throw new Error('the PNML was accepted');
}

/** A one-transition workflow net, with `extra` spliced into its page. */
function tiny(extra = '', transition = '<transition id="t"><name><text>a</text></name></transition>'): string {
  return `<?xml version="1.0"?><pnml><net id="n"><page id="p">
    <place id="i"><initialMarking><text>1</text></initialMarking></place><place id="o"/>
    ${transition}<arc id="a1" source="i" target="t"/><arc id="a2" source="t" target="o"/>${extra}</page></net></pnml>`;
}

describe('parsePnml on the shared models', () => {
  test('the shared folder has the five models', () => {
    expect(MODELS.sort()).toEqual([
      'bpic2012-variants',
      'receipt',
      'roadtraffic100traces',
      'running-example',
      'sepsis',
    ]);
  });

  test.each(MODELS)('%s has the reference counts of places, transitions and visible transitions', (name) => {
    const net = parsePnml(fs.readFileSync(path.join(DIR, `${name}.model.pnml`)));
    const want = expectedCounts(name);
    if (want.places !== undefined) expect(net.places).toHaveLength(want.places);
    expect(net.transitions).toHaveLength(want.transitions);
    expect(net.transitions.filter((t) => t.label !== null)).toHaveLength(want.visibleTransitions);
    expect(net.initialMarking).toEqual({ source: 1 });
    expect(net.finalMarking).toEqual({ sink: 1 });
  });

  test.each(MODELS)('%s written as PNML reads back as the same net', (name) => {
    const net = parsePnml(fs.readFileSync(path.join(DIR, `${name}.model.pnml`), 'utf8'));
    expect(parsePnml(writePnml(net, name))).toEqual(net);
  });

  test('the running example reads its activities and silent transitions as pm4py marks them', () => {
    const sepsis = parsePnml(fs.readFileSync(path.join(DIR, 'sepsis.model.pnml')));
    const silent = sepsis.transitions.filter((t) => t.label === null).map((t) => t.id);
    expect(silent).toEqual(expect.arrayContaining(['tauSplit_2', 'tauJoin_3']));
    const running = parsePnml(fs.readFileSync(path.join(DIR, 'running-example.model.pnml')));
    expect(visibleActivities(running)).toEqual([
      'check ticket',
      'decide',
      'examine casually',
      'examine thoroughly',
      'pay compensation',
      'register request',
      'reject request',
    ]);
  });
});

describe('parsePnml semantics', () => {
  test('without <finalmarkings> the sink places carry the final marking', () => {
    expect(parsePnml(tiny()).finalMarking).toEqual({ o: 1 });
  });

  test('a transition without a name is silent, and so is one marked $invisible$', () => {
    expect(parsePnml(tiny('', '<transition id="t"/>')).transitions).toEqual([{ id: 't', label: null }]);
    const marked =
      '<transition id="t"><name><text>tau</text></name><toolspecific tool="ProM" activity="$invisible$"/></transition>';
    expect(parsePnml(tiny('', marked)).transitions).toEqual([{ id: 't', label: null }]);
  });

  test('inscriptions are arc weights, and arcs between the same nodes add up', () => {
    const text = tiny().replace(
      '<arc id="a2" source="t" target="o"/>',
      '<arc id="a2" source="t" target="o"><inscription><text>2</text></inscription></arc><arc id="a3" source="t" target="o"/>',
    );
    const net: PetriNet = parsePnml(text);
    expect(net.arcs).toEqual([
      { source: 'i', target: 't' },
      { source: 't', target: 'o', weight: 3 },
    ]);
    expect(parsePnml(writePnml(net))).toEqual(net);
  });

  test('places and transitions in nested pages are read', () => {
    const text = `<pnml><net id="n"><page id="p1"><place id="i"><initialMarking><text>1</text></initialMarking></place>
      <page id="p2"><transition id="t"><name><text>a</text></name></transition><place id="o"/></page>
      <arc id="x" source="i" target="t"/><arc id="y" source="t" target="o"/></page></net></pnml>`;
    const net = parsePnml(text);
    expect(net.places.map((p) => p.id)).toEqual(['i', 'o']);
    expect(net.transitions).toEqual([{ id: 't', label: 'a' }]);
  });

  test('names are written escaped and read back exactly', () => {
    const net = parsePnml(
      tiny('', '<transition id="t&amp;1"><name><text>a &lt;b&gt; &amp; "c"</text></name></transition>')
        .replace(/target="t"/, 'target="t&amp;1"')
        .replace(/source="t"/, 'source="t&amp;1"'),
    );
    expect(net.transitions).toEqual([{ id: 't&1', label: 'a <b> & "c"' }]);
    expect(parsePnml(writePnml(net))).toEqual(net);
  });
});

describe('parsePnml refuses hostile and broken files with a message that names the problem', () => {
  const cases: [string, string | Buffer, RegExp][] = [
    [
      'a DOCTYPE',
      `<?xml version="1.0"?><!DOCTYPE pnml [<!ENTITY a "x">]><pnml><net id="n">&a;</net></pnml>`,
      /DTDs and entity/,
    ],
    [
      'an entity bomb',
      `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><pnml>&lol2;</pnml>`,
      /DTDs and entity/,
    ],
    ['an external entity', `<!DOCTYPE pnml SYSTEM "file:///etc/passwd"><pnml/>`, /DTDs and entity/],
    ['an undeclared entity', `<pnml><net id="n"><name><text>&xxe;</text></name></net></pnml>`, /not well-formed/],
    ['nesting too deep', `${'<page>'.repeat(MODEL_LIMITS.maxDepth + 1)}`, /nests elements more than 64 deep/],
    ['NUL bytes', tiny().replace('<place id="o"/>', '<place id="o"/>\u0000'), /NUL bytes/],
    [
      'bytes that are not UTF-8',
      Buffer.from([0x3c, 0x70, 0x6e, 0x6d, 0x6c, 0x3e, 0xff, 0xfe, 0x3c, 0x2f]),
      /not UTF-8/,
    ],
    ['text that is not XML', 'place,transition\np1,t1\n', /not well-formed/],
    ['an empty file', '  \n', /empty/],
    ['unclosed elements', '<pnml><net id="n">', /not well-formed/],
    ['another root', '<bpmn/>', /root element is <bpmn>, not <pnml>/],
    ['no net', '<pnml/>', /no <net>/],
    ['two nets', '<pnml><net id="a"/><net id="b"/></pnml>', /2 nets/],
    ['an arc between two places', tiny('<arc id="bad" source="i" target="o"/>'), /arc "bad" joins "i" and "o"/],
    ['an arc to nothing', tiny('<arc id="bad" source="t" target="nowhere"/>'), /arc "bad" refers to "nowhere"/],
    ['a duplicate id', tiny('<place id="t"/>'), /"t" is used by more than one/],
    ['a place without id', tiny('<place/>'), /A <place> has no id/],
    [
      'a weight that is not a number',
      tiny('<arc id="w" source="t" target="i"><inscription><text>two</text></inscription></arc>'),
      /weight of arc "w" is "two"/,
    ],
    [
      'a zero weight',
      tiny('<arc id="w" source="t" target="i"><inscription><text>0</text></inscription></arc>'),
      /between 1 and 1000/,
    ],
    [
      'a marking too large',
      tiny('<place id="m"><initialMarking><text>1001</text></initialMarking></place>'),
      /between 0 and 1000/,
    ],
    [
      'a negative marking',
      tiny('<place id="m"><initialMarking><text>-1</text></initialMarking></place>'),
      /not a whole number/,
    ],
    [
      'a final marking of no place',
      tiny(
        '</page><finalmarkings><marking><place idref="zz"><text>1</text></place></marking></finalmarkings><page id="q">',
      ),
      /"zz", no place/,
    ],
  ];
  test.each(cases)('%s', (_name, input, message) => {
    const err = refusal(input);
    expect(err.code).toBe('INVALID_MODEL_FILE');
    expect(err.message).toMatch(message);
  });

  test('a reference place is an unsupported element', () => {
    const err = refusal(tiny('<referencePlace id="r" ref="i"/>'));
    expect(err.code).toBe('UNSUPPORTED_MODEL_ELEMENT');
    expect(err.message).toMatch(/referencePlace/);
  });

  test(`a file over ${MODEL_LIMITS.maxBytes} bytes is refused before it is parsed`, () => {
    const big = tiny(`<!--${'x'.repeat(MODEL_LIMITS.maxBytes)}-->`);
    expect(refusal(big).message).toMatch(/larger than 8388608 bytes/);
    expect(refusal(Buffer.from(big)).message).toMatch(/larger than 8388608 bytes/);
  });

  test(`more than ${MODEL_LIMITS.maxElements} elements are refused`, () => {
    const many = `<pnml>${'<x/>'.repeat(MODEL_LIMITS.maxElements)}</pnml>`;
    expect(refusal(many).message).toMatch(/more than 200000 elements/);
  });

  test(`more than ${MODEL_LIMITS.maxNodes} places and transitions are refused`, () => {
    const places = Array.from({ length: MODEL_LIMITS.maxNodes + 1 }, (_, i) => `<place id="p${i}"/>`).join('');
    expect(refusal(`<pnml><net id="n">${places}</net></pnml>`).message).toMatch(
      /more than 10000 places and transitions/,
    );
  });

  test(`a name over ${MODEL_LIMITS.maxNameChars} characters is refused`, () => {
    const long = `<transition id="t"><name><text>${'a'.repeat(MODEL_LIMITS.maxNameChars + 1)}</text></name></transition>`;
    expect(refusal(tiny('', long)).message).toMatch(/name of "t" is longer than 1000 characters/);
  });
});
