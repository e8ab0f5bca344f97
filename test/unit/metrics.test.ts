import pino from 'pino';
import { metricsText } from '../../src/http/metrics';
import { isLoopback } from '../../src/http/security';
import type { Db } from '../../src/store/db';

/** The parts of `GET /metrics` that need no server: who counts as local, and a store that fails. */

describe('isLoopback', () => {
  test.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['::FFFF:127.0.0.1', true],
    ['192.0.2.2', false],
    ['::ffff:192.0.2.2', false],
    ['fd00::2', false],
    ['128.0.0.1', false],
    ['127.0.0.1.example.com', false],
    ['', false],
    [undefined, false],
  ])('%s: %s', (address, want) => {
    expect(isLoopback(address)).toBe(want);
  });
});

describe('metricsText', () => {
  test("a store that fails leaves its figures out, sets assay_store_up to 0, and keeps the process's own", async () => {
    const db = { query: () => Promise.reject(new Error('Connection terminated unexpectedly')) } as unknown as Db;
    const text = await metricsText({ db, kernels: { runningKernels: () => 2 }, logger: pino({ level: 'silent' }) });
    expect(text).toMatch(/^assay_store_up 0$/m);
    expect(text).not.toMatch(/^assay_jobs\{/m);
    expect(text).not.toMatch(/^assay_workers /m);
    expect(text).toMatch(/^assay_kernels_running 2$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
  });
});
