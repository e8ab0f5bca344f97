import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KernelAPI, ServerConnection, type Kernel } from '@jupyterlab/services';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import { chownTree } from '../domain/files';

/** Where a tenant's kernels run: the server to talk to and the directory its code may use. */
export interface KernelPlace {
  settings: ServerConnection.ISettings;
  /** A started, never used kernel of this kernelspec from the warm pool, if there is one. */
  takeWarm(kernelName: string): Kernel.IModel | null;
  /** A directory the tenant's kernels can read and write (its runs go below it); local servers only. */
  home: string | null;
  /** The unprivileged user the tenant's kernels run as, when the service could create one. */
  user: { uid: number; gid: number; name: string } | null;
}

export interface KernelServersOptions {
  logger: Logger;
  /** An existing Jupyter Server or Enterprise Gateway; unset: local servers, one per tenant. */
  url?: string;
  token?: string;
  /** Where tenants' kernel homes live (outside DATA_DIR, which kernels must not read). */
  homeRoot: string;
  /** Memory limit of a tenant's server and its kernels (address space), in bytes. */
  memoryLimitBytes: number;
  /** A local server with no execution for this long is stopped. */
  idleMs: number;
  /** Kernels kept started and unused per tenant server, so an execution need not wait for one (0: none). */
  warmKernels?: number;
}

interface LocalServer {
  proc: ChildProcess;
  settings: ServerConnection.ISettings;
  place: KernelPlace;
  lastUsed: number;
  busy: number;
  /** Started, never used kernels by kernelspec name (the warm pool). */
  warm: Map<string, Kernel.IModel[]>;
  filling: Set<string>;
}

const run = promisify(execFile);
const JUPYTER_SERVER = '/usr/bin/jupyter-server';
/** Where Jupyter looks for system-wide kernelspecs (python3 from python3-ipykernel; IRkernel's ir). */
const KERNELSPEC_DIRS = ['/usr/share/jupyter/kernels', '/usr/local/share/jupyter/kernels'];

/**
 * The Jupyter Servers kernels run on. One Jupyter Server is not a tenant boundary (a kernel can
 * read the server's token and other kernels' connection files), so by default every tenant gets
 * its own local server, started on demand as an unprivileged user of its own with a home only it
 * can read, a random port and token (passed in the environment, not on the command line, where
 * other users could read it), and a memory limit; it is restarted when it died and stopped when
 * idle. With `JUPYTER_URL` every tenant shares that server (how kernels scale past one machine).
 */
export class KernelServers {
  private readonly local = new Map<string, LocalServer>();
  private readonly starting = new Map<string, Promise<LocalServer>>();
  private readonly reaper: NodeJS.Timeout;
  private specs: { names: string[]; until: number } | null = null;

  constructor(private readonly o: KernelServersOptions) {
    this.reaper = setInterval(() => this.stopIdle(), Math.min(o.idleMs, 30_000));
    this.reaper.unref();
  }

  /** Whether kernels can run here at all: a remote server is configured or jupyter-server is installed. */
  available(): boolean {
    return Boolean(this.o.url) || fs.existsSync(JUPYTER_SERVER);
  }

  /** The kernelspec names kernels can be started with (cached for a minute). */
  async kernelNames(): Promise<string[]> {
    if (this.specs && this.specs.until > Date.now()) return this.specs.names;
    let names: string[] = [];
    if (this.o.url) {
      const settings = this.remoteSettings();
      const res = await ServerConnection.makeRequest(`${settings.baseUrl}api/kernelspecs`, {}, settings);
      if (!res.ok) throw new Error(`The Jupyter Server at ${this.o.url} answered ${res.status} for its kernelspecs`);
      names = Object.keys(((await res.json()) as { kernelspecs: Record<string, unknown> }).kernelspecs);
    } else {
      // The kernelspecs a local server finds: one directory per kernel with a kernel.json.
      for (const dir of KERNELSPEC_DIRS) {
        if (!fs.existsSync(dir)) continue;
        for (const name of fs.readdirSync(dir)) {
          if (fs.existsSync(path.join(dir, name, 'kernel.json')) && !names.includes(name)) names.push(name);
        }
      }
    }
    this.specs = { names, until: Date.now() + 60_000 };
    return names;
  }

  /** The server for a tenant's kernels, started (or restarted) if need be. Call `release` when done. */
  async acquire(tenantId: string): Promise<KernelPlace & { release(): void }> {
    if (this.o.url) {
      return {
        settings: this.remoteSettings(),
        home: null,
        user: null,
        takeWarm: () => null,
        release: () => undefined,
      };
    }
    let server = this.local.get(tenantId);
    if (
      server &&
      (server.proc.exitCode !== null || server.proc.signalCode !== null || !(await alive(server.settings)))
    ) {
      this.o.logger.warn({ tenantId }, "the tenant's Jupyter Server had stopped; starting it again");
      this.local.delete(tenantId);
      server = undefined;
    }
    if (!server) {
      let pending = this.starting.get(tenantId);
      if (!pending) {
        pending = this.startLocal(tenantId).finally(() => this.starting.delete(tenantId));
        this.starting.set(tenantId, pending);
      }
      server = await pending;
      this.local.set(tenantId, server);
    }
    server.busy++;
    server.lastUsed = Date.now();
    const held = server;
    this.fill(held, 'python3');
    let released = false;
    return {
      ...held.place,
      release: () => {
        if (released) return;
        released = true;
        held.busy--;
        held.lastUsed = Date.now();
        // Refilled after the execution, not during it: on few cores a starting kernel slows the cells.
        for (const name of held.warm.keys()) this.fill(held, name);
      },
    };
  }

  /** Stops every local server. */
  async stop(): Promise<void> {
    clearInterval(this.reaper);
    await Promise.all([...this.local.values()].map((s) => stopProcess(s.proc).then(() => removeHome(s))));
    this.local.clear();
  }

  /** Tops up a server's warm pool of a kernelspec in the background. */
  private fill(server: LocalServer, kernelName: string): void {
    const want = this.o.warmKernels ?? 0;
    if (want === 0 || server.filling.has(kernelName)) return;
    server.filling.add(kernelName);
    void (async () => {
      try {
        const pool = server.warm.get(kernelName) ?? [];
        server.warm.set(kernelName, pool);
        while (pool.length < want && server.proc.exitCode === null) {
          pool.push(await KernelAPI.startNew({ name: kernelName }, server.settings));
        }
      } catch (err) {
        this.o.logger.warn({ err }, 'could not start a warm kernel');
      } finally {
        server.filling.delete(kernelName);
      }
    })();
  }

  private remoteSettings(): ServerConnection.ISettings {
    const base = this.o.url!.replace(/\/?$/, '/');
    return ServerConnection.makeSettings({
      baseUrl: base,
      wsUrl: base.replace(/^http/, 'ws'),
      token: this.o.token ?? '',
      appendToken: true,
      fetch: fetch as unknown as typeof globalThis.fetch,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
  }

  private stopIdle(): void {
    for (const [tenantId, server] of this.local) {
      if (server.busy === 0 && Date.now() - server.lastUsed > this.o.idleMs) {
        this.local.delete(tenantId);
        this.o.logger.info({ tenantId }, 'stopping an idle Jupyter Server');
        void stopProcess(server.proc).then(() => removeHome(server));
      }
    }
  }

  private async startLocal(tenantId: string): Promise<LocalServer> {
    if (!fs.existsSync(JUPYTER_SERVER)) {
      throw new Error('jupyter-server is not installed (Debian package jupyter-server); set JUPYTER_URL or install it');
    }
    const user = await tenantUser(tenantId, this.o.logger);
    fs.mkdirSync(this.o.homeRoot, { recursive: true, mode: 0o711 });
    fs.chmodSync(this.o.homeRoot, 0o711); // others may pass through to their own home, not list it
    const home = path.join(this.o.homeRoot, tenantId);
    fs.mkdirSync(path.join(home, 'runs'), { recursive: true });
    if (user) {
      chownTree(home, user.uid, user.gid);
      fs.chmodSync(home, 0o700);
    }
    const port = await freePort();
    const token = randomBytes(24).toString('hex');
    const args = [
      '--no-browser',
      `--port=${port}`,
      '--port-retries=0',
      '--ip=127.0.0.1',
      `--ServerApp.root_dir=${home}`,
      '--ServerApp.disable_check_xsrf=True',
    ];
    if (!user && process.getuid?.() === 0) args.push('--allow-root');
    const env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      LANG: 'C.UTF-8',
      // The token stays out of the command line, which every user can read in /proc.
      JUPYTER_TOKEN: token,
      JUPYTER_RUNTIME_DIR: path.join(home, '.runtime'),
      JUPYTER_DATA_DIR: path.join(home, '.local', 'share', 'jupyter'),
      IPYTHONDIR: path.join(home, '.ipython'),
      MPLCONFIGDIR: path.join(home, '.matplotlib'),
      PYTHONPATH: path.join(home, 'lib'),
    };
    // The memory limit (address space) holds for the server and every kernel it starts.
    const limited = fs.existsSync('/usr/bin/prlimit');
    const command = limited ? '/usr/bin/prlimit' : JUPYTER_SERVER;
    const commandArgs = limited ? [`--as=${this.o.memoryLimitBytes}`, '--', JUPYTER_SERVER, ...args] : args;
    const proc = spawn(command, commandArgs, {
      cwd: home,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const base = `http://127.0.0.1:${port}/`;
    const settings = ServerConnection.makeSettings({
      baseUrl: base,
      wsUrl: `ws://127.0.0.1:${port}/`,
      token,
      appendToken: true,
      fetch: fetch as unknown as typeof globalThis.fetch,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    const started = Date.now();
    while (!(await alive(settings))) {
      if (proc.exitCode !== null || Date.now() - started > 30_000) {
        proc.kill('SIGKILL');
        throw new Error(`Jupyter Server did not start: ${output.trim().split('\n').slice(-3).join(' | ')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.o.logger.info(
      { tenantId, port, user: user?.name ?? null, ms: Date.now() - started },
      'Jupyter Server started',
    );
    const server: LocalServer = {
      proc,
      settings,
      place: { settings, home, user, takeWarm: () => null },
      lastUsed: Date.now(),
      busy: 0,
      warm: new Map(),
      filling: new Set(),
    };
    server.place.takeWarm = (kernelName) => server.warm.get(kernelName)?.shift() ?? null;
    return server;
  }
}

/** The tenant's own system user, created once; null when this process cannot switch users (not root). */
async function tenantUser(tenantId: string, logger: Logger): Promise<KernelPlace['user']> {
  if (process.getuid?.() !== 0) {
    logger.warn('not running as root: kernels of all tenants run as the service user, without isolation');
    return null;
  }
  const name = `assay_${createHash('sha256').update(tenantId).digest('hex').slice(0, 12)}`;
  const id = async (flag: '-u' | '-g') => Number((await run('id', [flag, name])).stdout.trim());
  try {
    await run('id', ['-u', name]);
  } catch {
    // Another process may create the same user at the same moment; the lookup below decides.
    await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]).catch(() => undefined);
  }
  return { uid: await id('-u'), gid: await id('-g'), name };
}

async function alive(settings: ServerConnection.ISettings): Promise<boolean> {
  try {
    const res = await ServerConnection.makeRequest(`${settings.baseUrl}api/status`, {}, settings);
    return res.ok;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** A stopped server's home goes too: runs are removed as they end, the rest is rebuilt on the next start. */
function removeHome(server: LocalServer): void {
  if (server.place.home) fs.rmSync(server.place.home, { recursive: true, force: true });
}

function stopProcess(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/** A directory for kernel homes next to the system's temporary files, one per data directory. */
export function defaultKernelHomeRoot(dataDir: string): string {
  return path.join(os.tmpdir(), `assay-kernels-${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`);
}
