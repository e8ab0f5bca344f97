import http from 'node:http';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { loadDocument } from '../../src/api/document';
import type { JobRunner } from '../../src/jobs/runners';
import { deepJson, HOSTILE_STRINGS, SchemaArbitraries, type Schema } from '../support/schema-arbitrary';
import {
  base,
  fixtureLog,
  newInvestigation,
  startTestApp,
  stores,
  waitForJob,
  type Tenant,
  type TestApp,
} from './harness';

/**
 * Property-based test of the whole contract: for every operation, requests generated from its
 * schemas and from mutations of them (wrong types, missing and extra fields, huge numbers, NUL
 * characters, lone surrogates, deep nesting, odd ids, other tenants' ids), with and without
 * valid credentials. No answer may be a 500, and every answer must be one the contract
 * documents for the operation; the server checks each body against the contract itself
 * (`validateResponses`), so a drifting body also shows as a 500 here.
 */

/** Fixed, so that every run sends the same requests; `FUZZ_SEED` explores other ones. */
const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
/** Requests per operation and store: 4,240 in all on the two stores; `FUZZ_RUNS` sends more. */
const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 40);

const doc = loadDocument() as unknown as Schema;

interface Op {
  operationId: string;
  method: string;
  path: string;
  params: Schema[];
  body?: { contentType: string; schema: Schema; required: boolean };
  statuses: string[];
  admin: boolean;
  secured: boolean;
}

const resolver = new SchemaArbitraries(doc, () => fc.constant(''));
const operations: Op[] = Object.entries(doc.paths as Record<string, Schema>).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => ['get', 'put', 'post', 'delete'].includes(method))
    .flatMap(([method, raw]) => {
      const op = raw as Schema;
      const security = (op.security ?? doc.security) as Record<string, unknown>[];
      const content = resolver.resolve(op.requestBody).content as Record<string, Schema> | undefined;
      const [contentType, media] = Object.entries(content ?? {})[0] ?? [];
      const described: Op = {
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        params: [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Schema) => resolver.resolve(p)),
        body: contentType
          ? { contentType, schema: media.schema, required: Boolean(resolver.resolve(op.requestBody).required) }
          : undefined,
        statuses: Object.keys(op.responses),
        admin: security.length > 0 && security.every((s) => 'adminToken' in s),
        secured: security.length > 0,
      };
      // HEAD is answered for every GET; the downloads are where it matters.
      const head = ['downloadArtifact', 'downloadDataset'].includes(op.operationId)
        ? [{ ...described, method: 'HEAD' }]
        : [];
      return [described, ...head];
    }),
);

/** Ids of tenant A's resources by path parameter, tenant B's, and disposable ones for deletions. */
interface Fixtures {
  a: Tenant;
  b: Tenant;
  ids: Record<string, string[]>;
  foreign: Record<string, string[]>;
  disposable: Record<string, string[]>;
  /** The ETags of the fixtures' downloads, for `If-None-Match` and `If-Range`. */
  etags: string[];
  /** The standard notebook templates' ids. */
  templates: string[];
}

/** Trivial runners: the test is about the HTTP surface; Analysis stays real (small notebooks). */
const stub: JobRunner = async (ctx) => {
  await ctx.output({
    role: 'primary',
    type: 'report',
    title: 'Report',
    format: 'html',
    fileName: 'report.html',
    contentType: 'text/html',
    content: '<!doctype html><p>report</p>',
  });
};

describe.each(stores)('every operation of the contract, fuzzed, on %s', (store) => {
  let app: TestApp;
  let fx: Fixtures;
  beforeAll(async () => {
    app = await startTestApp(
      store,
      { BODY_LIMIT_BYTES: '200000' },
      {
        runners: { ProcessMining: stub, DataEnrichment: stub, Notebook: stub },
      },
    );
    fx = await fixtures(app);
  }, 120_000);
  afterAll(() => app.close());

  test.each(operations.map((op) => [`${op.method} ${op.path}`, op] as const))(
    '%s never answers 500 nor anything undocumented',
    async (_name, op) => {
      await fc.assert(
        fc.asyncProperty(requestFor(op, fx, app), async (req) => {
          const res = await send(app, req);
          if (process.env.FUZZ_VERBOSE) console.log(`${res.status} ${describeRequest(req)}\n${res.text.slice(0, 300)}`);
          if (res.status === 500 || !op.statuses.includes(String(res.status))) {
            throw new Error(`${describeRequest(req)}\nanswered ${res.status}: ${res.text.slice(0, 2000)}`);
          }
        }),
        { seed: SEED, numRuns: RUNS_PER_OPERATION, endOnFailure: true },
      );
    },
    60_000,
  );
});

// --- fixtures -------------------------------------------------------------------------------------

async function fixtures(app: TestApp): Promise<Fixtures> {
  const a = await app.newTenant();
  const b = await app.newTenant();
  const [mine, theirs] = [await resources(app, a), await resources(app, b)];
  const disposable: Record<string, string[]> = {
    projectId: [],
    datasetId: [],
    investigationId: [],
    notebookId: [],
    blockId: [],
    keyId: [],
  };
  for (let i = 0; i < 3; i++) {
    const extra = await resources(app, a, `spare ${i}`);
    for (const k of Object.keys(disposable)) if (k !== 'projectId') disposable[k].push(...(extra[k] ?? []));
  }
  for (let i = 0; i < 3; i++) {
    const key = await app.call('POST', `/admin/tenants/${a.tenantId}/keys`, {
      token: app.adminToken,
      body: { name: `k${i}` },
    });
    disposable.keyId.push(key.body.keyId);
    const project = await app.call('POST', `/api/${a.tenantId}/project`, { token: a.token, body: { name: `p${i}` } });
    disposable.projectId.push(project.body.projectId);
  }
  const etags: string[] = [];
  for (const path of [`dataset/${mine.datasetId[0]}/download`, `artifact/${mine.artifactId[0]}`]) {
    const res = await app.call('HEAD', `${base(a)}/${path}`, { token: a.token });
    etags.push(res.headers.get('etag') ?? '"missing"');
  }
  const listed = await app.call('GET', `${base(a)}/templates?kind=standard`, { token: a.token });
  const templates = (listed.body.templates as { templateId: string }[]).map((t) => t.templateId);
  const ids = { ...mine, keyId: [a.keyId], projectId: [a.projectId] };
  return { a, b, ids, foreign: theirs, disposable, etags, templates };
}

/** A dataset, an investigation, a standard notebook with a block, a Jupyter notebook, a job with an artifact, an execution. */
async function resources(app: TestApp, t: Tenant, name = 'main'): Promise<Record<string, string[]>> {
  const { datasetId, investigationId } = await newInvestigation(app, t, name);
  const auth = { token: t.token };
  const nb = await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
    ...auth,
    body: { name },
  });
  const notebookId = nb.body.notebookId;
  const block = await app.call('POST', `${base(t)}/notebook/${notebookId}/blocks`, {
    ...auth,
    body: { blockType: 'Calculator', blockTitle: 'Summary', configuration: { calculatorType: 'summary' } },
  });
  const jupyter = await app.call('POST', `${base(t)}/notebook`, { ...auth, body: { notebookName: `${name} jupyter` } });
  const job = await app.call('POST', `${base(t)}/execution/job`, {
    ...auth,
    body: { jobName: name, jobType: 'ProcessMining', resource: { resourceType: 'Dataset', resourceId: datasetId } },
  });
  await waitForJob(app, t, job.body.jobId);
  const results = await app.call('GET', `${base(t)}/execution/job/${job.body.jobId}/results`, auth);
  const artifactId = String(results.body.results?.primaryOutput?.downloadUrl ?? '')
    .split('/')
    .pop();
  const execution = await app.call('POST', `${base(t)}/notebook/${notebookId}/execute`, { ...auth, body: {} });
  for (const [what, res] of Object.entries({ nb, block, jupyter, job, execution })) {
    if (res.status >= 300) throw new Error(`fixture ${what} answered ${res.status}: ${res.text}`);
  }
  return {
    projectId: [t.projectId],
    datasetId: [datasetId],
    investigationId: [investigationId],
    notebookId: [notebookId, jupyter.body.notebookId],
    blockId: [block.body.blockId],
    jobId: [job.body.jobId],
    executionId: [execution.body.executionId],
    artifactId: artifactId ? [artifactId] : [],
  };
}

// --- requests -------------------------------------------------------------------------------------

interface FuzzRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: string | Buffer | FormData;
  /** What the body was, for the failure message. */
  shown: string;
  /** Where the request was made to go wrong. */
  fault: Fault;
}

const MALFORMED_IDS = [
  'not-a-guid',
  '%00',
  'ABCDEF01-2345-4678-9ABC-DEF012345678',
  '%2E%2E',
  'x'.repeat(300),
  '%ED%A0%80',
  '12345678-1234-1234-1234-1234567890123',
  '%F0%9F%A7%AA',
];

/** Where a request goes wrong, if anywhere: one place at a time, so that the rest reaches the handler. */
type Fault = 'none' | 'path' | 'query' | 'auth' | 'headers' | 'body';

function requestFor(op: Op, fx: Fixtures, app: TestApp): fc.Arbitrary<FuzzRequest> {
  const everyId = [...Object.values(fx.ids), ...Object.values(fx.foreign), ...Object.values(fx.disposable)].flat();
  const anyId = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...everyId) }, { weight: 1, arbitrary: fc.uuid() });
  // An id field takes the fixture of its own name mostly (`datasetId`, `resourceId`: any), other ids sometimes.
  const idFor = (name?: string) => {
    const own = name ? fx.ids[name] : undefined;
    return own?.length
      ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...own) }, { weight: 1, arbitrary: anyId })
      : anyId;
  };
  const schemas = new SchemaArbitraries(doc, idFor, {
    kernelType: fc.constant('python3'),
    template: fc.constantFrom('process_mining_starter', 'case_enrichment'),
    templateId: fc.constantFrom(...fx.templates),
    timestampFormat: fc.constantFrom('%Y-%m-%dT%H:%M:%SZ', '%d/%m/%Y'),
    datasetBinding: fc.constantFrom('', ...fx.ids.datasetId),
  });
  const faults = fc.constantFrom<Fault>('none', 'none', 'path', 'query', 'auth', 'headers', 'body', 'body', 'body');
  return faults.chain((fault) =>
    fc
      .record({
        path: pathFor(op, fx, fault === 'path'),
        query: queryFor(op, schemas, fault === 'query'),
        auth: authFor(op, fx, app, fault === 'auth'),
        headers: headersFor(op, fx, fault === 'headers'),
        body: bodyFor(op, schemas, fault === 'body'),
      })
      .map(({ path, query, auth, headers, body }) => ({
        method: op.method,
        path,
        query,
        headers: { ...headers, ...auth, ...body.headers },
        body: body.body,
        shown: body.shown,
        fault,
      })),
  );
}

function pathFor(op: Op, fx: Fixtures, hostile: boolean): fc.Arbitrary<string> {
  const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  // A deletion takes disposable resources, so that the fixtures every other request uses stay.
  const target = op.method === 'DELETE' ? names[names.length - 1] : undefined;
  const segments = names.map((name) => {
    const own =
      name === 'tenantId'
        ? [fx.a.tenantId]
        : name === target && fx.disposable[name]
          ? fx.disposable[name]
          : fx.ids[name];
    const theirs = name === 'tenantId' ? [fx.b.tenantId] : (fx.foreign[name] ?? []);
    const valid = own?.length ? fc.constantFrom(...own) : fc.uuid();
    if (!hostile) return valid;
    return fc.oneof(
      { weight: 2, arbitrary: valid },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: fc.constantFrom(...MALFORMED_IDS) },
      { weight: 1, arbitrary: fc.constantFrom(...Object.values(fx.ids).flat()) },
      { weight: 1, arbitrary: theirs.length ? fc.constantFrom(...theirs) : fc.uuid() },
    );
  });
  return fc.tuple(...segments).map((values) => {
    let i = 0;
    return op.path.replace(/\{\w+\}/g, () => {
      const v = values[i++];
      return /^[\w.%-]*$/.test(v) ? v : encodeURIComponent(v);
    });
  });
}

const HOSTILE_QUERY = [
  '99999999999999999999',
  '2147483648',
  '2147483647',
  '-1',
  '0',
  '1e400',
  '%00',
  'a%00b',
  '%ED%A0%80',
  '',
  'true',
  'abc',
  '%',
];

function queryFor(op: Op, schemas: SchemaArbitraries, hostile: boolean): fc.Arbitrary<string> {
  const params = op.params.filter((p) => p.in === 'query');
  const valid = (p: Schema) => schemas.valid(p.schema).map((v) => `${p.name}=${encodeURIComponent(String(v))}`);
  const parts = params.map((p) =>
    fc.option(
      hostile
        ? fc.oneof(
            { weight: 1, arbitrary: valid(p) },
            { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_QUERY).map((v) => `${p.name}=${v}`) },
            { weight: 1, arbitrary: fc.constant(`${p.name}=1&${p.name}=2`) },
          )
        : valid(p),
      { nil: undefined, freq: 2 },
    ),
  );
  const unknown = hostile
    ? fc.option(fc.constantFrom('unknown=1', 'page[x]=1', '%00=1'), { nil: undefined })
    : fc.constant(undefined);
  return fc.tuple(unknown, ...parts).map((ps) => {
    const q = ps.filter((x): x is string => x !== undefined).join('&');
    return q ? `?${q}` : '';
  });
}

function authFor(op: Op, fx: Fixtures, app: TestApp, hostile: boolean): fc.Arbitrary<Record<string, string>> {
  const right = op.admin ? app.adminToken : fx.a.token;
  const wrong = op.admin ? fx.a.token : app.adminToken;
  if (!hostile) return fc.constant({ Authorization: `Bearer ${right}` });
  return fc.oneof(
    fc.constant({}),
    fc.constant({ Authorization: `Bearer ${fx.b.token}` }),
    fc.constant({ Authorization: `Bearer ${wrong}` }),
    fc
      .constantFrom('Bearer', 'Bearer x', 'Basic dXNlcjpwYXNz', `bearer  ${right} `, 'Bearer ' + 'a'.repeat(5000))
      .map((Authorization) => ({ Authorization })),
  );
}

const HOSTILE_HEADERS = [
  'bytes=abc',
  'BYTES=0-0',
  'bytes=0-0,5-9',
  'bytes=-0',
  'bytes=99999999999999999999-',
  '"deadbeef"',
  'W/"x"',
  '*',
  'x'.repeat(300),
  ' ',
  'Ã¼',
];

function headersFor(op: Op, fx: Fixtures, hostile: boolean): fc.Arbitrary<Record<string, string>> {
  const params = op.params.filter((p) => p.in === 'header');
  const parts = params.map((p) =>
    fc
      .option(
        hostile ? fc.oneof(headerValue(p.name, fx), fc.constantFrom(...HOSTILE_HEADERS)) : headerValue(p.name, fx),
        {
          nil: undefined,
          freq: 2,
        },
      )
      .map((v) => (v === undefined ? {} : { [p.name]: v })),
  );
  return fc.tuple(fc.constant({}), ...parts).map((hs) => Object.assign({}, ...hs));
}

/** Plausible values of the contract's header parameters: ranges, the fixtures' real ETags, keys. */
function headerValue(name: string, fx: Fixtures): fc.Arbitrary<string> {
  const n = fc.option(fc.nat(5000), { nil: undefined });
  switch (name) {
    case 'Range':
      return fc
        .tuple(fc.constantFrom('bytes', 'BYTES', 'Bytes'), n, n)
        .map(([unit, from, to]) => `${unit}=${from ?? ''}-${to ?? ''}`);
    case 'If-Range':
    case 'If-None-Match':
      return fc.oneof(
        fc.constantFrom(...fx.etags, '*', 'W/' + fx.etags[0], `${fx.etags[0]}, "other"`),
        fc.stringMatching(/^[0-9a-f]{64}$/).map((h) => `"${h}"`),
      );
    default:
      return fc.string({ minLength: 1, maxLength: 40 });
  }
}

interface Body {
  body?: string | Buffer | FormData;
  headers: Record<string, string>;
  shown: string;
}

function bodyFor(op: Op, schemas: SchemaArbitraries, hostile: boolean): fc.Arbitrary<Body> {
  if (!op.body) {
    // A body on an operation that takes none is ignored (never parsed).
    const stray: Body = { body: '{"x":', headers: { 'Content-Type': 'application/json' }, shown: '{"x":' };
    return op.method === 'GET' || op.method === 'HEAD' || !hostile
      ? fc.constant({ headers: {}, shown: '(none)' })
      : fc.constantFrom<Body>({ headers: {}, shown: '(none)' }, stray);
  }
  if (op.body.contentType === 'multipart/form-data') {
    if (!hostile) return formFor(op, schemas, false);
    const broken: Body[] = [
      { body: '{"name":"x"}', headers: { 'Content-Type': 'application/json' }, shown: 'JSON to a form' },
      {
        body: '--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nx',
        headers: { 'Content-Type': 'multipart/form-data; boundary=b' },
        shown: 'a truncated form',
      },
      { body: 'x', headers: { 'Content-Type': 'multipart/form-data' }, shown: 'a form without boundary' },
    ];
    return fc.oneof(
      { weight: 5, arbitrary: formFor(op, schemas, true) },
      { weight: 1, arbitrary: fc.constantFrom(...broken) },
    );
  }
  const json = (value: unknown): Body =>
    value === undefined
      ? { headers: {}, shown: '(none)' }
      : {
          body: JSON.stringify(value),
          headers: { 'Content-Type': 'application/json' },
          shown: JSON.stringify(value).slice(0, 1500),
        };
  if (!hostile) return schemas.valid(op.body.schema).map(json);
  return fc.oneof(
    { weight: 6, arbitrary: schemas.mutated(op.body.schema).map(json) },
    { weight: 1, arbitrary: rawBody(schemas, op.body.schema) },
  );
}

function rawBody(schemas: SchemaArbitraries, schema: Schema): fc.Arbitrary<Body> {
  const raw = (body: string | Buffer, headers: Record<string, string>, shown = String(body).slice(0, 200)): Body => ({
    body,
    headers,
    shown,
  });
  const json = { 'Content-Type': 'application/json' };
  return fc.oneof(
    fc.constantFrom(
      raw('', json),
      raw('{', json),
      raw('null', json),
      raw('[]', json),
      raw('"text"', json),
      raw('123', json),
      raw('{"a":1e400}', json),
      raw('{"a":"\\u0000"}', json),
      raw('{"\\ud800":1}', json),
      raw(deepJson(5000), json, 'nested 5000 deep'),
      raw(`{"parameters":${deepJson(5000)}}`, json, 'parameters nested 5000 deep'),
      raw('not gzip at all', { ...json, 'Content-Encoding': 'gzip' }),
      raw('{"a":1}', { ...json, 'Content-Encoding': 'br' }),
      raw('{"a":1}', { ...json, 'Content-Encoding': 'compress' }),
      raw('{"a":1}', { 'Content-Type': 'application/json; charset=koi8-r' }),
      raw('name=x', { 'Content-Type': 'text/plain' }),
      raw('<a/>', { 'Content-Type': 'application/xml' }),
      raw(Buffer.from('{"name":"x"}', 'utf16le'), { 'Content-Type': 'application/json; charset=utf-16le' }, 'utf-16'),
      raw('--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n', {
        'Content-Type': 'multipart/form-data; boundary=b',
      }),
      raw(`{"name":"${'x'.repeat(250_000)}"}`, json, 'a body over the limit'),
    ),
    schemas
      .valid(schema)
      .map((v) =>
        raw(zlib.gzipSync(JSON.stringify(v)), { ...json, 'Content-Encoding': 'gzip' }, `gzip ${JSON.stringify(v)}`),
      ),
  );
}

const CSV = 'case,activity,time,who\n1,a,2024-01-01T10:00:00Z,ann\n1,b,2024-01-01T11:00:00Z,bob\n';
/** Files to upload: `valid` ones are what the operation takes; the others are for hostile requests. */
const UPLOADS: { name: string; content: string | Buffer; validFor?: string }[] = [
  { name: 'events.csv', content: CSV, validFor: 'uploadDataset' },
  { name: 'Übersicht_名前.csv', content: CSV, validFor: 'uploadDataset' },
  { name: 'running-example.xes', content: fixtureLog('running-example.xes'), validFor: 'uploadDataset' },
  { name: 'garbage.csv', content: Buffer.from([0, 1, 2, 255, 254, 10, 13, 0]) },
  { name: 'empty.csv', content: '' },
  { name: 'nul.csv', content: 'case,activity,time\n1,a\u0000b,2024-01-01T10:00:00Z\n' },
  {
    name: 'x.xes',
    content:
      '<?xml version="1.0"?><log><trace><event><string key="concept:name" value="\u0001"/></event></trace></log>',
  },
  {
    name: 'a.ipynb',
    content: JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }),
    validFor: 'uploadNotebook',
  },
  {
    name: 'b.ipynb',
    content: JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [{ cell_type: 'code', source: 'print(1)\u0000', metadata: {}, outputs: [], execution_count: null }],
    }),
  },
  { name: 'c.ipynb', content: '{"nbformat": 4, "cells": ' },
  {
    name: 'running-example.model.pnml',
    content: fixtureLog('conformance/running-example.model.pnml'),
    validFor: 'uploadModel',
  },
  { name: 'receipt.model.bpmn', content: fixtureLog('conformance/receipt.model.bpmn'), validFor: 'uploadModel' },
  {
    name: 'bomb.pnml',
    content: '<?xml version="1.0"?><!DOCTYPE pnml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><pnml>&b;</pnml>',
  },
  { name: 'deep.bpmn', content: `<definitions>${'<process>'.repeat(200)}` },
  {
    name: 'sub.bpmn',
    content: '<definitions><process id="p"><startEvent id="s"/><subProcess id="x"/></process></definitions>',
  },
  {
    name: 'd.ipynb',
    content: JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: { 'k\u0000': '\ud800' }, cells: [] }),
  },
  { name: 'e.ipynb', content: `{"nbformat":4,"nbformat_minor":5,"cells":[],"metadata":${deepJson(6000)}}` },
  {
    name: 'late-nul.csv',
    content: `${CSV}${'2,a,2024-01-01T10:00:00Z,ann\n'.repeat(3000)}3,a\u0000,2024-01-01T10:00:00Z,ann\n`,
  },
];

/** What goes wrong in a hostile form, one thing at a time: the file, a field, a deeply nested field name, no file. */
type FormFault = 'file' | 'field' | 'deep' | 'no file';

function formFor(op: Op, schemas: SchemaArbitraries, hostile: boolean): fc.Arbitrary<Body> {
  if (!hostile) return form(op, schemas, 'none');
  return fc
    .constantFrom<FormFault>('file', 'file', 'file', 'field', 'deep', 'no file')
    .chain((fault) => form(op, schemas, fault));
}

function form(op: Op, schemas: SchemaArbitraries, fault: FormFault | 'none'): fc.Arbitrary<Body> {
  const schema = schemas.resolve(op.body!.schema);
  const fields = Object.entries((schema.properties ?? {}) as Record<string, Schema>).filter(
    ([name]) => name !== 'file',
  );
  const mapping: Record<string, string> = {
    caseIdColumn: 'case',
    activityColumn: 'activity',
    timestampColumn: 'time',
    resourceColumn: 'who',
  };
  const values = fields.map(([name, s]) => {
    const valid = mapping[name] ? fc.constant(mapping[name]) : schemas.valid(s, 0, name).map((v) => String(v));
    const value =
      fault === 'field'
        ? fc.oneof({ weight: 1, arbitrary: valid }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) })
        : valid;
    // Mapped CSV columns are sent mostly; other fields now and then.
    return fc.option(value, { nil: undefined, freq: mapping[name] ? 8 : 2 }).map((v) => [name, v] as const);
  });
  const valid = UPLOADS.filter((u) => u.validFor === op.operationId);
  const files = fault === 'file' ? UPLOADS.filter((u) => u.validFor !== op.operationId) : valid;
  const file = fault === 'no file' ? fc.constant(undefined) : fc.constantFrom(...files);
  const deep = fault === 'deep' ? (['x' + '[a]'.repeat(100), '1'] as const) : undefined;
  return fc.tuple(file, ...values).map(([upload, ...pairs]) => {
    const body = new FormData();
    for (const [name, value] of [...pairs, ...(deep ? [deep] : [])]) if (value !== undefined) body.append(name, value);
    if (upload) body.append('file', new Blob([upload.content]), upload.name);
    const sent = Object.fromEntries(pairs.filter(([, v]) => v !== undefined));
    return { body, headers: {}, shown: JSON.stringify({ file: upload?.name, fields: sent, deep: Boolean(deep) }) };
  });
}

/**
 * Sends a request on a connection of its own (no keep-alive: an idle connection closed by the
 * server must not pass for a failure), and reads the whole answer.
 */
async function send(app: TestApp, req: FuzzRequest): Promise<{ status: number; text: string }> {
  const headers = { ...req.headers };
  let body: Buffer | undefined;
  if (req.body instanceof FormData) {
    const encoded = new Response(req.body);
    headers['Content-Type'] = encoded.headers.get('content-type')!;
    body = Buffer.from(await encoded.arrayBuffer());
  } else if (req.body !== undefined) body = Buffer.from(req.body);
  if (body) headers['Content-Length'] = String(body.length);
  return new Promise((resolve, reject) => {
    // The path goes as it is: a URL would resolve `%2E%2E` segments before sending.
    const { hostname, port } = new URL(app.url);
    const options = { hostname, port, path: req.path + req.query, method: req.method, headers, agent: false };
    const r = http.request(options, (res) => {
      // An event stream may stay open for good: its status and headers are the answer.
      if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        res.destroy();
        return resolve({ status: res.statusCode ?? 0, text: '' });
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

function describeRequest(req: FuzzRequest): string {
  const headers = Object.entries(req.headers)
    .map(([k, v]) => `${k}: ${k === 'Authorization' ? v.slice(0, 20) + '…' : v.slice(0, 100)}`)
    .join('; ');
  return `${req.method} ${req.path}${req.query} (fault: ${req.fault})\nheaders: ${headers}\nbody: ${req.shown}`;
}
