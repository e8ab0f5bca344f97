import type { AppDeps } from '../app';
import { listTemplates } from '../../domain/templates';
import { json, text } from '../reply';
import { plainError } from '../errors';
import type { Handler } from './index';

const started = Date.now();
const VERSION = '0.1.0';

/** Liveness, readiness, pings and the template catalogue: answers that need no domain state. */
export function healthHandlers(deps: AppDeps): Record<string, Handler> {
  return {
    getHealth: async () => json(200, { status: 'ok', version: VERSION, uptimeSeconds: (Date.now() - started) / 1000 }),
    getReadiness: async (ctx) => {
      const t0 = performance.now();
      let store: { status: 'ok' | 'failed'; latencyMs: number; message?: string };
      try {
        await deps.db.query('SELECT 1');
        store = { status: 'ok', latencyMs: round(performance.now() - t0) };
      } catch (err) {
        store = { status: 'failed', latencyMs: round(performance.now() - t0), message: (err as Error).message };
      }
      // The queue and the kernels arrive with later issues; until then they are reported as disabled.
      const checks = {
        store,
        queue: { status: 'disabled' as const, latencyMs: 0, message: 'No job queue in this version.' },
        kernels: { status: 'disabled' as const, latencyMs: 0, message: 'No Jupyter kernels in this version.' },
      };
      if (store.status === 'failed') {
        return plainError(503, 'Not ready', `store: ${store.message}`, ctx.requestId, { Checks: checks });
      }
      return json(200, { status: 'ready', checks });
    },
    unauthorizedPing: async () => text(200, 'Ping Successful'),
    ping: async (ctx) => text(200, `Ping Successful (tenant id: ${ctx.params.tenantId.toLowerCase()})`),
    listTemplates: async (ctx) =>
      json(200, { templates: listTemplates(ctx.query.kind as 'standard' | 'jupyter' | undefined) }),
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
