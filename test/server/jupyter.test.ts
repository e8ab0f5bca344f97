import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { defaultKernelHomeRoot } from '../../src/kernels/servers';
import { base, eventually, newInvestigation, startTestApp, waitForJob, type Tenant, type TestApp } from './harness';

/**
 * Jupyter notebooks on real kernels: the Debian jupyter-server and python3-ipykernel that
 * scripts/setup.sh installs. The store is not the subject here, so PGlite only.
 */
describe('Jupyter notebooks on real kernels', () => {
  let app: TestApp;
  let t: Tenant;
  let datasetId: string;
  beforeAll(async () => {
    app = await startTestApp('pglite');
    t = await app.newTenant();
    ({ datasetId } = await newInvestigation(app, t));
  }, 60_000);
  afterAll(() => app.close());

  const notebook = async (cells: string[], tenant = t, extra: Record<string, unknown> = {}) => {
    const res = await app.call('POST', `${base(tenant)}/notebook`, {
      token: tenant.token,
      body: {
        notebookName: `N ${Math.random()}`,
        initialCells: cells.map((content, i) => ({
          cellType: 'code',
          content,
          ...(i === 0 && content.startsWith('# parameters') ? { tags: ['parameters'] } : {}),
        })),
        integration: { datasetBinding: datasetId },
        ...extra,
      },
    });
    if (res.status !== 201) throw new Error(`create answered ${res.status}: ${res.text}`);
    return res.body.notebookId as string;
  };
  const execute = async (id: string, body: Record<string, unknown> = {}, tenant = t) => {
    const res = await app.call('POST', `${base(tenant)}/notebook/${id}/execute`, { token: tenant.token, body });
    if (res.status !== 202) throw new Error(`execute answered ${res.status}: ${res.text}`);
    return res.body as { executionId: string; jobId: string };
  };
  const finished = (id: string, executionId: string, tenant = t, timeoutMs = 60_000) =>
    eventually(
      `execution ${executionId}`,
      async () => {
        const res = await app.call('GET', `${base(tenant)}/notebook/${id}/execution/${executionId}`, {
          token: tenant.token,
        });
        return res.body.status === 'Running' ? undefined : res.body;
      },
      timeoutMs,
      200,
    );
  const results = async (id: string, executionId: string) =>
    (
      await app.call('GET', `${base(t)}/notebook/${id}/execution/${executionId}/results?format=detailed`, {
        token: t.token,
      })
    ).body;
  const download = (url: string) => fetch(url, { headers: { Authorization: `Bearer ${t.token}` } });

  test('the process_mining_starter template runs with parameters: tables, a PNG plot, an enriched dataset, a model, a report', async () => {
    const created = await app.call('POST', `${base(t)}/notebook`, {
      token: t.token,
      body: {
        notebookName: 'Starter',
        template: 'process_mining_starter',
        integration: { enrichmentMode: true, datasetBinding: datasetId },
      },
    });
    const id = created.body.notebookId;
    const run = await execute(id, {
      parameters: { analysis_type: 'full_analysis', ml_models: ['process_prediction'], generate_visualizations: true },
      outputOptions: { generateReport: true },
    });
    const done = await finished(id, run.executionId);
    expect(done).toMatchObject({ status: 'Completed', progress: { failedCells: 0, percentComplete: 100 } });
    expect(done.cellResults.map((c: { cellId: string }) => c.cellId)).toContain('injected-parameters');
    expect(done.resources.peakMemoryBytes).toBeGreaterThan(10_000_000);
    expect(done.resources.cpuTimeSeconds).toBeGreaterThan(0);
    const r = await results(id, run.executionId);
    expect(r.outputs.find((o: { outputType: string }) => o.outputType === 'stream').content).toBe(
      '6 cases, 42 events, 8 activities\n',
    );
    const plot = r.outputs.find((o: { outputType: string }) => o.outputType === 'image/png');
    const png = Buffer.from(await (await download(plot.downloadUrl)).arrayBuffer());
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(r.enrichedDatasets).toEqual([
      expect.objectContaining({
        name: 'cases_with_durations',
        recordCount: 42,
        newColumns: ['case_duration_s', 'case_event_count'],
      }),
    ]);
    const csv = await (await download(r.enrichedDatasets[0].downloadUrl)).text();
    expect(csv.split('\n')[0]).toContain('case_duration_s');
    expect(r.models).toEqual([
      expect.objectContaining({
        name: 'slow_case_predictor',
        modelType: 'sklearn.tree._classes.DecisionTreeClassifier',
      }),
    ]);
    const pickle = Buffer.from(await (await download(r.models[0].downloadUrl)).arrayBuffer());
    expect(pickle[0]).toBe(0x80); // a pickle's protocol marker
    const report = await (await download(r.reports[0].downloadUrl)).text();
    expect(report).toContain('<img alt="plot" src="data:image/png;base64,');
    // The .ipynb with the last outputs opens in Jupyter.
    const file = await app.call('GET', `${base(t)}/notebook/${id}/ipynb`, { token: t.token });
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toContain('application/x-ipynb+json');
    expect(file.headers.get('content-disposition')).toBe('attachment; filename="Starter.ipynb"');
    const ipynb = JSON.parse(file.text);
    expect(ipynb).toMatchObject({ nbformat: 4, metadata: { kernelspec: { name: 'python3' } } });
    const plotted = ipynb.cells.find((c: { outputs?: { output_type: string; data?: object }[] }) =>
      c.outputs?.some((o) => o.output_type === 'display_data' && 'image/png' in (o.data ?? {})),
    );
    expect(plotted).toBeDefined();
    // The notebook keeps the last outputs of its cells.
    const nb = (await app.call('GET', `${base(t)}/notebook/${id}`, { token: t.token })).body;
    expect(nb.status).toBe('Ready');
    expect(nb.cells.filter((c: { executionStatus: string }) => c.executionStatus === 'Success').length).toBeGreaterThan(
      4,
    );
  });

  test('execution stops at the first error, recording its type and message; later cells are skipped', async () => {
    const id = await notebook(['print("before")', '1 / 0', 'print("after")']);
    const run = await execute(id);
    const done = await finished(id, run.executionId);
    expect(done.status).toBe('Error');
    expect(done.cellResults.map((c: { status: string; errorType: string | null }) => [c.status, c.errorType])).toEqual([
      ['Success', null],
      ['Error', 'ZeroDivisionError'],
      ['Skipped', undefined],
    ]);
    expect(done.error).toMatchObject({ errorType: 'ZeroDivisionError', errorMessage: 'division by zero' });
    const job = await waitForJob(app, t, run.jobId);
    expect(job).toMatchObject({ status: 'Failed' });
    expect(job.statusReason).toContain('ZeroDivisionError');
  });

  test('a kernel killed mid-cell is reported as dead with its cell within seconds; the next execution runs', async () => {
    const id = await notebook(['import os, time\ntime.sleep(0.5)\nos.kill(os.getpid(), 9)', 'print("never")']);
    const started = Date.now();
    const run = await execute(id);
    const done = await finished(id, run.executionId, t, 30_000);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(done.status).toBe('Error');
    expect(done.cellResults[0]).toMatchObject({ status: 'Error', errorType: 'KernelDied' });
    expect(done.cellResults[1].status).toBe('Skipped');
    const nb = (await app.call('GET', `${base(t)}/notebook/${id}`, { token: t.token })).body;
    expect(nb.status).toBe('Kernel_Dead');
    const job = await waitForJob(app, t, run.jobId);
    expect(job.statusReason).toMatch(/^The kernel died in cell /);
    const next = await notebook(['print(1 + 1)']);
    const again = await execute(next);
    expect((await finished(next, again.executionId)).status).toBe('Completed');
  });

  test('a timeout interrupts the kernel and fails the execution; a cancel stops a running cell at once', async () => {
    const slow = await notebook(['import time\ntime.sleep(120)']);
    const timed = await execute(slow, { timeout: 3 });
    const afterTimeout = await finished(slow, timed.executionId, t, 30_000);
    expect(afterTimeout.status).toBe('Error');
    const job = await waitForJob(app, t, timed.jobId);
    expect(job).toMatchObject({ status: 'Failed', error: { errorType: 'Timeout' } });

    const run = await execute(slow);
    await eventually('the cell to run', async () => {
      const j = (await app.call('GET', `${base(t)}/execution/job/${run.jobId}`, { token: t.token })).body;
      return j.progress.currentStage?.startsWith('Running cell') ? true : undefined;
    });
    const asked = Date.now();
    const cancel = await app.call('DELETE', `${base(t)}/execution/job/${run.jobId}`, { token: t.token, body: {} });
    expect(cancel.status).toBe(200);
    const cancelled = await finished(slow, run.executionId);
    expect(cancelled.status).toBe('Cancelled');
    await eventually('the worker to let go', async () => {
      const status = await app.call('GET', `/api/${t.tenantId}/execution/system/status`, { token: t.token });
      return status.body.executionNodes[0].activeJobs === 0 ? true : undefined;
    });
    expect(Date.now() - asked).toBeLessThan(5_000);
  }, 60_000);

  test("a tenant's Jupyter Server that died is started again on the next execution", async () => {
    const user = `assay_${createHash('sha256').update(t.tenantId).digest('hex').slice(0, 12)}`;
    const killed = spawnSync('pkill', ['-KILL', '-u', user]);
    expect(killed.status).toBe(0); // its server was running
    const id = await notebook(['print("back")']);
    const run = await execute(id);
    expect((await finished(id, run.executionId)).status).toBe('Completed');
  });

  test("one tenant's code cannot read another tenant's files, the service's data or another server's token", async () => {
    const other = await app.newTenant();
    const { datasetId: theirs } = await newInvestigation(app, other);
    const secret = await app.call('POST', `${base(other)}/notebook`, {
      token: other.token,
      body: {
        notebookName: 'Secret',
        initialCells: [
          { cellType: 'code', content: "import os\nopen(os.path.expanduser('~/secret.txt'), 'w').write('b')" },
        ],
        integration: { datasetBinding: theirs },
      },
    });
    const written = await execute(secret.body.notebookId, {}, other);
    expect((await finished(secret.body.notebookId, written.executionId, other)).status).toBe('Completed');

    const theirHome = path.join(defaultKernelHomeRoot(app.config.dataDir), other.tenantId);
    const probe = await notebook([
      `# parameters\ntheir_home = ''\ndata_dir = ''`,
      [
        'import glob, json, os',
        'def attempt(f):',
        '    try:',
        '        f()',
        "        return 'read'",
        '    except PermissionError:',
        "        return 'denied'",
        'tokens = []',
        "for environ in glob.glob('/proc/[0-9]*/environ'):",
        '    try:',
        "        if b'JUPYTER_TOKEN' in open(environ, 'rb').read() and os.stat(os.path.dirname(environ)).st_uid != os.getuid():",
        '            tokens.append(environ)',
        '    except (PermissionError, FileNotFoundError, ProcessLookupError):',
        '        pass',
        'print(json.dumps({',
        "    'their_secret': attempt(lambda: open(os.path.join(their_home, 'secret.txt')).read()),",
        "    'their_home': attempt(lambda: os.listdir(their_home)),",
        "    'data_dir': attempt(lambda: os.listdir(data_dir)),",
        "    'tokens_visible': len(tokens),",
        '    }))',
      ].join('\n'),
    ]);
    const run = await execute(probe, { parameters: { their_home: theirHome, data_dir: app.config.dataDir } });
    const done = await finished(probe, run.executionId);
    expect(done.status).toBe('Completed');
    const printed = (await results(probe, run.executionId)).outputs.find(
      (o: { outputType: string }) => o.outputType === 'stream',
    );
    // No process of another user (another tenant's server or kernels, the service) shows it a token.
    expect(JSON.parse(printed.content)).toEqual({
      their_secret: 'denied',
      their_home: 'denied',
      data_dir: 'denied',
      tokens_visible: 0,
    });
  });
});
