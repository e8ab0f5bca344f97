import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine, eventsFile } from '../../src/engine/engine';
import { sharedDataFile } from '../support/shared-data';
import { base, fixtureLog, formWith, startTestApp, stores, waitForJob, type Tenant, type TestApp } from './harness';

const LOG = 'running-example.xes';

/** What one import of the running example stores: its file and its Parquet events (the import is deterministic). */
async function storedBytesOfOneImport(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-quota-'));
  const engine = await Engine.open({ memoryLimit: '256MB', tempDirectory: path.join(dir, 'duck') });
  try {
    await engine.importLog(sharedDataFile(LOG), 'xes', null, path.join(dir, 'd'));
    return fs.statSync(sharedDataFile(LOG)).size + fs.statSync(eventsFile(path.join(dir, 'd'))).size;
  } finally {
    engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe.each(stores)('the per-tenant stored-bytes quota on %s', (store) => {
  let oneImport: number;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    oneImport = await storedBytesOfOneImport();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
  });

  /** An app whose tenants may each store `limit` bytes. */
  const appWithLimit = async (limit: number) => {
    const app = await startTestApp(store, { TENANT_STORAGE_LIMIT_BYTES: String(limit) });
    apps.push(app);
    fs.mkdirSync(path.join(app.config.dataDir, 'datasets'), { recursive: true });
    return app;
  };
  const upload = (app: TestApp, t: Tenant) =>
    app.call('POST', `${base(t)}/dataset`, {
      token: t.token,
      raw: { body: formWith({ name: LOG, content: fixtureLog(LOG) }) },
    });
  const leftovers = async (app: TestApp) => ({
    datasets: fs.readdirSync(path.join(app.config.dataDir, 'datasets')).length,
    artifacts: fs.existsSync(path.join(app.config.dataDir, 'artifacts'))
      ? fs.readdirSync(path.join(app.config.dataDir, 'artifacts')).length
      : 0,
    tmp: fs.readdirSync(path.join(app.config.dataDir, 'tmp')).filter((f) => f !== 'jobs'),
    rows: (await app.db.query('SELECT (SELECT count(*) FROM datasets) + (SELECT count(*) FROM artifacts) AS n'))[0].n,
  });

  test('an upload that fills the quota exactly returns 201; the next returns 413 with the limit and the usage; another tenant is not affected', async () => {
    const app = await appWithLimit(oneImport);
    const t = await app.newTenant();
    const first = await upload(app, t);
    expect(first.status).toBe(201);
    const before = await leftovers(app);
    const second = await upload(app, t);
    expect(second.status).toBe(413);
    expect(second.body).toEqual({
      Error: 'Storage quota exceeded',
      Code: 'STORAGE_QUOTA_EXCEEDED',
      Message: `The tenant stores ${oneImport} bytes of its quota of ${oneImport}; this upload of ${fixtureLog(LOG).length} bytes would exceed it, so nothing was stored. Delete datasets or outputs, or ask for a larger quota.`,
      LimitBytes: oneImport,
      UsedBytes: oneImport,
      RequestedBytes: fixtureLog(LOG).length,
      RequestId: expect.any(String),
    });
    expect(await leftovers(app)).toEqual(before);
    const list = await app.call('GET', `${base(t)}/datasets`, { token: t.token });
    expect(list.body.storage).toEqual({ usedBytes: oneImport, limitBytes: oneImport });
    expect((await upload(app, await app.newTenant())).status).toBe(201);
  });

  test('an upload whose import would take the tenant one byte past the quota returns 413 and leaves nothing behind', async () => {
    const app = await appWithLimit(oneImport - 1);
    const t = await app.newTenant();
    const before = await leftovers(app);
    const res = await upload(app, t);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ LimitBytes: oneImport - 1, UsedBytes: 0, RequestedBytes: oneImport });
    expect(res.body.Message).toContain('this dataset of');
    expect(await leftovers(app)).toEqual(before);
  });

  test('a job whose outputs would exceed the quota fails with the reason and writes no output', async () => {
    const app = apps[0];
    const t = await app.newTenant();
    const dataset = await upload(app, t);
    expect(dataset.status).toBe(201);
    const before = await leftovers(app);
    const submitted = await app.call('POST', `${base(t)}/execution/job`, {
      token: t.token,
      body: {
        jobName: 'Over the quota',
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: dataset.body.datasetId },
      },
    });
    expect(submitted.status).toBe(202);
    const job = await waitForJob(app, t, submitted.body.jobId);
    expect(job.status).toBe('Failed');
    expect(job.error.errorType).toBe('StorageQuotaExceeded');
    expect(job.error.message).toMatch(
      new RegExp(
        `^The tenant stores ${oneImport} bytes of its quota of ${oneImport}; the output '.+' of \\d+ bytes would exceed it`,
      ),
    );
    expect(await leftovers(app)).toEqual(before);
  });
});
