import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LogRefused } from '../engine/limits';
import { ModelError } from '../engine/models/modelError';
import type { TaskFailure, TaskInput, TaskName, TaskOutput } from './tasks';

/** Limits of the worker threads that parse uploads and build large answers off the event loop. */
export const THREAD_LIMITS = {
  /** V8 heap of one thread, in MiB: a task that needs more is stopped, and the process goes on. */
  heapMiB: 256,
  /** Threads running at once per lane, one core left for the event loop; later tasks wait for a free one. */
  parallel: Math.max(1, os.availableParallelism() - 1),
} as const;

/** Imports (long, one per upload) and answers (short) wait in separate lines, so reads never queue behind imports. */
export type Lane = 'import' | 'answer';

/** Thrown when a task needed more memory than its thread may use ({@link THREAD_LIMITS}). */
export class ThreadMemoryError extends Error {
  constructor() {
    super(`The work needed more than the ${THREAD_LIMITS.heapMiB} MiB of memory one worker thread may use.`);
    this.name = 'ThreadMemoryError';
  }
}

/** A counting semaphore: at most `size` holders at once, the others queued in order. */
class Gate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

const gates: Record<Lane, Gate> = {
  import: new Gate(THREAD_LIMITS.parallel),
  answer: new Gate(THREAD_LIMITS.parallel),
};

/** Thrown when a task given a time limit has not finished within it; its thread is stopped. */
export class ThreadTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The work took longer than ${timeoutMs} ms and was stopped.`);
    this.name = 'ThreadTimeoutError';
  }
}

/**
 * Runs one task of `tasks.ts` in a fresh worker thread with a bounded heap, and resolves with its
 * result. A task that runs out of memory or crashes ends its thread only; errors the task meant
 * (a refused log, an invalid notebook, a refused model) come back as the same error classes. With
 * `timeoutMs`, a task still running after that long is stopped with {@link ThreadTimeoutError};
 * an abort of `signal` stops it, and the promise rejects with the signal's reason.
 */
export function runInThread<N extends TaskName>(
  name: N,
  input: TaskInput<N>,
  lane: Lane,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<TaskOutput<N>> {
  const { timeoutMs, signal } = opts;
  return gates[lane].run(
    () =>
      new Promise<TaskOutput<N>>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const worker = new Worker(taskScript(), {
          resourceLimits: { maxOldGenerationSizeMb: THREAD_LIMITS.heapMiB },
        });
        let settled = false;
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(() => settle(() => reject(new ThreadTimeoutError(timeoutMs))), timeoutMs);
        // An abort (a cancelled or timed-out job) stops the thread where it is; the promise rejects
        // with the signal's reason once the thread has exited.
        let aborted = false;
        const onAbort = () => {
          aborted = true;
          void worker.terminate();
        };
        const settle = (fn: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          fn();
          void worker.terminate();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        worker.once('message', (reply: { ok: TaskOutput<N> } | { failed: TaskFailure }) =>
          settle(() => ('ok' in reply ? resolve(reply.ok) : reject(fromFailure(reply.failed)))),
        );
        worker.once('error', (err: Error & { code?: string }) =>
          settle(() => reject(err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? new ThreadMemoryError() : err)),
        );
        worker.once('exit', (code) =>
          settle(() => reject(aborted ? signal?.reason : new Error(`The worker thread exited with code ${code}`))),
        );
        worker.postMessage({ name, input });
      }),
  );
}

/** A task refused its input the way the domain refuses a request (a 400 for the caller to make). */
export class TaskInputRefused extends Error {
  constructor(readonly failure: Extract<TaskFailure, { kind: 'invalid' }>) {
    super(failure.message);
  }
}

function fromFailure(f: TaskFailure): Error {
  if (f.kind === 'refused') return new LogRefused(f.code, f.message);
  if (f.kind === 'model') return new ModelError(f.code, f.message);
  if (f.kind === 'invalid') return new TaskInputRefused(f);
  return new Error(f.message);
}

let script: string | undefined;

/**
 * The compiled worker script: next to this file in `dist/`. Run from the TypeScript sources
 * (jest, whose global setup builds `dist/` first), the built copy is used.
 */
function taskScript(): string {
  if (script) return script;
  const beside = path.join(__dirname, 'tasks.js');
  script = fs.existsSync(beside) ? beside : path.resolve(__dirname, '..', '..', 'dist', 'threads', 'tasks.js');
  return script;
}
