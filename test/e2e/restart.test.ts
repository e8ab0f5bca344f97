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
