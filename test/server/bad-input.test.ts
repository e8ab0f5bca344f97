import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { base, formWith, newInvestigation, startTestApp, stores, type Tenant, type TestApp } from './harness';

describe.each(stores)('bad input on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  beforeAll(async () => {
    app = await startTestApp(store, { BODY_LIMIT_BYTES: '2000' });
    t = await app.newTenant();
  }, 60_000);
  afterAll(() => app.close());

  const projectCount = async () => (await app.db.query('SELECT count(*)::int AS n FROM projects'))[0].n;

  test('malformed JSON returns 400 Malformed JSON and changes nothing', async () => {
    const before = await projectCount();
    const res = await app.call('POST', `/api/${t.tenantId}/project`, {
      token: t.token,
      raw: { body: '{"name": "x",', contentType: 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body.Error).toBe('Malformed JSON');
    expect(res.body.RequestId).toBe(res.headers.get('x-request-id'));
    expect(await projectCount()).toBe(before);
  });

  test('wrong types and unknown fields return 400 listing every invalid field', async () => {
    const res = await app.call('POST', `/api/${t.tenantId}/project`, {
      token: t.token,
      body: { name: 42, description: [], projectId: 'mine' },
    });
    expect(res.status).toBe(400);
    const fields = res.body.ValidationErrors.map((e: { Field: string }) => e.Field).sort();
    expect(fields).toEqual(['body.description', 'body.name', 'body.projectId']);
  });

  test('ids, dates, counters and createdBy cannot be assigned (no mass assignment)', async () => {
    const inv = await app.call('POST', `${base(t)}/investigation`, {
      token: t.token,
      body: {
        name: 'x',
        datasetId: '880e8400-e29b-41d4-a716-446655440000',
        investigationId: '11111111-2222-3333-4444-555555555555',
        createdBy: 'root',
        notebookCount: 9,
      },
    });
    expect(inv.status).toBe(400);
    expect(inv.body.ValidationErrors.map((e: { Field: string }) => e.Field)).toEqual(
      expect.arrayContaining(['body.investigationId', 'body.createdBy', 'body.notebookCount']),
    );
  });

  test('a body over the limit returns 413 in the error envelope', async () => {
    const res = await app.call('POST', `/api/${t.tenantId}/project`, {
      token: t.token,
      body: { name: 'x', description: 'y'.repeat(5000) },
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ Error: 'Payload too large', LimitBytes: 2000 });
  });

  test('an invalid GUID in the path returns 400 naming the parameter', async () => {
    const res = await app.call('GET', `${base(t)}/notebook/12345`, { token: t.token });
    expect(res.status).toBe(400);
    expect(res.body.ValidationErrors).toEqual([{ Field: 'path.notebookId', Message: 'must match format "uuid"' }]);
  });

  test('pageSize over 100 or page 0 returns 400', async () => {
    const res = await app.call('GET', `${base(t)}/notebooks?pageSize=101&page=0`, { token: t.token });
    expect(res.status).toBe(400);
    expect(res.body.ValidationErrors.map((e: { Field: string }) => e.Field).sort()).toEqual([
      'query.page',
      'query.pageSize',
    ]);
  });

  test('an unknown route returns 404 and a wrong method 405 with Allow, both in the error envelope', async () => {
    const missing = await app.call('GET', `${base(t)}/nothing-here`, { token: t.token });
    expect(missing.status).toBe(404);
    expect(missing.body.Error).toBe('Route not found');
    const wrong = await app.call('PATCH', `${base(t)}/notebooks`, { token: t.token });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
    expect(wrong.body.Error).toBe('Method not allowed');
    const empty = await app.call('GET', `/api/${t.tenantId}//notebooks`, { token: t.token });
    expect(empty.status).toBe(404);
  });

  test('a JSON operation sent as text returns 400, not 500', async () => {
    const res = await app.call('POST', `/api/${t.tenantId}/project`, {
      token: t.token,
      raw: { body: 'name=x', contentType: 'text/plain' },
    });
    expect(res.status).toBe(400);
  });

  test('a Jupyter notebook whose kernel is not installed is refused (400) with the kernels there are', async () => {
    const res = await app.call('POST', `${base(t)}/notebook`, {
      token: t.token,
      body: { notebookName: 'In R', kernelType: 'nonexistent-kernel' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ Error: 'Kernel not available', Available: ['python3'] });
  });

  test('a job submit with malformed JSON, wrong types, unknown fields or an oversized body queues nothing', async () => {
    const jobCount = async () => (await app.db.query('SELECT count(*)::int AS n FROM jobs'))[0].n;
    const before = await jobCount();
    const url = `${base(t)}/execution/job`;
    const malformed = await app.call('POST', url, {
      token: t.token,
      raw: { body: '{"jobName": "x", "jobType":', contentType: 'application/json' },
    });
    expect([malformed.status, malformed.body.Error]).toEqual([400, 'Malformed JSON']);
    const wrong = await app.call('POST', url, {
      token: t.token,
      body: {
        jobName: 7,
        jobType: 'ProcessMining',
        priority: 'Urgent',
        resource: { resourceType: 'Dataset', resourceId: 'nope' },
        scheduling: { timeoutMinutes: -1 },
        notifications: { emailRecipients: ['not an address'] },
        sneaky: true,
      },
    });
    expect(wrong.status).toBe(400);
    const fields = wrong.body.ValidationErrors.map((e: { Field: string }) => e.Field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'body.jobName',
        'body.priority',
        'body.resource.resourceId',
        'body.scheduling.timeoutMinutes',
        'body.notifications.emailRecipients[0]',
        'body.sneaky',
      ]),
    );
    const huge = await app.call('POST', url, {
      token: t.token,
      body: {
        jobName: 'x',
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: '00000000-0000-4000-8000-000000000000' },
        parameters: { padding: 'x'.repeat(5000) },
      },
    });
    expect(huge.status).toBe(413);
    const badKey = await app.call('POST', url, {
      token: t.token,
      headers: { 'Idempotency-Key': '' },
      body: {
        jobName: 'x',
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: '00000000-0000-4000-8000-000000000000' },
      },
    });
    expect(badKey.status).toBe(400);
    expect(await jobCount()).toBe(before);
  });
});

/** A body nested `depth` objects and arrays deep, as JSON text (JSON.stringify of such a value overflows the stack). */
function deepJson(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 === 0 ? '{"a":' : '[';
    close = (i % 2 === 0 ? '}' : ']') + close;
  }
  return `${open}1${close}`;
}

// Issue 10: each of these answered 500 on both stores; each is a 400 naming the field, and nothing is kept.
describe.each(stores)('request values no operation accepts, on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let datasetId: string;
  let notebookId: string;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    ({ datasetId } = await newInvestigation(app, t));
    const jupyter = await app.call('POST', `${base(t)}/notebook`, { token: t.token, body: { notebookName: 'Values' } });
    notebookId = jupyter.body.notebookId;
  }, 60_000);
  afterAll(() => app.close());

  const count = async (table: string) => (await app.db.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n;
  const fieldsOf = (res: { body: { ValidationErrors?: { Field: string }[] } }) =>
    (res.body.ValidationErrors ?? []).map((e) => e.Field);
  const job = (extra: Record<string, unknown>) => ({
    jobName: 'x',
    jobType: 'ProcessMining',
    resource: { resourceType: 'Dataset', resourceId: datasetId },
    ...extra,
  });

  test('a NUL character in a name, a title, a parameter or a cell answers 400 naming the field', async () => {
    const before = [await count('projects'), await count('jobs'), await count('notebooks')];
    const cases: [string, string, unknown, string][] = [
      ['POST', `/api/${t.tenantId}/project`, { name: 'a\u0000b' }, 'body.name'],
      ['POST', `${base(t)}/execution/job`, job({ parameters: { note: 'x\u0000' } }), 'body.parameters.note'],
      ['POST', `${base(t)}/execution/job`, job({ parameters: { 'k\u0000': 1 } }), 'body.parameters.k\\u0000'],
      [
        'POST',
        `${base(t)}/notebook`,
        { notebookName: 'n', initialCells: [{ cellType: 'code', content: 'print(1)\u0000' }] },
        'body.initialCells[0].content',
      ],
      ['POST', `${base(t)}/notebook/${notebookId}/execute`, { parameters: { a: '\u0000' } }, 'body.parameters.a'],
    ];
    for (const [method, url, body, field] of cases) {
      const res = await app.call(method, url, { token: t.token, body });
      expect([res.status, fieldsOf(res)]).toEqual([400, [field]]);
      expect(res.body.ValidationErrors[0].Message).toContain('NUL character');
    }
    expect([await count('projects'), await count('jobs'), await count('notebooks')]).toEqual(before);
  });

  test('a NUL character in a query string or a form field answers 400 naming it', async () => {
    const query = await app.call('GET', `${base(t)}/execution/jobs?submittedBy=a%00b`, { token: t.token });
    expect([query.status, fieldsOf(query)]).toEqual([400, ['query.submittedBy']]);
    const before = await count('datasets');
    const form = formWith(
      { name: 'x.csv', content: 'case,activity,time\n1,a,2024-01-01T00:00:00Z\n' },
      { name: 'x\u0000y', caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'time' },
    );
    const upload = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    expect([upload.status, fieldsOf(upload)]).toEqual([400, ['body.name']]);
    expect(await count('datasets')).toBe(before);
    expect(fs.readdirSync(path.join(app.config.dataDir, 'tmp'))).toEqual([]);
  });

  test('a lone surrogate in a string or a key answers 400 naming the field', async () => {
    const before = await count('projects');
    for (const [body, field] of [
      ['{"name":"a\\ud800b"}', 'body.name'],
      ['{"name":"x","description":"\\udc00"}', 'body.description'],
      ['{"name":"x","\\ud800":1}', 'body.\ufffd'],
    ]) {
      const res = await app.call('POST', `/api/${t.tenantId}/project`, {
        token: t.token,
        raw: { body, contentType: 'application/json' },
      });
      expect([res.status, fieldsOf(res)]).toEqual([400, [field]]);
      expect(res.body.ValidationErrors[0].Message).toContain('lone surrogate');
    }
    expect(await count('projects')).toBe(before);
  });

  test('page=99999999999999999999 on every list answers 400; the documented maximum page is an empty page', async () => {
    const lists = [
      `/api/${t.tenantId}/projects`,
      `${base(t)}/investigations`,
      `${base(t)}/datasets`,
      `${base(t)}/notebooks`,
      `${base(t)}/execution/jobs`,
    ];
    for (const list of lists) {
      const huge = await app.call('GET', `${list}?page=99999999999999999999`, { token: t.token });
      expect([list, huge.status, fieldsOf(huge)]).toEqual([list, 400, ['query.page']]);
      const past = await app.call('GET', `${list}?page=2147483648`, { token: t.token });
      expect([list, past.status]).toEqual([list, 400]);
      const last = await app.call('GET', `${list}?page=2147483647&pageSize=100`, { token: t.token });
      expect([list, last.status, last.body.hasNextPage]).toEqual([list, 200, false]);
    }
  });

  test('parameters nested 5,000 deep on submit or execute answer 400; JSON_DEPTH_LIMIT (64) is the edge', async () => {
    const before = await count('jobs');
    const submit = (parameters: string) =>
      app.call('POST', `${base(t)}/execution/job`, {
        token: t.token,
        raw: {
          body: JSON.stringify(job({})).replace(/}$/, `,"parameters":${parameters}}`),
          contentType: 'application/json',
        },
      });
    const deep = await submit(deepJson(5000));
    expect([deep.status, fieldsOf(deep)]).toEqual([400, ['body.parameters']]);
    expect(deep.body.ValidationErrors[0].Message).toContain('more than 64 levels');
    const execute = await app.call('POST', `${base(t)}/notebook/${notebookId}/execute`, {
      token: t.token,
      raw: { body: `{"parameters":${deepJson(5000)}}`, contentType: 'application/json' },
    });
    expect([execute.status, fieldsOf(execute)]).toEqual([400, ['body.parameters']]);
    expect(await count('jobs')).toBe(before);
    // The body is level 1, `parameters` level 2: 62 more levels reach the limit, 63 pass it.
    const over = await submit(`{"p":${deepJson(63)}}`);
    expect([over.status, fieldsOf(over)]).toEqual([400, ['body.parameters']]);
    const atLimit = await submit(`{"p":${deepJson(62)}}`);
    expect(atLimit.status).toBe(202);
  });

  test('a body announced as gzip that is not gzip answers 400; real gzip is read', async () => {
    const before = await count('projects');
    const bogus = await app.call('POST', `/api/${t.tenantId}/project`, {
      token: t.token,
      headers: { 'Content-Encoding': 'gzip' },
      raw: { body: '{"name":"plain"}', contentType: 'application/json' },
    });
    expect(bogus.status).toBe(400);
    expect(bogus.body).toMatchObject({
      Error: 'Malformed compressed body',
      Message: 'The body is sent with `Content-Encoding: gzip` but is not valid gzip data.',
    });
    const unknown = await app.call('POST', `/api/${t.tenantId}/project`, {
      token: t.token,
      headers: { 'Content-Encoding': 'zork' },
      raw: { body: '{"name":"plain"}', contentType: 'application/json' },
    });
    expect([unknown.status, unknown.body.Error]).toEqual([400, 'Unsupported body encoding']);
    expect(await count('projects')).toBe(before);
    const real = await app.call('POST', `/api/${t.tenantId}/project`, {
      token: t.token,
      headers: { 'Content-Encoding': 'gzip' },
      raw: { body: zlib.gzipSync('{"name":"zipped"}'), contentType: 'application/json' },
    });
    expect([real.status, real.body.name]).toEqual([201, 'zipped']);
  });

  test('a path segment that is not percent-encoded UTF-8 answers 400, not 500', async () => {
    const res = await app.call('GET', `/api/%ED%A0%80/projects`, { token: t.token });
    expect([res.status, fieldsOf(res)]).toEqual([400, ['path.tenantId']]);
  });

  test('a non-ASCII upload file name is stored and sent back as it was (UTF-8, RFC 5987 filename*)', async () => {
    const name = 'Übersicht_名前.csv';
    const form = formWith(
      { name, content: 'case,activity,time\n1,a,2024-01-01T00:00:00Z\n' },
      { caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'time' },
    );
    const created = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    expect(created.status).toBe(201);
    expect([created.body.originalFileName, created.body.name]).toEqual([name, name]);
    const got = await app.call('GET', `${base(t)}/dataset/${created.body.datasetId}`, { token: t.token });
    expect(got.body.originalFileName).toBe(name);
    const original = await app.call('GET', `${base(t)}/dataset/${created.body.datasetId}/download?format=original`, {
      token: t.token,
    });
    expect(original.headers.get('content-disposition')).toBe(
      `attachment; filename="_bersicht___.csv"; filename*=UTF-8''%C3%9Cbersicht_%E5%90%8D%E5%89%8D.csv`,
    );
    const csv = await app.call('GET', `${base(t)}/dataset/${created.body.datasetId}/download`, { token: t.token });
    expect(csv.headers.get('content-disposition')).toContain(`filename*=UTF-8''%C3%9Cbersicht_%E5%90%8D%E5%89%8D.csv`);
  });

  test('HEAD answers every GET with its status and headers and no body', async () => {
    const get = await app.call('GET', `${base(t)}/datasets`, { token: t.token });
    const head = await app.call('HEAD', `${base(t)}/datasets`, { token: t.token });
    expect([head.status, head.text]).toEqual([200, '']);
    expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'));
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    const missing = await app.call('HEAD', `${base(t)}/dataset/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`, {
      token: t.token,
    });
    expect(missing.status).toBe(404);
  });

  test('what the fuzz test found: no body on a notebook update, an unknown project on templates, a query on /health', async () => {
    const update = await app.call('PUT', `${base(t)}/notebook/${notebookId}`, { token: t.token });
    expect([update.status, fieldsOf(update)]).toEqual([400, ['body']]);
    const templates = await app.call(
      'GET',
      `/api/${t.tenantId}/${'1'.repeat(8)}-1111-4111-8111-${'1'.repeat(12)}/templates`,
      {
        token: t.token,
      },
    );
    expect([templates.status, templates.body.Error]).toEqual([404, 'Project not found']);
    const health = await app.call('GET', '/health?verbose=1');
    expect([health.status, fieldsOf(health)]).toEqual([400, ['query.verbose']]);
  });

  test('the longest timeouts the contract allows are queued (pg-boss caps a delivery at 24 hours); longer ones are 400', async () => {
    const { datasetId } = await newInvestigation(app, t);
    const submit = (timeoutMinutes: number) =>
      app.call('POST', `${base(t)}/execution/job`, {
        token: t.token,
        body: {
          jobName: 'Long',
          jobType: 'ProcessMining',
          resource: { resourceType: 'Dataset', resourceId: datasetId },
          scheduling: { executeImmediately: false, scheduledTime: '2099-01-01T00:00:00Z', timeoutMinutes },
        },
      });
    expect((await submit(1440)).status).toBe(202);
    expect((await submit(1441)).status).toBe(400);
    const failed = await app.db.query(
      `SELECT count(*)::int AS n FROM jobs WHERE tenant_id = $1 AND status = 'Failed'`,
      [t.tenantId],
    );
    expect(failed[0].n).toBe(0);
  });
});
