import { base, startTestApp, stores, type Tenant, type TestApp } from './harness';

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
    expect(wrong.headers.get('allow')).toBe('GET');
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
