import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { defaultKernelHomeRoot } from '../../src/kernels/servers';
import { eventually } from '../server/harness';
import { processesWith } from '../server/kernelHarness';
import { bootstrapOf, startServerProcess } from './server-process';

/**
 * `npm start` killed outright (SIGKILL, as the out-of-memory killer does) while a notebook runs:
 * nothing of the run may survive it, and the next start clears what the dead one left on disk.
 */
test('a notebook run dies with a killed service, and the next start removes its run directory', async () => {
  const first = await startServerProcess();
  const creds = bootstrapOf(first.dataDir);
  const headers = { Authorization: `Bearer ${creds.token}`, 'Content-Type': 'application/json' };
  const root = `${first.url}/api/${creds.tenantId}/${creds.projectId}`;
  const marker = `assay-survivor-${randomUUID()}`;
  const created = await fetch(`${root}/notebook`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      notebookName: 'Outlive the service',
      initialCells: [
        {
          cellType: 'code',
          content: [
            'import os, time',
            'if os.fork() == 0:',
            '    os.setsid()',
            `    os.execv('/usr/bin/python3', ['python3', '-c', 'import time\\nwhile True: time.sleep(1)', ${JSON.stringify(marker)}])`,
            'time.sleep(120)',
          ].join('\n'),
        },
      ],
    }),
  });
  expect(created.status).toBe(201);
  const { notebookId } = (await created.json()) as { notebookId: string };
  const run = await fetch(`${root}/notebook/${notebookId}/execute`, { method: 'POST', headers, body: '{}' });
  expect(run.status).toBe(202);
  await eventually('the run to start', async () => (processesWith(marker).length > 0 ? true : undefined), 30_000);
  const kernelsRoot = defaultKernelHomeRoot(first.dataDir);
  expect(fs.readdirSync(kernelsRoot)).toEqual([String(first.proc.pid)]);

  first.proc.kill('SIGKILL');
  await eventually(
    'every process of the run to end',
    async () => (processesWith(marker).length === 0 ? true : undefined),
    5_000,
  );

  const second = await startServerProcess({ dataDir: first.dataDir });
  try {
    expect(fs.readdirSync(kernelsRoot)).not.toContain(String(first.proc.pid));
  } finally {
    await second.stop();
    fs.rmSync(first.dataDir, { recursive: true, force: true });
  }
}, 90_000);
