import type express from 'express';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { lifecycleEvents, type LifecycleEvent } from '../domain/lifecycle';
import { serviceFigures, type ServiceFigures } from '../domain/serviceFigures';
import type { KernelServers } from '../kernels/servers';
import type { Db } from '../store/db';
import type { JobKind, JobPriority, JobStatus } from '../store/jobs';
import { maybeRouteOf } from './routing';

/**
 * The metrics `GET /metrics` exposes, in the Prometheus text format (prom-client), for this process.
 * Requests and job durations are counted as they happen; the store's figures (jobs, queue,
 * workers) and the running kernels are read at each scrape. The store's figures have a registry of
 * their own, left out of a scrape when the store fails (rather than shown as zeros).
 */
const registry = new Registry();
const storeRegistry = new Registry();

/** The media type of the metrics' text (the exposition format 0.0.4). */
export const METRICS_CONTENT_TYPE = registry.contentType;

// The process's memory, CPU, event loop lag, garbage collection and handles (process_*, nodejs_*).
collectDefaultMetrics({ register: registry });

const httpRequests = new Counter({
  name: 'assay_http_requests_total',
  help: 'Requests answered, by operationId (none: no operation matched) and HTTP status.',
  labelNames: ['operation_id', 'status'] as const,
  registers: [registry],
});

const httpDuration = new Histogram({
  name: 'assay_http_request_duration_seconds',
  help: 'Time from receiving a request to the end of its answer, by operationId and HTTP status.',
  labelNames: ['operation_id', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

const jobs = new Gauge({
  name: 'assay_jobs',
  help: 'Jobs in the store, by type and state.',
  labelNames: ['type', 'status'] as const,
  registers: [storeRegistry],
});

const queueDepth = new Gauge({
  name: 'assay_queue_depth',
  help: 'Queued jobs whose start time has come, by priority.',
  labelNames: ['priority'] as const,
  registers: [storeRegistry],
});

const jobDuration = new Histogram({
  name: 'assay_job_duration_seconds',
  help: 'First start to end of the jobs that ended in this process, by type and final state.',
  labelNames: ['type', 'status'] as const,
  buckets: [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200],
  registers: [registry],
});

const workers = new Gauge({
  name: 'assay_workers',
  help: 'Live workers: a heartbeat in the last 30 s.',
  registers: [storeRegistry],
});

const workerSlots = new Gauge({
  name: 'assay_worker_slots',
  help: "The live workers' job slots, running a job (busy) or free.",
  labelNames: ['state'] as const,
  registers: [storeRegistry],
});

const kernelsRunning = new Gauge({
  name: 'assay_kernels_running',
  help: 'Notebook runs of this process with a kernel up.',
  registers: [registry],
});

const storeUp = new Gauge({
  name: 'assay_store_up',
  help: "1 when the store answered this scrape's queries, 0 when it failed (its figures are then left out).",
  registers: [registry],
});

/**
 * Event streams open on this process. The event streams count themselves with
 * {@link streamSubscribed}; the gauge is exported for tests and for a stream kind that needs more.
 */
export const streamSubscribers = new Gauge({
  name: 'assay_event_stream_subscribers',
  help: 'Event streams open on this process.',
  registers: [registry],
});

/** Counts an event stream as open; call the function it returns when the stream closes (extra calls do nothing). */
export function streamSubscribed(): () => void {
  streamSubscribers.inc();
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    streamSubscribers.dec();
  };
}

/** Counts and times every request, once its answer has ended (or the client went away). */
export function requestMetrics(): express.RequestHandler {
  return (_req, res, next) => {
    const started = performance.now();
    res.once('close', () => {
      const labels = { operation_id: maybeRouteOf(res)?.operation.operationId ?? 'none', status: res.statusCode };
      httpRequests.inc(labels);
      httpDuration.observe(labels, (performance.now() - started) / 1000);
    });
    next();
  };
}

// Job durations come from the lifecycle's announcements, the one place where jobs change state.
lifecycleEvents.on('change', (event: LifecycleEvent) => {
  if (event.kind === 'job.status' && event.runSeconds !== null) {
    jobDuration.observe({ type: event.jobType, status: event.status }, event.runSeconds);
  }
});

/** What a scrape reads besides the counters. */
export interface MetricsSources {
  db: Db;
  kernels: Pick<KernelServers, 'runningKernels'>;
  logger: Logger;
}

/**
 * The metrics text, with the store's figures and the running kernels read now. A store that fails
 * leaves its figures out and `assay_store_up` at 0: the process's own metrics are still answered.
 */
export async function metricsText(sources: MetricsSources): Promise<string> {
  let figures: ServiceFigures | null = null;
  try {
    figures = await serviceFigures(sources.db);
  } catch (err) {
    sources.logger.warn({ err }, 'metrics: the store did not answer; its figures are left out');
  }
  storeUp.set(figures ? 1 : 0);
  if (figures) setStoreFigures(figures);
  kernelsRunning.set(sources.kernels.runningKernels());
  return (await registry.metrics()) + (figures ? await storeRegistry.metrics() : '');
}

// Every value of each label, so that a type, state or priority without jobs shows 0 rather than nothing.
const JOB_TYPES = Object.keys({
  ProcessMining: 0,
  DataEnrichment: 0,
  Analysis: 0,
  Notebook: 0,
} satisfies Record<JobKind, 0>) as JobKind[];
const JOB_STATUSES = Object.keys({
  Queued: 0,
  Running: 0,
  Completed: 0,
  Failed: 0,
  Cancelled: 0,
} satisfies Record<JobStatus, 0>) as JobStatus[];
const PRIORITIES = Object.keys({ Critical: 0, High: 0, Normal: 0, Low: 0 } satisfies Record<JobPriority, 0>);

/** Sets the store's gauges in one synchronous step, so that a scrape running alongside never reads half of them. */
function setStoreFigures(figures: ServiceFigures): void {
  for (const gauge of [jobs, queueDepth, workers, workerSlots]) gauge.reset();
  for (const type of JOB_TYPES) for (const status of JOB_STATUSES) jobs.set({ type, status }, 0);
  for (const row of figures.jobs) jobs.set({ type: row.job_type, status: row.status }, row.n);
  for (const priority of PRIORITIES) queueDepth.set({ priority }, 0);
  for (const row of figures.waiting) queueDepth.set({ priority: row.priority }, row.n);
  const w = figures.workers;
  workers.set(w.workers);
  workerSlots.set({ state: 'busy' }, Math.min(w.busy, w.slots));
  workerSlots.set({ state: 'free' }, Math.max(0, w.slots - w.busy));
}
