import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadDocument } from '../../src/api/document';
import { ContractSchemas } from '../../src/api/schemas';
import { NOTEBOOK_LIMITS } from '../../src/domain/cells';
import { removeStaleImports, STALE_IMPORT_MS } from '../../src/domain/datasets';
import { base, fixtureLog, formWith, startTestApp, stores, type Tenant, type TestApp } from './harness';
import { deepXesGz, singleTraceXesGz, xesEvent, xesLog, xesWithKeys } from '../support/hostile-logs';

const schemas = new ContractSchemas(loadDocument());
const MAPPING = { caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'time' };
/** The hostile logs, gzipped once for both stores (making them is seconds of CPU). */
let oneTraceOfAMillion: Promise<Buffer> | undefined;
let deepLog: Promise<Buffer> | undefined;

describe.each(stores)('uploads that could stop the service, on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let hostile: Buffer;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    hostile = await (oneTraceOfAMillion ??= singleTraceXesGz(1_000_000));
  }, 60_000);
  afterAll(() => app.close());

  const uploadDataset = (file: { name: string; content: string | Buffer }, fields: Record<string, string> = {}) =>
    app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: formWith(file, fields) } });
  const leftovers = async () => ({
    datasets: fs.readdirSync(path.join(app.config.dataDir, 'datasets'), { recursive: true }).length,
    tmp: fs.readdirSync(path.join(app.config.dataDir, 'tmp')),
    rows: (await app.db.query('SELECT count(*)::int AS n FROM datasets'))[0].n,
  });
  /** Polls /health while `work` runs; resolves with what `work` gave and the slowest answer in ms. */
  const whileHealthPolled = async <T>(work: Promise<T>) => {
    let done = false;
    const settled = work.finally(() => (done = true));
    let slowest = 0;
    let answers = 0;
    while (!done) {
      const started = performance.now();
      const res = await app.call('GET', '/health');
      expect(res.status).toBe(200);
      slowest = Math.max(slowest, performance.now() - started);
      answers++;
    }
    return { result: await settled, slowest, answers };
  };

  beforeAll(() => fs.mkdirSync(path.join(app.config.dataDir, 'datasets'), { recursive: true }));

  test('POST /dataset of one trace of 1,000,000 events (2.7 MB gzipped) returns 400 naming the case limit; /health answers throughout; nothing is kept', async () => {
    const before = await leftovers();
    const { result, slowest, answers } = await whileHealthPolled(
      uploadDataset({ name: 'one-trace.xes.gz', content: hostile }),
    );
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({
      Error: 'Case too long',
      Message: 'Trace 1 has more than 100,000 events; a case may have at most 100,000 events; nothing was stored.',
    });
    expect(answers).toBeGreaterThan(0);
    expect(slowest).toBeLessThan(1000); // liveness, not a speed figure: the old parse held the event loop for seconds
    expect(await leftovers()).toEqual(before);
  });

  test('two hostile uploads at once (a 1M-event trace, a parse that runs out of thread memory) both return 400; the next upload works', async () => {
    const before = await leftovers();
    const [trace, memory] = await Promise.all([
      uploadDataset({ name: 'one-trace.xes.gz', content: hostile }),
      uploadDataset({ name: 'deep.xes.gz', content: await (deepLog ??= deepXesGz(40_000_000)) }),
    ]);
    expect(trace.status).toBe(400);
    expect(memory.status).toBe(400);
    expect(memory.body.Error).toBe('File too demanding');
    expect(memory.body.Message).toContain('more than the 256 MiB of memory one worker thread may use');
    expect(await leftovers()).toEqual(before);
    const ok = await uploadDataset({ name: 'running-example.xes', content: fixtureLog('running-example.xes') });
    expect(ok.status).toBe(201);
  }, 60_000);

  test('POST /dataset with 20,000 distinct XES keys returns 400 naming the attribute limit', async () => {
    const res = await uploadDataset({ name: 'keys.xes', content: xesWithKeys(20_000) });
    expect(res.status).toBe(400);
    expect(res.body.Error).toBe('Too many attributes');
    expect(res.body.Message).toContain('a log may have at most 1,000');
    expect(res.body.ValidationErrors).toEqual([{ Field: 'body.file', Message: expect.stringContaining('1,000') }]);
  });

  test('POST /dataset with XES keys Foo and foo returns 400 saying they differ only in case', async () => {
    const log = xesLog(
      `<trace>${xesEvent('a', 0, '<string key="Foo" value="1"/><string key="foo" value="2"/>')}</trace>`,
    );
    const res = await uploadDataset({ name: 'case.xes', content: log });
    expect(res.status).toBe(400);
    expect(res.body.Error).toBe('Attribute names differ only in case');
    expect(res.body.Message).toContain("'Foo' and 'foo'");
  });

  test('POST /dataset of a CSV with 20,003 columns returns 400 naming the attribute limit, before any import', async () => {
    const extra = Array.from({ length: 20_000 }, (_, i) => `x${i}`);
    const csv = `case,activity,time,${extra.join(',')}\nc1,a,2024-01-01T00:00:00Z,${extra.map(() => '').join(',')}\n`;
    const res = await uploadDataset({ name: 'wide.csv', content: csv }, MAPPING);
    expect(res.status).toBe(400);
    expect(res.body.Error).toBe('Too many attributes');
    expect(res.body.Message).toContain('The CSV has 20,003 columns, 20,000 of them attributes');
  });

  test('POST /dataset of a CSV whose columns differ only in case returns 400', async () => {
    const res = await uploadDataset(
      { name: 'dup.csv', content: 'case,activity,time,Foo,foo\nc1,a,2024-01-01T00:00:00Z,1,2\n' },
      MAPPING,
    );
    expect(res.status).toBe(400);
    expect(res.body.Error).toBe('Duplicate column names');
  });

  test('POST /dataset of a CSV with a NUL after the first 64 KB returns 400 naming its line', async () => {
    let csv = 'case,activity,time\n';
    for (let i = 2; i < 4000; i++) csv += `c${i},a,2024-01-01T00:00:00Z\n`;
    csv += 'c,a\u0000,2024-01-01T00:00:00Z\n';
    const res = await uploadDataset({ name: 'nul.csv', content: csv }, MAPPING);
    expect(res.status).toBe(400);
    expect(res.body.Message).toContain('Line 4000 holds a NUL character');
  });

  test('POST /dataset of a 100 MB CSV on one line returns 400 naming line 1 and the line limit', async () => {
    const before = await leftovers();
    const line = Buffer.alloc(100 * 1024 * 1024, 'x');
    const res = await uploadDataset({ name: 'one-line.csv', content: line }, MAPPING);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({
      Error: 'Line too long',
      Message:
        'Line 1 is longer than 1,048,576 bytes; a CSV line may have at most 1,048,576 bytes; nothing was stored.',
    });
    expect(await leftovers()).toEqual(before);
  });
});

test('removeStaleImports removes the import folders a dead process left behind, not those of running imports', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-stale-'));
  try {
    const folder = (name: string, ageMs: number) => {
      const dir = path.join(dataDir, 'tmp', name);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'events.ndjson'), '{}');
      const at = new Date(Date.now() - ageMs);
      fs.utimesSync(dir, at, at);
    };
    folder('import-dead', STALE_IMPORT_MS + 60_000);
    folder('import-running', STALE_IMPORT_MS - 60_000);
    folder('jobs', STALE_IMPORT_MS + 60_000);
    expect(removeStaleImports(dataDir)).toBe(1);
    expect(fs.readdirSync(path.join(dataDir, 'tmp')).sort()).toEqual(['import-running', 'jobs']);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

describe.each(stores)('.ipynb uploads within limits, on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
  }, 60_000);
  afterAll(() => app.close());

  const notebook = (cells: number, source = 'print(1)', metadata: unknown = {}) => ({
    nbformat: 4,
    nbformat_minor: 5,
    metadata,
    cells: Array.from({ length: cells }, (_, i) => ({
      id: `c${i}`,
      cell_type: 'code',
      source,
      metadata: {},
      outputs: [],
      execution_count: null,
    })),
  });
  const upload = (content: string) =>
    app.call('POST', `${base(t)}/notebook/upload`, {
      token: t.token,
      raw: { body: formWith({ name: 'n.ipynb', content }) },
    });
  const notebookCount = async () => (await app.db.query('SELECT count(*)::int AS n FROM notebooks'))[0].n;
  /** A notebook file of exactly `bytes` bytes, its 1,000 cells' sources padded to fill it. */
  const fileOf = (bytes: number) => {
    const empty = JSON.stringify(notebook(NOTEBOOK_LIMITS.maxCells, ''));
    const fill = bytes - Buffer.byteLength(empty);
    const each = Math.floor(fill / NOTEBOOK_LIMITS.maxCells);
    const doc = notebook(NOTEBOOK_LIMITS.maxCells, 'x'.repeat(each));
    doc.cells[0].source += 'x'.repeat(fill - each * NOTEBOOK_LIMITS.maxCells);
    const text = JSON.stringify(doc);
    expect(Buffer.byteLength(text)).toBe(bytes);
    return text;
  };

  test('NOTEBOOK_LIMITS.maxCells is the maxItems of the contract for creation and update', () => {
    const doc = loadDocument() as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    const create = doc.components.schemas.JupyterNotebookCreate.properties.initialCells as { maxItems: number };
    const update = doc.components.schemas.JupyterNotebookUpdate.properties.cells as { maxItems: number };
    expect([create.maxItems, update.maxItems]).toEqual([NOTEBOOK_LIMITS.maxCells, NOTEBOOK_LIMITS.maxCells]);
  });

  test('POST /notebook/upload with 1,000 cells returns 201; with 1,001 returns 400 naming the cell limit', async () => {
    const ok = await upload(JSON.stringify(notebook(1000)));
    expect(ok.status).toBe(201);
    expect(ok.body.parseResult.cellCount).toBe(1000);
    const before = await notebookCount();
    const refused = await upload(JSON.stringify(notebook(1001)));
    expect(refused.status).toBe(400);
    expect(refused.body.ValidationErrors).toEqual([
      { Field: 'file.cells', Message: 'has 1001 cells; a notebook may have at most 1000' },
    ]);
    expect(await notebookCount()).toBe(before);
  });

  test('POST /notebook/upload of exactly 16 MiB returns 201 and its GET the whole notebook, valid by the contract; one byte more returns 413', async () => {
    const limit = NOTEBOOK_LIMITS.maxFileBytes;
    const created = await upload(fileOf(limit));
    expect(created.status).toBe(201);
    expect(schemas.validate('JupyterNotebook', created.body)).toBeNull();
    expect(created.body.parseResult).toMatchObject({ cellCount: 1000, codeCells: 1000 });
    const res = await app.call('GET', `${base(t)}/notebook/${created.body.notebookId}`, { token: t.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(res.text));
    expect(schemas.validate('JupyterNotebook', res.body)).toBeNull();
    expect(res.body.cells).toHaveLength(1000);
    expect(res.body.cells.map((c: { source: string }) => c.source.length).reduce((a: number, b: number) => a + b)).toBe(
      created.body.cells.map((c: { source: string }) => c.source.length).reduce((a: number, b: number) => a + b),
    );
    const list = await app.call('GET', `${base(t)}/notebooks?notebookType=1`, { token: t.token });
    expect(
      list.body.notebooks.find((n: { notebookId: string }) => n.notebookId === res.body.notebookId).cellCount,
    ).toBe(1000);
    const before = await notebookCount();
    const tooLarge = await upload(fileOf(limit + 1));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toMatchObject({ Error: 'Payload too large', LimitBytes: limit });
    expect(await notebookCount()).toBe(before);
  }, 60_000);

  test(`POST /notebook/upload with metadata nested ${NOTEBOOK_LIMITS.maxDepth} deep returns 201; one deeper, or 6,000 deep, returns 400`, async () => {
    // The document is level 1, so metadata of n nested objects reaches level n + 1.
    const nested = (levels: number) => JSON.parse('{"a":'.repeat(levels) + '1' + '}'.repeat(levels)) as unknown;
    expect((await upload(JSON.stringify(notebook(1, 'x', nested(NOTEBOOK_LIMITS.maxDepth - 1))))).status).toBe(201);
    for (const levels of [NOTEBOOK_LIMITS.maxDepth, 6000]) {
      const text = `{"nbformat":4,"nbformat_minor":5,"cells":[],"metadata":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`;
      const res = await upload(text);
      expect(res.status).toBe(400);
      expect(res.body.ValidationErrors).toEqual([
        { Field: 'file.metadata.a', Message: 'nests objects and arrays more than 64 levels deep, the limit' },
      ]);
    }
  });

  test('POST /notebook/upload with a NUL character or a lone surrogate returns 400 naming where', async () => {
    const withNul = notebook(2);
    withNul.cells[1].source = 'a\u0000b';
    const nul = await upload(JSON.stringify(withNul));
    expect(nul.status).toBe(400);
    expect(nul.body.ValidationErrors).toEqual([
      { Field: 'file.cells[1].source', Message: 'holds a NUL character (\\u0000)' },
    ]);
    const surrogate = await upload(JSON.stringify(notebook(1, 'x', { title: '\ud800' })));
    expect(surrogate.status).toBe(400);
    expect(surrogate.body.ValidationErrors[0]).toEqual({
      Field: 'file.metadata.title',
      Message: 'holds a lone UTF-16 surrogate (not Unicode text)',
    });
  });
});
