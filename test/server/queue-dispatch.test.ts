import type { JobRunner } from '../../src/jobs/runners';
import { notifyChannel } from '../../src/jobs/queue';
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
 * How the queue hands jobs to a worker's slots (src/jobs/queue.ts): a job sent while every slot
 * is busy starts as soon as a slot is free, not at the next poll (every 2 seconds).
 */
const gates = new Map<string, () => void>();
const gatedOrQuick: JobRunner = async (ctx) => {
  if (String(ctx.job.name).startsWith('gated')) {
    await new Promise<void>((resolve) => gates.set(String(ctx.job.id), resolve));
  }
};

/** Well under the poll interval: a job that waited for the poll would start 2 seconds late. */
const PROMPT_MS = 1_000;

describe.each(stores)('queue dispatch on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let datasetId: string;

  const submit = async (name: string) => {
    const res = await app.call('POST', `${base(t)}/execution/job`, {
      token: t.token,
      body: { jobName: name, jobType: 'ProcessMining', resource: { resourceType: 'Dataset', resourceId: datasetId } },
    });
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${res.text}`);
    return res.body.jobId as string;
  };
  const times = async (id: string) => {
    const [row] = await app.db.query<{ started: number; ended: number }>(
      `SELECT extract(epoch FROM started_at)::float8 * 1000 AS started, extract(epoch FROM ended_at)::float8 * 1000 AS ended
       FROM jobs WHERE id = $1`,
      [id],
    );
    return row;
  };

  beforeAll(async () => {
    app = await startTestApp(store, { WORKER_CONCURRENCY: '1' }, { runners: { ProcessMining: gatedOrQuick } });
    t = await app.newTenant();
    datasetId = (await newInvestigation(app, t)).datasetId;
  }, 60_000);
  afterAll(() => app.close());

  test("the queue listens on pg-boss's own NOTIFY channel", async () => {
    for (const schema of ['assay_queue', 'bench_queue_0a1b2c_queue']) {
      const [row] = await app.db.query<{ channel: string }>(
        `SELECT 'pgboss_' || left(encode(sha224($1::text::bytea), 'hex'), 24) AS channel`,
        [schema],
      );
      expect(notifyChannel(schema)).toBe(row.channel);
    }
  });

  test('jobs sent while the only slot is busy start as soon as it is free, one after the other', async () => {
    const blocker = await submit('gated blocker');
    await eventually('the blocker to start', async () => gates.get(blocker));
    // Both NOTIFYs arrive while the slot is busy; the second job is left for a fetch that came back full.
    const second = await submit('quick second');
    const third = await submit('quick third');
    gates.get(blocker)!();
    for (const id of [blocker, second, third]) expect((await waitForJob(app, t, id)).status).toBe('Completed');
    const [b, s, th] = await Promise.all([times(blocker), times(second), times(third)]);
    expect(s.started - b.ended).toBeLessThan(PROMPT_MS);
    expect(th.started - s.ended).toBeLessThan(PROMPT_MS);
  }, 60_000);

  test('on an idle queue a job starts at once, every time', async () => {
    for (let i = 0; i < 5; i++) {
      const id = await submit(`quick idle ${i}`);
      await waitForJob(app, t, id);
      const [row] = await app.db.query<{ ms: number }>(
        'SELECT extract(epoch FROM started_at - created_at)::float8 * 1000 AS ms FROM jobs WHERE id = $1',
        [id],
      );
      expect(row.ms).toBeLessThan(PROMPT_MS);
    }
  }, 60_000);
});
