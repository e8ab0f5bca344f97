/** Rules of time that several parts of the service must agree on, named once. */

/** A job runs at most this long unless its `scheduling.timeoutMinutes` says otherwise. */
export const DEFAULT_TIMEOUT_MINUTES = 120;

/**
 * A worker whose last heartbeat is older than this is shown Inactive, its capacity no longer
 * counts for estimates, and the queue is not ready without another.
 */
export const WORKER_LIVE_SECONDS = 30;

/**
 * Events of a job kept once it has ended (the newest ones): streams resume from at least this
 * many. While it runs, the per-run caps below bound what it can write.
 */
export const EVENTS_KEPT_PER_JOB = 5_000;

/** Log lines one run may add to its stream; after that one line says that the rest were dropped. */
export const LOG_LINES_PER_RUN = 2_000;

/** Longest log line kept; longer ones are cut and marked. */
export const LOG_LINE_CHARS = 2_000;

/** `cell.output` events one run may send; after that its outputs are in its results only. */
export const OUTPUT_EVENTS_PER_RUN = 1_000;
