import fs from 'node:fs';
import path from 'node:path';
import { parseBpmn } from '../../src/engine/models/bpmn';
import { MODEL_LIMITS } from '../../src/engine/models/modelError';
import type { PetriNet } from '../../src/engine/models/petriNet';
import { parsePnml } from '../../src/engine/models/pnml';
import { checkWorkflowNet } from '../../src/engine/models/workflowNet';
import { saveDiscoveredModel } from '../../src/domain/models';
import { languageDifference } from '../support/language';
import { SHARED_DATA } from '../support/shared-data';
import { base, formWith, startTestApp, stores, type Tenant, type TestApp } from './harness';

const DIR = path.join(SHARED_DATA, 'conformance');
const MODELS = ['running-example', 'roadtraffic100traces', 'receipt', 'sepsis', 'bpic2012-variants'];
const FORMATS = ['pnml', 'bpmn'] as const;
const fileOf = (name: string, format: string) => fs.readFileSync(path.join(DIR, `${name}.model.${format}`));
const netOf = (name: string, format: string): PetriNet => {
  const file = fileOf(name, format);
  return checkWorkflowNet(format === 'pnml' ? parsePnml(file) : parseBpmn(file)).net;
};

/** A one-transition PNML net with `extra` spliced into its page. */
function tinyPnml(extra = ''): string {
  return `<pnml><net id="n"><page id="p"><place id="i"><initialMarking><text>1</text></initialMarking></place><place id="o"/>
    <transition id="t"><name><text>a</text></name></transition><arc id="a1" source="i" target="t"/><arc id="a2" source="t" target="o"/>${extra}</page></net></pnml>`;
}

describe.each(stores)('process models on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let other: Tenant;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    other = await app.newTenant();
  }, 60_000);
  afterAll(() => app.close());

  const upload = (file: { name: string; content: string | Buffer }, fields: Record<string, string> = {}, who = t) =>
    app.call('POST', `${base(who)}/model`, { token: who.token, raw: { body: formWith(file, fields) } });
  const modelCount = async () => (await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM models'))[0].n;

  describe.each(FORMATS)('each shared model uploaded as %s', (format) => {
    test.each(MODELS)(
      '%s: upload, get, list, download each format, delete',
      async (name) => {
        const content = fileOf(name, format);
        const created = await upload({ name: `${name}.model.${format}`, content });
        expect(created.status).toBe(201);
        const want = netOf(name, format);
        const id: string = created.body.modelId;
        expect(created.body).toMatchObject({
          name,
          format,
          source: 'uploaded',
          places: want.places.length,
          transitions: want.transitions.length,
          visibleTransitions: want.transitions.filter((tr) => tr.label !== null).length,
          originalFileName: `${name}.model.${format}`,
          sizeBytes: content.length,
          createdBy: t.keyId,
        });
        expect(created.headers.get('location')).toBe(`${app.url}${base(t)}/model/${id}`);
        const url = `${base(t)}/model/${id}`;
        const got = await app.call('GET', url, { token: t.token });
        expect(got.status).toBe(200);
        expect(got.body).toEqual(created.body);
        const list = await app.call('GET', `${base(t)}/models?pageSize=100`, { token: t.token });
        expect(list.body.models.map((m: { modelId: string }) => m.modelId)).toContain(id);

        const pnml = await app.call('GET', `${url}/download?format=pnml`, { token: t.token });
        expect(pnml.status).toBe(200);
        expect(pnml.headers.get('content-type')).toMatch(/^application\/xml/);
        expect(pnml.headers.get('content-disposition')).toContain(`filename="${name}.pnml"`);
        expect(checkWorkflowNet(parsePnml(pnml.text)).net).toEqual(want);

        const bpmn = await app.call('GET', `${url}/download?format=bpmn`, { token: t.token });
        expect(bpmn.status).toBe(200);
        if (format === 'bpmn') expect(bpmn.text).toBe(content.toString('utf8'));
        expect(languageDifference(parseBpmn(bpmn.text), want)).toBeUndefined();
        // Written from the net, the BPMN carries a diagram; as uploaded, it is the file itself.
        if (format === 'pnml') expect(bpmn.text).toContain('<bpmndi:BPMNShape id="start_di" bpmnElement="start">');

        const svg = await app.call('GET', `${url}/download?format=svg`, { token: t.token });
        expect(svg.status).toBe(200);
        expect(svg.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
        expect(svg.text).toMatch(/<svg[\s\S]*<\/svg>\s*$/);
        expect(svg.text.match(/class="node transition"/g)?.length).toBe(created.body.visibleTransitions);

        expect((await app.call('DELETE', url, { token: t.token })).status).toBe(204);
        expect((await app.call('GET', url, { token: t.token })).status).toBe(404);
        expect((await app.call('GET', `${url}/download`, { token: t.token })).status).toBe(404);
      },
      30_000,
    );
  });

  test('the format may be given, and a name; models are listed newest first, in pages', async () => {
    const first = await upload(
      { name: 'x.xml', content: fileOf('receipt', 'pnml') },
      { format: 'pnml', name: 'Receipt' },
    );
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: 'Receipt', format: 'pnml' });
    const second = await upload({ name: 'y.xml', content: fileOf('receipt', 'bpmn') });
    expect(second.body).toMatchObject({ name: 'y', format: 'bpmn' });
    const page = await app.call('GET', `${base(t)}/models?pageSize=1`, { token: t.token });
    expect(page.body).toMatchObject({ page: 1, pageSize: 1, hasNextPage: true });
    expect(page.body.models[0].modelId).toBe(second.body.modelId);
    const all = await app.call('GET', `${base(t)}/models?pageSize=100`, { token: t.token });
    expect(all.body.totalCount).toBe(all.body.models.length);
  });

  test('a discovered model is stored with its PNML and listed as discovered', async () => {
    const net = netOf('sepsis', 'pnml');
    const scope = { tenantId: t.tenantId, projectId: t.projectId, actor: t.keyId };
    const saved = await saveDiscoveredModel(app.db, scope, net, 'Sepsis discovered');
    expect(saved).toMatchObject({
      source: 'discovered',
      format: 'pnml',
      originalFileName: null,
      places: net.places.length,
    });
    const got = await app.call('GET', `${base(t)}/model/${saved.modelId}`, { token: t.token });
    expect(got.body).toEqual(saved);
    const pnml = await app.call('GET', `${base(t)}/model/${saved.modelId}/download`, { token: t.token });
    expect(parsePnml(pnml.text)).toEqual(net);
  });

  test('a weighted net has no BPMN form: 400 naming the arc', async () => {
    const weighted = tinyPnml().replace(
      '<arc id="a2" source="t" target="o"/>',
      '<arc id="a2" source="t" target="o"><inscription><text>2</text></inscription></arc>',
    );
    const created = await upload({ name: 'w.pnml', content: weighted.replace('<place id="o"/>', '<place id="o"/>') });
    expect(created.status).toBe(201);
    const res = await app.call('GET', `${base(t)}/model/${created.body.modelId}/download?format=bpmn`, {
      token: t.token,
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ Code: 'UNSUPPORTED_MODEL_ELEMENT', ModelId: created.body.modelId });
    expect(res.body.Message).toMatch(/weighs 2/);
  });

  const refused: [string, string | Buffer, Record<string, string>, string, RegExp][] = [
    [
      'not a workflow net',
      tinyPnml('<place id="dead"/><arc id="a3" source="t" target="dead"/>'),
      {},
      'NOT_A_WORKFLOW_NET',
      /2 sink places/,
    ],
    [
      'an unsupported BPMN element',
      '<definitions><process id="p"><startEvent id="s"/><inclusiveGateway id="g"/></process></definitions>',
      {},
      'UNSUPPORTED_MODEL_ELEMENT',
      /<inclusiveGateway> "g"/,
    ],
    [
      'an entity bomb',
      '<?xml version="1.0"?><!DOCTYPE pnml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><pnml>&b;</pnml>',
      {},
      'INVALID_MODEL_FILE',
      /DTDs and entity declarations are not accepted/,
    ],
    [
      'nesting too deep',
      `<pnml>${'<page>'.repeat(100)}${'</page>'.repeat(100)}</pnml>`,
      {},
      'INVALID_MODEL_FILE',
      /more than 64 deep/,
    ],
    [
      'NUL bytes',
      Buffer.concat([Buffer.from('<pnml>'), Buffer.from([0]), Buffer.from('</pnml>')]),
      {},
      'INVALID_MODEL_FILE',
      /NUL bytes/,
    ],
    ['text that is not XML', 'case,activity\n1,a\n', {}, 'INVALID_MODEL_FILE', /not well-formed XML/],
    ['an empty file', '', {}, 'INVALID_MODEL_FILE', /empty/],
    ['XML that is no model', '<html/>', {}, 'INVALID_MODEL_FILE', /root element is <html>/],
    [
      'a format that does not match',
      tinyPnml(),
      { format: 'bpmn' },
      'INVALID_MODEL_FILE',
      /is PNML \(root <pnml>\), not BPMN/,
    ],
  ];
  test.each(refused)('%s answers 400 and stores nothing', async (_name, content, fields, code, message) => {
    const before = await modelCount();
    const res = await upload({ name: 'model.xml', content }, fields);
    expect(res.status).toBe(400);
    expect(res.body.Code).toBe(code);
    expect(res.body.Message).toMatch(message);
    expect(res.body.Message).toMatch(/nothing was stored\.$/);
    expect(await modelCount()).toBe(before);
  });

  test(`a file over ${MODEL_LIMITS.maxBytes} bytes answers 400 before it is read`, async () => {
    const big = Buffer.alloc(MODEL_LIMITS.maxBytes + 1, 0x20);
    const res = await upload({ name: 'big.pnml', content: big });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ Code: 'INVALID_MODEL_FILE' });
    expect(res.body.Message).toMatch(/larger than 8388608 bytes/);
  });

  test('an upload without a file or with an unknown format answers 400', async () => {
    const form = new FormData();
    form.append('name', 'no file');
    const noFile = await app.call('POST', `${base(t)}/model`, { token: t.token, raw: { body: form } });
    expect(noFile.status).toBe(400);
    const badFormat = await upload({ name: 'm.pnml', content: tinyPnml() }, { format: 'epml' });
    expect(badFormat.status).toBe(400);
    expect(badFormat.body.Code).toBe('VALIDATION_FAILED');
    const badQuery = await app.call('GET', `${base(t)}/models?pageSize=1000`, { token: t.token });
    expect(badQuery.status).toBe(400);
  });

  test('401 without a key, 403 on another tenant, 404 for a model of another tenant or none', async () => {
    const mine = await upload({ name: 'm.pnml', content: tinyPnml() });
    const theirs = await upload({ name: 'm.pnml', content: tinyPnml() }, {}, other);
    expect((await app.call('GET', `${base(t)}/models`)).status).toBe(401);
    expect(
      (await app.call('POST', `${base(t)}/model`, { raw: { body: formWith({ name: 'm', content: tinyPnml() }) } }))
        .status,
    ).toBe(401);
    const forbidden = await app.call('GET', `${base(other)}/model/${theirs.body.modelId}`, { token: t.token });
    expect(forbidden.status).toBe(403);
    expect((await upload({ name: 'm.pnml', content: tinyPnml() }, {}, { ...other, token: t.token })).status).toBe(403);
    for (const method of ['GET', 'DELETE']) {
      const res = await app.call(method, `${base(t)}/model/${theirs.body.modelId}`, { token: t.token });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ Code: 'MODEL_NOT_FOUND', ModelId: theirs.body.modelId });
    }
    const download = await app.call('GET', `${base(t)}/model/${theirs.body.modelId}/download?format=svg`, {
      token: t.token,
    });
    expect(download.status).toBe(404);
    expect((await app.call('GET', `${base(other)}/model/${theirs.body.modelId}`, { token: other.token })).status).toBe(
      200,
    );
    expect((await app.call('GET', `${base(t)}/model/${mine.body.modelId}`, { token: t.token })).status).toBe(200);
    const upper = await app.call('GET', `${base(t)}/model/${String(mine.body.modelId).toUpperCase()}`, {
      token: t.token,
    });
    expect(upper.status).toBe(200);
    expect(upper.body.modelId).toBe(mine.body.modelId);
    const unknown = 'ABCDEF01-2345-4678-9ABC-DEF012345678';
    const none = await app.call('GET', `${base(t)}/model/${unknown}/download`, { token: t.token });
    expect(none.status).toBe(404);
    expect(none.body.ModelId).toBe(unknown.toLowerCase());
  });

  test('models count against the tenant storage quota', async () => {
    const before = await app.call('GET', `${base(t)}/datasets`, { token: t.token });
    await upload({ name: 'q.pnml', content: tinyPnml() });
    const after = await app.call('GET', `${base(t)}/datasets`, { token: t.token });
    expect(after.body.storage.usedBytes).toBeGreaterThan(before.body.storage.usedBytes + tinyPnml().length);
  });
});
