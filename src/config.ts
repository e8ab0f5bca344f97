import path from 'node:path';
import { parseEgressAllow, type EgressRule } from './kernels/egress';

/** Settings read once from the environment at start; see the configuration table in the README. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** PostgreSQL URL; absent means the embedded PGlite store in `dataDir`. */
  databaseUrl: string | undefined;
  /** Base URL clients reach this service on; used in `downloadUrl`s and shareable links. */
  publicUrl: string;
  /** False when `publicUrl` was derived from HOST and PORT (then a PORT of 0 is replaced by the real one). */
  publicUrlSet: boolean;
  /** Token guarding `/admin`; admin operations answer 401 while it is unset. */
  adminToken: string | undefined;
  /** Token `GET /metrics` requires; unset: no token, and loopback clients only. */
  metricsToken: string | undefined;
  bodyLimitBytes: number;
  /** Deepest nesting of objects and arrays a request value may have (JSON bodies, form fields). */
  jsonDepthLimit: number;
  /** Event streams one API key may have open at once in this process. */
  streamsPerKey: number;
  /** Seconds between the keep-alive comments of an event stream. */
  streamHeartbeatSeconds: number;
  uploadLimitBytes: number;
  /** Bytes each tenant may store on disk (dataset files and artifacts); 0: no quota. */
  tenantStorageLimitBytes: number;
  logLevel: string;
  /** DuckDB's memory limit for the analysis engine, such as `2GB`. */
  duckdbMemoryLimit: string;
  /** Jobs one worker process runs at once. */
  workerConcurrency: number;
  /** The PostgreSQL schema of the job queue (pg-boss's tables). */
  queueSchema: string;
  /** SMTP server for job notifications, such as `smtp://user:pass@host:587`; unset: mails are only recorded. */
  smtpUrl: string | undefined;
  smtpFrom: string;
  /** An existing Jupyter Server or Enterprise Gateway for all kernels; unset: a local server per tenant. */
  jupyterUrl: string | undefined;
  jupyterToken: string | undefined;
  /** Memory of one execution's sandbox (control group where available, address space per process), in bytes. */
  kernelMemoryLimitBytes: number;
  /** Bytes one execution's run directory (home and /tmp included) may hold. */
  kernelDiskLimitBytes: number;
  /** Processes and threads of one execution's sandbox. */
  kernelProcessLimit: number;
  /** Bytes of cell output one execution keeps; later output is dropped with a note. */
  kernelOutputLimitBytes: number;
  /** Destinations notebook code may reach through the service's proxy; empty: no network at all. */
  kernelEgressAllow: EgressRule[];
  /** Jobs a tenant may have waiting in the queue; more answer 429. */
  tenantQueuedJobsLimit: number;
  /** Notebook executions (kernels) a tenant may have queued or running at once; more answer 429. */
  tenantKernelsLimit: number;
}

/** Reads the configuration from `env`, failing loudly on values that cannot be right. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = intSetting(env, 'PORT', 3000);
  const host = env.HOST ?? '127.0.0.1';
  const publicUrl = (env.PUBLIC_URL ?? `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+(\/.*)?$/.test(publicUrl))
    throw new Error(`PUBLIC_URL must be an http(s) URL, got '${publicUrl}'`);
  return {
    port,
    host,
    dataDir: path.resolve(env.DATA_DIR ?? './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    publicUrl,
    publicUrlSet: Boolean(env.PUBLIC_URL),
    adminToken: env.ASSAY_ADMIN_TOKEN || undefined,
    metricsToken: env.METRICS_TOKEN || undefined,
    bodyLimitBytes: intSetting(env, 'BODY_LIMIT_BYTES', 1024 * 1024),
    jsonDepthLimit: Math.max(1, intSetting(env, 'JSON_DEPTH_LIMIT', 64)),
    streamsPerKey: Math.max(1, intSetting(env, 'STREAMS_PER_KEY', 20)),
    streamHeartbeatSeconds: Math.min(15, Math.max(1, intSetting(env, 'STREAM_HEARTBEAT_SECONDS', 15))),
    uploadLimitBytes: intSetting(env, 'UPLOAD_LIMIT_BYTES', 1024 * 1024 * 1024),
    tenantStorageLimitBytes: intSetting(env, 'TENANT_STORAGE_LIMIT_BYTES', 10 * 1024 ** 3),
    logLevel: env.LOG_LEVEL ?? 'info',
    duckdbMemoryLimit: env.DUCKDB_MEMORY_LIMIT ?? '2GB',
    workerConcurrency: Math.max(1, intSetting(env, 'WORKER_CONCURRENCY', 2)),
    queueSchema: queueSchema(env.QUEUE_SCHEMA ?? 'assay_queue'),
    smtpUrl: env.SMTP_URL || undefined,
    smtpFrom: env.SMTP_FROM ?? 'Assay <assay@localhost>',
    jupyterUrl: env.JUPYTER_URL || undefined,
    jupyterToken: env.JUPYTER_TOKEN || undefined,
    kernelMemoryLimitBytes: intSetting(env, 'KERNEL_MEMORY_LIMIT_BYTES', 4 * 1024 ** 3),
    kernelDiskLimitBytes: intSetting(env, 'KERNEL_DISK_LIMIT_BYTES', 1024 ** 3),
    kernelProcessLimit: Math.max(16, intSetting(env, 'KERNEL_PROCESS_LIMIT', 256)),
    kernelOutputLimitBytes: intSetting(env, 'KERNEL_OUTPUT_LIMIT_BYTES', 32 * 1024 ** 2),
    kernelEgressAllow: parseEgressAllow(env.KERNEL_EGRESS_ALLOW),
    tenantQueuedJobsLimit: Math.max(1, intSetting(env, 'TENANT_QUEUED_JOBS_LIMIT', 1000)),
    tenantKernelsLimit: Math.max(1, intSetting(env, 'TENANT_KERNELS_LIMIT', 4)),
  };
}

function queueSchema(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new Error(`QUEUE_SCHEMA must be a lower-case SQL name, got '${name}'`);
  return name;
}

function intSetting(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got '${raw}'`);
  return value;
}
