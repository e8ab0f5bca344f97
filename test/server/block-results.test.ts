import { createValidator, doc, validateAt } from '../support/openapi';
import {
  base,
  fixtureLog,
  formWith,
  executeAndWait,
  startTestApp,
  stores,
  waitForJob,
  type Tenant,
  type TestApp,
} from './harness';

/**
 * Every calculator's result and every alert's outcome has a schema in the contract
 * (`<Name>Result`, `<Name>AlertOutcome`), tied to the configuration's `calculatorType` or
 * `alertType` by the discriminators of CalculatorResult and AlertOutcome. This runs each of them
 * on a real log through the real pipeline (upload, notebook, execution on the queue, results) and
 * validates what the server answers against those schemas, so that a result whose shape drifts
 * from the contract fails here. A calculator or alert added to the contract without a result
 * schema, or without a configuration below, fails too.
 */

type Json = Record<string, unknown>;
const schemas = (doc.components as { schemas: Record<string, Json> }).schemas;
const mappingOf = (name: string) => (schemas[name].discriminator as { mapping: Record<string, string> }).mapping;
/** `./VariantsCalculator.yaml` or `#/components/schemas/VariantsCalculator` → `VariantsCalculator`. */
const nameOf = (ref: string) =>
  ref
    .split('/')
    .pop()!
    .replace(/\.yaml$/, '');

const calculatorTypes = Object.keys(mappingOf('CalculatorConfiguration'));
const alertTypes = Object.keys(mappingOf('AlertConfiguration'));

const MODEL = '<model>';

/** A configuration of each calculator that gives a result with something in it on the running example. */
const CALCULATORS: Record<string, Json> = {
  summary: {},
  activityFrequency: { limit: 5 },
  variants: { limit: 3 },
  throughputTime: {},
  processMap: { render: false },
  bottlenecks: { minCount: 2, limit: 3 },
  rework: {},
  resourceWorkload: { resourceAttribute: 'org:resource', limit: 3 },
  discovery: { noiseThreshold: 0 },
  // MODEL stands for the id of the running example's reference model, uploaded first.
  conformance: { modelId: MODEL, limit: 3 },
};

/** Alerts of each type: one that fires and one that does not. */
const ALERTS: Record<string, Json[]> = {
  metricThreshold: [
    {
      calculatorType: 'throughputTime',
      metric: 'p90Seconds',
      operator: 'gt',
      threshold: 14 * 86400,
      severity: 'Warning',
    },
    { calculatorType: 'summary', metric: 'caseCount', operator: 'lt', threshold: 3 },
  ],
  caseCondition: [
    { caseMetric: 'reworkCount', operator: 'gte', threshold: 1, severity: 'Critical' },
    { caseMetric: 'durationSeconds', operator: 'gt', threshold: 30 * 86400, maxViolatingCases: 0 },
  ],
  // The running example fits its reference model at 0.8116.
  conformanceBelow: [
    { modelId: MODEL, threshold: 0.9, severity: 'Critical' },
    { modelId: MODEL, threshold: 0.8 },
  ],
};

test('every calculator and alert of the contract has a result schema and a configuration here', () => {
  const results = mappingOf('CalculatorResult');
  const outcomes = mappingOf('AlertOutcome');
  expect(Object.keys(results).sort()).toEqual([...calculatorTypes].sort());
  expect(Object.keys(outcomes).sort()).toEqual([...alertTypes].sort());
  expect(Object.keys(CALCULATORS).sort()).toEqual([...calculatorTypes].sort());
  expect(Object.keys(ALERTS).sort()).toEqual([...alertTypes].sort());
  // Each result schema is closed and pins its own type, so the discriminator picks exactly one.
  for (const [type, ref] of [...Object.entries(results), ...Object.entries(outcomes)]) {
    const schema = schemas[nameOf(ref)];
    const key = type in results ? 'calculatorType' : 'alertType';
    expect([nameOf(ref), schema.additionalProperties, (schema.required as string[]).includes(key)]).toEqual([
      nameOf(ref),
      false,
      true,
    ]);
    expect((schema.properties as Record<string, Json>)[key].const).toBe(type);
  }
});

const ajv = createValidator();
const problems = (name: string, value: unknown) => validateAt(ajv, `/components/schemas/${name}`, value);
const resultSchema = (calculatorType: string) => nameOf(mappingOf('CalculatorResult')[calculatorType]);
const outcomeSchema = (alertType: string) => nameOf(mappingOf('AlertOutcome')[alertType]);

describe.each(stores)('calculator results and alert outcomes against the contract on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let investigationId: string;
  /** The blocks in notebook order, with what each should give. */
  const blocks: { blockId: string; blockType: 'Calculator' | 'Alert'; configuration: Json }[] = [];
  let outputs: Json[];

  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    const form = formWith(
      { name: 'running-example.csv', content: fixtureLog('running-example.csv') },
      {
        caseIdColumn: 'case:concept:name',
        activityColumn: 'concept:name',
        timestampColumn: 'time:timestamp',
        resourceColumn: 'org:resource',
      },
    );
    const ds = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    expect(ds.status).toBe(201);
    const inv = await app.call('POST', `${base(t)}/investigation`, {
      token: t.token,
      body: { name: 'Results', datasetId: ds.body.datasetId },
    });
    investigationId = inv.body.investigationId;
    const model = await app.call('POST', `${base(t)}/model`, {
      token: t.token,
      raw: {
        body: formWith({
          name: 'running-example.model.pnml',
          content: fixtureLog('conformance/running-example.model.pnml'),
        }),
      },
    });
    expect(model.status).toBe(201);
    const withModel = (c: Json): Json =>
      Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v === MODEL ? model.body.modelId : v]));
    const notebookId = (
      await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
        token: t.token,
        body: { name: 'Every calculator and alert' },
      })
    ).body.notebookId;
    const wanted = [
      ...calculatorTypes.map((calculatorType) => ({
        blockType: 'Calculator' as const,
        configuration: withModel({ calculatorType, ...CALCULATORS[calculatorType] }),
      })),
      ...alertTypes.flatMap((alertType) =>
        ALERTS[alertType].map((c) => ({ blockType: 'Alert' as const, configuration: withModel({ alertType, ...c }) })),
      ),
    ];
    for (const [i, b] of wanted.entries()) {
      const created = await app.call('POST', `${base(t)}/notebook/${notebookId}/blocks`, {
        token: t.token,
        body: { ...b, blockTitle: `Block ${i + 1}` },
      });
      expect(created.status).toBe(201);
      blocks.push({ blockId: created.body.blockId, ...b });
    }
    const { final } = await executeAndWait(app, t, notebookId);
    expect(final.status).toBe('Completed');
    const results = await app.call(
      'GET',
      `${base(t)}/notebook/${notebookId}/execution/${final.executionId}/results?format=detailed`,
      { token: t.token },
    );
    expect(results.status).toBe(200);
    outputs = results.body.outputs;
  }, 90_000);
  afterAll(() => app.close());

  const outputOf = (blockId: string) => {
    const found = outputs.filter((o) => o.cellId === blockId && o.contentType === 'application/json');
    expect(found).toHaveLength(1);
    return found[0];
  };

  test.each(calculatorTypes)('the %s calculator: its output is typed and its content is its result schema', (type) => {
    const block = blocks.find((b) => b.configuration.calculatorType === type)!;
    const output = outputOf(block.blockId);
    expect(output.blockType).toBe('Calculator');
    expect((output.content as Json).calculatorType).toBe(type);
    expect(problems(resultSchema(type), output.content)).toEqual([]);
    expect(problems('CalculatorResult', output.content)).toEqual([]);
    expect(problems('CalculatorOutput', output)).toEqual([]);
    expect(problems('ExecutionOutput', output)).toEqual([]);
  });

  test.each(alertTypes)('the %s alert: its outputs are typed, one fired and one not', (type) => {
    const mine = blocks.filter((b) => b.configuration.alertType === type);
    const contents = mine.map((b) => {
      const output = outputOf(b.blockId);
      expect(output.blockType).toBe('Alert');
      expect(problems(outcomeSchema(type), output.content)).toEqual([]);
      expect(problems('AlertOutcome', output.content)).toEqual([]);
      expect(problems('AlertOutput', output)).toEqual([]);
      expect(problems('ExecutionOutput', output)).toEqual([]);
      return output.content as Json;
    });
    expect(contents.map((c) => [c.alertType, c.fired])).toEqual([
      [type, true],
      [type, false],
    ]);
  });

  test('a result that drifts from its schema is refused: a field more, a field less, a wrong type', () => {
    for (const block of blocks) {
      const content = outputOf(block.blockId).content as Json;
      const name =
        block.blockType === 'Calculator'
          ? resultSchema(String(block.configuration.calculatorType))
          : outcomeSchema(String(block.configuration.alertType));
      const [first] = Object.keys(content).filter((k) => k !== 'calculatorType' && k !== 'alertType');
      const { [first]: _dropped, ...less } = content;
      expect(problems(name, { ...content, unexpected: 1 })).not.toEqual([]);
      expect(problems(name, less)).not.toEqual([]);
      expect(problems(name, { ...content, [first]: { wrong: true } })).not.toEqual([]);
      // Under another type's name the same document is not valid either.
      const other = block.blockType === 'Calculator' ? 'alertType' : 'calculatorType';
      expect(
        problems('ExecutionOutput', { ...outputOf(block.blockId), content: { ...content, [other]: 'x' } }),
      ).not.toEqual([]);
    }
  });

  test('a ProcessMining job writes its metrics in the same result shapes', async () => {
    const submitted = await app.call('POST', `${base(t)}/execution/job`, {
      token: t.token,
      body: {
        jobName: 'Shapes',
        jobType: 'ProcessMining',
        resource: { resourceType: 'Investigation', resourceId: investigationId },
      },
    });
    expect(submitted.status).toBe(202);
    const job = await waitForJob(app, t, submitted.body.jobId, 60_000);
    expect(job.status).toBe('Completed');
    const results = await app.call('GET', `${base(t)}/execution/job/${job.jobId}/results`, { token: t.token });
    const metricsOutput = results.body.results.additionalOutputs.find((o: Json) => o.type === 'Metrics');
    const metrics = JSON.parse(
      (await app.call('GET', metricsOutput.downloadUrl.slice(app.url.length), { token: t.token })).text,
    ) as Json;
    const sections = ['summary', 'throughputTime', 'variants', 'bottlenecks', 'processMap'];
    for (const section of sections) {
      expect((metrics[section] as Json).calculatorType).toBe(section);
      expect(problems(resultSchema(section), metrics[section])).toEqual([]);
    }
    // The same log, the same figures as the notebook's calculators.
    const summaryBlock = blocks.find((b) => b.configuration.calculatorType === 'summary')!;
    expect(metrics.summary).toEqual(outputOf(summaryBlock.blockId).content);
  }, 90_000);
});
