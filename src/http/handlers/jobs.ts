import fs from 'node:fs';
import type { AppDeps } from '../app';
import * as jobs from '../../domain/jobs';
import { json } from '../reply';
import { location, pageOf, scopeOf } from './common';
import type { OperationHandlers } from './types';

/** Execution jobs and the system status. */
export function jobHandlers({ db, queue, config }: AppDeps) {
  return {
    submitJob: async (ctx) => {
      const scope = scopeOf(ctx);
      const submitted = await jobs.submitJob(db, queue, scope, ctx.body, ctx.headers['idempotency-key']);
      const path = `/api/${scope.tenantId}/${scope.projectId}/execution/job/${submitted.jobId}`;
      return json(202, submitted, location(config.publicUrl, path));
    },
    // All or nothing; each job's Location is its jobId under .../execution/job/.
    submitJobs: async (ctx) => json(202, await jobs.submitJobs(db, queue, scopeOf(ctx), ctx.body.jobs)),
    getJob: async (ctx) => json(200, await jobs.getJob(db, scopeOf(ctx), ctx.params.jobId)),
    // The query holds only the contract's filters and paging (validation refuses other names).
    listJobs: async (ctx) => json(200, await jobs.listJobs(db, scopeOf(ctx), ctx.query, pageOf(ctx))),
    cancelJob: async (ctx) =>
      json(200, await jobs.cancelJob(db, queue, scopeOf(ctx), ctx.params.jobId, ctx.body ?? {})),
    retryJob: async (ctx) => json(200, await jobs.retryJob(db, queue, scopeOf(ctx), ctx.params.jobId, ctx.body ?? {})),
    getJobResults: async (ctx) =>
      json(200, await jobs.getJobResults(db, scopeOf(ctx), ctx.params.jobId, ctx.query, config.publicUrl)),
    getSystemStatus: async (ctx) => {
      const disk = fs.statfsSync(config.dataDir);
      return json(200, await jobs.systemStatus(db, ctx.params.tenantId, disk.bavail * disk.bsize));
    },
  } satisfies Partial<OperationHandlers>;
}
