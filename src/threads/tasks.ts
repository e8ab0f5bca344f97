import os from 'node:os';
import { isMainThread, parentPort } from 'node:worker_threads';
import { apiCellsBytes, readIpynb } from '../domain/cells';
import { InvalidError, type FieldProblem } from '../domain/errors';
import { LogRefused, type LogRefusal } from '../engine/limits';
import { conformance, type ConformanceOptions, type Variant } from '../engine/models/alignments';
import { inductiveMiner } from '../engine/models/inductive';
import type { PetriNet } from '../engine/models/petriNet';
import { scanCsv } from '../engine/scanCsv';
import { stageXes } from '../engine/stageXes';
import { ModelError, type ModelRefusal } from '../engine/models/modelError';
import { writeBpmnLaidOut } from '../engine/models/bpmnLayout';
import { drawModel, readModel } from '../engine/models/modelFile';

/**
 * What runs in worker threads (see pool.ts): the CPU-bound JavaScript of uploads and of large
 * answers. Each task takes and returns plain data, which is all that crosses between threads.
 */
const tasks = {
  stageXes,
  scanCsv,
  readIpynb,
  apiCellsBytes,
  readModel,
  drawModel,
  writeBpmnLaidOut,
  alignVariants,
  discoverNet,
};

/** Conformance of variants against a net, in a thread: the options without the signal, which cannot cross. */
function alignVariants(input: { variants: Variant[]; net: PetriNet; opts: Omit<ConformanceOptions, 'signal'> }) {
  return conformance(input.variants, input.net, input.opts);
}

/** The Inductive Miner in a thread: a tenant's log with many activities cannot hold the event loop. */
function discoverNet(input: { variants: Variant[]; noiseThreshold: number }) {
  return inductiveMiner(input.variants, { noiseThreshold: input.noiseThreshold });
}

/** The nice value of a task's thread, the event loop's being 0: the parse gives way to requests. */
const THREAD_NICE = 10;

type Tasks = typeof tasks;
/** The name of a task. */
export type TaskName = keyof Tasks;
/** What a task takes. */
export type TaskInput<N extends TaskName> = Parameters<Tasks[N]>[0];
/** What a task resolves with. */
export type TaskOutput<N extends TaskName> = Awaited<ReturnType<Tasks[N]>>;

/** An error a task meant, as it crosses back to the service's thread. */
export type TaskFailure =
  | { kind: 'refused'; code: LogRefusal; message: string }
  | { kind: 'invalid'; code: LogRefusal; message: string; problems: FieldProblem[]; details: Record<string, unknown> }
  | { kind: 'model'; code: ModelRefusal; message: string }
  | { kind: 'error'; message: string };

function toFailure(err: unknown): TaskFailure {
  if (err instanceof LogRefused) return { kind: 'refused', code: err.code, message: err.message };
  if (err instanceof ModelError) return { kind: 'model', code: err.code, message: err.message };
  if (err instanceof InvalidError) {
    return {
      kind: 'invalid',
      code: err.code,
      message: err.message,
      problems: err.problems,
      details: err.details,
    };
  }
  return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
}

/** The byte arrays of a result (itself, or its fields), moved to the other thread instead of copied. */
function transferable(result: unknown): ArrayBuffer[] {
  const values = result instanceof Uint8Array ? [result] : Object.values((result ?? {}) as object);
  return values.filter((v): v is Uint8Array => v instanceof Uint8Array).map((v) => v.buffer as ArrayBuffer);
}

if (!isMainThread && parentPort) {
  // On Linux a nice value is per thread: this one yields the CPU to the service's event loop when
  // cores are short. (Elsewhere it would renice the whole process, so it is left alone there.)
  if (process.platform === 'linux') {
    try {
      os.setPriority(0, THREAD_NICE);
    } catch {
      // A system that refuses it leaves the thread at the usual priority; the work is the same.
    }
  }
  const port = parentPort;
  port.once('message', (request: { name: TaskName; input: never }) => {
    const run = tasks[request.name] as (input: unknown) => unknown;
    Promise.resolve()
      .then(() => run(request.input))
      .then(
        (ok) => port.postMessage({ ok }, transferable(ok)),
        (err: unknown) => port.postMessage({ failed: toFailure(err) }),
      );
  });
}
