/** Rules of time that several parts of the service must agree on, named once. */

/** A job runs at most this long unless its `scheduling.timeoutMinutes` says otherwise. */
export const DEFAULT_TIMEOUT_MINUTES = 120;

/**
 * A worker whose last heartbeat is older than this is shown Inactive, its capacity no longer
 * counts for estimates, and the queue is not ready without another.
 */
export const WORKER_LIVE_SECONDS = 30;
