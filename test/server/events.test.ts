import { EVENTS_KEPT_PER_JOB } from '../../src/domain/constants';
import { pruneJobEvents } from '../../src/store/events';
import { createValidator, validateAt } from '../support/openapi';
import { readEvents, type SseEvent } from '../support/sse';
import {
  base,
  eventually,
  executeAndWait,
  newInvestigation,
  startTestApp,
  stores,
  waitForJob,
  type Tenant,
  type TestApp,
} from './harness';

const ajv = createValidator();
const EVENT_SCHEMA = '/components/schemas/StreamEvent';

/** Every event has the contract's shape and ids increase. */
function expectWellFormed(events: SseEvent[]): void {
  for (const e of events) expect(validateAt(ajv, EVENT_SCHEMA, e)).toEqual([]);
  const ids = events.map((e) => Number(e.id));
  expect(ids).toEqual([...ids].sort((a, b) => a - b));
  expect(new Set(ids).size).toBe(ids.length);
}

describe.each(stores)('event streams on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let notebookId: string;
  let blockIds: string[];
  beforeAll(async () => {
    app = await startTestApp(store, { STREAMS_PER_KEY: '3', STREAM_HEARTBEAT_SECONDS: '1' });
    t = await app.newTenant();
    const { investigationId } = await newInvestigation(app, t);
    notebookId = (
      await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
        token: t.token,
        body: { name: 'Streamed' },
      })
    ).body.notebookId;
    blockIds = [];
    for (const body of [
      {
        blockType: 'Filter',
        blockTitle: 'Rejected',
        configuration: { filterType: 'endActivities', activities: ['reject request'] },
      },
      { blockType: 'Calculator', blockTitle: 'Overview', configuration: { calculatorType: 'summary' } },
    ]) {
      blockIds.push(
        (await app.call('POST', `${base(t)}/notebook/${notebookId}/blocks`, { token: t.token, body })).body.blockId,
      );
    }
  }, 60_000);
  afterAll(() => app.close());

  const auth = () => ({ Authorization: `Bearer ${t.token}` });
  const executionStream = (executionId: string) =>
    `${app.url}${base(t)}/notebook/${notebookId}/execution/${executionId}/events`;

  test('an execution streams its blocks, its status and its job in order, then the stream closes; it resumes after any id', async () => {
    const { accepted } = await executeAndWait(app, t, notebookId);
    await waitForJob(app, t, accepted.body.jobId);
    const all = await readEvents(executionStream(accepted.body.executionId), { headers: auth() });
    expect(all.status).toBe(200);
    expect(all.headers.get('cache-control')).toBe('no-store');
    expect(all.closedByServer).toBe(true);
    expectWellFormed(all.events);
    const kinds = all.events.map((e) => e.event);
    expect(kinds[0]).toBe('job.status');
    expect(kinds.at(-1)).toBe('job.status');
    expect(all.events.at(-1)!.data).toEqual({ jobId: accepted.body.jobId, status: 'Completed', reason: null });
    const blocks = all.events.filter((e) => e.event === 'block.completed').map((e) => e.data);
    expect(blocks).toEqual([
      expect.objectContaining({ blockId: blockIds[0], index: 0, status: 'Success', casesIn: 6, casesOut: 3 }),
      expect.objectContaining({ blockId: blockIds[1], index: 1, status: 'Success', casesIn: 3, casesOut: 3 }),
    ]);
    const statuses = all.events.filter((e) => e.event === 'execution.status').map((e) => e.data.status);
    expect(statuses).toEqual(['Running', 'Completed']);
    expect(kinds).toContain('job.progress');
    expect(kinds).toContain('log');

    // Resuming after each id gives exactly the rest, by header or by query.
    for (const cut of [0, 2, all.events.length - 2]) {
      const rest = await readEvents(executionStream(accepted.body.executionId), {
        headers: { ...auth(), 'Last-Event-ID': all.events[cut].id },
      });
      expect(rest.events).toEqual(all.events.slice(cut + 1));
    }
    const byQuery = await readEvents(`${executionStream(accepted.body.executionId)}?lastEventId=${all.events[1].id}`, {
      headers: auth(),
    });
    expect(byQuery.events).toEqual(all.events.slice(2));

    // The job's stream has the same events (the execution's are the job's).
    const job = await readEvents(`${app.url}${base(t)}/execution/job/${accepted.body.jobId}/events`, {
      headers: auth(),
    });
    expect(job.events).toEqual(all.events);
  }, 60_000);

  test('a stream opened while the job runs follows it live to its end', async () => {
    let jobId = '';
    const live = await readEvents(`${app.url}${base(t)}/events?type=job.status,block.completed`, {
      headers: auth(),
      onOpen: async () => {
        const res = await app.call('POST', `${base(t)}/notebook/${notebookId}/execute`, { token: t.token, body: {} });
        jobId = res.body.jobId;
      },
      until: (events) => events.some((e) => e.data.jobId === jobId && e.data.status === 'Completed'),
    });
    expectWellFormed(live.events);
    // The project stream starts with what happens after it opened: only this job, only these types.
    expect(live.events.map((e) => e.event)).toEqual([
      'job.status',
      'job.status',
      'block.completed',
      'block.completed',
      'job.status',
    ]);
    expect(live.events.filter((e) => e.event === 'job.status').map((e) => e.data.status)).toEqual([
      'Queued',
      'Running',
      'Completed',
    ]);
  }, 60_000);

  test('the project stream filters by job and sends a keep-alive comment between events', async () => {
    const read = await readEvents(`${app.url}${base(t)}/events?jobId=${'0'.repeat(8)}-0000-4000-8000-000000000000`, {
      headers: auth(),
      until: (_events, comments) => comments.includes('keep-alive'),
      timeoutMs: 5_000,
    });
    expect(read.events).toEqual([]);
    expect(read.comments).toContain('keep-alive');
  });

  test("a job's log lines: text with ids, read on with since", async () => {
    const { accepted } = await executeAndWait(app, t, notebookId);
    await waitForJob(app, t, accepted.body.jobId);
    const url = `${base(t)}/execution/job/${accepted.body.jobId}/logs`;
    const logs = await app.call('GET', url, { token: t.token });
    expect(logs.status).toBe(200);
    expect(logs.headers.get('content-type')).toMatch(/^text\/plain/);
    const lines = String(logs.text).trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line).toMatch(/^\d+ \d{4}-\d\d-\d\dT[\d:.]+Z job \S/);
    const lastId = lines.at(-1)!.split(' ')[0];
    expect(logs.headers.get('x-next-since')).toBe(lastId);
    const firstId = lines[0].split(' ')[0];
    const after = await app.call('GET', `${url}?since=${firstId}`, { token: t.token });
    expect(String(after.text).trimEnd().split('\n')).toEqual(lines.slice(1));
    const none = await app.call('GET', `${url}?since=${lastId}`, { token: t.token });
    expect(none.text).toBe('');
    expect(none.headers.get('x-next-since')).toBe(lastId);
  }, 60_000);

  test('a stream ticket opens its one stream without a header, for its key only; nothing else', async () => {
    const { accepted } = await executeAndWait(app, t, notebookId);
    await waitForJob(app, t, accepted.body.jobId);
    const stream = `${base(t)}/execution/job/${accepted.body.jobId}/events`;
    const minted = await app.call('POST', `${base(t)}/events/ticket`, { token: t.token, body: { stream } });
    expect(minted.status).toBe(201);
    expect(minted.body.url).toBe(`${app.url}${stream}?ticket=${minted.body.ticket}`);
    expect(Date.parse(minted.body.expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
    const opened = await readEvents(minted.body.url);
    expect(opened.status).toBe(200);
    expect(opened.events.at(-1)!.data.status).toBe('Completed');

    // The ticket does not open another stream, nor any other operation.
    const other = await readEvents(`${app.url}${base(t)}/events?ticket=${minted.body.ticket}`, { timeoutMs: 5_000 });
    expect(other.status).toBe(401);
    expect(other.body.Code).toBe('STREAM_TICKET_INVALID');
    const notAStream = await app.call(
      'GET',
      `${base(t)}/execution/job/${accepted.body.jobId}?ticket=${minted.body.ticket}`,
    );
    expect([400, 401]).toContain(notAStream.status);
    const bogus = await readEvents(`${app.url}${stream}?ticket=st_${'A'.repeat(43)}`);
    expect(bogus.status).toBe(401);
    expect(bogus.body.Code).toBe('STREAM_TICKET_INVALID');

    // A ticket is only made for a stream of the caller's project whose resource exists.
    const stranger = await app.newTenant();
    const foreign = await app.call('POST', `${base(t)}/events/ticket`, {
      token: t.token,
      body: { stream: `${base(stranger)}/events` },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.Code).toBe('VALIDATION_FAILED');
    const missing = await app.call('POST', `${base(t)}/events/ticket`, {
      token: t.token,
      body: { stream: `${base(t)}/execution/job/00000000-0000-4000-8000-000000000000/events` },
    });
    expect(missing.status).toBe(404);
    expect(missing.body.Code).toBe('JOB_NOT_FOUND');
  }, 60_000);

  test('a ticket past its 60 seconds opens nothing; a job keeps its newest 5,000 events once it ends', async () => {
    const { accepted } = await executeAndWait(app, t, notebookId);
    await waitForJob(app, t, accepted.body.jobId);
    const stream = `${base(t)}/execution/job/${accepted.body.jobId}/events`;
    const minted = await app.call('POST', `${base(t)}/events/ticket`, { token: t.token, body: { stream } });
    await app.db.query(`UPDATE stream_tickets SET expires_at = now() - interval '1 millisecond'`);
    const late = await readEvents(minted.body.url);
    expect(late.status).toBe(401);
    expect(late.body.Code).toBe('STREAM_TICKET_INVALID');

    // 5,010 more events of the job; the pruning the end of a job runs keeps exactly the newest 5,000.
    const jobId = accepted.body.jobId;
    await app.db.query(
      `INSERT INTO events (project_id, job_id, type, data)
       SELECT $1, $2::uuid, 'log', jsonb_build_object('jobId', $2::text, 'source', 'job', 'line', 'line ' || n)
       FROM generate_series(1, 5010) n`,
      [t.projectId, jobId],
    );
    const newest = await app.db.query('SELECT seq FROM events WHERE job_id = $1 ORDER BY seq DESC LIMIT 5000', [jobId]);
    await pruneJobEvents(app.db, jobId, EVENTS_KEPT_PER_JOB);
    const kept = await app.db.query('SELECT seq FROM events WHERE job_id = $1 ORDER BY seq DESC', [jobId]);
    expect(kept).toEqual(newest);
    expect(kept).toHaveLength(EVENTS_KEPT_PER_JOB);
  }, 60_000);

  test("401 without a key, 403 with another tenant's, 404 for a job or execution elsewhere, 400 for an unknown type", async () => {
    const { accepted } = await executeAndWait(app, t, notebookId);
    const stream = `${app.url}${base(t)}/execution/job/${accepted.body.jobId}/events`;
    expect((await readEvents(stream)).status).toBe(401);
    const stranger = await app.newTenant();
    const forbidden = await readEvents(stream, { headers: { Authorization: `Bearer ${stranger.token}` } });
    expect(forbidden.status).toBe(403);
    const elsewhere = await readEvents(`${app.url}${base(stranger)}/execution/job/${accepted.body.jobId}/events`, {
      headers: { Authorization: `Bearer ${stranger.token}` },
    });
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.body.Code).toBe('JOB_NOT_FOUND');
    const execution = await readEvents(
      `${app.url}${base(stranger)}/notebook/${notebookId}/execution/${accepted.body.executionId}/events`,
      { headers: { Authorization: `Bearer ${stranger.token}` } },
    );
    expect(execution.status).toBe(404);
    const badType = await readEvents(`${app.url}${base(t)}/events?type=job.status,nonsense`, { headers: auth() });
    expect(badType.status).toBe(400);
    const badId = await readEvents(stream, { headers: { ...auth(), 'Last-Event-ID': 'x1' } });
    expect(badId.status).toBe(400);
    await waitForJob(app, t, accepted.body.jobId);
  }, 60_000);

  test('a key may hold STREAMS_PER_KEY streams at once: one more answers 429 with Retry-After, and closing one makes room', async () => {
    const url = `${app.url}${base(t)}/events`;
    const holders = [0, 1, 2].map(() => new AbortController());
    const opened = await Promise.all(holders.map((h) => fetch(url, { headers: auth(), signal: h.signal })));
    expect(opened.map((r) => r.status)).toEqual([200, 200, 200]);
    const refused = await app.call('GET', `${base(t)}/events`, { token: t.token });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.body).toMatchObject({ Code: 'TOO_MANY_STREAMS', Limit: 3, Current: 3 });
    holders[0].abort();
    // The server frees the stream's place once it sees the connection close.
    const again = await eventually('a place for another stream', async () => {
      const read = await readEvents(url, { headers: auth(), until: (_e, comments) => comments.length > 0 });
      return read.status === 200 ? read : undefined;
    });
    expect(again.status).toBe(200);
    for (const h of holders) h.abort();
  }, 30_000);
});
