import fs from 'node:fs';
import { sharedDataFile } from '../support/shared-data';
import {
  base,
  executeAndWait,
  fixtureLog,
  formWith,
  startTestApp,
  stores,
  waitForJob,
  type Tenant,
  type TestApp,
} from './harness';

/**
 * The process-model blocks end to end: a model uploaded as PNML and as BPMN, `conformance`
 * calculators and `conformanceBelow` alerts in a standard notebook run by a worker, a filter
 * before them, `discovery` storing a model, and a ProcessMining job with `modelId` and
 * `discovery`. The figures are pm4py's reference alignments (../shared/data/conformance).
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const reference = (name: string): Json =>
  JSON.parse(fs.readFileSync(sharedDataFile(`conformance/${name}.conformance.json`), 'utf8'));

describe.each(stores)('process-model blocks on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  const models: Record<string, string> = {};
  let receiptInvestigation: string;
  let runningInvestigation: string;

  const call = (method: string, path: string, body?: unknown) =>
    app.call(method, `${base(t)}${path}`, { token: t.token, ...(body === undefined ? {} : { body }) });

  async function investigationOf(file: string): Promise<string> {
    const form = formWith({ name: file, content: fixtureLog(file) });
    const ds = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    expect(ds.status).toBe(201);
    const inv = await call('POST', '/investigation', { name: file, datasetId: ds.body.datasetId });
    return inv.body.investigationId;
  }

  async function uploadModel(file: string): Promise<string> {
    const form = formWith({ name: file, content: fixtureLog(`conformance/${file}`) });
    const res = await app.call('POST', `${base(t)}/model`, { token: t.token, raw: { body: form } });
    expect(res.status).toBe(201);
    return res.body.modelId;
  }

  /** Runs blocks in a new notebook of the investigation; the JSON output of each block, in order. */
  async function run(investigationId: string, blocks: Json[]): Promise<{ outputs: Json[]; final: Json }> {
    const nb = await call('POST', `/notebook/investigation/${investigationId}`, { name: `n${Math.random()}` });
    const ids: string[] = [];
    for (const [i, b] of blocks.entries()) {
      const created = await call('POST', `/notebook/${nb.body.notebookId}/blocks`, { ...b, blockTitle: `b${i}` });
      expect(created.status).toBe(201);
      ids.push(created.body.blockId);
    }
    const { final } = await executeAndWait(app, t, nb.body.notebookId);
    const results = await call(
      'GET',
      `/notebook/${nb.body.notebookId}/execution/${final.executionId}/results?format=detailed`,
    );
    const outputs = ids.map(
      (id) => results.body.outputs.find((o: Json) => o.cellId === id && o.contentType === 'application/json')?.content,
    );
    return { outputs, final };
  }

  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    receiptInvestigation = await investigationOf('08_receipt.xes.gz');
    runningInvestigation = await investigationOf('running-example.xes');
    models.receiptPnml = await uploadModel('receipt.model.pnml');
    models.receiptBpmn = await uploadModel('receipt.model.bpmn');
    models.running = await uploadModel('running-example.model.pnml');
  }, 120_000);
  afterAll(() => app.close());

  test("conformance against the PNML and the BPMN model gives pm4py's figures for every variant", async () => {
    const ref = reference('receipt');
    const { outputs, final } = await run(receiptInvestigation, [
      {
        blockType: 'Calculator',
        configuration: { calculatorType: 'conformance', modelId: models.receiptPnml, limit: 1000 },
      },
      {
        blockType: 'Calculator',
        configuration: { calculatorType: 'conformance', modelId: models.receiptBpmn, limit: 1000 },
      },
    ]);
    expect(final.status).toBe('Completed');
    for (const result of outputs) {
      expect(result).toMatchObject({ cases: ref.cases, variants: ref.variants, fittingCases: ref.fittingCases });
      expect(result.percentFittingCases).toBeCloseTo(ref.percentFittingCases, 12);
      expect(result.averageTraceFitness).toBeCloseTo(ref.averageTraceFitness, 12);
      expect(result.unalignedVariants).toBe(0);
      const figures = (list: Json[]) =>
        list.map((v) => [v.variant.join('>'), v.cases, v.deviations, v.fitness]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
      expect(figures(result.perVariant)).toEqual(figures(ref.perVariant));
      for (const v of result.perVariant) expect(v.logMoves + v.modelMoves).toBe(v.deviations);
      const moves = result.deviationsByActivity.reduce((n: number, a: Json) => n + a.logMoves + a.modelMoves, 0);
      expect(moves).toBe(ref.perVariant.reduce((n: number, v: Json) => n + v.deviations * v.cases, 0));
    }
  }, 120_000);

  test('a filter before the conformance block narrows what is checked; the alert compares the fitness', async () => {
    const ref = reference('running-example');
    const kept = ref.perVariant.filter((v: Json) => v.variant.includes('reinitiate request'));
    const cases = kept.reduce((n: number, v: Json) => n + v.cases, 0);
    const { outputs } = await run(runningInvestigation, [
      { blockType: 'Calculator', configuration: { calculatorType: 'conformance', modelId: models.running } },
      { blockType: 'Alert', configuration: { alertType: 'conformanceBelow', modelId: models.running, threshold: 0.9 } },
      { blockType: 'Filter', configuration: { filterType: 'activityPresence', activities: ['reinitiate request'] } },
      { blockType: 'Calculator', configuration: { calculatorType: 'conformance', modelId: models.running } },
      { blockType: 'Alert', configuration: { alertType: 'conformanceBelow', modelId: models.running, threshold: 0.5 } },
    ]);
    const [all, alert, , narrowed, lowAlert] = outputs;
    expect(all.averageTraceFitness).toBeCloseTo(ref.averageTraceFitness, 12);
    expect(alert).toMatchObject({ fired: true, threshold: 0.9, modelId: models.running });
    expect(alert.observedValue).toBeCloseTo(ref.averageTraceFitness, 12);
    expect(narrowed.cases).toBe(cases);
    expect(narrowed.variants).toBe(kept.length);
    const weighted = kept.reduce((n: number, v: Json) => n + v.fitness * v.cases, 0) / cases;
    expect(narrowed.averageTraceFitness).toBeCloseTo(weighted, 12);
    expect(lowAlert.fired).toBe(narrowed.averageTraceFitness < 0.5);
  }, 120_000);

  test('discovery with noise 0 stores a model its log fits perfectly, downloadable in every format', async () => {
    const { outputs } = await run(receiptInvestigation, [
      { blockType: 'Calculator', configuration: { calculatorType: 'discovery', modelName: 'Receipt IM' } },
      { blockType: 'Calculator', configuration: { calculatorType: 'discovery', noiseThreshold: 0.3 } },
    ]);
    const [im, imf] = outputs;
    expect(im).toMatchObject({ calculatorType: 'discovery', algorithm: 'inductive', noiseThreshold: 0, fitness: 1 });
    expect(imf.noiseThreshold).toBe(0.3);
    expect(imf.transitions).toBeLessThanOrEqual(im.transitions);
    const model = await call('GET', `/model/${im.modelId}`);
    expect(model.body).toMatchObject({
      name: 'Receipt IM',
      source: 'discovered',
      places: im.places,
      transitions: im.transitions,
    });
    expect(model.body.activities).toEqual(im.activities);
    for (const format of ['pnml', 'bpmn', 'svg']) {
      const file = await call('GET', `/model/${im.modelId}/download?format=${format}`);
      expect(file.status).toBe(200);
      expect(file.text).toContain(format === 'svg' ? '<svg' : format === 'pnml' ? '<pnml' : 'definitions');
    }
    // The discovered model, checked again: every variant replays without a deviation.
    const { outputs: check } = await run(receiptInvestigation, [
      { blockType: 'Calculator', configuration: { calculatorType: 'conformance', modelId: im.modelId, limit: 1000 } },
    ]);
    expect(check[0].fittingCases).toBe(check[0].cases);
    expect(check[0].perVariant.every((v: Json) => v.deviations === 0)).toBe(true);
  }, 120_000);

  test('a block naming a model that is not there fails its execution with the reason', async () => {
    const { final } = await run(runningInvestigation, [
      {
        blockType: 'Calculator',
        configuration: { calculatorType: 'conformance', modelId: '00000000-0000-4000-8000-000000000000' },
      },
    ]);
    expect(final.status).toBe('Error');
    expect(final.error).toMatchObject({ errorType: 'ModelNotFound' });
    expect(final.error.errorMessage).toContain('no model 00000000-0000-4000-8000-000000000000');
  }, 60_000);

  test('a bad model block configuration answers 400', async () => {
    const nb = await call('POST', `/notebook/investigation/${runningInvestigation}`, { name: 'bad' });
    for (const configuration of [
      { calculatorType: 'discovery', noiseThreshold: 2 },
      { calculatorType: 'discovery', algorithm: 'alpha' },
      { calculatorType: 'conformance' },
      { calculatorType: 'conformance', modelId: 'not-a-guid' },
      { alertType: 'conformanceBelow', modelId: models.running },
    ]) {
      const blockType = 'alertType' in configuration ? 'Alert' : 'Calculator';
      const res = await call('POST', `/notebook/${nb.body.notebookId}/blocks`, {
        blockType,
        blockTitle: 'x',
        configuration,
      });
      expect([res.status, res.body.Code]).toEqual([400, 'VALIDATION_FAILED']);
    }
  });

  test('a ProcessMining job checks conformance and discovers a model, in its metrics and report', async () => {
    const submit = (parameters: Json) =>
      call('POST', '/execution/job', {
        jobName: 'Receipt conformance',
        jobType: 'ProcessMining',
        resource: { resourceType: 'Investigation', resourceId: receiptInvestigation },
        parameters,
      });
    expect((await submit({ modelId: 'nope' })).status).toBe(400);
    const missing = await submit({ modelId: '00000000-0000-4000-8000-000000000000' });
    expect([missing.status, missing.body.Code]).toEqual([404, 'MODEL_NOT_FOUND']);
    expect((await submit({ discovery: { noiseThreshold: 1.5 } })).status).toBe(400);
    const job = await submit({ modelId: models.receiptPnml, discovery: { noiseThreshold: 0 } });
    expect(job.status).toBe(202);
    const done = await waitForJob(app, t, job.body.jobId, 120_000);
    expect(done.status).toBe('Completed');
    const results = await call('GET', `/execution/job/${job.body.jobId}/results`);
    const outputs: Json[] = results.body.results.additionalOutputs;
    const metricsUrl = outputs.find((o) => o.format === 'json')!.downloadUrl;
    const metrics = JSON.parse((await app.call('GET', metricsUrl.slice(app.url.length), { token: t.token })).text);
    const ref = reference('receipt');
    expect(metrics.conformance).toMatchObject({ cases: ref.cases, fittingCases: ref.fittingCases });
    expect(metrics.conformance.averageTraceFitness).toBeCloseTo(ref.averageTraceFitness, 12);
    expect(metrics.discovery).toMatchObject({ calculatorType: 'discovery', fitness: 1 });
    const reportUrl = results.body.results.primaryOutput.downloadUrl;
    const report = (await app.call('GET', reportUrl.slice(app.url.length), { token: t.token })).text;
    expect(report).toContain('Conformance to receipt</h2>');
    expect(report).toContain('Activities with the most deviations');
    expect(report).toContain('Discovered model');
    expect((report.match(/<svg/g) ?? []).length).toBeGreaterThanOrEqual(3);
  }, 180_000);
});
