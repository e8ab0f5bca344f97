/**
 * The errors a job run throws, in one place. A failed job's `error.errorType` is the `name` of
 * the error that failed it, so each name below is part of what clients see.
 */

/** Why a run was stopped before it finished. */
export interface Stop {
  kind: 'cancelled' | 'timeout' | 'expired' | 'shutdown' | 'lost';
  message: string;
  /** Stop waiting for the job's code after a second, instead of letting it reach a safe point. */
  force?: boolean;
}

/** The reason of a run's AbortSignal when its worker stopped it. */
export class StopError extends Error {
  constructor(readonly stop: Stop) {
    super(stop.message);
    this.name = 'Stopped';
  }
}

/** Thrown when a fenced write finds that the job is no longer this worker's (cancelled, or taken over). */
export class LostJobError extends Error {
  constructor(jobId: string) {
    super(`Job ${jobId} is no longer running on this worker`);
    this.name = 'LostJobError';
  }
}

/** A problem with what the job was given, as opposed to a failure of the engine. */
export class JobInputError extends Error {
  override name = 'InputError';
}

/** A failed block stops the job: Failed, naming the notebook and block error. */
export class NotebookError extends Error {
  override name = 'BlockError';
}

/** The kernel of a Jupyter notebook run died (or was killed) before the run finished. */
export class KernelDiedError extends Error {
  override name = 'KernelDied';
}

/** A file a notebook run wrote that the service refuses to publish, with a message for the execution's error. */
export class RunFileError extends Error {
  override name = 'OutputRejected';
}

/** A cell of a Jupyter notebook run raised an error. */
export class CellError extends Error {
  override name = 'CellError';
}
