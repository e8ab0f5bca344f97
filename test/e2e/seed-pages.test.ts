import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { bootstrapOf, startServerProcess, type ServerProcess } from './server-process';

const run = promisify(execFile);
const seedDir = path.join(__dirname, 'seed');

describe("the seed pages' JavaScript and Python examples against `npm start`", () => {
  let server: ServerProcess;
  let creds: { tenantId: string; projectId: string; token: string };
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${server.url}/api/${creds.tenantId}/${creds.projectId}${p}`, {
      method,
      headers: { Authorization: `Bearer ${creds.token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const json: any = res.status === 204 ? undefined : await res.json();
    return { status: res.status, body: json };
  };
  const investigation = async () => {
    const form = new FormData();
    form.append('file', new Blob(['case,activity,time\n1,a,2024-01-01T00:00:00Z\n']), 'log.csv');
    for (const [k, v] of Object.entries({ caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'time' }))
      form.append(k, v);
    const ds = await fetch(`${server.url}/api/${creds.tenantId}/${creds.projectId}/dataset`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${creds.token}` },
      body: form,
    });
    const datasetId = ((await ds.json()) as { datasetId: string }).datasetId;
    return (await api('POST', '/investigation', { name: `Seed ${Date.now()}`, datasetId })).body
      .investigationId as string;
  };

  /** A date filter block like page 004's, in a new notebook of a new investigation. */
  const blockInNewNotebook = async () => {
    const investigationId = await investigation();
    const notebook = (await api('POST', `/notebook/investigation/${investigationId}`, { name: 'Blocks' })).body;
    const created = await api('POST', `/notebook/${notebook.notebookId}/blocks`, {
      blockType: 'Filter',
      blockTitle: 'Tarih Aralığı Filtresi',
      configuration: '{"filterType": "dateRange", "startDate": "2024-01-01"}',
    });
    return created.body as { blockId: string };
  };

  /** Runs one of the seed pages' scripts with the values the page asks to fill in: base URL, ids, token. */
  const runSeed = async (file: string, ids: Record<string, string>): Promise<string> => {
    const env = {
      BASE_URL: server.url,
      TENANT_ID: creds.tenantId,
      PROJECT_ID: creds.projectId,
      TOKEN: creds.token,
      ...ids,
    };
    // Debian's Python has python3-requests (scripts/setup.sh); the `python3` on PATH may be another one.
    const interpreter = file.endsWith('.py') ? '/usr/bin/python3' : process.execPath;
    const { stdout } = await run(interpreter, [path.join(seedDir, file)], {
      env: { PATH: process.env.PATH, ...env },
      timeout: 20_000,
    });
    return stdout;
  };

  beforeAll(async () => {
    server = await startServerProcess();
    creds = bootstrapOf(server.dataDir);
  }, 60_000);
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  test('page 003 (Python): list, create, copy, and update with optimistic locking', async () => {
    const investigationId = await investigation();
    const stdout = await runSeed('page-003-notebooks.py', { INVESTIGATION_ID: investigationId });
    const notebooks = (await api('GET', `/notebook/investigation/${investigationId}`)).body as {
      notebookId: string;
      name: string;
      description: string;
    }[];
    expect(notebooks.map((n) => [n.name, n.description])).toEqual([
      ['Renamed Analysis', null],
      ['Copy of New Analysis', 'My workflow'],
    ]);
    expect(stdout).toBe(
      `0 defter bulundu\nDefter oluşturuldu: ${notebooks[0].notebookId}\nKopya oluşturuldu: ${notebooks[1].notebookId}\n`,
    );
  });

  test('page 004 (Python): get, update and delete a block', async () => {
    const block = await blockInNewNotebook();
    const stdout = await runSeed('page-004-blocks.py', { BLOCK_ID: block.blockId });
    expect(stdout).toBe(
      'Blok: Tarih Aralığı Filtresi (Filter)\nÇalıştırma sayısı: 0\nGüncellendi: Yeni Başlık\nBlok başarıyla silindi\n',
    );
    expect((await api('GET', `/block/${block.blockId}`)).status).toBe(404);
  });

  test('page 003 (JavaScript): list, create and copy notebooks in an investigation', async () => {
    const investigationId = await investigation();
    const stdout = await runSeed('page-003-notebooks.mjs', { INVESTIGATION_ID: investigationId });
    expect(stdout).toBe('0 defter bulundu\n');
    const notebooks = (await api('GET', `/notebook/investigation/${investigationId}`)).body as { name: string }[];
    expect(notebooks.map((n) => n.name)).toEqual(['New Analysis', 'Copy of Analysis']);
  });

  test('page 004 (JavaScript): get, update and delete a block', async () => {
    const block = await blockInNewNotebook();
    const stdout = await runSeed('page-004-blocks.mjs', { BLOCK_ID: block.blockId });
    expect(stdout).toBe('Blok: Tarih Aralığı Filtresi (Filter)\n');
    expect((await api('GET', `/block/${block.blockId}`)).status).toBe(404);
  });
});
