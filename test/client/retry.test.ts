import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AssayApiError, createAssayClient, retryAfterSeconds } from '@assay/client';

/** A local server whose answers the test scripts, recording every request it gets. */
async function scriptedServer(handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; at: number }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, at: Date.now() });
    req.resume();
    req.on('end', () => handler(req, res, seen.length));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const ids = { tenantId: '11111111-1111-1111-1111-111111111111', projectId: '22222222-2222-2222-2222-222222222222' };
const busy = (res: http.ServerResponse, retryAfter?: string) => {
  res.writeHead(503, {
    'Content-Type': 'application/json',
    ...(retryAfter === undefined ? {} : { 'Retry-After': retryAfter }),
  });
  res.end(JSON.stringify({ Error: 'Service unavailable', Code: 'SERVICE_UNAVAILABLE', Message: 'Starting up.' }));
};
const job = (res: http.ServerResponse) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jobId: 'j', status: 'Completed' }));
};

describe('retries (a local server that answers 503)', () => {
  test('a GET answered 503 twice with Retry-After: 1 is sent three times, a second apart, and succeeds', async () => {
    const server = await scriptedServer((_req, res, n) => (n <= 2 ? busy(res, '1') : job(res)));
    try {
      const assay = createAssayClient({ baseUrl: server.url, token: 'k', ...ids, retry: { minDelayMs: 10 } });
      const started = Date.now();
      const found = await assay.getJob('33333333-3333-3333-3333-333333333333');
      expect(found).toEqual({ jobId: 'j', status: 'Completed' });
      expect(server.seen).toHaveLength(3);
      // Retry-After (1 s) wins over the 10 ms backoff.
      expect(server.seen[1].at - server.seen[0].at).toBeGreaterThanOrEqual(950);
      expect(server.seen[2].at - server.seen[1].at).toBeGreaterThanOrEqual(950);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      for (const r of server.seen) expect(r.headers.authorization).toBe('Bearer k');
    } finally {
      await server.close();
    }
  });

  test('the same through the openapi-fetch client (`api`), with exponential backoff when there is no Retry-After', async () => {
    const server = await scriptedServer((_req, res, n) => (n <= 2 ? busy(res) : job(res)));
    try {
      const assay = createAssayClient({ baseUrl: server.url, ...ids, retry: { minDelayMs: 200, maxDelayMs: 1000 } });
      const result = await assay.api.GET('/api/{tenantId}/{projectId}/execution/job/{jobId}', {
        params: { path: { jobId: '33333333-3333-3333-3333-333333333333' } },
      });
      expect(assay.unwrap(result)).toMatchObject({ jobId: 'j' });
      expect(server.seen.map((r) => r.url)).toEqual(
        Array(3).fill(`/api/${ids.tenantId}/${ids.projectId}/execution/job/33333333-3333-3333-3333-333333333333`),
      );
      // Backoff: 100-200 ms, then 200-400 ms.
      expect(server.seen[1].at - server.seen[0].at).toBeGreaterThanOrEqual(95);
      expect(server.seen[2].at - server.seen[1].at).toBeGreaterThanOrEqual(195);
    } finally {
      await server.close();
    }
  });

  test('after the last retry the 503 is thrown as an AssayApiError with its fields', async () => {
    const server = await scriptedServer((_req, res) => busy(res, '0'));
    try {
      const assay = createAssayClient({ baseUrl: server.url, ...ids, retry: { retries: 2 } });
      const err = await assay.getJob('33333333-3333-3333-3333-333333333333').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AssayApiError);
      expect(err).toMatchObject({
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        error: 'Service unavailable',
        message: 'Starting up.',
        method: 'GET',
        retryAfterSeconds: 0,
      });
      expect(server.seen).toHaveLength(3);
    } finally {
      await server.close();
    }
  });

  test('a POST without an Idempotency-Key is not repeated; a job submit (with one) is, with the same key', async () => {
    const server = await scriptedServer((req, res, n) => {
      if (req.url!.endsWith('/dataset')) return busy(res, '0');
      if (n <= 3) return busy(res, '0');
      res.writeHead(202, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ jobId: 'j', status: 'Queued' }));
    });
    try {
      const assay = createAssayClient({ baseUrl: server.url, ...ids });
      const err = await assay
        .uploadDataset({ file: new TextEncoder().encode('a,b,c\n'), fileName: 'x.csv' })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 503 });
      expect(server.seen).toHaveLength(1);
      const submitted = await assay.submitJob({
        jobName: 'j',
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: ids.projectId },
      });
      expect(submitted).toMatchObject({ jobId: 'j' });
      const submits = server.seen.slice(1);
      expect(submits).toHaveLength(3);
      const keys = submits.map((r) => r.headers['idempotency-key']);
      expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(new Set(keys).size).toBe(1);
    } finally {
      await server.close();
    }
  });

  test('a connection cut before the answer is retried; a refused connection past the retries throws', async () => {
    const server = await scriptedServer((req, res, n) => (n === 1 ? req.socket.destroy() : job(res)));
    try {
      const assay = createAssayClient({ baseUrl: server.url, ...ids, retry: { minDelayMs: 10 } });
      expect(await assay.getJob('33333333-3333-3333-3333-333333333333')).toMatchObject({ jobId: 'j' });
      expect(server.seen).toHaveLength(2);
    } finally {
      await server.close();
    }
    const gone = createAssayClient({ baseUrl: server.url, ...ids, retry: { retries: 1, minDelayMs: 10 } });
    await expect(gone.getJob('33333333-3333-3333-3333-333333333333')).rejects.toMatchObject({
      name: 'TypeError',
      message: 'fetch failed',
    });
  });

  test('Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterSeconds('5', now)).toBe(5);
    expect(retryAfterSeconds('Thu, 01 Jan 2026 00:00:07 GMT', now)).toBe(7);
    expect(retryAfterSeconds('Wed, 31 Dec 2025 00:00:07 GMT', now)).toBe(0);
    expect(retryAfterSeconds('soon', now)).toBeUndefined();
    expect(retryAfterSeconds(null, now)).toBeUndefined();
  });
});
