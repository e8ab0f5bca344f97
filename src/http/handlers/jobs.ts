import fs from 'node:fs';
import type { AppDeps } from '../app';
import * as jobs from '../../domain/jobs';
import type { JobCancel, JobRetry, JobSubmit } from '../../api/types';
import { json } from '../reply';
import { location, pageOf, scopeOf } from './common';
import type { Handler } from './index';

/** Execution jobs and the system status (page 002). */
export function jobHandlers({ db, queue, config }: AppDeps): Record<string, Handler> {
  const jobId = (params: Record<string, string>) => params.jobId.toLowerCase();
  return {
    submitJob: async (ctx) => {
      const scope = scopeOf(ctx);
      const submitted = await jobs.submitJob(db, queue, scope, ctx.body as JobSubmit, ctx.headers['idempotency-key']);
      const path = `/api/${scope.tenantId}/${scope.projectId}/execution/job/${submitted.jobId}`;
      return json(202, submitted, location(config.publicUrl, path));
    },
    getJob: async (ctx) => json(200, await jobs.getJob(db, scopeOf(ctx), jobId(ctx.params))),
    listJobs: async (ctx) => {
      const q = ctx.query as Record<string, string | undefined>;
      const filters = {
        status: q.status,
        jobType: q.jobType,
        priority: q.priority,
        submittedBy: q.submittedBy,
        dateFrom: q.dateFrom,
        dateTo: q.dateTo,
      };
      return json(200, await jobs.listJobs(db, scopeOf(ctx), filters, pageOf(ctx)));
    },
    cancelJob: async (ctx) =>
      json(200, await jobs.cancelJob(db, queue, scopeOf(ctx), jobId(ctx.params), (ctx.body ?? {}) as JobCancel)),
    retryJob: async (ctx) =>
      json(200, await jobs.retryJob(db, queue, scopeOf(ctx), jobId(ctx.params), (ctx.body ?? {}) as JobRetry)),
    getJobResults: async (ctx) => {
      const q = ctx.query as { format?: string; includeArtifacts?: boolean; outputType?: string };
      return json(200, await jobs.getJobResults(db, scopeOf(ctx), jobId(ctx.params), q, config.publicUrl));
    },
    getSystemStatus: async (ctx) => {
      const disk = fs.statfsSync(config.dataDir);
      return json(200, await jobs.systemStatus(db, ctx.params.tenantId.toLowerCase(), disk.bavail * disk.bsize));
    },
  };
}
