import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { sharedDataFile } from '../support/shared-data';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config';
import type { JobQueue } from '../../src/jobs/queue';
import type { JobRunner } from '../../src/jobs/runners';
import { tenantUserName } from '../../src/kernels/sandbox';
import { defaultKernelHomeRoot } from '../../src/kernels/servers';
import { startService } from '../../src/server';
import type { Worker } from '../../src/jobs/worker';
import { openDb, type Db } from '../../src/store/db';
import { startInMemoryPglitesFromTemplate } from '../support/pglite-template';

/** Both stores every server test runs on. PostgreSQL is the machine's (127.0.0.1:5432, database `test`). */
export const stores = ['pglite', 'postgres'] as const;
export type Store = (typeof stores)[number];

const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A tenant with its first project and key, as the admin API creates it. */
export interface Tenant {
  tenantId: string;
  projectId: string;
  token: string;
  keyId: string;
}

/** The in-process server of one test file: its own store (a fresh PGlite, or a fresh PostgreSQL schema) and data dir. */
export interface TestApp {
  url: string;
  db: Db;
  config: Config;
  queue: JobQueue;
  worker: Worker;
  adminToken: string;
  /** A request to the server; JSON bodies are encoded, answers decoded when they are JSON. */
  call(method: string, path: string, opts?: CallOptions): Promise<Answer>;
  newTenant(): Promise<Tenant>;
  close(): Promise<void>;
}

export interface CallOptions {
  token?: string;
  body?: unknown;
  /** Sent as is, with this content type. */
  raw?: { body: string | Buffer | FormData; contentType?: string };
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** Starts the app on a store; every answer is checked against the contract (drift answers 500). */
export async function startTestApp(
  store: Store,
  env: Record<string, string> = {},
  opts: { runners?: Record<string, JobRunner> } = {},
): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-test-'));
  const adminToken = randomBytes(16).toString('hex');
  const schema = `test_${randomBytes(6).toString('hex')}`;
  // Port 0: the service listens on a free port and names it in PUBLIC_URL (links, Location headers).
  const settings: Record<string, string> = {
    DATA_DIR: dataDir,
    ASSAY_ADMIN_TOKEN: adminToken,
    PORT: '0',
    HOST: '127.0.0.1',
    DUCKDB_MEMORY_LIMIT: '512MB',
  };
  if (store === 'pglite') startInMemoryPglitesFromTemplate();
  if (store === 'postgres') {
    const admin = await openDb({ databaseUrl: POSTGRES_URL });
    await admin.exec(`CREATE SCHEMA ${schema}`);
    await admin.close();
    settings.DATABASE_URL = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    // Each app has its own queue: on PostgreSQL a schema of its own next to the store's.
    settings.QUEUE_SCHEMA = `${schema}_queue`;
  }
  // The service as `npm start` runs it, with an in-memory PGlite, no first tenant, and every
  // answer checked against the contract.
  const service = await startService(loadConfig({ ...settings, ...env }), {
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    validateResponses: true,
    runners: opts.runners,
    inMemory: store === 'pglite',
    bootstrap: false,
  });
  const { db, queue, config } = service;
  const server = service.server!;
  const worker = service.worker!;
  const url = service.url!;

  const call = async (method: string, p: string, opts: CallOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    let body: string | Buffer | FormData | undefined;
    if (opts.raw) {
      body = opts.raw.body;
      if (opts.raw.contentType) headers['Content-Type'] = opts.raw.contentType;
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(url + p, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    if (res.status === 500) throw new Error(`${method} ${p} answered 500: ${text}`);
    return { status: res.status, headers: res.headers, body: parsed, text };
  };

  const tenantIds: string[] = [];
  const newTenant = async (): Promise<Tenant> => {
    const res = await call('POST', '/admin/tenants', {
      token: adminToken,
      body: { tenantName: `t-${randomBytes(3).toString('hex')}` },
    });
    if (res.status !== 201) throw new Error(`createTenant answered ${res.status}: ${res.text}`);
    tenantIds.push(res.body.tenantId);
    return {
      tenantId: res.body.tenantId,
      projectId: res.body.project.projectId,
      token: res.body.apiKey.token,
      keyId: res.body.apiKey.keyId,
    };
  };

  const close = async () => {
    server.closeAllConnections();
    // What the app made is removed even when it cannot stop cleanly (a test closed its store).
    try {
      await service.stop();
    } finally {
      if (store === 'postgres') {
        const admin = await openDb({ databaseUrl: POSTGRES_URL });
        await admin.exec(`DROP SCHEMA ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_queue CASCADE`);
        await admin.close();
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(defaultKernelHomeRoot(dataDir), { recursive: true, force: true });
      removeTenantUsers(tenantIds);
    }
  };

  return { url, db, config, queue, worker, adminToken, call, newTenant, close };
}

/**
 * The system users the service made for the sandboxes of these tenants (root only): a test's
 * tenants are its own, and leaving their users would pile them up in /etc/passwd run after run.
 */
function removeTenantUsers(tenantIds: string[]): void {
  if (process.getuid?.() !== 0) return;
  for (const tenantId of tenantIds) {
    const name = tenantUserName(tenantId);
    if (spawnSync('id', ['-u', name]).status === 0) spawnSync('userdel', [name]);
  }
}

/** The path prefix of a tenant's project. */
export function base(t: Tenant): string {
  return `/api/${t.tenantId}/${t.projectId}`;
}

/** A multipart form with one file. */
export function formWith(
  file: { name: string; content: string | Buffer },
  fields: Record<string, string> = {},
): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('file', new Blob([file.content]), file.name);
  return form;
}

/** The content of a public event log from ../shared/data (kept out of this repository, as its README asks). */
export function fixtureLog(name: string): Buffer {
  return fs.readFileSync(sharedDataFile(name));
}

/** Uploads the running example (XES) and creates an investigation on it. */
export async function newInvestigation(
  app: TestApp,
  t: Tenant,
  name = 'Investigation',
): Promise<{ datasetId: string; investigationId: string }> {
  const form = formWith({ name: 'running-example.xes', content: fixtureLog('running-example.xes') });
  const ds = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
  const inv = await app.call('POST', `${base(t)}/investigation`, {
    token: t.token,
    body: { name, datasetId: ds.body.datasetId },
  });
  return { datasetId: ds.body.datasetId, investigationId: inv.body.investigationId };
}

/** Polls until `check` returns something, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls a job until it has finished (Completed, Failed or Cancelled) and returns it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function waitForJob(app: TestApp, t: Tenant, jobId: string, timeoutMs = 30_000): Promise<any> {
  return eventually(
    `job ${jobId} to finish`,
    async () => {
      const res = await app.call('GET', `${base(t)}/execution/job/${jobId}`, { token: t.token });
      if (res.status !== 200) throw new Error(`getJob answered ${res.status}: ${res.text}`);
      return ['Completed', 'Failed', 'Cancelled'].includes(res.body.status) ? res.body : undefined;
    },
    timeoutMs,
  );
}

/** Executes a notebook, then polls its execution until it is no longer Running. */
export async function executeAndWait(
  app: TestApp,
  t: Tenant,
  notebookId: string,
  body: unknown = {},
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ accepted: Answer; final: any }> {
  const accepted = await app.call('POST', `${base(t)}/notebook/${notebookId}/execute`, { token: t.token, body });
  if (accepted.status !== 202) return { accepted, final: undefined };
  const final = await eventually(`execution ${accepted.body.executionId}`, async () => {
    const res = await app.call('GET', `${base(t)}/notebook/${notebookId}/execution/${accepted.body.executionId}`, {
      token: t.token,
    });
    return res.body.status === 'Running' ? undefined : res.body;
  });
  return { accepted, final };
}
