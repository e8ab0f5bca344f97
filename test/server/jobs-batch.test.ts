import { JOBS_PER_BATCH } from '../../src/domain/jobs';
import { base, newInvestigation, startTestApp, stores, waitForJob, type Tenant, type TestApp } from './harness';

/**
 * The batch submit, `POST .../execution/jobs`: up to JOBS_PER_BATCH jobs, all or nothing, with an
 * idempotency key per job. The job code is trivial; the queue and the worker are the real ones.
 */

/** The tenants' queue quota in this app: a batch can fill it exactly, and one job more is refused. */
const QUEUED_LIMIT = JOBS_PER_BATCH + 20;

describe.each(stores)('batch submit on %s', (store) => {
  let app: TestApp;

  const tenantWithDataset = async () => {
    const t = await app.newTenant();
    return { t, datasetId: (await newInvestigation(app, t)).datasetId as string };
  };
  const job = (datasetId: string, name: string, extra: Record<string, unknown> = {}) => ({
    jobName: name,
    jobType: 'ProcessMining',
    resource: { resourceType: 'Dataset', resourceId: datasetId },
    ...extra,
  });
  /** A job that waits an hour: it stays Queued, and counts against the quota. */
  const later = (datasetId: string, name: string) =>
    job(datasetId, name, {
      scheduling: { executeImmediately: false, scheduledTime: new Date(Date.now() + 3_600_000).toISOString() },
    });
  const submitBatch = (t: Tenant, jobs: unknown[]) =>
    app.call('POST', `${base(t)}/execution/jobs`, { token: t.token, body: { jobs } });
  const jobCount = async (t: Tenant) => {
    const [row] = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE project_id = $1', [
      t.projectId,
    ]);
    return row.n;
  };

  beforeAll(async () => {
    app = await startTestApp(
      store,
      { WORKER_CONCURRENCY: '4', TENANT_QUEUED_JOBS_LIMIT: String(QUEUED_LIMIT) },
      { runners: { ProcessMining: async () => undefined } },
    );
  }, 60_000);
  afterAll(() => app.close());

  test(`${JOBS_PER_BATCH} jobs are queued in the order sent, and run; ${JOBS_PER_BATCH + 1} are refused`, async () => {
    const { t, datasetId } = await tenantWithDataset();
    const names = Array.from({ length: JOBS_PER_BATCH }, (_, i) => `batch ${i}`);
    const res = await submitBatch(
      t,
      names.map((name) => ({ job: job(datasetId, name) })),
    );
    expect(res.status).toBe(202);
    expect(res.body.jobs.map((j: { job: { jobName: string } }) => j.job.jobName)).toEqual(names);
    expect(res.body.jobs.every((j: { replayed: boolean; job: { status: string } }) => !j.replayed)).toBe(true);
    expect(new Set(res.body.jobs.map((j: { job: { jobId: string } }) => j.job.jobId)).size).toBe(JOBS_PER_BATCH);
    for (const { job: submitted } of res.body.jobs) {
      expect((await waitForJob(app, t, submitted.jobId)).status).toBe('Completed');
    }

    const tooMany = await submitBatch(
      t,
      Array.from({ length: JOBS_PER_BATCH + 1 }, (_, i) => ({ job: job(datasetId, `over ${i}`) })),
    );
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.Code).toBe('VALIDATION_FAILED');
    const empty = await submitBatch(t, []);
    expect(empty.status).toBe(400);
    expect(await jobCount(t)).toBe(JOBS_PER_BATCH);
  }, 120_000);

  test('a key used before with the same job answers that job; with another job, 409 and nothing queued', async () => {
    const { t, datasetId } = await tenantWithDataset();
    const items = [
      { idempotencyKey: 'first', job: job(datasetId, 'first') },
      { idempotencyKey: 'second', job: job(datasetId, 'second') },
    ];
    const once = await submitBatch(t, items);
    expect(once.status).toBe(202);
    const again = await submitBatch(t, [...items, { idempotencyKey: 'third', job: job(datasetId, 'third') }]);
    expect(again.status).toBe(202);
    expect(again.body.jobs.map((j: { replayed: boolean }) => j.replayed)).toEqual([true, true, false]);
    expect(again.body.jobs.slice(0, 2).map((j: { job: { jobId: string } }) => j.job.jobId)).toEqual(
      once.body.jobs.map((j: { job: { jobId: string } }) => j.job.jobId),
    );
    expect(await jobCount(t)).toBe(3);

    const reused = await submitBatch(t, [
      { idempotencyKey: 'fourth', job: job(datasetId, 'fourth') },
      { idempotencyKey: 'second', job: job(datasetId, 'not the second') },
    ]);
    expect(reused.status).toBe(409);
    expect(reused.body).toMatchObject({
      Code: 'IDEMPOTENCY_KEY_REUSED',
      Index: 1,
      JobId: once.body.jobs[1].job.jobId,
    });
    const twice = await submitBatch(t, [
      { idempotencyKey: 'fifth', job: job(datasetId, 'fifth') },
      { idempotencyKey: 'fifth', job: job(datasetId, 'fifth again') },
    ]);
    expect(twice.status).toBe(400);
    expect(twice.body).toMatchObject({ Code: 'VALIDATION_FAILED', Index: 1 });
    expect(await jobCount(t)).toBe(3);
  }, 60_000);

  test("another tenant's dataset refuses the whole batch with 404 and the job's Index", async () => {
    const { t, datasetId } = await tenantWithDataset();
    const other = await tenantWithDataset();
    const res = await submitBatch(t, [
      { job: job(datasetId, 'mine') },
      { job: job(other.datasetId, 'theirs') },
      { job: job(datasetId, 'mine too') },
    ]);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ Code: 'DATASET_NOT_FOUND', Index: 1, DatasetId: other.datasetId });
    expect(res.body.Message).toMatch(/^jobs\[1\]: /);
    expect(await jobCount(t)).toBe(0);
    expect(await jobCount(other.t)).toBe(0);
  }, 60_000);

  test("a job whose parameters the service refuses refuses the whole batch with 400, naming the job's Index and field", async () => {
    const { t, datasetId } = await tenantWithDataset();
    const res = await submitBatch(t, [
      { job: job(datasetId, 'fine') },
      { job: job(datasetId, 'also fine') },
      { job: job(datasetId, 'bad noise', { parameters: { discovery: { noiseThreshold: 2 } } }) },
    ]);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ Code: 'VALIDATION_FAILED', Index: 2 });
    expect(res.body.Message).toMatch(/^jobs\[2\]: /);
    expect(res.body.ValidationErrors).toEqual([
      { Field: 'body.jobs[2].job.parameters.discovery.noiseThreshold', Message: 'must be a number from 0 to 1' },
    ]);
    expect(await jobCount(t)).toBe(0);
  }, 60_000);

  test('a batch that would take the tenant past its queue quota is refused whole (429)', async () => {
    const { t, datasetId } = await tenantWithDataset();
    const fill = await submitBatch(
      t,
      Array.from({ length: JOBS_PER_BATCH }, (_, i) => ({ job: later(datasetId, `later ${i}`) })),
    );
    expect(fill.status).toBe(202);
    const room = QUEUED_LIMIT - JOBS_PER_BATCH;
    const over = await submitBatch(
      t,
      Array.from({ length: room + 1 }, (_, i) => ({ job: later(datasetId, `over ${i}`) })),
    );
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({
      Code: 'QUEUED_JOBS_QUOTA_EXCEEDED',
      Limit: QUEUED_LIMIT,
      Current: JOBS_PER_BATCH,
    });
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await jobCount(t)).toBe(JOBS_PER_BATCH);
    const exact = await submitBatch(
      t,
      Array.from({ length: room }, (_, i) => ({ job: later(datasetId, `fits ${i}`) })),
    );
    expect(exact.status).toBe(202);
    expect(await jobCount(t)).toBe(QUEUED_LIMIT);
  }, 60_000);
});
