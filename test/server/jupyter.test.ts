import { defaultKernelHomeRoot } from '../../src/kernels/servers';
import { base, eventually, newInvestigation, startTestApp, waitForJob, type Tenant, type TestApp } from './harness';
import { kernelCalls } from './kernelHarness';
import { readEvents } from '../support/sse';

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

  const k = () => kernelCalls(app, () => datasetId);
  const notebook = (cells: string[], tenant = t, extra: Record<string, unknown> = {}) =>
    k().notebook(cells, tenant, extra);
  const execute = (id: string, body: Record<string, unknown> = {}, tenant = t) => k().execute(id, tenant, body);
  const finished = (id: string, executionId: string, tenant = t, timeoutMs = 60_000) =>
    k().finished(id, executionId, tenant, timeoutMs);
  const results = (id: string, executionId: string) => k().results(id, executionId, t);
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
    expect(done.outputs).toMatchObject({
      plots: 1,
      models: 1,
      enrichedData: { recordCount: 42, newColumns: ['case_duration_s', 'case_event_count'] },
    });
    expect(done.outputs.dataFrames).toBeGreaterThan(0);
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
    // Markdown cells as HTML; the injected parameters shown.
    expect(report).toContain('<h1>Process mining starter</h1>');
    expect(report).toMatch(/<section class="cell injected">[\s\S]*?analysis_type = &quot;full_analysis&quot;/);
    // The .ipynb with the last outputs opens in Jupyter.
    const file = await app.call('GET', `${base(t)}/notebook/${id}/ipynb`, { token: t.token });
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toContain('application/x-ipynb+json');
    expect(file.headers.get('content-disposition')).toBe('attachment; filename="Starter.ipynb"');
    const ipynb = JSON.parse(file.text);
    expect(ipynb).toMatchObject({
      nbformat: 4,
      metadata: {
        kernelspec: { name: 'python3' },
        papermill: {
          parameters: {
            analysis_type: 'full_analysis',
            ml_models: ['process_prediction'],
            generate_visualizations: true,
          },
        },
      },
    });
    const tags = ipynb.cells.map((c: { metadata: { tags?: string[] } }) => c.metadata.tags ?? []);
    expect(tags.findIndex((x: string[]) => x.includes('injected-parameters'))).toBe(
      tags.findIndex((x: string[]) => x.includes('parameters')) + 1,
    );
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

  test('a 5-cell execution streams cell.started and cell.completed five times each, live, with outputs and stderr lines', async () => {
    const id = await notebook([
      'import sys, time\nprint("one")',
      'print("two", file=sys.stderr)',
      'time.sleep(0.5)\n3 * 7',
      'print("four")',
      'print("five")',
    ]);
    const stream = (executionId: string) => `${app.url}${base(t)}/notebook/${id}/execution/${executionId}/events`;
    let run = { executionId: '', jobId: '' };
    // Opened on the project stream before the run, so every event is seen as it happens.
    const live = await readEvents(`${app.url}${base(t)}/events?notebookId=${id}`, {
      headers: { Authorization: `Bearer ${t.token}` },
      onOpen: async () => {
        run = await execute(id);
      },
      until: (events) =>
        events.some((e) => e.event === 'job.status' && ['Completed', 'Failed'].includes(e.data.status)),
      timeoutMs: 90_000,
    });
    const started = live.events.filter((e) => e.event === 'cell.started');
    const completed = live.events.filter((e) => e.event === 'cell.completed');
    expect(started).toHaveLength(5);
    expect(completed).toHaveLength(5);
    expect(completed.map((e) => e.data.status)).toEqual(Array(5).fill('Success'));
    expect(completed[2].data.durationMs).toBeGreaterThanOrEqual(500);
    // Each cell starts after the one before it completed.
    const order = live.events.filter((e) => e.event.startsWith('cell.')).map((e) => `${e.event}:${e.data.cellId}`);
    for (let i = 0; i < 5; i++) {
      const cellId = started[i].data.cellId;
      expect(order.indexOf(`cell.started:${cellId}`)).toBeLessThan(order.indexOf(`cell.completed:${cellId}`));
      if (i > 0) {
        expect(order.indexOf(`cell.completed:${started[i - 1].data.cellId}`)).toBeLessThan(
          order.indexOf(`cell.started:${cellId}`),
        );
      }
    }
    const outputs = live.events.filter((e) => e.event === 'cell.output').map((e) => e.data.output);
    expect(outputs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ outputType: 'stream', content: 'one\n' }),
        expect.objectContaining({ outputType: 'execute_result', content: '21' }),
      ]),
    );
    const stderr = live.events.filter((e) => e.event === 'log' && e.data.source === 'stderr');
    expect(stderr.map((e) => e.data.line)).toEqual(['two']);
    // The execution's own stream replays the same cell events and closes.
    const replay = await readEvents(stream(run.executionId), { headers: { Authorization: `Bearer ${t.token}` } });
    expect(replay.closedByServer).toBe(true);
    expect(replay.events.filter((e) => e.event === 'cell.completed')).toEqual(completed);
  }, 120_000);

  test("a run's stream is bounded whatever its code writes: 2,000 log lines, 1,000 outputs, lines cut whole", async () => {
    const id = await notebook([
      [
        'import sys',
        'from IPython.display import display',
        // One line that a plain cut at 2,000 units would split inside a surrogate pair, a NUL, then a flood.
        'sys.stderr.write("a" * 1999 + "\\U0001F600" + "\\n" + "nul\\x00here\\n")',
        'sys.stderr.write("".join(f"line {i}\\n" for i in range(2100)))',
        'for i in range(1100): display(i)',
      ].join('\n'),
    ]);
    const run = await execute(id);
    const done = await finished(id, run.executionId);
    expect(done.status).toBe('Completed');
    const replay = await readEvents(`${app.url}${base(t)}/notebook/${id}/execution/${run.executionId}/events`, {
      headers: { Authorization: `Bearer ${t.token}` },
    });
    expect(replay.closedByServer).toBe(true);
    const all = replay.events.filter((e) => e.event === 'log').map((e) => e.data);
    // Each cap says once that it was reached; the outputs' note is not one of the 2,000 lines.
    const outputsNote = 'Outputs after the first 1000 are in the results only.';
    expect(all.filter((l) => l.line === outputsNote)).toHaveLength(1);
    const logs = all.filter((l) => l.line !== outputsNote);
    expect(logs).toHaveLength(2000);
    expect(logs.at(-1)).toEqual(
      expect.objectContaining({ source: 'job', line: 'Log lines after the first 1999 of this run were dropped.' }),
    );
    const stderr = logs.filter((l) => l.source === 'stderr').map((l) => l.line);
    expect(stderr[0]).toBe(`${'a'.repeat(1999)} [cut at 2000 characters]`);
    expect(stderr[1]).toBe('nul\uFFFDhere');
    expect(stderr[2]).toBe('line 0');
    expect(replay.events.filter((e) => e.event === 'cell.output')).toHaveLength(1000);
  }, 120_000);

  test('the executed notebook keeps the injected parameters cell as papermill does; the next run replaces it', async () => {
    const id = await notebook(['# parameters\nn = 1', 'print(n)']);
    const ipynbAfter = async (parameters?: Record<string, unknown>) => {
      const run = await execute(id, parameters ? { parameters } : {});
      expect((await finished(id, run.executionId)).status).toBe('Completed');
      return JSON.parse((await app.call('GET', `${base(t)}/notebook/${id}/ipynb`, { token: t.token })).text);
    };
    const tagsOf = (ipynb: { cells: { metadata: { tags?: string[] } }[] }) =>
      ipynb.cells.map((c) => c.metadata.tags ?? []);
    for (const n of [5, 7]) {
      const ipynb = await ipynbAfter({ n });
      expect(tagsOf(ipynb)).toEqual([['parameters'], ['injected-parameters'], []]);
      expect(ipynb.cells[1]).toMatchObject({
        id: 'injected-parameters',
        cell_type: 'code',
        source: `# Parameters (injected)\nn = ${n}`,
        execution_count: expect.any(Number),
        outputs: [],
      });
      expect(ipynb.cells[2].outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: `${n}\n` }]);
      expect(ipynb.metadata.papermill).toEqual({ parameters: { n } });
    }
    // Without parameters the notebook's own defaults hold: no injected cell is left to run.
    const plain = await ipynbAfter();
    expect(tagsOf(plain)).toEqual([['parameters'], []]);
    expect(plain.cells[1].outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: '1\n' }]);
    expect(plain.metadata.papermill).toEqual({ parameters: {} });
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
    expect(cancelled.progress).toMatchObject({ completedCells: 0, percentComplete: 0 });
    await eventually('the worker to let go', async () => {
      const status = await app.call('GET', `/api/${t.tenantId}/execution/system/status`, { token: t.token });
      return status.body.executionNodes[0].activeJobs === 0 ? true : undefined;
    });
    expect(Date.now() - asked).toBeLessThan(5_000);
  }, 60_000);

  test("one tenant's code cannot see another tenant's running code, files, the service's data or any token", async () => {
    const other = await app.newTenant();
    const { datasetId: theirs } = await newInvestigation(app, other);
    const secret = await app.call('POST', `${base(other)}/notebook`, {
      token: other.token,
      body: {
        notebookName: 'Secret',
        initialCells: [
          {
            cellType: 'code',
            content: "import os, time\nopen(os.path.expanduser('~/secret.txt'), 'w').write('b')\ntime.sleep(15)",
          },
        ],
        integration: { datasetBinding: theirs },
      },
    });
    const writing = await execute(secret.body.notebookId, {}, other);
    await eventually('the other tenant to be running', async () => {
      const j = (await app.call('GET', `${base(other)}/execution/job/${writing.jobId}`, { token: other.token })).body;
      return j.progress.currentStage?.startsWith('Running cell') ? true : undefined;
    });

    const probe = await notebook([
      `# parameters\nkernel_root = ''\ndata_dir = ''`,
      [
        'import glob, json, os',
        'def attempt(f):',
        '    try:',
        '        f()',
        "        return 'read'",
        '    except PermissionError:',
        "        return 'denied'",
        '    except FileNotFoundError:',
        "        return 'absent'",
        // Every writable or mounted place a run could share (/usr and /etc are the system, read-only).
        "secrets = [f for top in ['/run', '/tmp', '/opt', '/var', '/home', '/root', '/srv', '/mnt', '/dev'] for f in glob.glob(top + '/**/secret.txt', recursive=True)]",
        // Only its own run's server token may be seen: one value, whatever the number of processes.
        'tokens = set()',
        "for environ in glob.glob('/proc/[0-9]*/environ'):",
        '    try:',
        "        for entry in open(environ, 'rb').read().split(b'\\0'):",
        "            if entry.startswith(b'JUPYTER_TOKEN='):",
        '                tokens.add(entry)',
        '    except (PermissionError, FileNotFoundError, ProcessLookupError):',
        '        pass',
        'print(json.dumps({',
        "    'kernel_root': attempt(lambda: os.listdir(kernel_root)),",
        "    'data_dir': attempt(lambda: os.listdir(data_dir)),",
        "    'secrets_found': len(secrets),",
        "    'tokens_visible': len(tokens),",
        '    }))',
      ].join('\n'),
    ]);
    const run = await execute(probe, {
      parameters: { kernel_root: defaultKernelHomeRoot(app.config.dataDir), data_dir: app.config.dataDir },
    });
    const done = await finished(probe, run.executionId);
    expect(done.status).toBe('Completed');
    const printed = (await results(probe, run.executionId)).outputs.find(
      (o: { outputType: string }) => o.outputType === 'stream',
    );
    // Another tenant's run, the service's folders and other servers' tokens are not even there to refuse.
    expect(JSON.parse(printed.content)).toEqual({
      kernel_root: 'absent',
      data_dir: 'absent',
      secrets_found: 0,
      tokens_visible: 1,
    });
    expect((await finished(secret.body.notebookId, writing.executionId, other)).status).toBe('Completed');
  }, 60_000);
});
