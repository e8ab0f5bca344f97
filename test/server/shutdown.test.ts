import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { defaultKernelHomeRoot } from '../../src/kernels/servers';
import { KEEP_ALIVE_IDLE_MS, startService } from '../../src/server';
import { startInMemoryPglitesFromTemplate } from '../support/pglite-template';

/**
 * Stopping the service while a keep-alive connection has a request in flight: the request is
 * answered, and the connection is then closed at once rather than held for its keep-alive time
 * (65 s, longer than this test's timeout, which is how a regression shows).
 */
test('stop answers a request in flight on a keep-alive connection, then closes the connection without waiting out its keep-alive', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-shutdown-'));
  startInMemoryPglitesFromTemplate();
  const service = await startService(
    loadConfig({ DATA_DIR: dataDir, ASSAY_ADMIN_TOKEN: 'a'.repeat(32), PORT: '0', HOST: '127.0.0.1' }),
    { logger: pino({ level: 'silent' }), inMemory: true, bootstrap: false },
  );
  try {
    const socket = net.connect(Number(new URL(service.url!).port), '127.0.0.1');
    await once(socket, 'connect');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    const closed = once(socket, 'close');
    // Half a request: the connection is busy, so the close cannot end it yet.
    socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\n');
    await sleep(100);
    const stopped = service.stop();
    while (service.server!.listening) await sleep(20);
    // The rest of the request after the close: it is answered, keep-alive, and the connection goes idle.
    socket.write('\r\n');
    const started = Date.now();
    await Promise.all([stopped, closed]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer.toLowerCase()).toContain('connection: keep-alive');
    expect(Date.now() - started).toBeLessThan(KEEP_ALIVE_IDLE_MS / 4);
  } finally {
    await service.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(defaultKernelHomeRoot(dataDir), { recursive: true, force: true });
  }
});
