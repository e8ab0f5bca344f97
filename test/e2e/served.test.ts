import fs from 'node:fs';
import { bootstrapOf, startServerProcess } from './server-process';

/**
 * What `npm start` serves besides the API, checked on the built server as it runs: the contract
 * (`/openapi.json`, `/openapi.yaml`), its docs (`/docs`), the metrics, and the notebook page a
 * notebook's link opens, which then stops itself cleanly with an event stream open.
 */
test('npm start serves /openapi.json, /openapi.yaml, /docs, /metrics and the notebook page', async () => {
  const server = await startServerProcess();
  try {
    const contract = await fetch(`${server.url}/openapi.json`);
    expect(contract.status).toBe(200);
    const doc = (await contract.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain('/api/{tenantId}/{projectId}/events');
    expect((await fetch(`${server.url}/openapi.yaml`)).status).toBe(200);
    const docs = await fetch(`${server.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/^text\/html/);

    const creds = bootstrapOf(server.dataDir);
    const headers = { Authorization: `Bearer ${creds.token}` };
    await fetch(`${server.url}/api/${creds.tenantId}/${creds.projectId}/block/ping`, { headers });
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(/assay_http_requests_total\{[^}]*operation_id="ping"/);
    expect(text).toContain('process_resident_memory_bytes');

    const page = await fetch(`${server.url}/notebook/${creds.tenantId}/${creds.projectId}/${crypto.randomUUID()}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);

    // An open event stream does not hold the stop.
    const controller = new AbortController();
    const stream = await fetch(`${server.url}/api/${creds.tenantId}/${creds.projectId}/events`, {
      headers,
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    const started = Date.now();
    expect(await server.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    controller.abort();
  } finally {
    await server.stop();
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  }
}, 90_000);
