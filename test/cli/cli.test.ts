import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { bootstrapOf, startServerProcess, type ServerProcess } from '../e2e/server-process';
import { createValidator, pointer, repoRoot, validateAt } from '../support/openapi';
import { sharedDataFile } from '../support/shared-data';
import { cli, cliInTerminal, finished, MAIN, startCli, type Ran } from './run-cli';

/**
 * The `assay` command line as a user runs it: the built binary (dist/main.js) against the built
 * server started as `npm start` does, with pipes and under a pseudo-terminal.
 */
const ajv = createValidator();

/** Problems of a value against an operation's documented JSON answer (empty when it conforms). */
function against(apiPath: string, method: string, status: string, value: unknown): string[] {
  return validateAt(
    ajv,
    pointer('#/paths', apiPath, method, 'responses', status, 'content', 'application/json', 'schema').slice(1),
    value,
  );
}

const P = '/api/{tenantId}/{projectId}';
const RUNNING_EXAMPLE = [
  '--case',
  'case:concept:name',
  '--activity',
  'concept:name',
  '--timestamp',
  'time:timestamp',
  '--resource',
  'org:resource',
];

/** A notebook whose second cell raises. */
const FAILING_IPYNB = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [
    { cell_type: 'code', id: 'fine', metadata: {}, source: "print('fine')", outputs: [], execution_count: null },
    {
      cell_type: 'code',
      id: 'broken',
      metadata: {},
      source: "raise ValueError('the data is not what I expected')",
      outputs: [],
      execution_count: null,
    },
    { cell_type: 'code', id: 'never', metadata: {}, source: "print('never')", outputs: [], execution_count: null },
  ],
});

let server: ServerProcess;
let creds: { tenantId: string; projectId: string; token: string };
let work: string;
/** The environment of a logged-in user: its own config directory. */
let env: Record<string, string>;
let datasetId: string;

/** Asserts the exit code, showing the run's output when it differs. */
function expectExit(ran: Ran, code: number): void {
  if (ran.code !== code)
    throw new Error(`exit ${ran.code}, expected ${code}\nstdout: ${ran.stdout}\nstderr: ${ran.stderr}`);
}

/** Parses standard output as one JSON document: --json prints nothing else there. */
function json(ran: Ran): Record<string, unknown> {
  return JSON.parse(ran.stdout) as Record<string, unknown>;
}

beforeAll(async () => {
  // A loaded machine (the kernels' sandbox check, other test files) can take a while to start it.
  server = await startServerProcess({ startTimeoutMs: 120_000 });
  creds = bootstrapOf(server.dataDir);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-cli-'));
  env = { XDG_CONFIG_HOME: path.join(work, 'config'), HOME: work };
  const login = await cli(['login', '--url', server.url, '--tenant', creds.tenantId], {
    env,
    input: `${creds.token}\n`,
  });
  expectExit(login, 0);
  const upload = await cli(
    ['datasets', 'upload', sharedDataFile('running-example.csv'), ...RUNNING_EXAMPLE, '--json'],
    { env },
  );
  expectExit(upload, 0);
  datasetId = json(upload).datasetId as string;
}, 240_000);

afterAll(async () => {
  await server?.stop();
  if (server) fs.rmSync(server.dataDir, { recursive: true, force: true });
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('login and whoami', () => {
  test('login reads the key from standard input and stores it with mode 0600; whoami --json is the project', async () => {
    const home = fs.mkdtempSync(path.join(work, 'login-'));
    const own = { XDG_CONFIG_HOME: path.join(home, 'xdg'), HOME: home };
    const ran = await cli(['login', '--url', `${server.url}/`, '--tenant', creds.tenantId, '--json'], {
      env: own,
      input: creds.token,
    });
    expectExit(ran, 0);
    expect(against('/api/{tenantId}/project/{projectId}', 'get', '200', json(ran))).toEqual([]);
    const file = path.join(home, 'xdg', 'assay', 'config.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({
      url: server.url,
      token: creds.token,
      tenantId: creds.tenantId,
      projectId: creds.projectId,
    });
    const who = await cli(['whoami', '--json'], { env: own });
    expectExit(who, 0);
    expect(json(who)).toMatchObject({ tenantId: creds.tenantId, projectId: creds.projectId });
    const plain = await cli(['whoami'], { env: own });
    expect(plain.stdout).toContain(creds.tenantId);
    expect(plain.stdout).not.toContain(creds.token); // only its first characters

    // Without XDG_CONFIG_HOME the file goes to ~/.config/assay, from ASSAY_TOKEN this time.
    const viaEnv = await cli(['login', '--url', server.url, '--tenant', creds.tenantId], {
      env: { HOME: home, XDG_CONFIG_HOME: undefined, ASSAY_TOKEN: creds.token },
    });
    expectExit(viaEnv, 0);
    expect(fs.statSync(path.join(home, '.config', 'assay', 'config.json')).mode & 0o777).toBe(0o600);
  });

  test('a wrong key exits 1 and stores nothing; a missing tenant or key exits 2', async () => {
    const home = fs.mkdtempSync(path.join(work, 'login-'));
    const own = { XDG_CONFIG_HOME: home, HOME: home };
    const wrong = await cli(['login', '--url', server.url, '--tenant', creds.tenantId], {
      env: own,
      input: 'asy_not_a_key',
    });
    expectExit(wrong, 1);
    expect(wrong.stderr).toMatch(/HTTP 401/);
    expect(fs.existsSync(path.join(home, 'assay', 'config.json'))).toBe(false);
    expectExit(await cli(['login', '--url', server.url], { env: own, input: creds.token }), 2);
    expectExit(await cli(['login', '--url', server.url, '--tenant', creds.tenantId], { env: own, input: '' }), 2);
    expectExit(
      await cli(['login', '--url', 'not a url', '--tenant', creds.tenantId], { env: own, input: creds.token }),
      2,
    );
    // Not logged in at all: every command says how to log in, with exit code 2.
    const notLoggedIn = await cli(['datasets', 'list'], { env: own });
    expectExit(notLoggedIn, 2);
    expect(notLoggedIn.stderr).toMatch(/assay login/);
  });
});

test('bad usage exits 2, with the problem on standard error and nothing on standard output', async () => {
  const cases: string[][] = [
    ['no-such-command'],
    ['datasets'],
    ['datasets', 'upload'],
    ['datasets', 'upload', sharedDataFile('running-example.csv')], // a CSV without its mapping
    ['datasets', 'list', '--page-size', '500'],
    ['notebooks', 'execute', datasetId, '--param', 'no_equals_sign'],
    ['notebooks', 'execute', datasetId, '--priority', 'Urgent'],
    ['notebooks', 'create', '--template', 'process_mining_starter'],
    ['notebooks', 'create', '--name', 'x', '--template', 'no_such_template'],
    ['jobs', 'submit', '--type', 'ProcessMining'],
    ['jobs', 'submit', '--type', 'Bogus', '--resource', datasetId],
    ['jobs', 'submit', '--type', 'ProcessMining', '--resource', 'not-an-id'],
    ['jobs', 'submit', '--type', 'ProcessMining', '--resource', `table:${datasetId}`],
    ['artifacts', 'download', 'not-an-id'],
    ['templates', 'list', '--kind', 'other'],
    ['whoami', '--no-such-option'],
  ];
  for (const args of cases) {
    const ran = await cli(args, { env });
    if (ran.code !== 2) throw new Error(`assay ${args.join(' ')}: exit ${ran.code}\n${ran.stderr}`);
    expect(ran.stdout).toBe('');
    expect(ran.stderr.length).toBeGreaterThan(0);
  }
  // Help is not an error.
  const help = await cli(['notebooks', 'execute', '--help'], { env });
  expectExit(help, 0);
  expect(help.stdout).toContain('--wait');
}, 120_000);

test('--json answers validate against the contract; standard output holds only the JSON', async () => {
  const checks: [string[], string, string, string][] = [
    [['datasets', 'list'], `${P}/datasets`, 'get', '200'],
    [['datasets', 'show', datasetId], `${P}/dataset/{datasetId}`, 'get', '200'],
    [['templates', 'list'], `${P}/templates`, 'get', '200'],
    [['notebooks', 'list'], `${P}/notebooks`, 'get', '200'],
    [['jobs', 'list'], `${P}/execution/jobs`, 'get', '200'],
  ];
  for (const [args, apiPath, method, status] of checks) {
    const ran = await cli([...args, '--json'], { env });
    expectExit(ran, 0);
    expect(against(apiPath, method, status, json(ran))).toEqual([]);
  }
  const shown = json(await cli(['datasets', 'show', datasetId, '--json'], { env }));
  const reference = JSON.parse(fs.readFileSync(sharedDataFile('running-example.reference.json'), 'utf8'));
  expect(shown).toMatchObject({
    caseCount: reference.cases,
    eventCount: reference.events,
    activityCount: reference.activities,
    variantCount: reference.variants,
  });

  // The dataset's events as CSV: the file the API sends, with its size and sha256.
  const csv = path.join(work, 'events.csv');
  const downloaded = await cli(['datasets', 'download', datasetId, '-o', csv, '--json'], { env });
  expectExit(downloaded, 0);
  const direct = Buffer.from(
    await (
      await fetch(`${server.url}/api/${creds.tenantId}/${creds.projectId}/dataset/${datasetId}/download?format=csv`, {
        headers: { Authorization: `Bearer ${creds.token}` },
      })
    ).arrayBuffer(),
  );
  expect(fs.readFileSync(csv).equals(direct)).toBe(true);
  expect(json(downloaded)).toEqual({
    path: csv,
    bytes: direct.length,
    sha256: createHash('sha256').update(direct).digest('hex'),
  });
  expect(direct.toString('utf8').trim().split('\n')).toHaveLength(1 + reference.events);

  // A standard notebook from a template, in a new investigation on the dataset.
  const created = await cli(
    [
      'notebooks',
      'create',
      '--name',
      'Discovery',
      '--template',
      '5f0c3a10-7d1e-4b8a-9c3e-000000000001',
      '--dataset',
      datasetId,
      '--json',
    ],
    { env },
  );
  expectExit(created, 0);
  expect(against(`${P}/notebook/investigation/{investigationId}/from-template`, 'post', '201', json(created))).toEqual(
    [],
  );
  const notebookId = json(created).notebookId as string;
  const shownNotebook = await cli(['notebooks', 'show', notebookId, '--json'], { env });
  expect(against(`${P}/notebook/{notebookId}`, 'get', '200', json(shownNotebook))).toEqual([]);
  const run = await cli(['notebooks', 'execute', notebookId, '--wait', '--json'], { env });
  expectExit(run, 0);
  const results = json(run);
  expect(against(`${P}/notebook/{notebookId}/execution/{executionId}/results`, 'get', '200', results)).toEqual([]);
  expect(results.status).toBe('Completed');
  // Without a terminal: one line per block on standard error, no bar.
  expect(run.stderr).toMatch(/block 3\/3 [0-9a-f-]{36}: Success/);
  expect(run.stderr).not.toContain('\u001b[');
  expect(run.stderr).not.toContain('█');

  // A job on the dataset (its type looked up from the id), followed to the end.
  const submitted = await cli(
    ['jobs', 'submit', '--type', 'ProcessMining', '--resource', datasetId, '--wait', '--json'],
    { env },
  );
  expectExit(submitted, 0);
  const jobResults = json(submitted);
  expect(against(`${P}/execution/job/{jobId}/results`, 'get', '200', jobResults)).toEqual([]);
  expect(jobResults).toMatchObject({
    status: 'Completed',
    success: true,
    summary: { recordsProcessed: reference.events },
  });
  const jobId = jobResults.jobId as string;
  const shownJob = await cli(['jobs', 'show', jobId, '--json'], { env });
  expect(against(`${P}/execution/job/{jobId}`, 'get', '200', json(shownJob))).toEqual([]);
  const logs = await cli(['jobs', 'logs', jobId], { env });
  expectExit(logs, 0);
  expect(logs.stdout).toMatch(/^\d+ \S+ job Writing outputs$/m);
  const cancel = await cli(['jobs', 'cancel', jobId], { env });
  expectExit(cancel, 1); // a finished job cannot be cancelled: the API's 409
  expect(cancel.stderr).toMatch(/HTTP 409/);
}, 240_000);

test("a failing notebook run exits 1 and prints the failing cell's error; so does a failed job", async () => {
  const file = path.join(work, 'failing.ipynb');
  fs.writeFileSync(file, FAILING_IPYNB);
  const created = await cli(['notebooks', 'create', '--file', file, '--name', 'Failing', '--json'], { env });
  expectExit(created, 0);
  expect(against(`${P}/notebook/upload`, 'post', '201', json(created))).toEqual([]);
  const notebookId = json(created).notebookId as string;

  const run = await cli(['notebooks', 'execute', notebookId, '--wait', '--json'], { env });
  expectExit(run, 1);
  expect(run.stderr).toContain('cell broken failed: ValueError: the data is not what I expected');
  expect(run.stderr).toMatch(/Error in cell broken: ValueError: the data is not what I expected/);
  const results = json(run);
  expect(against(`${P}/notebook/{notebookId}/execution/{executionId}/results`, 'get', '200', results)).toEqual([]);
  expect(results.status).toBe('Error');

  const job = await cli(['jobs', 'submit', '--type', 'Notebook', '--resource', notebookId, '--wait', '--json'], {
    env,
  });
  expectExit(job, 1);
  expect(job.stderr).toMatch(/Failed: .*ValueError: the data is not what I expected/);
  expect(against(`${P}/execution/job/{jobId}/results`, 'get', '200', json(job))).toEqual([]);

  // The failed job retried, and its log followed to the end of the new run.
  const retried = await cli(['jobs', 'retry', json(job).jobId as string, '--json'], { env });
  expectExit(retried, 0);
  expect(against(`${P}/execution/job/{jobId}/retry`, 'post', '200', json(retried))).toEqual([]);
  const follow = await cli(['jobs', 'logs', json(retried).jobId as string, '--follow'], { env });
  expectExit(follow, 0);
  expect(follow.stdout).toMatch(/Running cell 2 of 3/);
}, 300_000);

test('under a terminal the upload and the run draw progress bars on standard error', async () => {
  const upload = await cliInTerminal(
    [
      'datasets',
      'upload',
      sharedDataFile('receipt.csv'),
      '--case',
      'case:concept:name',
      '--activity',
      'concept:name',
      '--timestamp',
      'time:timestamp',
    ],
    { env },
  );
  expectExit(upload, 0);
  const size = fs.statSync(sharedDataFile('receipt.csv')).size;
  expect(upload.stdout).toMatch(new RegExp(`upload \\|[█░]{40}\\| 100% ${size}/${size} bytes`));
  expect(upload.stdout).toMatch(/cases +1434/); // the receipt log's figures (its reference: 1,434 cases)

  const nb = await cli(
    ['notebooks', 'create', '--name', 'Starter', '--template', 'process_mining_starter', '--dataset', datasetId],
    { env },
  );
  expectExit(nb, 0);
  const run = await cliInTerminal(['notebooks', 'execute', nb.stdout.trim(), '--wait'], { env });
  expectExit(run, 0);
  // The bar counts the template's 7 code cells and ends full.
  expect(run.stdout).toMatch(/cells \|█{40}\| 7\/7/);
  expect(run.stdout).toContain('\u001b[');

  // The same run piped: no bar, and standard output only the execution id.
  const piped = await cli(['notebooks', 'execute', nb.stdout.trim()], { env });
  expectExit(piped, 0);
  expect(piped.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
}, 300_000);

/**
 * A proxy in front of the server that, while `stall` is set, sends the first half of an artifact
 * and then holds the connection open, as a network that hangs would. It records each request's
 * `Range`.
 */
function stallingProxy(target: string) {
  const state = { stall: true, ranges: [] as (string | undefined)[], held: [] as http.ServerResponse[] };
  const proxy = http.createServer((req, res) => {
    const artifact = req.method === 'GET' && /\/artifact\//.test(req.url ?? '');
    if (artifact) state.ranges.push(req.headers.range);
    const upstream = http.request(new URL(req.url!, target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      if (!(artifact && state.stall)) return void answer.pipe(res);
      state.stall = false;
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        res.write(body.subarray(0, Math.floor(body.length / 2)));
        state.held.push(res);
      });
    });
    req.pipe(upstream);
  });
  return { proxy, state };
}

test('an interrupted download resumes where it stopped, byte-identical, with the sha256 the server announces', async () => {
  const submitted = await cli(
    ['jobs', 'submit', '--type', 'ProcessMining', '--resource', `dataset:${datasetId}`, '--wait', '--json'],
    { env },
  );
  expectExit(submitted, 0);
  const report = (json(submitted).results as { primaryOutput: { downloadUrl: string } }).primaryOutput.downloadUrl;
  const direct = await fetch(report, { headers: { Authorization: `Bearer ${creds.token}` } });
  const original = Buffer.from(await direct.arrayBuffer());
  const sha256 = createHash('sha256').update(original).digest('hex');
  expect(direct.headers.get('etag')).toBe(`"${sha256}"`);

  const { proxy, state } = stallingProxy(server.url);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const proxied = { ...env, ASSAY_URL: `http://127.0.0.1:${(proxy.address() as { port: number }).port}` };
  const dest = path.join(work, 'report.html');
  const half = Math.floor(original.length / 2);
  try {
    // The first try hangs half way; Ctrl-C stops it and keeps the part.
    const child = startCli(['artifacts', 'download', report, '-o', dest], { env: proxied });
    const done = finished(child);
    const deadline = Date.now() + 20_000;
    while ((fs.existsSync(`${dest}.part`) ? fs.statSync(`${dest}.part`).size : 0) < half) {
      if (Date.now() > deadline) throw new Error('the first half never arrived');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGINT');
    const interrupted = await done;
    expectExit(interrupted, 130);
    expect(fs.existsSync(dest)).toBe(false);
    expect(fs.statSync(`${dest}.part`).size).toBe(half);

    // The second try asks for the rest only, and checks the whole file.
    const resumed = await cli(['artifacts', 'download', report, '-o', dest, '--json'], { env: proxied });
    expectExit(resumed, 0);
    expect(json(resumed)).toEqual({ path: dest, bytes: original.length, sha256, resumedFrom: half });
    expect(state.ranges).toEqual([undefined, `bytes=${half}-`]);
    expect(fs.readFileSync(dest).equals(original)).toBe(true);
    expect(fs.existsSync(`${dest}.part`)).toBe(false);
    expect(execFileSync('sha256sum', [dest], { encoding: 'utf8' }).split(' ')[0]).toBe(sha256);
  } finally {
    for (const res of state.held) res.destroy();
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  }
}, 240_000);

test('the README walk-through runs as written: upload, a notebook from a template, execute --wait, download the report', async () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const block = /<!-- cli-walkthrough[^>]*-->\s*```sh\n([\s\S]*?)```\s*<!-- \/cli-walkthrough -->/.exec(readme);
  expect(block).not.toBeNull();
  const script = block![1];
  expect(script).toContain('http://127.0.0.1:3000');
  const dir = fs.mkdtempSync(path.join(work, 'walkthrough-'));
  fs.copyFileSync(sharedDataFile('running-example.csv'), path.join(dir, 'running-example.csv'));
  // `assay` on the PATH is the built binary, as `npm link` would make it.
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, 'assay'),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} "$@"\n`,
    { mode: 0o755 },
  );
  // The only change: the server's port instead of the default 3000.
  const ran = await new Promise<Ran>((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script.replaceAll('http://127.0.0.1:3000', server.url)], {
      cwd: dir,
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        HOME: dir,
        XDG_CONFIG_HOME: path.join(dir, 'config'),
        T: creds.token,
        TENANT: creds.tenantId,
        NODE_OPTIONS: '',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  expectExit(ran, 0);
  const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
  expect(against(`${P}/notebook/{notebookId}/execution/{executionId}/results`, 'get', '200', results)).toEqual([]);
  expect(results.status).toBe('Completed');
  expect(results.outputs.map((o: { content?: unknown }) => o.content)).toContain('6 cases, 42 events, 8 activities\n');
  const html = fs.readFileSync(path.join(dir, 'report.html'));
  expect(html.toString('utf8')).toMatch(/<html/i);
  const etag = (
    await fetch(results.reports[0].downloadUrl, { method: 'HEAD', headers: { Authorization: `Bearer ${creds.token}` } })
  ).headers.get('etag');
  expect(etag).toBe(`"${createHash('sha256').update(html).digest('hex')}"`);
}, 300_000);
