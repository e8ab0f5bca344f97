import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  base,
  eventually,
  fixtureLog,
  formWith,
  newInvestigation,
  startTestApp,
  type Tenant,
  type TestApp,
} from './harness';
import { defaultKernelHomeRoot } from '../../src/kernels/servers';
import { kernelCalls, processesWith } from './kernelHarness';

/**
 * Notebook code is hostile: every attack here was seen working against the service before each
 * execution got a sandbox of its own (bubblewrap: no network, its own PID namespace, a read-only
 * system, a size-limited run directory) and before the service read what kernels wrote as
 * hostile input. The kernels are real (Debian's jupyter-server and python3-ipykernel); the
 * store is not the subject, so PGlite only.
 */
describe('the notebook sandbox', () => {
  let app: TestApp;
  let t: Tenant;
  let other: Tenant;
  let datasetId: string;
  let theirDatasetId: string;
  let k: ReturnType<typeof kernelCalls>;
  /** A file only root may read, outside anything a sandbox sees. */
  let secret: string;
  beforeAll(async () => {
    app = await startTestApp('pglite', {
      KERNEL_MEMORY_LIMIT_BYTES: String(1536 * 1024 ** 2),
      KERNEL_DISK_LIMIT_BYTES: String(64 * 1024 ** 2),
      KERNEL_PROCESS_LIMIT: '64',
      KERNEL_OUTPUT_LIMIT_BYTES: '200000',
    });
    t = await app.newTenant();
    other = await app.newTenant();
    ({ datasetId } = await newInvestigation(app, t));
    ({ datasetId: theirDatasetId } = await newInvestigation(app, other));
    k = kernelCalls(app, () => datasetId);
    secret = path.join(os.tmpdir(), `assay-secret-${randomUUID()}`);
    fs.writeFileSync(secret, 'TOP SECRET', { mode: 0o600 });
  }, 60_000);
  afterAll(async () => {
    fs.rmSync(secret, { force: true });
    await app.close();
  });

  const projectCounts = async (tenant: Tenant) => {
    const [row] = await app.db.query(
      `SELECT (SELECT count(*)::int FROM datasets WHERE project_id = $1) AS datasets,
              (SELECT count(*)::int FROM artifacts WHERE project_id = $1 AND kind = 'AnalyticsModel') AS models`,
      [tenant.projectId],
    );
    return row;
  };
  /** A cell that names `file` in the `assay` manifest as a model (or an enriched dataset). */
  const publishes = (kind: 'model' | 'enriched', file: string) =>
    [
      'import json',
      `entry = {'kind': ${JSON.stringify(kind)}, 'name': 'x', 'file': ${JSON.stringify(file)}, 'modelType': 'm', 'recordCount': 42, 'newColumns': []}`,
      "json.dump([entry], open('assay-outputs.json', 'w'))",
    ].join('\n');

  test('a link to a root-only file named as a model is refused; nothing is published', async () => {
    const before = await projectCounts(t);
    const { id, executionId, done } = await k.runCells(
      [`import os\nos.symlink(${JSON.stringify(secret)}, 'model-x.pkl')`, publishes('model', 'model-x.pkl')],
      t,
    );
    expect(done.status).toBe('Error');
    expect(done.error).toMatchObject({
      errorType: 'OutputRejected',
      errorMessage: expect.stringContaining('is a link'),
    });
    expect((await k.results(id, executionId, t)).models).toEqual([]);
    expect(await projectCounts(t)).toEqual(before);
  });

  test("a link to another tenant's dataset named as an enriched dataset is refused; no dataset appears", async () => {
    const theirs = path.join(app.config.dataDir, 'datasets', theirDatasetId, 'original.xes');
    expect(fs.existsSync(theirs)).toBe(true);
    const before = await projectCounts(t);
    const { done } = await k.runCells(
      [`import os\nos.symlink(${JSON.stringify(theirs)}, 'enriched-x.csv')`, publishes('enriched', 'enriched-x.csv')],
      t,
    );
    expect(done.status).toBe('Error');
    expect(done.error.errorMessage).toContain('is a link');
    expect(await projectCounts(t)).toEqual(before);
  });

  test('a FIFO, a name leaving the run directory and a broken manifest fail the run quickly, publishing nothing', async () => {
    const before = await projectCounts(t);
    const fifo = await k.runCells(["import os\nos.mkfifo('model-x.pkl')", publishes('model', 'model-x.pkl')], t);
    expect(fifo.done.error.errorMessage).toContain('is not a regular file');
    const escape = await k.runCells([publishes('model', '../../../etc/passwd')], t);
    expect(escape.done.error.errorMessage).toContain('is not a file name of the run directory');
    const broken = await k.runCells(["open('assay-outputs.json', 'w').write('[{')"], t);
    expect(broken.done.error).toMatchObject({
      errorType: 'OutputRejected',
      errorMessage: expect.stringContaining('JSON'),
    });
    expect(await projectCounts(t)).toEqual(before);
  });

  test('links planted wherever the code can write change nothing outside the sandbox on the next run', async () => {
    const victim = path.join(os.tmpdir(), `assay-victim-${randomUUID()}`);
    fs.writeFileSync(victim, 'root owned', { mode: 0o644 });
    try {
      const planted = await k.runCells(
        [
          [
            'import os, json',
            'home = os.path.expanduser("~")',
            'results = {}',
            `for place in [home + '/lib/assay.py', home + '/lib/other.py', home + '/.bashrc', 'dataset.csv', '/tmp/x']:`,
            '    os.makedirs(os.path.dirname(place) or ".", exist_ok=True)',
            `    os.symlink(${JSON.stringify(victim)}, place)`,
            "for target in ['/opt/assay/python/assay.py', '/run/assay-input/dataset.csv', '/usr/lib/x', '/etc/x']:",
            '    try:',
            "        open(target, 'a').write('x')",
            "        results[target] = 'written'",
            '    except OSError as e:',
            "        results[target] = 'refused'",
            'print(json.dumps(results))',
          ].join('\n'),
        ],
        t,
      );
      expect(planted.done.status).toBe('Completed');
      expect(JSON.parse(await k.printed(planted.id, planted.executionId, t))).toEqual({
        '/opt/assay/python/assay.py': 'refused',
        '/run/assay-input/dataset.csv': 'refused',
        '/usr/lib/x': 'refused',
        '/etc/x': 'refused',
      });
      const next = await k.runCells(['import assay\ndf = assay.load_dataset()\nprint(len(df))'], t);
      expect(next.done.status).toBe('Completed');
      expect(await k.printed(next.id, next.executionId, t)).toBe('42\n');
      const stat = fs.statSync(victim);
      expect([stat.uid, stat.mode & 0o777, fs.readFileSync(victim, 'utf8')]).toEqual([0, 0o644, 'root owned']);
    } finally {
      fs.rmSync(victim, { force: true });
    }
  });

  test("kernels reach no loopback service (the database, the service's port) and see no process but their own", async () => {
    const servicePort = new URL(app.url).port;
    const { id, executionId, done } = await k.runCells(
      [
        [
          'import glob, json, os, socket',
          'def reach(port):',
          '    try:',
          "        socket.create_connection(('127.0.0.1', port), timeout=2).close()",
          "        return 'connected'",
          '    except OSError as e:',
          '        return type(e).__name__',
          'commands = []',
          "for f in glob.glob('/proc/[0-9]*/cmdline'):",
          '    try:',
          "        commands.append(open(f, 'rb').read().replace(b'\\0', b' ').decode())",
          '    except OSError:',
          '        pass',
          `print(json.dumps({'db': reach(5432), 'service': reach(${servicePort}), 'commands': commands}))`,
        ].join('\n'),
      ],
      t,
    );
    expect(done.status).toBe('Completed');
    const seen = JSON.parse(await k.printed(id, executionId, t));
    expect(seen.db).toBe('ConnectionRefusedError');
    expect(seen.service).toBe('ConnectionRefusedError');
    // bubblewrap's init, the Jupyter Server and the kernel: nothing of the host or of other runs.
    expect(seen.commands.length).toBeLessThanOrEqual(4);
    for (const command of seen.commands) expect(command).toMatch(/bwrap|assay_server.py|ipykernel_launcher/);
  });

  test('a setsid child outlives neither a timeout nor the end of its run', async () => {
    const marker = `assay-orphan-${randomUUID()}`;
    const spawnOrphan = [
      'import os, time',
      'if os.fork() == 0:',
      '    os.setsid()',
      '    if os.fork() == 0:',
      `        os.execv('/usr/bin/python3', ['python3', '-c', 'import time\\nwhile True: time.sleep(1)', ${JSON.stringify(marker)}])`,
      '    os._exit(0)',
      'time.sleep(0.5)',
    ].join('\n');
    const id = await k.notebook([spawnOrphan, 'import time\ntime.sleep(120)'], t);
    const run = await k.execute(id, t, { timeout: 4 });
    // The orphan exists while the run does: the check below could fail.
    await eventually('the orphan to start', async () => (processesWith(marker).length > 0 ? true : undefined), 15_000);
    const done = await k.finished(id, run.executionId, t, 30_000);
    expect(done.status).toBe('Error');
    await eventually(
      'the orphan to be gone',
      async () => (processesWith(marker).length === 0 ? true : undefined),
      5_000,
    );
  }, 60_000);

  test('a run whose Jupyter Server is killed ends as KernelDied within seconds; the next run starts afresh', async () => {
    const started = Date.now();
    const { done } = await k.runCells(['import os, signal\nos.kill(os.getppid(), signal.SIGKILL)', 'print(1)'], t);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(done.status).toBe('Error');
    expect(done.cellResults[0]).toMatchObject({ status: 'Error', errorType: 'KernelDied' });
    const next = await k.runCells(['print("again")'], t);
    expect(next.done.status).toBe('Completed');
  }, 60_000);

  test('processes, memory and disk are limited per run', async () => {
    const { id, executionId, done } = await k.runCells(
      [
        [
          'import errno, json, subprocess',
          'started = []',
          'try:',
          '    for _ in range(100):',
          "        started.append(subprocess.Popen(['sleep', '30']))",
          'except OSError as e:',
          '    process_error = errno.errorcode[e.errno]',
          'for p in started:',
          '    p.kill()',
          'def fill(path):',
          '    try:',
          "        with open(path, 'wb') as f:",
          '            for _ in range(100):',
          "                f.write(b'x' * 1024 * 1024)",
          "        return 'wrote 100 MB'",
          '    except OSError as e:',
          '        return errno.errorcode[e.errno]',
          'disk = fill("big.bin")',
          'try:',
          '    hog = bytearray(2 * 1024 ** 3)',
          "    memory = 'allocated'",
          'except MemoryError:',
          "    memory = 'MemoryError'",
          "print(json.dumps({'processes': len(started), 'process_error': process_error, 'disk': disk, 'memory': memory}))",
        ].join('\n'),
      ],
      t,
    );
    expect(done.status).toBe('Completed');
    const seen = JSON.parse(await k.printed(id, executionId, t));
    expect(seen.processes).toBeLessThan(64);
    expect(seen.process_error).toBe('EAGAIN');
    expect(['ENOSPC', 'EFBIG']).toContain(seen.disk);
    expect(seen.memory).toBe('MemoryError');
  }, 60_000);

  test('output past the run limit is dropped with a note; NUL, lone surrogates and deep JSON are stored safely', async () => {
    const { id, executionId, done } = await k.runCells(
      [
        // A lone surrogate cannot leave ipykernel as such; Python's surrogate escape sends a raw byte.
        "print('a\\x00b', '\\udcff')",
        [
          'from IPython.display import JSON, display',
          'deep = 1',
          'for _ in range(500):',
          '    deep = [deep]',
          "display(JSON({'deep': deep}))",
        ].join('\n'),
        "for i in range(10000):\n    print('x' * 100)",
        "print('after the flood')",
      ],
      t,
    );
    expect(done.status).toBe('Completed');
    const outputs = (await k.results(id, executionId, t)).outputs;
    const texts = outputs.filter((o: { outputType: string }) => o.outputType === 'stream');
    expect(texts[0].content).toBe('a\uFFFDb \uFFFD\n');
    expect(JSON.stringify(outputs)).toContain('nested too deep');
    const total = texts.reduce((n: number, o: { sizeBytes: number }) => n + o.sizeBytes, 0);
    expect(total).toBeLessThan(200_000);
    expect(JSON.stringify(texts)).toContain('the output limit of this execution was reached');
    expect(JSON.stringify(texts)).not.toContain('after the flood');
  });

  test('a kernel message the client library refuses ends the run as KernelDied; the service lives on', async () => {
    const started = Date.now();
    const { done } = await k.runCells(
      [
        "k = get_ipython().kernel\nk.session.send(k.iopub_socket, 'stream', {'name': 'stdout'}, parent=k.get_parent())",
        'import time\ntime.sleep(30)',
      ],
      t,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(done.status).toBe('Error');
    expect(done.cellResults[0]).toMatchObject({ status: 'Error', errorType: 'KernelDied' });
    expect(done.cellResults[0].errorMessage).toContain('invalid message');
    expect((await app.call('GET', '/health')).status).toBe(200);
  }, 60_000);

  test('a message over the size limit ends the run at once instead of hanging it or stalling the service', async () => {
    const started = Date.now();
    const { done } = await k.runCells(
      [
        "from IPython.display import display\ndisplay({'text/plain': 'x' * (12 * 1024 * 1024)}, raw=True)",
        'print("never")',
      ],
      t,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(done.status).toBe('Error');
    expect(done.cellResults[0].errorMessage).toContain('exceeded 4194304 bytes');
  }, 60_000);

  test("the server's socket cannot be moved or replaced; /, /opt, /dev are read-only and /dev/shm is bounded", async () => {
    const { id, executionId, done } = await k.runCells(
      [
        [
          'import errno, json, os',
          'def attempt(f):',
          '    try:',
          '        f()',
          "        return 'done'",
          '    except OSError as e:',
          '        return errno.errorcode[e.errno]',
          'def fill(path):',
          '    try:',
          "        with open(path, 'wb') as f:",
          '            for _ in range(100):',
          "                f.write(b'x' * 1024 * 1024)",
          "        return 'wrote 100 MB'",
          '    except OSError as e:',
          '        return errno.errorcode[e.errno]',
          'print(json.dumps({',
          "    'move_socket': attempt(lambda: os.rename('/run/assay-sockets/server.sock', '/run/assay-sockets/x')),",
          "    'new_socket': attempt(lambda: open('/run/assay-sockets/y', 'w')),",
          "    'root': attempt(lambda: open('/x', 'w')),",
          "    'opt': attempt(lambda: open('/opt/x', 'w')),",
          "    'dev': attempt(lambda: open('/dev/x', 'w')),",
          "    'shm': fill('/dev/shm/x'),",
          '}))',
        ].join('\n'),
      ],
      t,
    );
    expect(done.status).toBe('Completed');
    expect(JSON.parse(await k.printed(id, executionId, t))).toEqual({
      move_socket: 'EACCES',
      new_socket: 'EACCES',
      root: 'EROFS',
      opt: 'EROFS',
      dev: 'EROFS',
      // The tmpfs's 64 MiB or the file size limit (the run's disk limit), whichever comes first.
      shm: expect.stringMatching(/^(ENOSPC|EFBIG)$/),
    });
  });

  test('a sparse file published many times, or more than the run could hold, is refused and nothing of the run is published', async () => {
    const before = await projectCounts(t);
    const twice = await k.runCells(
      [
        [
          'import json',
          "open('model-x.pkl', 'wb').truncate(1024)",
          "entries = [{'kind': 'model', 'name': f'm{i}', 'file': 'model-x.pkl', 'modelType': 'x'} for i in range(8)]",
          "json.dump(entries, open('assay-outputs.json', 'w'))",
        ].join('\n'),
      ],
      t,
    );
    expect(twice.done.error.errorMessage).toContain('model-x.pkl is published twice');
    // Two sparse files of 40 MiB each: no space used, but more than the run's 64 MiB to publish.
    const sparse = await k.runCells(
      [
        [
          'import json',
          'for name in ("model-a.pkl", "model-b.pkl"):',
          "    open(name, 'wb').truncate(40 * 1024 * 1024)",
          "entries = [{'kind': 'model', 'name': n, 'file': n, 'modelType': 'x'} for n in ('model-a.pkl', 'model-b.pkl')]",
          "json.dump(entries, open('assay-outputs.json', 'w'))",
        ].join('\n'),
      ],
      t,
    );
    expect(sparse.done.error.errorMessage).toBe('model-b.pkl is 41943040 bytes, over the limit of 25165824 bytes.');
    expect(await projectCounts(t)).toEqual(before);
  });

  test('the kernel cannot reach into its Jupyter Server: ptrace, /proc/PID/mem, pidfd_getfd, process_vm_readv', async () => {
    const { id, executionId, done } = await k.runCells(
      [
        [
          'import ctypes, errno, json, os',
          'libc = ctypes.CDLL(None, use_errno=True)',
          'server = os.getppid()',
          'def call(f):',
          '    r = f()',
          "    return 'done' if r >= 0 else errno.errorcode[ctypes.get_errno()]",
          'def mem():',
          '    try:',
          "        open(f'/proc/{server}/mem', 'rb').close()",
          "        return 'done'",
          '    except OSError as e:',
          '        return errno.errorcode[e.errno]',
          'pidfd = os.pidfd_open(server)',
          'print(json.dumps({',
          "    'ptrace': call(lambda: libc.ptrace(16, server, 0, 0)),",
          "    'mem': mem(),",
          "    'pidfd_getfd': call(lambda: libc.syscall(438, pidfd, 0, 0)),",
          "    'process_vm_readv': call(lambda: libc.syscall(310, server, 0, 0, 0, 0, 0)),",
          '}))',
        ].join('\n'),
      ],
      t,
    );
    expect(done.status).toBe('Completed');
    expect(JSON.parse(await k.printed(id, executionId, t))).toEqual({
      ptrace: 'EPERM',
      mem: 'EACCES',
      pidfd_getfd: 'EPERM',
      process_vm_readv: 'EPERM',
    });
  });

  test('a kernel that publishes a model gets it back byte for byte; the execution status counts what it made', async () => {
    const { id, executionId, done } = await k.runCells(
      [
        [
          'import assay',
          'import matplotlib.pyplot as plt',
          "assay.publish_model({'weights': [1, 2, 3]}, 'tiny', {'accuracy': 0.5})",
          'df = assay.load_dataset()',
          "df['n'] = 1",
          "assay.publish_enriched(df, 'with n')",
          'plt.plot([1, 2])',
          'plt.show()',
          'df.head()',
        ].join('\n'),
      ],
      t,
    );
    expect(done.status).toBe('Completed');
    expect(done.outputs).toEqual({
      dataFrames: 1,
      plots: 1,
      models: 1,
      enrichedData: { recordCount: 42, newColumns: ['n'] },
    });
    const r = await k.results(id, executionId, t);
    expect(r.models[0]).toMatchObject({ name: 'tiny', accuracy: 0.5, modelType: 'builtins.dict' });
  });
});

describe('load_dataset and publish_enriched keep every row', () => {
  let app: TestApp;
  let t: Tenant;
  let sepsis: string;
  let k: ReturnType<typeof kernelCalls>;
  beforeAll(async () => {
    app = await startTestApp('pglite');
    t = await app.newTenant();
    const form = formWith(
      { name: 'sepsis.csv', content: fixtureLog('sepsis.csv') },
      { caseIdColumn: 'Case ID', activityColumn: 'Activity', timestampColumn: 'Complete Timestamp' },
    );
    const res = await app.call('POST', `${base(t)}/dataset`, { token: t.token, raw: { body: form } });
    expect(res.body).toMatchObject({ caseCount: 1050, eventCount: 15214 });
    sepsis = res.body.datasetId;
    k = kernelCalls(app, () => sepsis);
  }, 60_000);
  afterAll(() => app.close());

  test("Sepsis's case named NA stays a case: 1050 cases in, 15214 events back out as a dataset", async () => {
    const { id, executionId, done } = await k.runCells(
      [
        [
          'import assay',
          'df = assay.load_dataset()',
          "print(df['case_id'].nunique(), int(df['case_id'].isna().sum()), (df['case_id'] == 'NA').sum(), len(df))",
          "assay.publish_enriched(df, 'sepsis again')",
        ].join('\n'),
      ],
      t,
    );
    expect(done.status).toBe('Completed');
    expect(await k.printed(id, executionId, t)).toBe('1050 0 24 15214\n');
    const [enriched] = (await k.results(id, executionId, t)).enrichedDatasets;
    const dataset = await app.call('GET', `${base(t)}/dataset/${enriched.datasetId}`, { token: t.token });
    expect(dataset.body).toMatchObject({ caseCount: 1050, eventCount: 15214 });
  });

  test('an enriched dataset that loses rows on import fails the run and is not kept', async () => {
    const before = (await app.call('GET', `${base(t)}/datasets`, { token: t.token })).body.totalCount;
    const { done } = await k.runCells(
      [
        [
          'import assay',
          'df = assay.load_dataset()',
          "df.loc[0, 'case_id'] = None",
          "assay.publish_enriched(df, 'lossy')",
        ].join('\n'),
      ],
      t,
    );
    expect(done.status).toBe('Error');
    expect(done.error.errorMessage).toMatch(/has 15214 rows, but 15213 could be imported/);
    expect((await app.call('GET', `${base(t)}/datasets`, { token: t.token })).body.totalCount).toBe(before);
  });
});

describe('KERNEL_EGRESS_ALLOW opens exactly the destinations it lists', () => {
  let app: TestApp;
  let t: Tenant;
  let k: ReturnType<typeof kernelCalls>;
  let allowed: http.Server;
  let port: number;
  beforeAll(async () => {
    allowed = http.createServer((_req, res) => res.end('hello from outside'));
    await new Promise<void>((resolve) => allowed.listen(0, '127.0.0.1', resolve));
    port = (allowed.address() as { port: number }).port;
    // An address the list names itself is reached; a name that resolves to loopback is not.
    app = await startTestApp('pglite', { KERNEL_EGRESS_ALLOW: `127.0.0.1:${port},localhost:*` });
    t = await app.newTenant();
    const { datasetId } = await newInvestigation(app, t);
    k = kernelCalls(app, () => datasetId);
  }, 60_000);
  afterAll(async () => {
    await app.close();
    allowed.close();
  });

  test('listed: reached through the proxy; not listed, by name to loopback, or around the proxy: refused', async () => {
    const servicePort = new URL(app.url).port;
    const { id, executionId, done } = await k.runCells(
      [
        [
          'import http.client, json, socket, urllib.request',
          'def get(url):',
          '    try:',
          '        return urllib.request.urlopen(url, timeout=5).read().decode()',
          '    except urllib.error.HTTPError as e:',
          '        return e.code',
          'def tunnel(host, port):',
          "    c = http.client.HTTPConnection('127.0.0.1', 3128, timeout=5)",
          '    c.set_tunnel(host, port)',
          '    try:',
          '        c.connect()',
          "        return 'open'",
          '    except OSError as e:',
          '        return str(e)[:40]',
          'def direct(port):',
          '    try:',
          "        socket.create_connection(('127.0.0.1', port), timeout=2)",
          "        return 'open'",
          '    except OSError as e:',
          '        return type(e).__name__',
          'print(json.dumps({',
          `    'listed': get('http://127.0.0.1:${port}/'),`,
          "    'database': get('http://127.0.0.1:5432/'),",
          `    'service': get('http://127.0.0.1:${servicePort}/health'),`,
          `    'by_name': get('http://localhost:${port}/'),`,
          `    'tunnel_listed': tunnel('127.0.0.1', ${port}),`,
          "    'tunnel_database': tunnel('127.0.0.1', 5432),",
          "    'tunnel_bad_port': tunnel('127.0.0.1', 70000),",
          `    'around_the_proxy': direct(${port}),`,
          '}))',
          // Hang up on the proxy without reading its answer, or leave it data it never reads.
          "c = socket.socket(socket.AF_UNIX); c.connect('/run/assay-sockets/proxy.sock')",
          "c.sendall(b'CONNECT 9.9.9.9:443 HTTP/1.1\\r\\n\\r\\n'); __import__('time').sleep(0.5); c.close()",
          "c = socket.socket(socket.AF_UNIX); c.connect('/run/assay-sockets/proxy.sock')",
          `c.sendall(b'CONNECT 127.0.0.1:${port} HTTP/1.1\\r\\n\\r\\n' + b'x' * 100000)`,
        ].join('\n'),
      ],
      t,
    );
    expect(done.status).toBe('Completed');
    expect(JSON.parse(await k.printed(id, executionId, t))).toEqual({
      listed: 'hello from outside',
      database: 403,
      service: 403,
      by_name: 403,
      tunnel_listed: 'open',
      tunnel_database: 'Tunnel connection failed: 403 Forbidden',
      tunnel_bad_port: 'Tunnel connection failed: 403 Forbidden',
      around_the_proxy: 'ConnectionRefusedError',
    });
    // The run ends whole: nothing of it is left on disk once the execution is over.
    const runs = path.join(defaultKernelHomeRoot(app.config.dataDir), String(process.pid));
    await eventually(
      'the run to be removed',
      async () => (fs.readdirSync(runs).every((f) => f === 'seccomp.bpf') ? true : undefined),
      10_000,
    );
    expect((await app.call('GET', '/health')).status).toBe(200);
  });
});

describe('the number of outputs a run keeps', () => {
  let app: TestApp;
  let t: Tenant;
  let k: ReturnType<typeof kernelCalls>;
  beforeAll(async () => {
    app = await startTestApp('pglite');
    t = await app.newTenant();
    const { datasetId } = await newInvestigation(app, t);
    k = kernelCalls(app, () => datasetId);
  }, 60_000);
  afterAll(() => app.close());

  test('a run keeps at most 2,000 outputs, however small', async () => {
    const { id, executionId, done } = await k.runCells(
      [
        [
          'import time',
          'from IPython.display import display',
          'for i in range(2200):',
          "    display({'text/plain': str(i)}, raw=True)",
          '    time.sleep(0.002)',
        ].join('\n'),
      ],
      t,
    );
    expect(done.status).toBe('Completed');
    const outputs = (await k.results(id, executionId, t)).outputs;
    expect(outputs.length).toBe(2001);
    expect(outputs[2000].content).toContain('the output limit of this execution was reached');
  }, 60_000);
});
