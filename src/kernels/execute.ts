import { KernelAPI, KernelManager, type Kernel, type KernelMessage } from '@jupyterlab/services';
import type { KernelPlace } from './servers';

/** A code cell to run, in notebook order. */
export interface CellToRun {
  cellId: string;
  source: string;
}

/** An nbformat 4 output as the kernel produced it. */
export type NbOutput =
  | { output_type: 'stream'; name: string; text: string }
  | { output_type: 'execute_result'; data: Record<string, unknown>; metadata: object; execution_count: number | null }
  | { output_type: 'display_data'; data: Record<string, unknown>; metadata: object }
  | { output_type: 'error'; ename: string; evalue: string; traceback: string[] };

export interface CellOutcome {
  cellId: string;
  status: 'Success' | 'Error';
  durationSeconds: number;
  executionCount: number | null;
  outputs: NbOutput[];
  errorType?: string;
  errorMessage?: string;
}

export interface KernelRun {
  outcomes: CellOutcome[];
  /** Set when the kernel died: the cell it died in, and whether memory ran out where that can be told. */
  died: { cellId: string; reason: string; memory: boolean } | null;
  /** Peak memory (bytes) and CPU seconds of the kernel process, when it lived to tell. */
  resources: { peakMemoryBytes: number; cpuSeconds: number } | null;
}

/** Longest a new kernel may take to run the setup code. */
const KERNEL_START_MS = 60_000;
/** Seconds a stopped cell gets after an interrupt before the kernel is shut down. */
const INTERRUPT_GRACE_MS = 2_000;

/**
 * Runs cells in order in a new kernel on `place`, stopping at the first error. The service
 * watches the kernel's status itself: Jupyter Server restarts a dead kernel silently and the
 * cell's reply never comes, so a kernel that restarts or dies ends the run at once, naming the
 * cell, and no later cell runs in the fresh kernel. When `signal` aborts (cancel, timeout) the
 * kernel is interrupted, then shut down. The kernel is always shut down at the end.
 */
export async function runInKernel(
  place: KernelPlace,
  o: {
    kernelName: string;
    /** Code run first, silently: working directory, module path. */
    setup: string;
    cells: CellToRun[];
    signal: AbortSignal;
    onCellStart?(index: number, cell: CellToRun): Promise<void> | void;
    onCellDone?(index: number, outcome: CellOutcome): Promise<void> | void;
  },
): Promise<KernelRun> {
  const manager = new KernelManager({ serverSettings: place.settings });
  let kernel: Kernel.IKernelConnection | undefined;
  const run: KernelRun = { outcomes: [], died: null, resources: null };
  let onDeath: (reason: string) => void = () => undefined;
  const budget = { noted: false, dropped: place.gate.dropped };
  const death = new Promise<string>((resolve) => (onDeath = resolve));
  try {
    // Comms (widgets) are not for the service: the library would keep every comm a kernel opens.
    kernel = await manager.startNew({ name: o.kernelName }, { handleComms: false });
    // The library reconnects by itself when a kernel says it restarts (which kernel code can say)
    // and leaves a failed reconnect as an unhandled rejection; here it ends the run instead.
    const reconnect = kernel.reconnect.bind(kernel);
    kernel.reconnect = () => reconnect().catch(() => onDeath('the kernel connection could not be restored'));
    kernel.statusChanged.connect((_, status) => {
      if (status === 'restarting' || status === 'autorestarting' || status === 'dead') onDeath(`kernel ${status}`);
    });
    // The server itself can go too (killed, out of memory): then no status ever arrives.
    kernel.connectionStatusChanged.connect((_, status) => {
      if (status === 'disconnected') onDeath('connection to the kernel lost');
    });
    void place.lost.then(onDeath);
    // A kernel that died before the listeners were there (it failed to start) says so in its status.
    if (['dead', 'restarting', 'autorestarting'].includes(kernel.status)) onDeath(`kernel ${kernel.status}`);
    // `hidden` code (setup, measuring) stays out of the kernel's history; its output still comes back.
    const execute = async (code: string, hidden: boolean) => {
      const future = kernel!.requestExecute({ code, silent: false, store_history: !hidden, stop_on_error: true });
      future.done.catch(() => undefined); // a dead kernel rejects it after the run has moved on
      const outputs: NbOutput[] = [];
      future.onIOPub = (msg) => collect(outputs, msg, budget);
      const stopped = new Promise<never>((_, reject) => {
        const stop = () => reject(o.signal.reason);
        if (o.signal.aborted) stop();
        else o.signal.addEventListener('abort', stop, { once: true });
      });
      const outcome = await Promise.race([
        future.done.then((reply) => ({ reply })),
        death.then((reason) => ({ died: reason })),
        stopped,
      ]).catch(async (err: unknown) => {
        // Stopped: a sandbox ends at once, with all its processes; a remote kernel is interrupted,
        // given a moment, then shut down (finally below).
        await place.stop();
        await kernel!.interrupt().catch(() => undefined);
        await Promise.race([future.done.catch(() => undefined), sleep(INTERRUPT_GRACE_MS)]);
        throw err;
      });
      return { outcome, outputs };
    };
    const deadline = setTimeout(
      () => onDeath(`the kernel did not answer within ${KERNEL_START_MS / 1000} s`),
      KERNEL_START_MS,
    );
    const setup = await execute(o.setup, true).finally(() => clearTimeout(deadline));
    if ('died' in setup.outcome) {
      throw new Error(
        `The kernel died while starting (${setup.outcome.died}); if it happens at every run, KERNEL_MEMORY_LIMIT_BYTES may be too small for a kernel.`,
      );
    }
    for (const [index, cell] of o.cells.entries()) {
      await o.onCellStart?.(index, cell);
      const started = performance.now();
      const { outcome, outputs } = await execute(cell.source, false);
      const durationSeconds = Math.round(performance.now() - started) / 1000;
      if ('died' in outcome) {
        const memory = outputs.some((x) => x.output_type === 'error' && x.ename === 'MemoryError');
        run.died = { cellId: cell.cellId, reason: outcome.died, memory };
        const result: CellOutcome = {
          cellId: cell.cellId,
          status: 'Error',
          durationSeconds,
          executionCount: null,
          outputs,
          errorType: 'KernelDied',
          errorMessage: `The kernel died while running this cell (${outcome.died})${memory ? '; memory ran out' : ''}.`,
        };
        run.outcomes.push(result);
        await o.onCellDone?.(index, result);
        break;
      }
      const reply = outcome.reply.content as KernelMessage.IExecuteReply;
      const error = outputs.find((x): x is Extract<NbOutput, { output_type: 'error' }> => x.output_type === 'error');
      const result: CellOutcome = {
        cellId: cell.cellId,
        status: reply.status === 'ok' ? 'Success' : 'Error',
        durationSeconds,
        executionCount: reply.execution_count ?? null,
        outputs,
        ...(reply.status !== 'ok'
          ? {
              errorType: error?.ename ?? (reply as { ename?: string }).ename ?? 'Error',
              errorMessage: error?.evalue ?? (reply as { evalue?: string }).evalue ?? reply.status,
            }
          : {}),
      };
      run.outcomes.push(result);
      await o.onCellDone?.(index, result);
      if (result.status === 'Error') break;
    }
    if (!run.died) run.resources = await measure(execute);
    return run;
  } finally {
    // After a death the connection reconnects to the restarted kernel; let that settle first, or
    // disposing it mid-reconnect leaves a rejected promise inside @jupyterlab/services.
    if (kernel && run.died) await settled(kernel);
    // A remote server restarts a dead kernel on its own, and that fresh kernel must not be left
    // behind: shut down through the REST API. A sandbox's kernel ends with the sandbox.
    if (kernel && !place.sandboxed) await KernelAPI.shutdownKernel(kernel.id, place.settings).catch(() => undefined);
    manager.dispose();
    await place.stop();
  }
}

/**
 * Adds an IOPub message to a cell's outputs the way nbformat stores them (streams merged). The
 * kernel's messages are hostile input: strings lose NUL characters and lone surrogates (which the
 * store cannot hold), nesting deeper than `MAX_OUTPUT_DEPTH` is cut, and once the run's output
 * budget is spent further output is dropped with one note saying so.
 */
function collect(outputs: NbOutput[], msg: KernelMessage.IIOPubMessage, budget: OutputBudget): void {
  const type = msg.header.msg_type;
  if (type !== 'stream' && type !== 'execute_result' && type !== 'display_data' && type !== 'error') return;
  // The gate put a stub in place of an output beyond the run's budget: say so once.
  if (budget.dropped.has(msg.content)) {
    if (!budget.noted) {
      budget.noted = true;
      outputs.push({ output_type: 'stream', name: 'stderr', text: OUTPUT_DROPPED });
    }
    return;
  }
  const content = cleanValue(msg.content, 0, { nodes: MAX_OUTPUT_NODES }) as Record<string, unknown>;
  switch (type) {
    case 'stream': {
      const last = outputs[outputs.length - 1];
      if (last?.output_type === 'stream' && last.name === content.name) last.text += String(content.text);
      else outputs.push({ output_type: 'stream', name: String(content.name), text: String(content.text) });
      break;
    }
    case 'execute_result':
      outputs.push({
        output_type: 'execute_result',
        data: asRecord(content.data),
        metadata: asRecord(content.metadata),
        execution_count: typeof content.execution_count === 'number' ? content.execution_count : null,
      });
      break;
    case 'display_data':
      outputs.push({ output_type: 'display_data', data: asRecord(content.data), metadata: asRecord(content.metadata) });
      break;
    case 'error':
      outputs.push({
        output_type: 'error',
        ename: String(content.ename),
        evalue: String(content.evalue),
        traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
      });
      break;
  }
}

interface OutputBudget {
  /** Whether the note about dropped output was added. */
  noted: boolean;
  /** Contents the gate put in place of outputs beyond the budget. */
  dropped: WeakSet<object>;
}

/** Values kept from one output's JSON; a bigger structure becomes a note, so cleaning it stays cheap. */
const MAX_OUTPUT_NODES = 100_000;

/** The note that replaces output beyond the run's budget. */
export const OUTPUT_DROPPED = '[Assay: the output limit of this execution was reached; later output was dropped.]\n';
/** JSON nesting kept from a kernel's output; deeper values become a note. */
const MAX_OUTPUT_DEPTH = 64;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A kernel's text as the store can hold it: NUL characters and lone surrogates become U+FFFD. */
export function cleanText(value: string): string {
  return value.split('\u0000').join('\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

/** A copy of a kernel's value that the store and JSON can hold, within a budget of values. */
function cleanValue(value: unknown, depth: number, budget: { nodes: number }): unknown {
  if (--budget.nodes < 0) return TOO_LARGE;
  if (typeof value === 'string') return cleanText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_OUTPUT_DEPTH) return '[Assay: nested too deep]';
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) {
      if (budget.nodes < 0) break;
      out.push(cleanValue(v, depth + 1, budget));
    }
    return out;
  }
  // for-in stops early; Object.entries would first copy every key of a huge object.
  const out: Record<string, unknown> = {};
  for (const k in value) {
    if (budget.nodes < 0) break;
    if (Object.hasOwn(value, k))
      out[cleanText(k)] = cleanValue((value as Record<string, unknown>)[k], depth + 1, budget);
  }
  return out;
}
const TOO_LARGE = '[Assay: too many values to keep]';

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Peak memory and CPU time of the kernel process, asked of the kernel itself. */
async function measure(
  execute: (code: string, hidden: boolean) => Promise<{ outcome: object; outputs: NbOutput[] }>,
): Promise<KernelRun['resources']> {
  const code =
    'import resource as _r, json as _j\n_u = _r.getrusage(_r.RUSAGE_SELF)\nprint(_j.dumps([_u.ru_maxrss, _u.ru_utime + _u.ru_stime]))';
  try {
    const { outputs } = await execute(code, true);
    const text = outputs.find((x) => x.output_type === 'stream') as { text: string } | undefined;
    if (!text) return null;
    const [maxrssKb, cpu] = JSON.parse(text.text.trim()) as [number, number];
    return { peakMemoryBytes: maxrssKb * 1024, cpuSeconds: Math.round(cpu * 1000) / 1000 };
  } catch {
    return null;
  }
}

function settled(kernel: Kernel.IKernelConnection): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 5_000);
    const check = () => {
      if (kernel.connectionStatus !== 'connecting') {
        clearTimeout(timer);
        kernel.connectionStatusChanged.disconnect(check);
        resolve();
      }
    };
    kernel.connectionStatusChanged.connect(check);
    check();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
