import path from 'node:path';

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
  bodyLimitBytes: number;
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
  /** Address-space limit of a tenant's Jupyter Server and its kernels, in bytes. */
  kernelMemoryLimitBytes: number;
  /** A tenant's local Jupyter Server is stopped after this long without executions. */
  kernelIdleSeconds: number;
  /** Started, unused kernels kept per tenant server so executions start faster (0: none). */
  kernelWarmPool: number;
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
    bodyLimitBytes: intSetting(env, 'BODY_LIMIT_BYTES', 1024 * 1024),
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
    kernelIdleSeconds: intSetting(env, 'KERNEL_IDLE_SECONDS', 300),
    kernelWarmPool: intSetting(env, 'KERNEL_WARM_POOL', 0),
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
