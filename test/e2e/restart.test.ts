import fs from 'node:fs';
import path from 'node:path';
import { bootstrapOf, startServerProcess } from './server-process';

test('data written before a stop (SIGTERM) is there after the next start, and bootstrap runs once', async () => {
  const first = await startServerProcess();
  const creds = bootstrapOf(first.dataDir);
  expect(fs.statSync(path.join(first.dataDir, 'bootstrap.json')).mode & 0o777).toBe(0o600);
  expect(first.output()).toContain(creds.token);
  const headers = { Authorization: `Bearer ${creds.token}`, 'Content-Type': 'application/json' };
  const created = await fetch(`${first.url}/api/${creds.tenantId}/project`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'Survives restarts' }),
  });
  expect(created.status).toBe(201);
  const { projectId } = (await created.json()) as { projectId: string };
  expect(await first.stop()).toBe(0);

  const second = await startServerProcess({ dataDir: first.dataDir });
  try {
    expect(bootstrapOf(second.dataDir)).toEqual(creds);
    expect(second.output()).not.toContain(creds.token);
    const got = await fetch(`${second.url}/api/${creds.tenantId}/project/${projectId}`, { headers });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { name: string }).name).toBe('Survives restarts');
  } finally {
    expect(await second.stop()).toBe(0);
    fs.rmSync(first.dataDir, { recursive: true, force: true });
  }
}, 90_000);

test('a restart of `npm start` resumes queued jobs, and a job running at the stop goes back on the queue', async () => {
  const first = await startServerProcess();
  const creds = bootstrapOf(first.dataDir);
  const headers = { Authorization: `Bearer ${creds.token}` };
  const root = () => `/api/${creds.tenantId}/${creds.projectId}`;
  const form = new FormData();
  form.append('caseIdColumn', 'case');
  form.append('activityColumn', 'activity');
  form.append('timestampColumn', 'time');
  const rows = ['case,activity,time'];
  for (let c = 0; c < 30_000; c++)
    for (let e = 0; e < 5; e++)
      rows.push(`c${c},a${(e + c) % 7},${new Date(Date.UTC(2024, 0, 1) + c * 1000 + e * 60_000).toISOString()}`);
  form.append('file', new Blob([rows.join('\n')]), 'log.csv');
  const dataset = (await (
    await fetch(`${first.url}${root()}/dataset`, { method: 'POST', headers, body: form })
  ).json()) as {
    datasetId: string;
  };
  const submit = async (name: string, scheduling?: Record<string, unknown>) => {
    const res = await fetch(`${first.url}${root()}/execution/job`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        jobName: name,
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: dataset.datasetId },
        scheduling,
      }),
    });
    return ((await res.json()) as { jobId: string }).jobId;
  };
  const running = await submit('Running at the stop');
  const queued = await submit('Queued at the stop', {
    executeImmediately: false,
    scheduledTime: new Date(Date.now() + 4_000).toISOString(),
  });
  const job = async (url: string, id: string) =>
    (await (await fetch(`${url}${root()}/execution/job/${id}`, { headers })).json()) as {
      status: string;
      progress: { currentStage: string };
    };
  for (let i = 0; i < 200 && (await job(first.url, running)).status !== 'Running'; i++)
    await new Promise((r) => setTimeout(r, 25));
  expect(await first.stop()).toBe(0);
  // The stop interrupted the running job and put it back on the queue.
  expect(first.output()).toMatch(new RegExp(`"jobId":"${running}".*"outcome":"shutdown"`));

  const second = await startServerProcess({ dataDir: first.dataDir });
  try {
    const done: Record<string, string> = {};
    const until = Date.now() + 40_000;
    while (Object.keys(done).length < 2 && Date.now() < until) {
      for (const id of [running, queued]) {
        const { status } = await job(second.url, id);
        if (['Completed', 'Failed', 'Cancelled'].includes(status)) done[id] = status;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(done).toEqual({ [running]: 'Completed', [queued]: 'Completed' });
  } finally {
    expect(await second.stop()).toBe(0);
    fs.rmSync(first.dataDir, { recursive: true, force: true });
  }
}, 120_000);
