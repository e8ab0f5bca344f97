import http from 'node:http';
import { loadDocument } from '../../src/api/document';
import { ContractSchemas } from '../../src/api/schemas';
import { Notebooks } from '../../src/domain/notebooks';
import { ReadCache, type CachedAnswer } from '../../src/domain/readCache';
import { openDb, type Db } from '../../src/store/db';
import { notebookRan, notebookRunning, releaseNotebook } from '../../src/store/transitions';
import {
  base,
  eventually,
  executeAndWait,
  newInvestigation,
  startTestApp,
  stores,
  type Tenant,
  type TestApp,
} from './harness';

/**
 * The notebook answers' cache (src/domain/readCache.ts): every write that changes what
 * `GET /notebook/{id}` shows is seen by the next GET, whichever path made it. Each test reads the
 * notebook first, so that its answer is in the cache when the write happens.
 */
describe.each(stores)('GET /notebook/{id} from the read cache on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let investigationId: string;
  beforeAll(async () => {
    app = await startTestApp(store);
    t = await app.newTenant();
    investigationId = (await newInvestigation(app, t)).investigationId;
  }, 60_000);
  afterAll(() => app.close());

  const path = (id: string, tenant = t) => `${base(tenant)}/notebook/${id}`;
  const get = (id: string, headers: Record<string, string> = {}, tenant = t) =>
    app.call('GET', path(id, tenant), { token: tenant.token, headers });
  const standard = async (name: string, inv = investigationId) => {
    const res = await app.call('POST', `${base(t)}/notebook/investigation/${inv}`, { token: t.token, body: { name } });
    expect(res.status).toBe(201);
    return res.body.notebookId as string;
  };
  const jupyter = async (name: string) => {
    const res = await app.call('POST', `${base(t)}/notebook`, {
      token: t.token,
      body: { notebookName: name, initialCells: [{ cellType: 'code', content: 'x = 1' }] },
    });
    expect(res.status).toBe(201);
    return res.body.notebookId as string;
  };
  /** Reads twice: the second answer comes from the cache when there is one. */
  const warm = async (id: string) => {
    const first = await get(id);
    expect(first.status).toBe(200);
    expect((await get(id)).text).toBe(first.text);
    return first;
  };

  test('the answer is served from the cache: a change made with the triggers off is not seen', async () => {
    const id = await standard('Cached');
    await warm(id);
    // With session_replication_role = replica no trigger fires, so no notice is sent: only a cache
    // that really serves the answer shows the old name (this is what the other tests rely on).
    await app.db.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica');
      await tx.query(`UPDATE notebooks SET name = 'Changed behind its back' WHERE id = $1`, [id]);
    });
    expect((await get(id)).body.name).toBe('Cached');
    await app.db.query(`UPDATE notebooks SET description = 'seen' WHERE id = $1`, [id]);
    expect((await get(id)).body).toMatchObject({ name: 'Changed behind its back', description: 'seen' });
  });

  test('ETag: the same body keeps its ETag and answers 304 to If-None-Match; a change gives a new one', async () => {
    const id = await standard('Tagged');
    const first = await warm(id);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);
    const again = await conditionalGet(app.url + path(id), t.token, etag);
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    const put = await app.call('PUT', path(id), { token: t.token, body: { name: 'Tagged, renamed' } });
    expect(put.status).toBe(200);
    const changed = await conditionalGet(app.url + path(id), t.token, etag);
    expect(changed.status).toBe(200);
    expect(JSON.parse(changed.body).name).toBe('Tagged, renamed');
    expect(changed.etag).not.toBe(etag);
    expect(changed.contentType).toBe('application/json; charset=utf-8');
  });

  test('PUT of a standard and of a Jupyter notebook is seen by the next GET', async () => {
    const s = await standard('Before');
    await warm(s);
    await app.call('PUT', path(s), { token: t.token, body: { name: 'After', description: 'new', notebookOrder: 7 } });
    expect((await get(s)).body).toMatchObject({ name: 'After', description: 'new', notebookOrder: 7 });

    const j = await jupyter('Cells');
    const before = await warm(j);
    const put = await app.call('PUT', path(j), {
      token: t.token,
      body: { cells: [{ cellType: 'code', content: 'y = 2' }] },
    });
    expect(put.status).toBe(200);
    const after = (await get(j)).body;
    expect(after.notebookVersion).not.toBe(before.body.notebookVersion);
    expect(after.cells.map((c: { source: string }) => c.source)).toEqual(['y = 2']);
  });

  test('adding and deleting a block changes blockCount at once', async () => {
    const id = await standard('Blocks');
    expect((await warm(id)).body.blockCount).toBe(0);
    const block = await app.call('POST', `${path(id)}/blocks`, {
      token: t.token,
      body: { blockType: 'Calculator', blockTitle: 'Summary', configuration: { calculatorType: 'summary' } },
    });
    expect(block.status).toBe(201);
    expect((await get(id)).body.blockCount).toBe(1);
    const del = await app.call('DELETE', `${base(t)}/block/${block.body.blockId}`, { token: t.token });
    expect(del.status).toBeLessThan(300);
    expect((await get(id)).body.blockCount).toBe(0);
  });

  test("an execution's state changes (lifecycle transitions) are seen at once", async () => {
    const id = await jupyter('Running');
    const ready = (await warm(id)).body;
    expect(ready.status).toBe('Ready');
    expect(ready.cells[0].hasOutput).toBe(false);
    await notebookRunning(app.db, id);
    expect((await get(id)).body.status).toBe('Running');
    // The stored cells as a run writes them back: with their outputs.
    const [{ cells: stored }] = await app.db.query<{ cells: Record<string, unknown>[] }>(
      'SELECT cells FROM notebooks WHERE id = $1',
      [id],
    );
    const cells = stored.map((cell) => ({
      ...cell,
      outputs: [{ output_type: 'stream', name: 'stdout', text: 'ran\n' }],
      execution_count: 1,
    }));
    await notebookRan(app.db, id, { status: 'Error', seconds: 1.5, at: new Date(), cells });
    const ran = (await get(id)).body;
    expect(ran).toMatchObject({ status: 'Error', executionCount: 1 });
    expect(ran.lastExecutionDate).not.toBeNull();
    expect(ran.cells[0]).toMatchObject({ executionCount: 1, hasOutput: true });
    await notebookRunning(app.db, id);
    await warm(id);
    await releaseNotebook(app.db, id);
    expect((await get(id)).body.status).toBe('Ready');
  });

  test('a real Analysis run of a standard notebook is seen when it ends (lastExecutionDuration)', async () => {
    const id = await standard('Executed');
    await app.call('POST', `${path(id)}/blocks`, {
      token: t.token,
      body: { blockType: 'Calculator', blockTitle: 'Summary', configuration: { calculatorType: 'summary' } },
    });
    expect((await warm(id)).body.lastExecutionDuration).toBe(0);
    const { final } = await executeAndWait(app, t, id);
    expect(final.status).toBe('Completed');
    // The run's end is written by the worker (in this process) after the execution is seen ended.
    await eventually('the run on the notebook', async () => {
      const body = (await get(id)).body;
      return body.lastExecutionDuration > 0 ? body : undefined;
    });
  }, 60_000);

  test('deleting the notebook, or its investigation, answers 404 at once', async () => {
    const id = await standard('Doomed');
    await warm(id);
    expect((await app.call('DELETE', path(id), { token: t.token })).status).toBe(200);
    expect((await get(id)).status).toBe(404);

    const inv = (await newInvestigation(app, t, 'Doomed investigation')).investigationId;
    const inInv = await standard('In a deleted investigation', inv);
    await warm(inInv);
    const del = await app.call('DELETE', `${base(t)}/investigation/${inv}`, { token: t.token });
    expect(del.status).toBeLessThan(300);
    expect((await get(inInv)).status).toBe(404);
  });

  test("another tenant's key, or another project of the tenant, gets 404 for a cached notebook", async () => {
    const id = await standard('Mine');
    await warm(id);
    const other = await app.newTenant();
    const res = await get(id, {}, other);
    expect(res.status).toBe(404);
    expect(res.body.Code).toBe('NOTEBOOK_NOT_FOUND');
    const project = await app.call('POST', `/api/${t.tenantId}/project`, { token: t.token, body: { name: 'Second' } });
    expect(project.status).toBe(201);
    const sameTenant = { ...t, projectId: project.body.projectId };
    expect((await get(id, {}, sameTenant)).status).toBe(404);
  });

  test('deleting the project, or the tenant, removes the cached answer', async () => {
    const tp = await app.newTenant();
    const inv = (await newInvestigation(app, tp)).investigationId;
    const created = await app.call('POST', `${base(tp)}/notebook/investigation/${inv}`, {
      token: tp.token,
      body: { name: 'Project goes' },
    });
    const id = created.body.notebookId;
    expect((await get(id, {}, tp)).status).toBe(200);
    expect((await get(id, {}, tp)).status).toBe(200);
    const del = await app.call('DELETE', `/api/${tp.tenantId}/project/${tp.projectId}`, { token: tp.token });
    expect(del.status).toBeLessThan(300);
    expect((await get(id, {}, tp)).status).toBe(404);
  });

  test('a revoked API key is refused at once, even for an answer in the cache', async () => {
    const tk = await app.newTenant();
    const inv = (await newInvestigation(app, tk)).investigationId;
    const created = await app.call('POST', `${base(tk)}/notebook/investigation/${inv}`, {
      token: tk.token,
      body: { name: 'Key goes' },
    });
    const id = created.body.notebookId;
    expect((await get(id, {}, tk)).status).toBe(200);
    expect((await get(id, {}, tk)).status).toBe(200);
    const revoked = await app.call('DELETE', `/admin/tenants/${tk.tenantId}/keys/${tk.keyId}`, {
      token: app.adminToken,
    });
    expect(revoked.status).toBeLessThan(300);
    const res = await get(id, {}, tk);
    expect(res.status).toBe(401);
    expect(res.body.Code).toBe('API_KEY_INVALID');

    // Revoked by another path than this process's API (a store write, as another process makes it):
    // the change notice drops the remembered key, where before it was accepted for up to 5 s.
    const key = await app.call('POST', `/admin/tenants/${tk.tenantId}/keys`, {
      token: app.adminToken,
      body: { name: 'second' },
    });
    const second = { ...tk, token: key.body.token as string };
    expect((await get(id, {}, second)).status).toBe(200);
    await app.db.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.body.keyId]);
    expect((await get(id, {}, second)).status).toBe(401);
  });
});

/**
 * A GET with If-None-Match through node:http: fetch adds `Cache-Control: no-cache` to a conditional
 * request, which tells a server to answer in full.
 */
function conditionalGet(url: string, token: string, etag: string) {
  return new Promise<{ status: number; body: string; etag?: string; contentType?: string }>((resolve, reject) => {
    const req = http.get(url, { headers: { Authorization: `Bearer ${token}`, 'If-None-Match': etag } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          body,
          etag: res.headers.etag,
          contentType: res.headers['content-type'],
        }),
      );
    });
    req.on('error', reject);
  });
}

/** How long another process may take to hear a change (the notification latency, with room for a busy machine). */
const NOTICE_MS = 1_000;

describe('the read cache with several processes on one PostgreSQL schema', () => {
  let a: TestApp;
  let b: TestApp;
  let other: Db;
  let t: Tenant;
  let investigationId: string;
  beforeAll(async () => {
    a = await startTestApp('postgres');
    // A second service on the same schema and queue: another API process (with its own worker pool).
    b = await startTestApp('postgres', { DATABASE_URL: a.config.databaseUrl!, QUEUE_SCHEMA: a.config.queueSchema });
    other = await openDb({ databaseUrl: a.config.databaseUrl });
    t = await a.newTenant();
    investigationId = (await newInvestigation(a, t)).investigationId;
  }, 60_000);
  afterAll(async () => {
    await other.close();
    await b.close();
    await a.close();
  });

  const path = (id: string) => `${base(t)}/notebook/${id}`;
  const getFrom = (app: TestApp, id: string) => app.call('GET', path(id), { token: t.token });
  const standard = async (name: string) =>
    (await a.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, { token: t.token, body: { name } }))
      .body.notebookId as string;
  /** Polls until `check` holds, failing after NOTICE_MS; returns how long it took. */
  const within = async (what: string, check: () => Promise<boolean>) => {
    const started = Date.now();
    await eventually(what, async () => ((await check()) ? true : undefined), NOTICE_MS, 10);
    return Date.now() - started;
  };

  test('a write through one process is seen by a GET through the other within the notification latency', async () => {
    const id = await standard('Shared');
    expect((await getFrom(b, id)).body.name).toBe('Shared');
    expect((await getFrom(b, id)).body.name).toBe('Shared');
    const put = await a.call('PUT', path(id), { token: t.token, body: { name: 'Renamed through A' } });
    expect(put.status).toBe(200);
    await within('B to see the rename', async () => (await getFrom(b, id)).body.name === 'Renamed through A');
    // And the other way round, with a block (blockCount).
    await getFrom(a, id);
    await b.call('POST', `${path(id)}/blocks`, {
      token: t.token,
      body: { blockType: 'Calculator', blockTitle: 'Summary', configuration: { calculatorType: 'summary' } },
    });
    await within('A to see the block', async () => (await getFrom(a, id)).body.blockCount === 1);
  });

  test("a worker's state change in a third process, and a key revoked in one process, reach the other", async () => {
    const res = await a.call('POST', `${base(t)}/notebook`, {
      token: t.token,
      body: { notebookName: 'Run elsewhere' },
    });
    const id = res.body.notebookId;
    expect((await getFrom(b, id)).body.status).toBe('Ready');
    expect((await getFrom(b, id)).body.status).toBe('Ready');
    await notebookRunning(other, id);
    await within('B to see the run', async () => (await getFrom(b, id)).body.status === 'Running');

    const key = await a.call('POST', `/admin/tenants/${t.tenantId}/keys`, { token: a.adminToken, body: { name: 'k' } });
    const viaKey = () => b.call('GET', path(id), { token: key.body.token });
    expect((await viaKey()).status).toBe(200);
    await a.call('DELETE', `/admin/tenants/${t.tenantId}/keys/${key.body.keyId}`, { token: a.adminToken });
    // Without the notice, B would accept the key for another 5 s (its key cache).
    await within('B to refuse the revoked key', async () => (await viaKey()).status === 401);
  });

  test('when the listening connection is lost, nothing stale is served, and the cache is back once it listens again', async () => {
    // A store of its own, with connections named so that only they are ended.
    const name = `readcache_${Date.now()}`;
    const db = await openDb({ databaseUrl: `${a.config.databaseUrl}&application_name=${name}` });
    const cache = await ReadCache.open(db);
    const notebooks = new Notebooks(
      db,
      new ContractSchemas(loadDocument()),
      'http://x',
      a.config.dataDir,
      undefined,
      undefined,
      cache,
    );
    const scope = { tenantId: t.tenantId, projectId: t.projectId, actor: t.keyId };
    try {
      const id = await standard('Outage');
      // The notice of the notebook's creation may come during the first reads, which are then not kept.
      await eventually('the answer to be kept', async () => {
        const first = await notebooks.getServed(scope, id);
        return (await notebooks.getServed(scope, id)) === first ? true : undefined; // the same object: a hit
      });
      await other.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
      await eventually('the cache to notice', async () => (cache.listening ? undefined : true), 5_000, 10);

      // Written while nobody in this store listens: the next read must see it.
      await a.call('PUT', path(id), { token: t.token, body: { name: 'Renamed during the outage' } });
      const during = await notebooks.getServed(scope, id);
      expect(JSON.parse((during as CachedAnswer).json.toString()).name).toBe('Renamed during the outage');
      expect(cache.size.entries).toBe(0);

      await eventually('the cache to listen again', async () => (cache.listening ? true : undefined), 5_000, 10);
      const back = await notebooks.getServed(scope, id);
      expect(await notebooks.getServed(scope, id)).toBe(back);
      await a.call('PUT', path(id), { token: t.token, body: { name: 'Renamed after' } });
      await within('the renewed listener to hear', async () => {
        const answer = (await notebooks.getServed(scope, id)) as CachedAnswer;
        return JSON.parse(answer.json.toString()).name === 'Renamed after';
      });
    } finally {
      await cache.close();
      await db.close();
    }
  });
});
