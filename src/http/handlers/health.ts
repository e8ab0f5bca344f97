import type { AppDeps } from '../app';
import { checkQueue, checkStore } from '../../domain/readiness';
import { listTemplates } from '../../domain/templates';
import { json, text } from '../reply';
import { plainError } from '../errors';
import { METRICS_CONTENT_TYPE, metricsText } from '../metrics';
import type { OperationHandlers } from './types';

const started = Date.now();
const VERSION = '0.1.0';

/** How long one readiness check may take; a check still waiting then has failed. */
export const READINESS_DEADLINE_MS = 5_000;

/** One dependency's check, as the contract's `ReadinessCheck` shows it. */
interface Check {
  status: 'ok' | 'failed';
  latencyMs: number;
  message?: string;
}

/** Liveness, readiness, metrics, pings and the template catalogue: answers that need no domain state. */
export function healthHandlers(deps: AppDeps) {
  return {
    getHealth: async () =>
      json(200, { status: 'ok' as const, version: VERSION, uptimeSeconds: (Date.now() - started) / 1000 }),
    getReadiness: async (ctx) => {
      const [store, queue, kernels] = await Promise.all([
        check(() => checkStore(deps.db)),
        check(() => checkQueue(deps.db)),
        check(() => checkKernels(deps)),
      ]);
      const checks = { store, queue, kernels };
      const failed = Object.entries(checks).filter(([, c]) => c.status === 'failed');
      if (failed.length > 0) {
        const message = failed.map(([name, c]) => `${name}: ${c.message}`).join('; ');
        return plainError('NOT_READY', message, ctx.requestId, { Checks: checks });
      }
      return json(200, { status: 'ready' as const, checks });
    },
    // Who may scrape is decided by the security step (the `metricsToken` scheme).
    getMetrics: async () => ({
      status: 200 as const,
      body: await metricsText(deps),
      contentType: METRICS_CONTENT_TYPE,
    }),
    unauthorizedPing: async () => text(200, 'Ping Successful'),
    ping: async (ctx) => text(200, `Ping Successful (tenant id: ${ctx.params.tenantId.toLowerCase()})`),
    listTemplates: async (ctx) => json(200, { templates: listTemplates(ctx.query.kind) }),
  } satisfies Partial<OperationHandlers>;
}

// Sandboxes can start here (or JUPYTER_URL is set), and a kernelspec is there to start a kernel with.
async function checkKernels(deps: AppDeps): Promise<void> {
  const reason = deps.kernels.unavailableReason();
  if (reason) throw new Error(`notebooks cannot run here: ${reason}`);
  const names = await deps.kernels.kernelNames();
  if (names.length === 0) {
    throw new Error(
      deps.config.jupyterUrl
        ? `the Jupyter Server at ${deps.config.jupyterUrl} has no kernelspec`
        : 'no kernelspec is installed (python3 comes with the Debian package python3-ipykernel)',
    );
  }
}

/** Runs one check within the deadline and times it. */
async function check(work: () => Promise<void>): Promise<Check> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${READINESS_DEADLINE_MS / 1000} s`)),
      READINESS_DEADLINE_MS,
    );
  });
  try {
    await Promise.race([work(), deadline]);
    return { status: 'ok', latencyMs: round(performance.now() - t0) };
  } catch (err) {
    return { status: 'failed', latencyMs: round(performance.now() - t0), message: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
