import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import fs from 'node:fs';
import { sharedDataFile } from '../support/shared-data';
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
  const investigation = async () => (await datasetAndInvestigation()).investigationId;
  const datasetAndInvestigation = async () => {
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
    const investigationId = (await api('POST', '/investigation', { name: `Seed ${Date.now()}`, datasetId })).body
      .investigationId as string;
    return { datasetId, investigationId };
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
  const runSeed = async (file: string, ids: Record<string, string>, timeout = 20_000): Promise<string> => {
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
      timeout,
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

  test('page 002 (Python and JavaScript): system status, submit, wait, results with real outputs to download', async () => {
    const { datasetId, investigationId } = await datasetAndInvestigation();
    const ids = { DATASET_ID: datasetId, PIPELINE_ID: investigationId };
    // Both examples poll every 30 seconds, as the page wrote them; they run side by side.
    const [python, javascript] = await Promise.all([
      runSeed('page-002-jobs.py', ids, 90_000),
      runSeed('page-002-jobs.mjs', ids, 90_000),
    ]);
    const jobId = /Gönderilen iş: ([0-9a-f-]{36})/.exec(python)![1];
    expect(python).toContain('Sistem Durumu: Healthy');
    expect(python).toContain(`İş ${jobId}: Completed (100%)`);
    expect(python).toContain('İş başarıyla tamamlandı!');
    expect(python).toContain('İşlenen kayıt sayısı: 1\n');
    expect(python).toContain('Veri kalitesi puanı: 100\n');
    expect(python).toMatch(/İşleme verimliliği: \d+(\.\d)?%\n/);
    expect(python).not.toContain('Hata');
    const report = /Rapor indir: (\S+)/.exec(python)![1];
    const downloaded = await fetch(report, { headers: { Authorization: `Bearer ${creds.token}` } });
    expect(downloaded.status).toBe(200);
    expect(await downloaded.text()).toContain('Monthly Process Analytics');
    for (const type of ['ProcessMap', 'Metrics', 'EnrichedDataset'])
      expect(python).toMatch(new RegExp(`İndir ${type}: http`));
    const job = (await api('GET', `/execution/job/${jobId}`)).body;
    expect(job).toMatchObject({
      status: 'Completed',
      priority: 'High',
      resource: { resourceType: 'Pipeline', resourceId: investigationId },
      parameters: { datasetId, includeProcessVariants: true },
    });

    expect(javascript).toMatch(/Gönderilen iş: [0-9a-f-]{36}\n/);
    expect(javascript).toContain('İş başarıyla tamamlandı!');
    expect(javascript).toMatch(/Birincil Çıktı: http\S+\/artifact\//);
    expect(javascript).not.toContain('başarısız');
  }, 120_000);

  test("page 002 (Python): cancel and retry through the page's ExecutionManager", async () => {
    const { datasetId } = await datasetAndInvestigation();
    const stdout = await runSeed('page-002-cancel-retry.py', { DATASET_ID: datasetId }, 60_000);
    // wait_for_completion prints each poll; the rest is the script's own lines.
    expect(stdout).toMatch(/İş [0-9a-f-]{36}: Completed \(100%\)\n {2}Mevcut aşama: Completed\n/);
    const own = stdout
      .split('\n')
      .filter((line) => !line.startsWith('İş ') && !line.startsWith('  '))
      .join('\n');
    expect(own).toBe(
      [
        'cancelled: True',
        'status: Cancelled',
        'cancelled again: False',
        "retry of original: True High {'outputName': 'Enriched copy'}",
        'retry result: Completed EnrichedDataset Enriched copy',
        "cancelled jobs listed: ['Cancel me']",
        '',
      ].join('\n'),
    );
  });

  test('page 001 (Python): create from a template, execute with parameters on a real kernel, wait, results', async () => {
    const form = new FormData();
    form.append('file', new Blob([fs.readFileSync(sharedDataFile('running-example.xes'))]), 'running-example.xes');
    const dataset = (await (
      await fetch(`${server.url}/api/${creds.tenantId}/${creds.projectId}/dataset`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${creds.token}` },
        body: form,
      })
    ).json()) as { datasetId: string };
    // The example polls every 15 seconds, as the page wrote it.
    const stdout = await runSeed('page-001-notebooks.py', { DATASET_ID: dataset.datasetId }, 90_000);
    expect(stdout).not.toContain('Fehler');
    expect(stdout).toMatch(
      /^Notebook erstellt: [0-9a-f-]{36}\nAusführung gestartet: [0-9a-f-]{36}\nGeschätzte Dauer: /,
    );
    expect(stdout).toMatch(/: Completed \(100%\)\n/);
    expect(stdout).toContain('Notebook-Ausführung erfolgreich abgeschlossen!');
    expect(stdout).toContain('Angereicherte Datensätze: 1\n');
    expect(stdout).toContain('Erstellte ML-Modelle: 1\n');
    const model = /Modell 'slow_case_predictor' herunterladen: (\S+)/.exec(stdout)![1];
    const file = await fetch(model, { headers: { Authorization: `Bearer ${creds.token}` } });
    expect(file.status).toBe(200);
    const enriched = /Angereicherte Daten herunterladen: (\S+)/.exec(stdout)![1];
    const csv = await (await fetch(enriched, { headers: { Authorization: `Bearer ${creds.token}` } })).text();
    expect(csv.split('\n')[0]).toContain('case_duration_s');
  }, 120_000);
});
