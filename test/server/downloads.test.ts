import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { storeArtifact } from '../../src/domain/artifacts';
import { rows } from '../../src/engine/duck';
import { Engine } from '../../src/engine/engine';
import { base, fixtureLog, formWith, startTestApp, stores, type Answer, type Tenant, type TestApp } from './harness';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A CSV upload with its own column names, one of them not mapped (`Cost`). */
const CSV = [
  'Case ID,Activity,Start Timestamp,Resource,Cost',
  'c1,Receive order,2024-01-02T09:00:00Z,Ann,10',
  'c1,Ship,2024-01-02T11:00:00Z,Bob,20',
  'c2,Receive order,2024-01-03T09:00:00Z,Ann,30',
].join('\n');
const CSV_MAPPING = {
  caseIdColumn: 'Case ID',
  activityColumn: 'Activity',
  timestampColumn: 'Start Timestamp',
  resourceColumn: 'Resource',
};

describe.each(stores)('downloads (artifacts and datasets) on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  /** Each kind of download once, by URL. */
  const urls: Record<string, string> = {};
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    const artifact = await storeArtifact(app.db, app.config.dataDir, t.projectId, {
      content: 'The quick brown fox jumps over the lazy dog.\n'.repeat(50),
      fileName: 'Bericht_Übersicht.txt',
      contentType: 'text/plain',
      kind: 'report',
      title: 'Report',
    });
    urls.artifact = `${base(t)}/artifact/${artifact.id}`;
    const form = formWith({ name: 'orders.csv', content: CSV }, CSV_MAPPING);
    const csv = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    const xes = await app.call('POST', `${base(t)}/dataset`, {
      token: t.token,
      raw: { body: formWith({ name: 'running-example.xes', content: fixtureLog('running-example.xes') }) },
    });
    urls['dataset CSV'] = `${base(t)}/dataset/${csv.body.datasetId}/download`;
    urls['dataset Parquet'] = `${base(t)}/dataset/${xes.body.datasetId}/download?format=parquet`;
    urls['dataset original'] = `${base(t)}/dataset/${xes.body.datasetId}/download?format=original`;
  }, 60_000);
  afterAll(() => app.close());

  const get = (url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> =>
    app.call(method, url, { token: t.token, headers });
  /** The body as bytes: `Answer.text` decodes as UTF-8, which Parquet is not. */
  const bytes = async (url: string, headers: Record<string, string> = {}) => {
    const res = await fetch(app.url + url, { headers: { Authorization: `Bearer ${t.token}`, ...headers } });
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  };

  const kinds = ['artifact', 'dataset CSV', 'dataset Parquet', 'dataset original'];

  test.each(kinds)('%s: Content-Length, a strong ETag (the sha256 of the bytes) and Accept-Ranges', async (kind) => {
    const { res, body } = await bytes(urls[kind]);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(body.length));
    expect(res.headers.get('etag')).toBe(`"${createHash('sha256').update(body).digest('hex')}"`);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('transfer-encoding')).toBeNull();
    // The same bytes under the same ETag every time (a dataset's export is kept, not redone).
    const again = await bytes(urls[kind]);
    expect([again.res.headers.get('etag'), again.body.equals(body)]).toEqual([res.headers.get('etag'), true]);
  });

  test.each(kinds)('%s: HEAD answers the headers of GET without the body', async (kind) => {
    const full = await bytes(urls[kind]);
    const head = await get(urls[kind], {}, 'HEAD');
    expect([head.status, head.text]).toEqual([200, '']);
    for (const header of ['content-length', 'etag', 'content-type', 'content-disposition', 'accept-ranges'])
      expect([header, head.headers.get(header)]).toEqual([header, full.res.headers.get(header)]);
    // A range is for GET only: HEAD with one still describes the whole file.
    const ranged = await get(urls[kind], { Range: 'bytes=0-9' }, 'HEAD');
    expect([ranged.status, ranged.headers.get('content-length')]).toEqual([200, String(full.body.length)]);
  });

  test.each(kinds)('%s: single byte ranges, the unit in any case; outside the file 416', async (kind) => {
    const { body } = await bytes(urls[kind]);
    const size = body.length;
    for (const [range, from, to] of [
      ['bytes=0-9', 0, 9],
      ['BYTES=0-9', 0, 9],
      ['Bytes=10-', 10, size - 1],
      ['bytes=-5', size - 5, size - 1],
      [`bytes=5-${size + 100}`, 5, size - 1],
    ] as const) {
      const part = await bytes(urls[kind], { Range: range });
      expect([range, part.res.status]).toEqual([range, 206]);
      expect(part.res.headers.get('content-range')).toBe(`bytes ${from}-${to}/${size}`);
      expect(part.res.headers.get('content-length')).toBe(String(to - from + 1));
      expect(part.body.equals(body.subarray(from, to + 1))).toBe(true);
    }
    const beyond = await get(urls[kind], { Range: `bytes=${size}-` });
    expect([beyond.status, beyond.headers.get('content-range')]).toEqual([416, `bytes */${size}`]);
    expect(beyond.body.Error).toBe('Range not satisfiable');
    const malformed = await get(urls[kind], { Range: 'lines=1-2' });
    expect(malformed.status).toBe(400);
  });

  test.each(kinds)('%s: If-None-Match with the ETag answers 304 without a body; another tag 200', async (kind) => {
    const first = await get(urls[kind]);
    const etag = first.headers.get('etag')!;
    for (const tag of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const cached = await get(urls[kind], { 'If-None-Match': tag });
      expect([tag, cached.status, cached.text, cached.headers.get('etag')]).toEqual([tag, 304, '', etag]);
    }
    const stale = await get(urls[kind], { 'If-None-Match': `"${sha256('something else')}"` });
    expect(stale.status).toBe(200);
  });

  test.each(kinds)(
    '%s: If-Range with the ETag gives the range; with a stale ETag or a date, the whole file',
    async (kind) => {
      const { res, body } = await bytes(urls[kind]);
      const etag = res.headers.get('etag')!;
      const current = await bytes(urls[kind], { Range: 'bytes=0-3', 'If-Range': etag });
      expect([current.res.status, current.body.equals(body.subarray(0, 4))]).toEqual([206, true]);
      for (const validator of [`"${sha256('an older version')}"`, `W/${etag}`, 'Wed, 21 Oct 2015 07:28:00 GMT']) {
        const whole = await bytes(urls[kind], { Range: 'bytes=0-3', 'If-Range': validator });
        expect([validator, whole.res.status, whole.body.equals(body)]).toEqual([validator, 200, true]);
        expect(whole.res.headers.get('content-length')).toBe(String(body.length));
      }
    },
  );

  test("a CSV upload's download keeps its own column names; an XES upload's has XES names", async () => {
    const csv = await get(urls['dataset CSV']);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('Case ID,Activity,Start Timestamp,Resource,Cost');
    expect(lines[1]).toBe('c1,Receive order,2024-01-02T09:00:00.000000Z,Ann,10');
    expect(lines).toHaveLength(4);
    const xes = await get(urls['dataset Parquet'].replace('format=parquet', 'format=csv'));
    expect(xes.text.split('\n')[0]).toMatch(
      /^case:concept:name,concept:name,time:timestamp,org:resource,lifecycle:transition/,
    );
    // The Parquet export of the CSV upload has the same columns.
    const { body } = await bytes(urls['dataset CSV'] + '?format=parquet');
    const file = path.join(app.config.dataDir, 'tmp', 'check.parquet');
    fs.writeFileSync(file, body);
    const engine = await Engine.open({
      memoryLimit: '256MB',
      tempDirectory: path.join(app.config.dataDir, 'duck-check'),
    });
    try {
      const columns = await engine.withConnection(async (con) =>
        (await rows(con, `SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('${file}'))`)).map((r) =>
          String(r.column_name),
        ),
      );
      expect(columns).toEqual(['Case ID', 'Activity', 'Start Timestamp', 'Resource', 'Cost']);
    } finally {
      engine.close();
      fs.rmSync(file, { force: true });
    }
  });

  test('a dataset that is not Ready has no export (409), but its original file downloads', async () => {
    const form = formWith({ name: 'more.csv', content: CSV }, CSV_MAPPING);
    const created = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    const id = created.body.datasetId;
    await app.db.query(`UPDATE datasets SET status = 'Importing' WHERE id = $1`, [id]);
    const csv = await get(`${base(t)}/dataset/${id}/download`);
    expect([csv.status, csv.body.Error, csv.body.CurrentStatus]).toEqual([409, 'Dataset not ready', 'Importing']);
    const original = await get(`${base(t)}/dataset/${id}/download?format=original`);
    expect([original.status, original.text]).toEqual([200, CSV]);
  });

  test('a deleted dataset and its kept export are gone: 404, and no file is left', async () => {
    const form = formWith({ name: 'gone.csv', content: CSV }, CSV_MAPPING);
    const created = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    const url = `${base(t)}/dataset/${created.body.datasetId}/download`;
    expect((await get(url)).status).toBe(200);
    expect((await app.call('DELETE', `${base(t)}/dataset/${created.body.datasetId}`, { token: t.token })).status).toBe(
      204,
    );
    expect((await get(url)).status).toBe(404);
    expect(fs.existsSync(path.join(app.config.dataDir, 'datasets', created.body.datasetId))).toBe(false);
  });

  test('an artifact whose file is gone answers 404, not 500', async () => {
    const artifact = await storeArtifact(app.db, app.config.dataDir, t.projectId, {
      content: 'short-lived',
      fileName: 'x.txt',
      contentType: 'text/plain',
      kind: 'report',
      title: 'x',
    });
    fs.rmSync(artifact.path);
    const res = await get(`${base(t)}/artifact/${artifact.id}`);
    expect([res.status, res.body.ArtifactId]).toEqual([404, artifact.id]);
  });
});
