import { base, newInvestigation, startTestApp, stores, type Tenant, type TestApp } from './harness';
import { kernelCalls } from './kernelHarness';

/** A tenant holds only so much of the shared queue; beyond it, 429 with Retry-After and nothing queued. */
describe.each(stores)('tenant quotas on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let datasetId: string;
  beforeAll(async () => {
    app = await startTestApp(store, { TENANT_QUEUED_JOBS_LIMIT: '2', TENANT_KERNELS_LIMIT: '1' });
    t = await app.newTenant();
    ({ datasetId } = await newInvestigation(app, t));
  }, 60_000);
  afterAll(() => app.close());

  const jobCount = async (tenant: Tenant) =>
    (await app.db.query('SELECT count(*)::int AS n FROM jobs WHERE tenant_id = $1', [tenant.tenantId]))[0].n;
  const later = (tenant: Tenant, dataset = datasetId) =>
    app.call('POST', `${base(tenant)}/execution/job`, {
      token: tenant.token,
      body: {
        jobName: 'Later',
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: dataset },
        scheduling: { executeImmediately: false, scheduledTime: new Date(Date.now() + 3_600_000).toISOString() },
      },
    });

  test('a submit past TENANT_QUEUED_JOBS_LIMIT answers 429 with Retry-After; other tenants are not affected', async () => {
    expect((await later(t)).status).toBe(202);
    expect((await later(t)).status).toBe(202);
    const before = await jobCount(t);
    const refused = await later(t);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body).toMatchObject({ Error: 'Quota exceeded', Limit: 2, Current: 2 });
    expect(refused.body.Message).toContain('jobs waiting');
    expect(await jobCount(t)).toBe(before);
    const v = await app.newTenant();
    expect((await later(v, (await newInvestigation(app, v)).datasetId)).status).toBe(202);
    // Cancelling one frees a place.
    const [queued] = await app.db.query(`SELECT id FROM jobs WHERE tenant_id = $1 AND status = 'Queued' LIMIT 1`, [
      t.tenantId,
    ]);
    await app.call('DELETE', `${base(t)}/execution/job/${String(queued.id)}`, { token: t.token, body: {} });
    expect((await later(t)).status).toBe(202);
  });

  test('a notebook execution past TENANT_KERNELS_LIMIT answers 429 and leaves no execution behind', async () => {
    const u = await app.newTenant();
    const { datasetId: theirs } = await newInvestigation(app, u);
    const k = kernelCalls(app, () => theirs);
    const slow = await k.notebook(['import time\ntime.sleep(60)'], u);
    const running = await k.execute(slow, u);
    const second = await k.notebook(['print(1)'], u);
    const refused = await app.call('POST', `${base(u)}/notebook/${second}/execute`, { token: u.token, body: {} });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.body).toMatchObject({ Error: 'Quota exceeded', Limit: 1, Current: 1 });
    expect(refused.body.Message).toContain('concurrent kernels');
    const nb = await app.call('GET', `${base(u)}/notebook/${second}`, { token: u.token });
    expect(nb.body.status).not.toBe('Running');
    const executions = await app.db.query('SELECT count(*)::int AS n FROM executions WHERE notebook_id = $1', [second]);
    expect(executions[0].n).toBe(0);
    // Once the first is over, the next one runs.
    await app.call('DELETE', `${base(u)}/execution/job/${running.jobId}`, { token: u.token, body: {} });
    await k.finished(slow, running.executionId, u);
    const accepted = await k.execute(second, u);
    expect((await k.finished(second, accepted.executionId, u)).status).toBe('Completed');
  }, 60_000);
});
