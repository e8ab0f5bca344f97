import fs from 'node:fs';
import path from 'node:path';
import { bpmnGraph, parseBpmn, writeBpmn } from '../../src/engine/models/bpmn';
import { writeBpmnLaidOut } from '../../src/engine/models/bpmnLayout';
import { MODEL_LIMITS, ModelError } from '../../src/engine/models/modelError';
import { visibleActivities, type PetriNet } from '../../src/engine/models/petriNet';
import { parsePnml } from '../../src/engine/models/pnml';
import { checkWorkflowNet } from '../../src/engine/models/workflowNet';
import { accepts, languageDifference, languageUpTo } from '../support/language';
import { SHARED_DATA } from '../support/shared-data';

const DIR = path.join(SHARED_DATA, 'conformance');
const MODELS = ['running-example', 'roadtraffic100traces', 'receipt', 'sepsis', 'bpic2012-variants'];
const pnmlOf = (name: string) => parsePnml(fs.readFileSync(path.join(DIR, `${name}.model.pnml`)));
const bpmnOf = (name: string) => parseBpmn(fs.readFileSync(path.join(DIR, `${name}.model.bpmn`)));

interface Reference {
  perVariant: { variant: string[]; deviations: number }[];
}

/** A BPMN process of the given elements (sequence flows written `from>to#id` or `from>to`). */
function bpmn(elements: string, flows: string[] = []): string {
  const flowXml = flows
    .map((f, i) => {
      const [ends, id = `f${i}`] = f.split('#');
      const [from, to] = ends.split('>');
      return `<sequenceFlow id="${id}" sourceRef="${from}" targetRef="${to}"/>`;
    })
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" targetNamespace="t"><process id="p">${elements}${flowXml}</process></definitions>`;
}

function refusal(input: string): ModelError {
  try {
    parseBpmn(input);
  } catch (err) {
    if (err instanceof ModelError) return err;
    throw err;
  }
  throw new Error('the BPMN was accepted');
}

describe('parseBpmn on the shared models', () => {
  test.each(MODELS)('%s: the BPMN and the PNML are workflow nets with the same language', (name) => {
    const fromBpmn = checkWorkflowNet(bpmnOf(name)).net;
    const fromPnml = checkWorkflowNet(pnmlOf(name)).net;
    expect(visibleActivities(fromBpmn)).toEqual(visibleActivities(fromPnml));
    expect(languageDifference(fromBpmn, fromPnml)).toBeUndefined();
  });

  test.each(MODELS.filter((name) => name !== 'bpic2012-variants'))(
    "%s: both nets accept exactly the reference's fitting variants",
    (name) => {
      const reference = JSON.parse(fs.readFileSync(path.join(DIR, `${name}.conformance.json`), 'utf8')) as Reference;
      const fromBpmn = bpmnOf(name);
      const fromPnml = pnmlOf(name);
      for (const { variant, deviations } of reference.perVariant) {
        expect([variant, accepts(fromBpmn, variant)]).toEqual([variant, deviations === 0]);
        expect([variant, accepts(fromPnml, variant)]).toEqual([variant, deviations === 0]);
      }
    },
  );

  test.each(MODELS)('%s: the PNML net written as BPMN reads back with the same language', (name) => {
    const net = pnmlOf(name);
    const again = parseBpmn(writeBpmn(net, name));
    checkWorkflowNet(again);
    expect(languageDifference(again, net)).toBeUndefined();
  });

  test.each(MODELS)('%s: the BPMN net written as BPMN again reads back with the same language', (name) => {
    const net = bpmnOf(name);
    expect(languageDifference(parseBpmn(writeBpmn(net, name)), net)).toBeUndefined();
  });

  test('the language check finds a difference when there is one', () => {
    const net = pnmlOf('running-example');
    const other: PetriNet = {
      ...net,
      transitions: net.transitions.map((t) => (t.label === 'examine casually' ? { ...t, label: null } : t)),
    };
    expect(languageDifference(net, other)).toEqual(['register request', 'check ticket', 'decide', 'pay compensation']);
  });
});

describe('parseBpmn semantics', () => {
  const start = '<startEvent id="s"/>';
  const end = '<endEvent id="e"/>';
  const task = (id: string, name = id) => `<task id="${id}" name="${name}"/>`;
  const cases: [string, string, string[]][] = [
    ['a sequence', bpmn(start + task('a') + task('b') + end, ['s>a', 'a>b', 'b>e']), ['a b']],
    [
      'an exclusive choice with a skip',
      bpmn(start + task('a') + '<exclusiveGateway id="x"/><exclusiveGateway id="y"/>' + end, [
        's>x',
        'x>a',
        'x>y',
        'a>y',
        'y>e',
      ]),
      ['', 'a'],
    ],
    [
      'a loop through exclusive gateways',
      bpmn(start + task('a') + task('b') + '<exclusiveGateway id="x"/><exclusiveGateway id="y"/>' + end, [
        's>x',
        'x>a',
        'a>y',
        'y>b',
        'b>x',
        'y>e',
      ]),
      ['a', 'a b a', 'a b a b a'],
    ],
    [
      'parallel branches',
      bpmn(start + task('a') + task('b') + task('c') + '<parallelGateway id="x"/><parallelGateway id="y"/>' + end, [
        's>x',
        'x>a',
        'x>b',
        'a>y',
        'b>y',
        'y>c',
        'c>e',
      ]),
      ['a b c', 'b a c'],
    ],
    [
      "a task's several outgoing flows run in parallel, several incoming flows merge",
      bpmn(start + task('a') + task('b') + task('c') + task('d') + '<parallelGateway id="y"/>' + end, [
        's>a',
        'a>b',
        'a>c',
        'b>y',
        'c>y',
        'y>d',
        'd>e',
      ]),
      ['a b c d', 'a c b d'],
    ],
    [
      'a task with two incoming flows runs once for each token',
      bpmn(start + task('a') + task('b') + task('c') + '<exclusiveGateway id="x"/>' + end, [
        's>x',
        'x>a',
        'x>b',
        'a>c',
        'b>c',
        'c>e',
      ]),
      ['a c', 'b c'],
    ],
    [
      'a mixed parallel gateway, a start event with two flows and tasks of several kinds',
      bpmn(
        '<startEvent id="s"/><userTask id="a" name="A"/><serviceTask id="b" name="B"/><manualTask id="c" name="C"/>' +
          '<scriptTask id="d" name="D"><script>x</script></scriptTask><parallelGateway id="m" gatewayDirection="Mixed"/>' +
          '<parallelGateway id="y"/>' +
          end,
        ['s>a', 's>b', 'a>m', 'b>m', 'm>c', 'm>d', 'c>y', 'd>y', 'y>e'],
      ),
      ['A B C D', 'A B D C', 'B A C D', 'B A D C'],
    ],
    [
      'parallel branches into two end events put two tokens in the sink, so no run completes (documented)',
      bpmn(start + task('a') + task('b') + '<parallelGateway id="x"/><endEvent id="e2"/>' + end, [
        's>x',
        'x>a',
        'x>b',
        'a>e',
        'b>e2',
      ]),
      [],
    ],
    [
      'two start events are alternatives, a nameless task is silent',
      bpmn('<startEvent id="s1"/><startEvent id="s2"/>' + task('a') + '<task id="t"/>' + task('b') + end, [
        's1>a',
        's2>t',
        't>b',
        'a>e',
        'b>e',
      ]),
      ['a', 'b'],
    ],
    [
      'conditions, lanes, documentation and diagram data are ignored',
      `<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:di="http://www.omg.org/spec/BPMN/20100524/DI">
        <message id="m"/><process id="p"><documentation>d</documentation><laneSet id="l"><lane id="l1"/></laneSet>
        <startEvent id="s"><outgoing>f1</outgoing></startEvent><exclusiveGateway id="x" default="f3"/><task id="a" name="a"><documentation>x</documentation></task>
        <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="x"/>
        <sequenceFlow id="f2" sourceRef="x" targetRef="a"><conditionExpression>amount &gt; 5</conditionExpression></sequenceFlow>
        <sequenceFlow id="f3" sourceRef="x" targetRef="e"/><sequenceFlow id="f4" sourceRef="a" targetRef="e"/>
        <textAnnotation id="t"><text>note</text></textAnnotation></process><di:BPMNDiagram id="d"/></definitions>`,
      ['', 'a'],
    ],
  ];
  test.each(cases)('%s', (_name, text, words) => {
    const net = parseBpmn(text);
    checkWorkflowNet(net);
    expect(languageUpTo(net, 5)).toEqual(words);
  });
});

describe('parseBpmn refuses what it does not translate, naming the element', () => {
  const start = '<startEvent id="s"/>';
  const end = '<endEvent id="e"/>';
  const unsupported: [string, string, RegExp][] = [
    ['an inclusive gateway', bpmn(start + '<inclusiveGateway id="g"/>' + end), /<inclusiveGateway> "g" in the process/],
    ['a sub-process', bpmn(start + '<subProcess id="sp"/>' + end), /<subProcess> "sp"/],
    ['an intermediate event', bpmn(start + '<intermediateCatchEvent id="i"/>' + end), /<intermediateCatchEvent> "i"/],
    ['a boundary event', bpmn(start + '<boundaryEvent id="b" attachedToRef="s"/>' + end), /<boundaryEvent> "b"/],
    ['a call activity', bpmn(start + '<callActivity id="c"/>' + end), /<callActivity> "c"/],
    [
      'a timer start event',
      bpmn('<startEvent id="s"><timerEventDefinition/></startEvent>' + end),
      /<timerEventDefinition> in <startEvent> "s"/,
    ],
    [
      'a terminate end event',
      bpmn(start + '<endEvent id="e"><terminateEventDefinition id="t"/></endEvent>'),
      /<terminateEventDefinition> "t" in <endEvent> "e"/,
    ],
    [
      'a multi-instance task',
      bpmn(start + '<task id="a" name="a"><multiInstanceLoopCharacteristics/></task>' + end),
      /<multiInstanceLoopCharacteristics> in <task> "a"/,
    ],
    [
      'message flows',
      `<definitions><collaboration id="c"><participant id="p1" processRef="p"/><messageFlow id="mf" sourceRef="a" targetRef="b"/></collaboration><process id="p"/></definitions>`,
      /<messageFlow> "mf" in a collaboration/,
    ],
    [
      'a choreography',
      `<definitions><choreography id="ch"/><process id="p"/></definitions>`,
      /<choreography> "ch" in <definitions>/,
    ],
  ];
  test.each(unsupported)('%s', (_name, text, message) => {
    const err = refusal(text);
    expect(err.code).toBe('UNSUPPORTED_MODEL_ELEMENT');
    expect(err.message).toMatch(message);
  });

  const invalid: [string, string, RegExp][] = [
    ['a DOCTYPE', `<!DOCTYPE definitions [<!ENTITY x "y">]><definitions/>`, /DTDs and entity/],
    ['another root', '<pnml/>', /root element is <pnml>, not <definitions>/],
    ['no process', '<definitions/>', /no <process>/],
    ['two processes', '<definitions><process id="a"/><process id="b"/></definitions>', /2 processes/],
    ['no start event', bpmn(end), /no start event/],
    ['no end event', bpmn(start), /no end event/],
    [
      'a task without outgoing flow',
      bpmn(start + '<task id="a" name="A"/>' + end, ['s>a']),
      /task "A" \("a"\) has no outgoing/,
    ],
    [
      'a gateway without incoming flow',
      bpmn(start + '<parallelGateway id="g"/>' + end, ['s>e', 'g>e']),
      /parallel gateway "g" has no incoming/,
    ],
    [
      'a flow into a start event',
      bpmn(start + '<task id="a" name="A"/>' + end, ['s>a', 'a>s', 'a>e']),
      /start event "s" has an incoming/,
    ],
    ['a flow to nothing', bpmn(start + end, ['s>zz#f1']), /flow "f1" ends at "zz"/],
    ['a duplicate id', bpmn(start + '<task id="s" name="x"/>' + end), /"s" is used by more than one/],
    [
      'a long name',
      bpmn(start + `<task id="a" name="${'n'.repeat(MODEL_LIMITS.maxNameChars + 1)}"/>` + end),
      /name of "a" is longer than 1000/,
    ],
  ];
  test.each(invalid)('%s', (_name, text, message) => {
    const err = refusal(text);
    expect(err.code).toBe('INVALID_MODEL_FILE');
    expect(err.message).toMatch(message);
  });

  test(`a process of more than ${MODEL_LIMITS.maxNodes} elements is refused`, () => {
    const tasks = Array.from({ length: MODEL_LIMITS.maxNodes + 1 }, (_, i) => `<task id="t${i}" name="t"/>`).join('');
    expect(refusal(bpmn(tasks)).message).toMatch(/more than 10000 elements/);
  });
});

describe('writeBpmn', () => {
  test('a net that is not a workflow net is not written', () => {
    const net: PetriNet = {
      places: [{ id: 'a' }, { id: 'b' }],
      transitions: [{ id: 't', label: 'x' }],
      arcs: [{ source: 'a', target: 't' }],
      initialMarking: { a: 1 },
      finalMarking: { b: 1 },
    };
    expect(() => writeBpmn(net)).toThrow(/2 source places/);
  });

  test('weighted arcs are refused', () => {
    const net: PetriNet = {
      places: [{ id: 'i' }, { id: 'o' }],
      transitions: [{ id: 't', label: 'x' }],
      arcs: [
        { source: 'i', target: 't' },
        { source: 't', target: 'o', weight: 2 },
      ],
      initialMarking: { i: 1 },
      finalMarking: { o: 1 },
    };
    expect(() => writeBpmn(net)).toThrow(/weighs 2; BPMN has no weighted flows/);
  });

  test('activity names are escaped and read back exactly', () => {
    const net: PetriNet = {
      places: [{ id: 'i' }, { id: 'o' }],
      transitions: [{ id: '1 t', label: 'a <&> "b"' }],
      arcs: [
        { source: 'i', target: '1 t' },
        { source: '1 t', target: 'o' },
      ],
      initialMarking: { i: 1 },
      finalMarking: { o: 1 },
    };
    expect(languageUpTo(parseBpmn(writeBpmn(net)), 3)).toEqual(['a <&> "b"']);
  });
});

describe('writeBpmnLaidOut', () => {
  test.each(MODELS)('%s: diagram data for every element, and the same language read back', async (name) => {
    const net = pnmlOf(name);
    const text = await writeBpmnLaidOut({ net, name });
    const graph = bpmnGraph(net);
    for (const node of graph.nodes)
      expect(text).toContain(`<bpmndi:BPMNShape id="${node.id}_di" bpmnElement="${node.id}">`);
    for (const flow of graph.flows)
      expect(text).toContain(`<bpmndi:BPMNEdge id="${flow.id}_di" bpmnElement="${flow.id}">`);
    expect(text.match(/<di:waypoint x="-?\d+" y="-?\d+"\/>/g)!.length).toBeGreaterThanOrEqual(2 * graph.flows.length);
    expect(text).not.toMatch(/NaN/);
    expect(languageDifference(parseBpmn(text), net)).toBeUndefined();
  });

  test('shapes lie left to right from the start event to the end event, within the diagram', async () => {
    const text = await writeBpmnLaidOut({ net: pnmlOf('running-example'), name: 'r' });
    const bounds = (id: string) => {
      const m = new RegExp(
        `bpmnElement="${id}">\\s*<dc:Bounds x="(-?\\d+)" y="(-?\\d+)" width="(\\d+)" height="(\\d+)"`,
      ).exec(text)!;
      return m.slice(1).map(Number);
    };
    const [startX, startY, startW] = bounds('start');
    const [endX] = bounds('end');
    expect(startW).toBe(36);
    expect(startX).toBeGreaterThanOrEqual(0);
    expect(startY).toBeGreaterThanOrEqual(0);
    expect(endX).toBeGreaterThan(startX + 500);
    expect(bounds('task_1').slice(2)).toEqual([100, 80]);
  });
});
