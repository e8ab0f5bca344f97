import { ping, type Db } from '../store/db';
import { liveWorkerCount } from '../store/workers';
import { WORKER_LIVE_SECONDS } from './constants';

/** The store's and the queue's part of readiness: each resolves when ready and throws saying why not. */

/** The store answers a query. */
export async function checkStore(db: Db): Promise<void> {
  await ping(db);
}

/** Jobs wait on the queue until a worker takes them: without a live worker anywhere, nothing would run. */
export async function checkQueue(db: Db): Promise<void> {
  if ((await liveWorkerCount(db, WORKER_LIVE_SECONDS)) === 0) {
    throw new Error(`no worker has sent a heartbeat in the last ${WORKER_LIVE_SECONDS} s; jobs would wait`);
  }
}
