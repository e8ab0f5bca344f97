import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { bootstrapOf, startServerProcess, type ServerProcess } from './server-process';

const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const JOBS = 20;

/** A log big enough that an analysis takes a moment: `cases` cases of 10 events each. */
function generatedLog(cases: number): string {
  const activities = [
    'register',
    'check',
    'examine',
    'decide',
    'notify',
    'pay',
    'archive',
    'review',
    'approve',
    'close',
  ];
  const lines = ['case,activity,time,cost'];
  const start = Date.UTC(2024, 0, 1);
  for (let c = 0; c < cases; c++) {
    for (let e = 0; e < 10; e++) {
      const activity = activities[(e + (c % 3 === 0 && e > 3 ? 1 : 0)) % activities.length];
      lines.push(
        `c${c},${activity},${new Date(start + c * 60_000 + e * 3_600_000 + (c % 7) * 1000).toISOString()},${c % 100}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * `assay serve` and two `assay worker` processes on one PostgreSQL and one data directory share
 * twenty jobs; one worker is killed with SIGKILL in the middle of a job. Its jobs are taken over
 * by the other worker after their heartbeat lapses, nothing is lost or done twice, and the dead
 * worker's late writes could not land (it is dead, and its attempt is fenced off anyway).
 */
test('a worker killed mid-job loses nothing: the other worker runs its jobs again, within a minute', async () => {
  const schema = `fault_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const env = {
    DATABASE_URL: `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    QUEUE_SCHEMA: `${schema}_queue`,
    WORKER_CONCURRENCY: '2',
    LOG_LEVEL: 'info',
  };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-fault-'));
  const processes: ServerProcess[] = [];
  try {
    const api = await startServerProcess({ dataDir, env, args: ['serve'] });
    processes.push(api);
    const [victim, survivor] = await Promise.all([
      startServerProcess({ dataDir, env, args: ['worker'] }),
      startServerProcess({ dataDir, env, args: ['worker'] }),
    ]);
    processes.push(victim, survivor);
    const creds = bootstrapOf(dataDir);
    const headers = { Authorization: `Bearer ${creds.token}` };
    const root = `${api.url}/api/${creds.tenantId}/${creds.projectId}`;
    const form = new FormData();
    form.append('caseIdColumn', 'case');
    form.append('activityColumn', 'activity');
    form.append('timestampColumn', 'time');
    form.append('file', new Blob([generatedLog(8_000)]), 'generated.csv');
    const dataset = (await (await fetch(`${root}/dataset`, { method: 'POST', headers, body: form })).json()) as {
      datasetId: string;
    };
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const res = await fetch(`${root}/execution/job`, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          jobName: `Shared ${i}`,
          jobType: 'ProcessMining',
          resource: { resourceType: 'Dataset', resourceId: dataset.datasetId },
        }),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { jobId: string }).jobId);
    }
    const db = new pg.Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    try {
      // Kill the victim while it is running a job.
      const victimPid = victim.proc.pid!;
      let victimJobs: string[] = [];
      const until = Date.now() + 60_000;
      while (victimJobs.length === 0 && Date.now() < until) {
        const { rows } = await db.query(
          `SELECT j.id FROM jobs j JOIN workers w ON w.id = j.worker_id WHERE j.status = 'Running' AND w.pid = $1`,
          [victimPid],
        );
        victimJobs = rows.map((r) => String(r.id));
        if (victimJobs.length === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(victimJobs.length).toBeGreaterThan(0);
      victim.proc.kill('SIGKILL');
      const killedAt = Date.now();

      // The victim's jobs are taken over once their heartbeat lapses (10 s), not after an expiry.
      let takenOverAt = 0;
      while (Date.now() - killedAt < 60_000) {
        const { rows } = await db.query(
          `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::uuid[]) AND attempt >= 2`,
          [victimJobs],
        );
        if (rows[0].n === victimJobs.length) {
          takenOverAt = Date.now();
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(takenOverAt).toBeGreaterThan(0);

      // Every job completes, those of the victim included, well within a minute.
      let statuses: Record<string, number> = {};
      while (Date.now() - killedAt < 60_000) {
        const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM jobs GROUP BY status`);
        statuses = Object.fromEntries(rows.map((r) => [r.status, r.n]));
        if (statuses.Completed === JOBS) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const recovered = (Date.now() - killedAt) / 1000;
      expect(statuses).toEqual({ Completed: JOBS });
      expect(recovered).toBeLessThan(60);

      const { rows: taken } = await db.query(
        `SELECT j.id, j.attempt, w.pid FROM jobs j JOIN workers w ON w.id = j.worker_id WHERE j.id = ANY($1::uuid[])`,
        [victimJobs],
      );
      for (const job of taken) {
        expect(job.attempt).toBeGreaterThanOrEqual(2);
        expect(job.pid).toBe(survivor.proc.pid);
      }
      // Each job has its four outputs once: what the killed attempt wrote was dropped on takeover.
      const { rows: outputs } = await db.query(
        `SELECT job_id, count(*)::int AS n FROM artifacts WHERE job_id IS NOT NULL GROUP BY job_id`,
      );
      expect(outputs).toHaveLength(JOBS);
      expect(outputs.every((o) => o.n === 4)).toBe(true);
      const { rows: files } = await db.query('SELECT id FROM artifacts');
      for (const { id } of files) expect(fs.existsSync(path.join(dataDir, 'artifacts', String(id)))).toBe(true);

      // Both workers appear in the system status; the killed one stops heartbeating.
      const status = (await (
        await fetch(`${api.url}/api/${creds.tenantId}/execution/system/status`, { headers })
      ).json()) as { executionNodes: { pid: number; status: string; lastHeartbeat: string }[] };
      const pids = status.executionNodes.map((n) => n.pid);
      expect(pids).toEqual(expect.arrayContaining([victimPid, survivor.proc.pid]));
      const dead = status.executionNodes.find((n) => n.pid === victimPid)!;
      expect(new Date(dead.lastHeartbeat).getTime()).toBeLessThanOrEqual(killedAt + 1000);
      console.log(
        `worker-fault: ${victimJobs.length} job(s) of the killed worker taken over ${((takenOverAt - killedAt) / 1000).toFixed(1)} s after the kill; all ${JOBS} completed after ${recovered.toFixed(1)} s`,
      );
    } finally {
      await db.end();
    }
  } finally {
    for (const p of processes.reverse()) await p.stop();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_queue CASCADE`);
    await admin.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 150_000);
