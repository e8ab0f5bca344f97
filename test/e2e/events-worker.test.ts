import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { sharedDataFile } from '../support/shared-data';
import { readEvents } from '../support/sse';
import { bootstrapOf, startServerProcess, type ServerProcess } from './server-process';

const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * `assay serve` and one `assay worker` process on one PostgreSQL: the job runs in the worker,
 * and a client of the API process sees every one of its events as it happens, in order; a
 * second client that resumes from any event id gets the rest without a gap.
 */
test('a job run by an assay worker process streams every event, in order, to a client of the API process', async () => {
  const schema = `events_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const env = {
    DATABASE_URL: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    QUEUE_SCHEMA: `${schema}_queue`,
  };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-events-'));
  const processes: ServerProcess[] = [];
  try {
    const api = await startServerProcess({ dataDir, env, args: ['serve'] });
    processes.push(api);
    processes.push(await startServerProcess({ dataDir, env, args: ['worker'] }));
    const creds = bootstrapOf(dataDir);
    const headers = { Authorization: `Bearer ${creds.token}` };
    const json = { ...headers, 'Content-Type': 'application/json' };
    const root = `${api.url}/api/${creds.tenantId}/${creds.projectId}`;
    const form = new FormData();
    form.append('file', new Blob([fs.readFileSync(sharedDataFile('running-example.xes'))]), 'running-example.xes');
    const dataset = await idsOf(fetch(`${root}/dataset`, { method: 'POST', headers, body: form }));
    const investigation = await idsOf(
      fetch(`${root}/investigation`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ name: 'Streamed', datasetId: dataset.datasetId }),
      }),
    );
    const notebook = await idsOf(
      fetch(`${root}/notebook/investigation/${investigation.investigationId}`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ name: 'Streamed' }),
      }),
    );
    for (const calculatorType of ['summary', 'variants', 'processMap']) {
      const res = await fetch(`${root}/notebook/${notebook.notebookId}/blocks`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          blockType: 'Calculator',
          blockTitle: calculatorType,
          configuration: { calculatorType },
        }),
      });
      expect(res.status).toBe(201);
    }

    // Follow the project from before the job exists, so every event is seen live.
    let jobId = '';
    const live = await readEvents(`${root}/events`, {
      headers,
      onOpen: async () => {
        const res = await fetch(`${root}/notebook/${notebook.notebookId}/execute`, {
          method: 'POST',
          headers: json,
          body: '{}',
        });
        expect(res.status).toBe(202);
        jobId = (await idsOf(Promise.resolve(res))).jobId;
      },
      until: (events) =>
        events.some((e) => e.event === 'job.status' && e.data.jobId === jobId && e.data.status === 'Completed'),
      timeoutMs: 60_000,
    });
    const ids = live.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const kinds = live.events.map((e) => e.event);
    expect(kinds.filter((k) => k === 'block.completed')).toHaveLength(3);
    expect(live.events.filter((e) => e.event === 'job.status').map((e) => e.data.status)).toEqual([
      'Queued',
      'Running',
      'Completed',
    ]);
    expect(live.events.filter((e) => e.event === 'execution.status').map((e) => e.data.status)).toEqual([
      'Running',
      'Completed',
    ]);

    // The job's stream replays the same events; resuming after any of them gives exactly the rest.
    const jobStream = `${root}/execution/job/${jobId}/events`;
    const replay = await readEvents(jobStream, { headers });
    expect(replay.closedByServer).toBe(true);
    expect(replay.events).toEqual(live.events);
    for (let cut = 0; cut < live.events.length; cut += 3) {
      const rest = await readEvents(jobStream, { headers: { ...headers, 'Last-Event-ID': live.events[cut].id } });
      expect(rest.events).toEqual(live.events.slice(cut + 1));
    }
  } finally {
    for (const p of processes) await p.stop();
    await admin.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await admin.query(`DROP SCHEMA IF EXISTS ${schema}_queue CASCADE`).catch(() => undefined);
    await admin.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);

/** The ids in a JSON answer. */
async function idsOf(answer: Promise<Response>): Promise<Record<string, string>> {
  return (await (await answer).json()) as Record<string, string>;
}
