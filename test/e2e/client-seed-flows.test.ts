import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sharedDataFile } from '../support/shared-data';
import { bootstrapOf, startServerProcess, type ServerProcess } from './server-process';

const run = promisify(execFile);
const script = path.resolve(__dirname, '..', '..', 'client', 'examples', 'seed-flows.mjs');

/** client/examples/seed-flows.mjs, which imports only client/dist (built by the global setup), against `npm start`. */
describe("the built client does the seed pages' flows against `npm start`", () => {
  let server: ServerProcess;
  let outDir: string;

  beforeAll(async () => {
    server = await startServerProcess();
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-seed-flows-'));
  }, 60_000);
  afterAll(async () => {
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
    if (server) expect(await server.stop()).toBe(0);
  });

  test('upload, notebook of blocks executed with results, a job waited for and its artifacts downloaded', async () => {
    const creds = bootstrapOf(server.dataDir);
    const reference = JSON.parse(fs.readFileSync(sharedDataFile('running-example.reference.json'), 'utf8'));
    const { stdout, stderr } = await run(process.execPath, [script, sharedDataFile('running-example.csv'), outDir], {
      env: {
        PATH: process.env.PATH,
        ASSAY_URL: server.url,
        ASSAY_TOKEN: creds.token,
        ASSAY_TENANT: creds.tenantId,
        ASSAY_PROJECT: creds.projectId,
        ASSAY_CASE_COLUMN: 'case:concept:name',
        ASSAY_ACTIVITY_COLUMN: 'concept:name',
        ASSAY_TIMESTAMP_COLUMN: 'time:timestamp',
        ASSAY_RESOURCE_COLUMN: 'org:resource',
      },
      timeout: 120_000,
    });
    const out = JSON.parse(stdout);
    expect(out.caseCount).toBe(reference.cases);
    expect(out.blockIds).toHaveLength(3);
    expect(out.execution.status).toBe('Completed');
    // One output per calculator block (the filter has none), with the log's reference figures.
    const outputs = out.executionResults.outputs;
    expect(outputs.map((o: { cellId: string }) => o.cellId)).toEqual(out.blockIds.slice(1));
    expect(outputs[0].content).toMatchObject({
      caseCount: reference.cases,
      eventCount: reference.events,
      activityCount: reference.activities,
    });
    expect(outputs[1].content.variantCount).toBe(reference.variants);
    expect(out.job.status).toBe('Completed');
    // Every artifact on disk, whole, with the sha256 the results announced.
    expect(out.downloads.length).toBeGreaterThanOrEqual(3);
    for (const d of out.downloads) {
      const bytes = fs.readFileSync(d.path);
      expect(bytes.length).toBe(d.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(d.sha256);
      expect(fs.existsSync(`${d.path}.part`)).toBe(false);
    }
    expect(out.downloads.map((d: { format: string }) => d.format)).toEqual(expect.arrayContaining(['html', 'svg']));
    expect(out.jobCount).toBeGreaterThanOrEqual(2);
    // Progress went to standard error: the upload's bytes and the blocks.
    expect(stderr).toContain('upload ');
    expect(stderr).toMatch(/block [0-9a-f-]{36} done/);
  }, 150_000);
});
