import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WORKER_LIVE_SECONDS } from '../../src/domain/constants';
import { READINESS_DEADLINE_MS } from '../../src/http/handlers/health';
import { Sandboxes } from '../../src/kernels/sandbox';
import { startTestApp, stores, type TestApp } from './harness';

/** GET /ready with the admin token (which needs no store to be checked). */
const ready = (app: TestApp) => app.call('GET', '/ready', { token: app.adminToken });

/** What a 503 from /ready says: which checks failed, with their messages. */
function failures(body: { Checks: Record<string, { status: string; message?: string }> }): Record<string, string> {
  return Object.fromEntries(
    Object.entries(body.Checks)
      .filter(([, c]) => c.status === 'failed')
      .map(([name, c]) => [name, c.message ?? '']),
  );
}

describe.each(stores)('GET /ready checks the store and the queue on %s', (store) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(store);
  });
  afterAll(() => app.close());

  const setHeartbeat = (secondsAgo: number) =>
    app.db.query(
      `UPDATE workers SET stopped_at = NULL, heartbeat_at = now() - make_interval(secs => $2) WHERE id = $1`,
      [app.worker.id, secondsAgo],
    );

  test('with the store, a live worker and a kernelspec it answers 200 with each check ok', async () => {
    const res = await ready(app);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
    for (const name of ['store', 'queue', 'kernels']) expect(res.body.checks[name].status).toBe('ok');
  });

  test('a queue without a live worker anywhere answers 503; a heartbeat in the last 30 s, or one elsewhere, is ready', async () => {
    // The process's own worker stops: it says so in its row.
    await app.worker.stop();
    const stopped = await ready(app);
    expect(stopped.status).toBe(503);
    expect(stopped.body.Error).toBe('Not ready');
    expect(failures(stopped.body)).toEqual({
      queue: `no worker has sent a heartbeat in the last ${WORKER_LIVE_SECONDS} s; jobs would wait`,
    });
    expect(stopped.body.Message).toBe(`queue: ${failures(stopped.body).queue}`);
    expect(stopped.body.Checks.store.status).toBe('ok');

    // A worker that died without a word: its last heartbeat just older than the limit, then just within it.
    await setHeartbeat(WORKER_LIVE_SECONDS + 1);
    expect((await ready(app)).status).toBe(503);
    await setHeartbeat(WORKER_LIVE_SECONDS - 1);
    expect((await ready(app)).status).toBe(200);

    // A live worker of another process on the same store runs the jobs of this one.
    await setHeartbeat(WORKER_LIVE_SECONDS + 1);
    await app.db.query(
      `INSERT INTO workers (id, hostname, pid, capacity, started_at, heartbeat_at)
       VALUES ('other-host-1-abc', 'other-host', 1, 2, now(), now() - interval '2 seconds')`,
    );
    const elsewhere = await ready(app);
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.checks.queue.status).toBe('ok');
  });

  test('a closed store answers 503 with the store and the queue failed, the kernels still checked', async () => {
    const closing = await startTestApp(store);
    await closing.db.close();
    const res = await ready(closing);
    expect(res.status).toBe(503);
    const failed = failures(res.body);
    expect(Object.keys(failed).sort()).toEqual(['queue', 'store']);
    expect(failed.store).toMatch(store === 'pglite' ? /PGlite is closed/ : /pool/);
    expect(res.body.Checks.kernels.status).toBe('ok');
    expect(res.body.Message).toBe(`store: ${failed.store}; queue: ${failed.queue}`);
    // Stopping cannot record the worker's end in a closed store; the harness still removes what the app made.
    await expect(closing.close()).rejects.toThrow(failed.store);
  });
});

/** A stand-in Jupyter Server whose kernelspecs answer is chosen by the test. */
async function fakeJupyter(): Promise<{
  url: string;
  answer: (a: 'specs' | 'none' | 'error' | 'silent') => void;
  close: () => Promise<void>;
}> {
  let mode: 'specs' | 'none' | 'error' | 'silent' = 'specs';
  const server = http.createServer((req, res) => {
    if (!req.url?.startsWith('/api/kernelspecs') || mode === 'silent') return; // held open, never answered
    if (mode === 'error') {
      res.writeHead(500).end('{}');
      return;
    }
    const kernelspecs = mode === 'specs' ? { python3: { name: 'python3', spec: {}, resources: {} } } : {};
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ default: 'python3', kernelspecs }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    answer: (a) => (mode = a),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('GET /ready checks the kernel service', () => {
  // Kernels do not depend on the store: PGlite alone.
  test('with JUPYTER_URL, a server that fails, does not answer, then answers its kernelspecs', async () => {
    const jupyter = await fakeJupyter();
    const app = await startTestApp('pglite', { JUPYTER_URL: jupyter.url });
    try {
      jupyter.answer('error');
      const failed = await ready(app);
      expect(failed.status).toBe(503);
      expect(failures(failed.body)).toEqual({
        kernels: `The Jupyter Server at ${jupyter.url} answered 500 for its kernelspecs`,
      });

      jupyter.answer('silent');
      const silent = await ready(app);
      expect(silent.status).toBe(503);
      expect(failures(silent.body)).toEqual({ kernels: `no answer within ${READINESS_DEADLINE_MS / 1000} s` });
      expect(silent.body.Checks.kernels.latencyMs).toBeGreaterThanOrEqual(READINESS_DEADLINE_MS - 1);
      expect(silent.body.Checks.store.status).toBe('ok');

      jupyter.answer('specs');
      const answered = await ready(app);
      expect(answered.status).toBe(200);
      expect(answered.body.checks.kernels.status).toBe('ok');
    } finally {
      await app.close();
      await jupyter.close();
    }
  }, 30_000);

  test('with JUPYTER_URL, a server without any kernelspec answers 503', async () => {
    const jupyter = await fakeJupyter();
    jupyter.answer('none');
    const app = await startTestApp('pglite', { JUPYTER_URL: jupyter.url });
    try {
      const res = await ready(app);
      expect(res.status).toBe(503);
      expect(failures(res.body)).toEqual({ kernels: `the Jupyter Server at ${jupyter.url} has no kernelspec` });
    } finally {
      await app.close();
      await jupyter.close();
    }
  });

  test('with JUPYTER_URL, a server nobody listens for answers 503', async () => {
    const gone = await fakeJupyter();
    await gone.close();
    const app = await startTestApp('pglite', { JUPYTER_URL: gone.url });
    try {
      const res = await ready(app);
      expect(res.status).toBe(503);
      expect(Object.keys(failures(res.body))).toEqual(['kernels']);
      expect(res.body.Message).toMatch(/^kernels: connect ECONNREFUSED 127.0.0.1:\d+$/);
    } finally {
      await app.close();
    }
  });

  test('where sandboxes cannot start (bubblewrap missing) it answers 503 with the reason', async () => {
    const app = await startTestApp('pglite');
    // The reason is read from the machine (installed programs); this one stands for a machine without bubblewrap.
    const missing = jest
      .spyOn(Sandboxes, 'unavailableReason')
      .mockReturnValue('bubblewrap is not installed (Debian package bubblewrap)');
    try {
      const res = await ready(app);
      expect(res.status).toBe(503);
      expect(failures(res.body)).toEqual({
        kernels: 'notebooks cannot run here: bubblewrap is not installed (Debian package bubblewrap)',
      });
      missing.mockRestore();
      expect((await ready(app)).status).toBe(200);
    } finally {
      missing.mockRestore();
      await app.close();
    }
  });
});
