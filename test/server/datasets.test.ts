import fs from 'node:fs';
import path from 'node:path';
import { base, fixtureLog, formWith, startTestApp, stores, type Tenant, type TestApp } from './harness';

const csvMapping = {
  caseIdColumn: 'case:concept:name',
  activityColumn: 'concept:name',
  timestampColumn: 'time:timestamp',
  resourceColumn: 'org:resource',
};

describe.each(stores)('projects, datasets and investigations on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  beforeAll(async () => {
    app = await startTestApp(store, { UPLOAD_LIMIT_BYTES: '300000' });
    t = await app.newTenant();
  }, 60_000);
  afterAll(() => app.close());

  const upload = (file: { name: string; content: string | Buffer }, fields: Record<string, string> = {}) =>
    app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: formWith(file, fields) } });
  const storedFiles = () => fs.readdirSync(path.join(app.config.dataDir, 'datasets'), { recursive: true }).length;
  const datasetCount = async () => (await app.db.query('SELECT count(*)::int AS n FROM datasets'))[0].n;

  test('POST /project returns 201, GET /projects lists it, GET and DELETE /project/{id} work', async () => {
    const created = await app.call('POST', `/api/${t.tenantId}/project`, {
      token: t.token,
      body: { name: 'Claims', description: null },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${app.url}/api/${t.tenantId}/project/${created.body.projectId}`);
    const list = await app.call('GET', `/api/${t.tenantId}/projects?pageSize=1&page=2`, { token: t.token });
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ totalCount: 2, page: 2, pageSize: 1, hasNextPage: false });
    expect(list.body.projects[0].name).toBe('Claims');
    const url = `/api/${t.tenantId}/project/${created.body.projectId}`;
    expect((await app.call('GET', url, { token: t.token })).body.name).toBe('Claims');
    expect((await app.call('DELETE', url, { token: t.token })).status).toBe(204);
    expect((await app.call('GET', url, { token: t.token })).status).toBe(404);
  });

  test('POST /dataset with a CSV and its column mapping returns 201 and keeps the file', async () => {
    const res = await upload(
      { name: 'running-example.csv', content: fixtureLog('running-example.csv') },
      { ...csvMapping, name: 'Running example' },
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Running example',
      sourceFormat: 'csv',
      sizeBytes: 3799,
      status: 'Ready',
      caseCount: 6,
      eventCount: 42,
      activityCount: 8,
      variantCount: 6,
      startTime: '2010-12-30T10:02:00.000Z',
      endTime: '2011-01-24T13:56:00.000Z',
      importWarnings: { invalidRowCount: 0, warnings: [] },
      columnMapping: { ...csvMapping, timestampFormat: null },
    });
    const download = await app.call('GET', `${base(t)}/dataset/${res.body.datasetId}/download?format=original`, {
      token: t.token,
    });
    expect(download.status).toBe(200);
    expect(download.text).toBe(fixtureLog('running-example.csv').toString());
    expect(download.headers.get('content-disposition')).toContain('running-example.csv');
  });

  test('POST /dataset with an XES file returns 201 without a mapping', async () => {
    const res = await upload({ name: 'running-example.xes', content: fixtureLog('running-example.xes') });
    expect(res.status).toBe(201);
    expect(res.body.sourceFormat).toBe('xes');
    expect(res.body.columnMapping).toBeNull();
  });

  test('POST /dataset with a CSV but no mapping returns 400 naming each missing field, and stores nothing', async () => {
    const before = [storedFiles(), await datasetCount()];
    const res = await upload({ name: 'log.csv', content: fixtureLog('running-example.csv') });
    expect(res.status).toBe(400);
    expect(res.body.ValidationErrors.map((e: { Field: string }) => e.Field)).toEqual([
      'body.caseIdColumn',
      'body.activityColumn',
      'body.timestampColumn',
    ]);
    expect([storedFiles(), await datasetCount()]).toEqual(before);
  });

  test('POST /dataset with a column the CSV lacks returns 400 listing the header', async () => {
    const res = await upload(
      { name: 'log.csv', content: 'case,activity,time\n1,a,2024-01-01T00:00:00Z\n' },
      { caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'timestamp' },
    );
    expect(res.status).toBe(400);
    expect(res.body.ValidationErrors).toEqual([
      { Field: 'body.timestampColumn', Message: "column 'timestamp' is not in the header (case, activity, time)" },
    ]);
  });

  test('POST /dataset with a binary file returns 400', async () => {
    const res = await upload(
      { name: 'log.csv', content: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00]) },
      csvMapping,
    );
    expect(res.status).toBe(400);
    expect(res.body.Error).toBe('Unsupported file');
  });

  test('POST /dataset over the upload limit returns 413 and keeps nothing, not even a temp file', async () => {
    const before = [storedFiles(), await datasetCount()];
    const big = 'case,activity,time\n' + '1,a,2024-01-01T00:00:00Z\n'.repeat(15000);
    const res = await upload(
      { name: 'big.csv', content: big },
      { caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'time' },
    );
    expect(res.status).toBe(413);
    expect(res.body.LimitBytes).toBe(300000);
    expect([storedFiles(), await datasetCount()]).toEqual(before);
    expect(fs.readdirSync(path.join(app.config.dataDir, 'tmp'))).toEqual([]);
  });

  test('POST /dataset with a path in the file name keeps only its base name', async () => {
    const res = await upload({ name: '../../etc/passwd.xes', content: fixtureLog('running-example.xes') });
    expect(res.status).toBe(201);
    expect(res.body.originalFileName).toBe('passwd.xes');
    expect(fs.existsSync(path.join(app.config.dataDir, 'datasets', res.body.datasetId, 'original.xes'))).toBe(true);
  });

  test('POST /dataset without a file returns 400', async () => {
    const form = new FormData();
    form.append('name', 'nothing');
    const res = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    expect(res.status).toBe(400);
    expect(res.body.ValidationErrors).toContainEqual({ Field: 'body.file', Message: 'is required' });
  });

  test('POST /dataset with an entity bomb in an XES file returns 400 at once and keeps nothing', async () => {
    const before = [storedFiles(), await datasetCount()];
    const bomb = `<?xml version="1.0"?>
<!DOCTYPE log [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>
<log><trace><event><string key="concept:name" value="&f;&f;&f;&f;"/></event></trace></log>`;
    const started = Date.now();
    const res = await upload({ name: 'bomb.xes', content: bomb });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(res.status).toBe(400);
    expect(res.body.Error).toBe('Invalid XES file');
    expect(res.body.Message).toContain('DTDs and entity declarations are not accepted');
    expect([storedFiles(), await datasetCount()]).toEqual(before);
  });

  test('POST /dataset with unreadable rows keeps the good ones and reports the bad ones by line', async () => {
    const csv = [
      'case,activity,time',
      '1,a,2024-01-01T00:00:00Z',
      '1,b', // line 3: a column short
      '1,b,not a time', // line 4
      '2,a,1704067200',
      ',c,2024-01-02T00:00:00Z', // line 6: no case
      '3,a,2024-01-02T00:00:00Z,extra', // line 7: a column too many
      '3,b,2024-01-03T00:00:00Z',
    ].join('\n');
    const res = await upload(
      { name: 'mixed.csv', content: csv + '\n' },
      { caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'time' },
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ caseCount: 3, eventCount: 3 });
    expect(res.body.importWarnings.invalidRowCount).toBe(4);
    expect(res.body.importWarnings.warnings).toEqual([
      { line: 3, message: 'Expected Number of Columns: 3 Found: 2' },
      { line: 4, message: "timestamp 'not a time' could not be read" },
      { line: 6, message: 'no case id' },
      { line: 7, message: 'Expected Number of Columns: 3 Found: 4' },
    ]);
  });

  test('POST /dataset of a gzipped XES log returns the figures of the reference', async () => {
    const res = await upload({ name: '08_receipt.xes.gz', content: fixtureLog('08_receipt.xes.gz') });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      sourceFormat: 'xes.gz',
      caseCount: 1434,
      eventCount: 8577,
      activityCount: 27,
      variantCount: 116,
    });
    expect(res.body.attributes).toContainEqual({ name: 'case:channel', scope: 'case', dataType: 'string' });
  });

  test('GET /dataset/{id}/download returns the events as CSV or Parquet, and the upload as it was', async () => {
    const created = await upload({ name: 'running-example.xes', content: fixtureLog('running-example.xes') });
    const url = `${base(t)}/dataset/${created.body.datasetId}/download`;
    const csv = await app.call('GET', url, { token: t.token });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = csv.text.trim().split('\n');
    expect(lines).toHaveLength(43);
    expect(lines[0].startsWith('case:concept:name,concept:name,time:timestamp,org:resource,lifecycle:transition')).toBe(
      true,
    );
    const parquet = await fetch(app.url + url + '?format=parquet', { headers: { Authorization: `Bearer ${t.token}` } });
    expect(parquet.status).toBe(200);
    expect(
      Buffer.from(await parquet.arrayBuffer())
        .subarray(0, 4)
        .toString(),
    ).toBe('PAR1');
    expect(fs.readdirSync(path.join(app.config.dataDir, 'tmp'))).toEqual([]);
  });

  test('investigations: create on a dataset, list, get, update, stale update 409, delete', async () => {
    const ds = await upload({ name: 'running-example.xes', content: fixtureLog('running-example.xes') });
    const created = await app.call('POST', `${base(t)}/investigation`, {
      token: t.token,
      body: { name: 'Throughput', datasetId: ds.body.datasetId },
    });
    expect(created.status).toBe(201);
    const id = created.body.investigationId;
    const list = await app.call('GET', `${base(t)}/investigations?datasetId=${ds.body.datasetId}`, { token: t.token });
    expect(list.body.investigations.map((i: { investigationId: string }) => i.investigationId)).toEqual([id]);
    const updated = await app.call('PUT', `${base(t)}/investigation/${id}`, {
      token: t.token,
      body: { name: 'Throughput 2016', dateModified: created.body.dateModified },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.name).toBe('Throughput 2016');
    const stale = await app.call('PUT', `${base(t)}/investigation/${id}`, {
      token: t.token,
      body: { name: 'x', dateModified: created.body.dateModified },
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({
      Error: 'CONFLICT',
      InvestigationId: id,
      CurrentDateModified: updated.body.dateModified,
    });
    // A dataset an investigation is bound to is not deleted.
    const inUse = await app.call('DELETE', `${base(t)}/dataset/${ds.body.datasetId}`, { token: t.token });
    expect(inUse.status).toBe(409);
    expect(inUse.body.InvestigationId).toBe(id);
    expect((await app.call('DELETE', `${base(t)}/investigation/${id}`, { token: t.token })).status).toBe(204);
    expect((await app.call('GET', `${base(t)}/investigation/${id}`, { token: t.token })).status).toBe(404);
    expect((await app.call('DELETE', `${base(t)}/dataset/${ds.body.datasetId}`, { token: t.token })).status).toBe(204);
    expect(fs.existsSync(path.join(app.config.dataDir, 'datasets', ds.body.datasetId))).toBe(false);
  });

  test('POST /investigation on a dataset of another project returns 404', async () => {
    const other = await app.newTenant();
    const ds = await app.call('POST', `${base(other)}/dataset`, {
      token: other.token,
      raw: { body: formWith({ name: 'l.xes', content: fixtureLog('running-example.xes') }) },
    });
    const res = await app.call('POST', `${base(t)}/investigation`, {
      token: t.token,
      body: { name: 'x', datasetId: ds.body.datasetId },
    });
    expect(res.status).toBe(404);
    expect(res.body.DatasetId).toBe(ds.body.datasetId);
  });

  test('GET /datasets pages newest first', async () => {
    const res = await app.call('GET', `${base(t)}/datasets?pageSize=2`, { token: t.token });
    expect(res.status).toBe(200);
    expect(res.body.datasets).toHaveLength(2);
    expect(res.body.hasNextPage).toBe(true);
    const [a, b] = res.body.datasets;
    expect(a.dateCreated >= b.dateCreated).toBe(true);
  });
});
