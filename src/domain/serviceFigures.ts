import type { Db } from '../store/db';
import { jobCountsByTypeAndStatus, waitingJobsByPriority } from '../store/jobs';
import { liveWorkerSlots } from '../store/workers';
import { WORKER_LIVE_SECONDS } from './constants';

/**
 * What the service reports about its work across every tenant and process sharing the store (the
 * metrics' figures): jobs by type and state, the queue by priority, and the live workers' slots.
 */
export async function serviceFigures(db: Db) {
  const [jobs, waiting, workers] = await Promise.all([
    jobCountsByTypeAndStatus(db),
    waitingJobsByPriority(db),
    liveWorkerSlots(db, WORKER_LIVE_SECONDS),
  ]);
  return { jobs, waiting, workers };
}

/** The figures of one scrape. */
export type ServiceFigures = Awaited<ReturnType<typeof serviceFigures>>;
