import os from 'node:os';
import { streamSubscribed } from '../../src/http/metrics';
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
 * `GET /metrics`: Prometheus text whose figures move with what the service does (requests, jobs,
 * workers' slots, the queue, event streams), open to loopback clients by default, and to the
 * bearer of `METRICS_TOKEN` from anywhere when it is set.
 */

/** One sample line of the exposition format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a scrape; a line that is neither a comment nor a sample fails the test. */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const pairs = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((p) => [p[1], p[2]]);
      return { name: m[1], labels: Object.fromEntries(pairs), value: Number(m[3]) };
    });
}

/** The sum of the samples of `name` that carry these labels (0 when there are none yet). */
function figure(scrape: Sample[], name: string, labels: Record<string, string> = {}): number {
  return scrape
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** An IPv4 address of this machine that is not loopback, to call the server as another machine would. */
const outside = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

const gates = new Map<string, () => void>();
/** ProcessMining jobs named `gated` wait for the test to open their gate; the others take 200 ms. */
const runner: JobRunner = async (ctx: JobContext) => {
  if (ctx.job.name === 'gated') await new Promise<void>((resolve) => gates.set(String(ctx.job.id), resolve));
  else await new Promise((resolve) => setTimeout(resolve, 200));
};

describe.each(stores)('GET /metrics on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let datasetId: string;
  let port: string;
  // Listening on every interface, so that the same server can be called from loopback and from outside.
  beforeAll(async () => {
    app = await startTestApp(
      store,
      { HOST: '0.0.0.0', WORKER_CONCURRENCY: '1' },
      { runners: { ProcessMining: runner } },
    );
    port = new URL(app.url).port;
    t = await app.newTenant();
    datasetId = (await newInvestigation(app, t)).datasetId;
  }, 60_000);
  afterAll(() => app.close());

  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    return samples(await res.text());
  };
  const submit = async (jobName: string, priority = 'Normal') => {
    const res = await app.call('POST', `${base(t)}/execution/job`, {
      token: t.token,
      body: {
        jobName,
        jobType: 'ProcessMining',
        priority,
        resource: { resourceType: 'Dataset', resourceId: datasetId },
      },
    });
    expect(res.status).toBe(202);
    return res.body.jobId as string;
  };

  test('a scrape from loopback answers Prometheus text with every family of figures', async () => {
    const s = await scrape();
    expect(figure(s, 'assay_store_up')).toBe(1);
    expect(figure(s, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(figure(s, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(figure(s, 'assay_workers')).toBeGreaterThanOrEqual(1);
    // Every type and state, and every priority, is there, at 0 when nothing is in it.
    expect(s.filter((x) => x.name === 'assay_jobs')).toHaveLength(4 * 5);
    expect(s.filter((x) => x.name === 'assay_queue_depth').map((x) => x.labels.priority)).toEqual(
      expect.arrayContaining(['Critical', 'High', 'Normal', 'Low']),
    );
    expect(figure(s, 'assay_kernels_running')).toBe(0);
    expect(s.some((x) => x.name === 'assay_event_stream_subscribers')).toBe(true);
  });

  test('request counts and durations move by operationId and status', async () => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) {
      expect((await app.call('GET', `${base(t)}/notebooks`, { token: t.token })).status).toBe(200);
    }
    expect((await app.call('GET', `${base(t)}/notebooks`)).status).toBe(401);
    expect((await app.call('GET', '/nowhere')).status).toBe(404);
    const after = await scrape();
    const moved = (name: string, labels: Record<string, string>) =>
      figure(after, name, labels) - figure(before, name, labels);
    const ok = { operation_id: 'listNotebooks', status: '200' };
    expect(moved('assay_http_requests_total', ok)).toBe(3);
    expect(moved('assay_http_request_duration_seconds_count', ok)).toBe(3);
    expect(moved('assay_http_request_duration_seconds_sum', ok)).toBeGreaterThan(0);
    expect(moved('assay_http_request_duration_seconds_bucket', { ...ok, le: '+Inf' })).toBe(3);
    expect(moved('assay_http_requests_total', { operation_id: 'listNotebooks', status: '401' })).toBe(1);
    expect(moved('assay_http_requests_total', { operation_id: 'none', status: '404' })).toBe(1);
    // The first scrape itself was counted once its answer ended.
    expect(moved('assay_http_requests_total', { operation_id: 'getMetrics', status: '200' })).toBeGreaterThanOrEqual(1);
  });

  test('jobs by state, queue depth, worker slots and job durations move with jobs', async () => {
    const before = await scrape();
    const moved = (now: Sample[], name: string, labels: Record<string, string> = {}) =>
      figure(now, name, labels) - figure(before, name, labels);
    const pm = (status: string) => ({ type: 'ProcessMining', status });

    // One job holds the worker's only slot; the next waits in the queue at its priority.
    const held = await submit('gated');
    const release = await eventually('the held job to start', async () => gates.get(held));
    const waiting = await submit('quick', 'High');
    const during = await scrape();
    expect(figure(during, 'assay_jobs', pm('Running'))).toBe(1);
    expect(moved(during, 'assay_jobs', pm('Queued'))).toBe(1);
    expect(moved(during, 'assay_queue_depth', { priority: 'High' })).toBe(1);
    expect(figure(during, 'assay_worker_slots', { state: 'busy' })).toBe(1);
    expect(figure(during, 'assay_worker_slots', { state: 'free' })).toBe(0);

    release();
    await waitForJob(app, t, held);
    await waitForJob(app, t, waiting);
    const after = await scrape();
    expect(moved(after, 'assay_jobs', pm('Completed'))).toBe(2);
    expect(figure(after, 'assay_jobs', pm('Running'))).toBe(0);
    expect(figure(after, 'assay_queue_depth', { priority: 'High' })).toBe(0);
    expect(moved(after, 'assay_job_duration_seconds_count', pm('Completed'))).toBe(2);
    // The quick job alone took 200 ms.
    expect(moved(after, 'assay_job_duration_seconds_sum', pm('Completed'))).toBeGreaterThanOrEqual(0.2);
    await eventually('the slot to be free again', async () =>
      figure(await scrape(), 'assay_worker_slots', { state: 'free' }) === 1 ? true : undefined,
    );
  });

  test('event-stream subscribers are counted while their streams are open', async () => {
    const at = async () => figure(await scrape(), 'assay_event_stream_subscribers');
    const before = await at();
    const closeOne = streamSubscribed();
    const closeTwo = streamSubscribed();
    expect(await at()).toBe(before + 2);
    closeOne();
    closeOne(); // a second close of the same stream changes nothing
    expect(await at()).toBe(before + 1);
    closeTwo();
    expect(await at()).toBe(before);
  });

  (outside ? test : test.skip)('without METRICS_TOKEN, a client on another address gets 403', async () => {
    const res = await fetch(`http://${outside}:${port}/metrics`);
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ Error: 'Forbidden', Code: 'METRICS_LOOPBACK_ONLY' });
    // The API itself answers from there as usual.
    expect((await fetch(`http://${outside}:${port}/health`)).status).toBe(200);
  });

  test('without METRICS_TOKEN, a token is not needed and any token is ignored', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { Authorization: `Bearer ${t.token}` } });
    expect(res.status).toBe(200);
  });
});

describe.each(stores)('GET /metrics with METRICS_TOKEN on %s', (store) => {
  const token = 'metrics-token-for-the-test';
  let app: TestApp;
  let port: string;
  beforeAll(async () => {
    app = await startTestApp(store, { HOST: '0.0.0.0', METRICS_TOKEN: token });
    port = new URL(app.url).port;
  }, 60_000);
  afterAll(() => app.close());

  const scrape = (host: string, authorization?: string) =>
    fetch(`http://${host}:${port}/metrics`, { headers: authorization ? { Authorization: authorization } : {} });

  test('without the token or with another one, 401 even from loopback', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${token}`, `Bearer ${app.adminToken}`]) {
      const res = await scrape('127.0.0.1', authorization);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ Error: 'Unauthorized', Code: 'METRICS_TOKEN_REQUIRED' });
    }
  });

  test('with the token, 200 from loopback', async () => {
    const res = await scrape('127.0.0.1', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('# TYPE assay_http_requests_total counter');
  });

  (outside ? test : test.skip)('with the token, 200 from another address; without it, 401', async () => {
    expect((await scrape(outside!, `Bearer ${token}`)).status).toBe(200);
    expect((await scrape(outside!)).status).toBe(401);
  });
});
