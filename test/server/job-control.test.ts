import fs from 'node:fs';
import path from 'node:path';
import type { JobContext, JobRunner } from '../../src/jobs/runners';
import {
  base,
  eventually,
  newInvestigation,
  startTestApp,
  stores,
  waitForJob,
  type Tenant,
  type TestApp,
} from './harness';

/**
 * The queue's control paths (priorities, cancel, timeout, retry, fencing) with job code the test
 * steers: ProcessMining jobs run the behaviour their `jobName` names. The queue, the worker and
 * the engine are the real ones; only the job's body is the test's.
 */
const started: string[] = [];
const gates = new Map<string, () => void>();

/** A query DuckDB runs for minutes unless interrupted. */
const ENDLESS = 'SELECT sum(hash(i)) FROM range(20000000000) t(i)';

const behaviours: Record<string, (ctx: JobContext) => Promise<void>> = {
  /** Waits until the test opens its gate. */
  gated: async (ctx) => {
    await new Promise<void>((resolve) => gates.set(String(ctx.job.id), resolve));
  },
  quick: async () => undefined,
  /** Runs an endless DuckDB query on the job's signal: only an interrupt ends it. */
  endless: async (ctx) => {
    await ctx.progress('Calculating', 10);
    await ctx.engine.withConnection((con) => con.run(ENDLESS), ctx.signal);
  },
  /** Writes one output, then runs endlessly. */
  partial: async (ctx) => {
    await ctx.output({
      role: 'additional',
      type: 'Metrics',
      title: 'First part',
      format: 'json',
      fileName: 'part.json',
      contentType: 'application/json',
      content: '{"part": 1}',
    });
    await ctx.progress('Calculating', 50);
    await ctx.engine.withConnection((con) => con.run(ENDLESS), ctx.signal);
  },
  /** Ignores its stop signal for half a minute. */
  stubborn: async (ctx) => {
    await ctx.progress('Working', 10);
    await new Promise((r) => setTimeout(r, 30_000));
  },
  /** Waits for its gate, then tries to write: the fence decides whether it may. */
  lateWriter: async (ctx) => {
    await new Promise<void>((resolve) => gates.set(String(ctx.job.id), resolve));
    await ctx.output({
      role: 'primary',
      type: 'Metrics',
      title: 'Late',
      format: 'json',
      fileName: 'late.json',
      contentType: 'application/json',
      content: '{}',
    });
  },
};

const steered: JobRunner = async (ctx) => {
  const [behaviour] = String(ctx.job.name).split(':');
  started.push(String(ctx.job.name));
  await behaviours[behaviour](ctx);
};

describe.each(stores)('job control on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let datasetId: string;
  const submit = async (name: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
    const res = await app.call('POST', `${base(t)}/execution/job`, {
      token: t.token,
      headers,
      body: {
        jobName: name,
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: datasetId },
        ...extra,
      },
    });
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${res.text}`);
    return res.body as { jobId: string; status: string; queuePosition: number | null; estimatedStartTime: string };
  };
  const job = async (id: string) => (await app.call('GET', `${base(t)}/execution/job/${id}`, { token: t.token })).body;
  const cancel = (id: string, body: Record<string, unknown> = {}) =>
    app.call('DELETE', `${base(t)}/execution/job/${id}`, { token: t.token, body });
  const runningOnWorker = async () => {
    const status = await app.call('GET', `/api/${t.tenantId}/execution/system/status`, { token: t.token });
    return status.body.executionNodes.find((n: { nodeId: string }) => n.nodeId === app.worker.id).activeJobs as number;
  };
  const open = (id: string) => eventually(`gate of ${id}`, async () => gates.get(id)).then((release) => release());

  beforeAll(async () => {
    app = await startTestApp(store, { WORKER_CONCURRENCY: '1' }, { runners: { ProcessMining: steered } });
    t = await app.newTenant();
    datasetId = (await newInvestigation(app, t)).datasetId;
  }, 60_000);
  afterAll(() => app.close());

  test('jobs start by priority, first in first out within one; queuePosition and estimates come from the queue', async () => {
    started.length = 0;
    const blocker = await submit('gated:blocker');
    await eventually('blocker to start', async () =>
      (await job(blocker.jobId)).status === 'Running' ? true : undefined,
    );
    const order = ['Low', 'Normal', 'High', 'Critical', 'Normal', 'Low'];
    const submitted = [];
    for (const [i, priority] of order.entries()) submitted.push(await submit(`quick:${priority}-${i}`, { priority }));
    expect(submitted.map((s) => s.status)).toEqual(order.map(() => 'Queued'));
    // Each new job's position counts the waiting jobs of its priority or higher submitted before it.
    expect(submitted.map((s) => s.queuePosition)).toEqual([1, 1, 1, 1, 4, 6]);
    const low = await job(submitted[0].jobId);
    expect(low).toMatchObject({
      status: 'Queued',
      queuePosition: 5,
      progress: { percentage: 0, currentStage: 'Queued' },
    });
    expect(new Date(low.progress.estimatedCompletion).getTime()).toBeGreaterThan(Date.now());
    await open(blocker.jobId);
    for (const s of submitted) await waitForJob(app, t, s.jobId);
    expect(started.slice(-6)).toEqual([
      'quick:Critical-3',
      'quick:High-2',
      'quick:Normal-1',
      'quick:Normal-4',
      'quick:Low-0',
      'quick:Low-5',
    ]);
  });

  test('a queued job is cancelled at once and never runs; a finished job cannot be cancelled (409)', async () => {
    const later = await submit('quick:later', {
      scheduling: { executeImmediately: false, scheduledTime: new Date(Date.now() + 3_600_000).toISOString() },
    });
    expect(later.status).toBe('Queued');
    const res = await cancel(later.jobId, { reason: 'Not needed' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ jobId: later.jobId, status: 'Cancelled', statusReason: 'Not needed' });
    const again = await cancel(later.jobId);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ Error: 'Job has finished', JobId: later.jobId, CurrentStatus: 'Cancelled' });
    expect(started).not.toContain('quick:later');
  });

  test('a scheduled job waits for its scheduledTime, then runs', async () => {
    const at = new Date(Date.now() + 2_000);
    const s = await submit('quick:scheduled', {
      scheduling: { executeImmediately: false, scheduledTime: at.toISOString() },
    });
    expect(new Date(s.estimatedStartTime).getTime()).toBeGreaterThanOrEqual(at.getTime() - 1);
    const done = await waitForJob(app, t, s.jobId, 20_000);
    expect(done.status).toBe('Completed');
    expect(new Date(done.execution.startTime).getTime()).toBeGreaterThanOrEqual(at.getTime() - 1000);
    const noTime = await app.call('POST', `${base(t)}/execution/job`, {
      token: t.token,
      body: {
        jobName: 'quick:x',
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: datasetId },
        scheduling: { executeImmediately: false },
      },
    });
    expect(noTime.status).toBe(400);
  });

  test('cancelling a running job interrupts its DuckDB query: the worker is free within 2 seconds', async () => {
    const s = await submit('endless:cancel');
    await eventually('the query to run', async () =>
      (await job(s.jobId)).progress.currentStage === 'Calculating' ? true : undefined,
    );
    expect(await runningOnWorker()).toBe(1);
    const asked = Date.now();
    const res = await cancel(s.jobId, { reason: 'Too slow' });
    expect(res.body.status).toBe('Cancelled');
    await eventually(
      'the worker to stop the job',
      async () => ((await runningOnWorker()) === 0 ? true : undefined),
      2_000,
      50,
    );
    expect(Date.now() - asked).toBeLessThan(2_000);
    expect(await job(s.jobId)).toMatchObject({ status: 'Cancelled', statusReason: 'Too slow' });
  });

  test('forceTermination stops waiting for job code that ignores its signal', async () => {
    const s = await submit('stubborn:force');
    await eventually('it to work', async () =>
      (await job(s.jobId)).progress.currentStage === 'Working' ? true : undefined,
    );
    const asked = Date.now();
    await cancel(s.jobId, { forceTermination: true });
    await eventually(
      'the slot to be free',
      async () => ((await runningOnWorker()) === 0 ? true : undefined),
      3_000,
      50,
    );
    expect(Date.now() - asked).toBeLessThan(2_000);
  });

  test('preservePartialResults decides whether outputs written before a cancel are kept', async () => {
    for (const preserve of [true, false]) {
      const s = await submit(`partial:${preserve}`);
      await eventually('the first part', async () =>
        (await job(s.jobId)).progress.currentStage === 'Calculating' ? true : undefined,
      );
      await cancel(s.jobId, { preservePartialResults: preserve });
      await eventually(
        'the worker to let go',
        async () => ((await runningOnWorker()) === 0 ? true : undefined),
        3_000,
        50,
      );
      const results = await app.call('GET', `${base(t)}/execution/job/${s.jobId}/results`, { token: t.token });
      expect(results.status).toBe(200);
      expect(results.body).toMatchObject({ status: 'Cancelled', success: false });
      const outputs = results.body.results.additionalOutputs;
      if (preserve) {
        expect(outputs).toHaveLength(1);
        const file = await app.call('GET', outputs[0].downloadUrl.slice(app.url.length), { token: t.token });
        expect(file.text).toBe('{"part": 1}');
      } else {
        expect(outputs).toEqual([]);
        const [{ n }] = await app.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM artifacts WHERE job_id = $1',
          [s.jobId],
        );
        expect(n).toBe(0);
      }
    }
  });

  test('timeoutMinutes fails a job with a timeout reason; a retry merges updatedParameters and links back', async () => {
    const s = await submit('endless:timeout', { scheduling: { timeoutMinutes: 0.05 }, parameters: { a: 1, b: 2 } });
    const failed = await waitForJob(app, t, s.jobId, 10_000);
    expect(failed).toMatchObject({
      status: 'Failed',
      statusReason: 'Timed out after 3 seconds (timeoutMinutes 0.05)',
      error: { errorType: 'Timeout' },
    });
    const retry = await app.call('POST', `${base(t)}/execution/job/${s.jobId}/retry`, {
      token: t.token,
      body: { retryReason: 'Try again', modifyParameters: true, updatedParameters: { b: 3 }, priority: 'High' },
    });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({
      retryOf: s.jobId,
      retryReason: 'Try again',
      priority: 'High',
      parameters: { a: 1, b: 3 },
      jobName: 'endless:timeout',
    });
    expect(retry.body.jobId).not.toBe(s.jobId);
    await waitForJob(app, t, retry.body.jobId, 10_000);
    const done = await submit('quick:done');
    await waitForJob(app, t, done.jobId);
    const refused = await app.call('POST', `${base(t)}/execution/job/${done.jobId}/retry`, {
      token: t.token,
      body: {},
    });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ JobId: done.jobId, CurrentStatus: 'Completed' });
  });

  test('a worker that lost its job (another attempt claimed it) can neither add outputs nor complete it', async () => {
    const s = await submit('lateWriter:fenced');
    await eventually('it to run', async () => ((await job(s.jobId)).status === 'Running' ? true : undefined));
    // What a takeover does to the row: a new attempt by another worker.
    await app.db.query(`UPDATE jobs SET attempt = attempt + 1, worker_id = 'another-worker' WHERE id = $1`, [s.jobId]);
    await open(s.jobId);
    await eventually(
      'the stale run to end',
      async () => ((await runningOnWorker()) === 0 ? true : undefined),
      5_000,
      50,
    );
    const after = await job(s.jobId);
    expect(after).toMatchObject({ status: 'Running', execution: { executionNode: 'another-worker' } });
    const [{ n }] = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM artifacts WHERE job_id = $1', [
      s.jobId,
    ]);
    expect(n).toBe(0);
    await app.db.query(`UPDATE jobs SET status = 'Cancelled', ended_at = now() WHERE id = $1`, [s.jobId]);
  });

  test('results of an unfinished job answer 409; the scratch directory of finished runs is gone', async () => {
    const s = await submit('gated:unfinished');
    await eventually('it to run', async () => ((await job(s.jobId)).status === 'Running' ? true : undefined));
    const early = await app.call('GET', `${base(t)}/execution/job/${s.jobId}/results`, { token: t.token });
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ JobId: s.jobId, CurrentStatus: 'Running' });
    await open(s.jobId);
    await waitForJob(app, t, s.jobId);
    const scratch = path.join(app.config.dataDir, 'tmp', 'jobs');
    await eventually('scratch to be removed', async () => (fs.readdirSync(scratch).length === 0 ? true : undefined));
  });
});
