import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ServerConnection } from '@jupyterlab/services';
import type { Logger } from 'pino';
import { ControlGroups, type ControlGroup } from './cgroups';
import { EgressProxy, type EgressRule } from './egress';
import { unixSocketSettings, type ConnectionWatch } from './connection';
import { KernelMessageGate } from './messageGate';
import { seccompProgram } from './seccomp';

const run = promisify(execFile);

export const BWRAP = '/usr/bin/bwrap';
export const JUPYTER_SERVER = '/usr/bin/jupyter-server';
/** Inside every sandbox: the run's writable directory, the read-only inputs and the `assay` module. */
export const INSIDE = {
  runDir: '/run/assay',
  inputDir: '/run/assay-input',
  python: '/opt/assay/python',
  /** The server's socket and the egress proxy's: a folder the sandbox cannot change once its server listens. */
  sockets: '/run/assay-sockets',
} as const;
/** Where, inside a sandbox with an egress allow-list, the forwarder to the service's proxy listens. */
const EGRESS_PORT = 3128;
/** Size of the sandbox's /dev/shm (POSIX shared memory, multiprocessing's semaphores). */
const SHM_BYTES = 64 * 1024 * 1024;
/** The descriptor bubblewrap reads the seccomp program from. */
const SECCOMP_FD = 3;
/** How long a sandbox's Jupyter Server may take to answer its first request. */
const START_TIMEOUT_MS = 30_000;

/** The limits every sandbox gets (configuration, documented in the README). */
export interface SandboxLimits {
  /** Memory of all the sandbox's processes together (control group), and address space per process. */
  memoryBytes: number;
  /** Bytes the run directory (home and /tmp included) can hold. */
  diskBytes: number;
  /** Processes and threads of the sandbox together. */
  processes: number;
  /** Bytes of cell output a run keeps (the kernel may send four times this, at least 64 MiB, in all). */
  outputBytes: number;
}

/** What a run's message gate allows: its output budget, and all it may receive. */
export function gateLimits(outputBytes: number) {
  return { outputBytes, receivedBytes: Math.max(64 * 1024 * 1024, 4 * outputBytes) };
}

export interface SandboxesOptions {
  logger: Logger;
  /** A directory of the service's for run directories, outside DATA_DIR. */
  root: string;
  /** The folder with the `assay` Python module, bound read-only into every sandbox. */
  pythonDir: string;
  limits: SandboxLimits;
  /** Destinations sandboxes may reach through the service's proxy (`KERNEL_EGRESS_ALLOW`); none by default. */
  egress: EgressRule[];
}

/** The unprivileged user a tenant's sandboxes run as (root only), so that tenants never share a uid. */
export interface TenantUser {
  uid: number;
  gid: number;
  name: string;
}

/**
 * One execution's sandbox: a Jupyter Server and its kernels in bubblewrap, with their own PID,
 * network, IPC and user namespaces (no network: the server listens on a Unix socket), a read-only
 * system, a writable run directory only (a size-limited tmpfs), the inputs read-only, rlimits
 * and, where available, a control group for memory and processes. It dies with the service
 * (`--die-with-parent`), and `stop` ends every process in it, however it was started.
 */
export class Sandbox {
  /** Resolves when the sandbox has ended, stopped by the service or not. */
  readonly exited: Promise<void>;
  /** Resolves, with why, when the sandbox ended or its server broke the protocol while the run needs it. */
  readonly lost: Promise<string>;
  constructor(
    private readonly proc: ChildProcess,
    readonly settings: ServerConnection.ISettings,
    /** The run directory as the service sees it: everything in it was written by tenant code. */
    readonly runDir: string,
    private readonly cleanup: () => Promise<void>,
    private readonly group: ControlGroup | null,
    violation: Promise<string>,
    /** The gate the run's kernel messages pass (see messageGate.ts). */
    readonly gate: KernelMessageGate,
  ) {
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    this.lost = Promise.race([this.exited.then(() => "the sandbox's Jupyter Server ended"), violation]);
  }

  /** Whether the sandbox's server is still running. */
  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Whether the out-of-memory killer ended a process of this sandbox (control groups only). */
  memoryRanOut(): boolean {
    return (this.group?.oomKills() ?? 0) > 0;
  }

  /** Kills every process of the sandbox: bubblewrap's death takes its whole PID namespace with it. */
  async stop(): Promise<void> {
    if (this.running) this.proc.kill('SIGKILL');
    await this.exited;
  }

  /** Stops the sandbox and removes its run directory, mounts and control group. */
  async dispose(): Promise<void> {
    await this.stop();
    await this.cleanup();
  }
}

/**
 * Starts sandboxes for executions. Requires bubblewrap; as root, each tenant's sandboxes run as
 * a system user of its own, the run directory is a size-limited tmpfs, and control groups limit
 * memory and processes where the machine lets this process create them.
 */
export class Sandboxes {
  private readonly groups: ControlGroups | null;
  private readonly users = new Map<string, Promise<TenantUser | null>>();
  private readonly live = new Set<Sandbox>();
  /** This process's own directory below the root: other processes on the machine have theirs. */
  private readonly base: string;
  /** The compiled seccomp filter every sandbox gets (null on an architecture without one). */
  private readonly seccompFile: string | null;
  readonly asRoot = process.getuid?.() === 0;

  constructor(private readonly o: SandboxesOptions) {
    this.groups = ControlGroups.probe(o.logger);
    fs.mkdirSync(o.root, { recursive: true, mode: 0o711 });
    fs.chmodSync(o.root, 0o711); // sandboxes' users may pass through to their own run, not list others
    sweepStale(o.root, o.logger);
    this.base = path.join(o.root, String(process.pid));
    fs.mkdirSync(this.base, { mode: 0o711 });
    const program = seccompProgram();
    this.seccompFile = program ? path.join(this.base, 'seccomp.bpf') : null;
    if (this.seccompFile && program) fs.writeFileSync(this.seccompFile, program, { mode: 0o600 });
  }

  /** Why sandboxes cannot start here, or null when they can. */
  static unavailableReason(): string | null {
    if (!fs.existsSync(JUPYTER_SERVER)) return 'jupyter-server is not installed (Debian package jupyter-server)';
    if (!fs.existsSync(BWRAP)) return 'bubblewrap is not installed (Debian package bubblewrap)';
    return null;
  }

  /** What confines the sandboxes here, for the log and the README's promises. */
  describe(): Record<string, unknown> {
    return {
      user: this.asRoot ? 'one per tenant' : 'the service user',
      network: this.o.egress.length
        ? `only ${this.o.egress.map((r) => `${r.host}:${r.port ?? '*'}`).join(', ')}`
        : 'none',
      runDirectory: this.asRoot ? `tmpfs of ${this.o.limits.diskBytes} bytes` : 'a directory without a size limit',
      controlGroups: this.groups?.kind ?? 'none (rlimits only)',
      seccomp: this.seccompFile ? 'ptrace and process access refused' : 'none on this architecture',
    };
  }

  /**
   * Starts a sandbox for one execution of a tenant; `prepareInput` writes the inputs (the bound
   * dataset) into a directory the sandbox sees read-only at `INSIDE.inputDir`.
   */
  async open(tenantId: string, prepareInput: (dir: string) => Promise<void>): Promise<Sandbox> {
    const reason = Sandboxes.unavailableReason();
    if (reason) throw new Error(`Notebooks cannot run here: ${reason}.`);
    const user = await this.tenantUser(tenantId);
    const id = randomBytes(6).toString('hex');
    const dirs = {
      run: path.join(this.base, id),
      input: path.join(this.base, `${id}.in`),
      sockets: path.join(this.base, `${id}.s`),
    };
    let group: ControlGroup | null = null;
    let proxy: EgressProxy | null = null;
    let mounted = false;
    // Each step on its own: one that fails must not leave the others' leftovers behind.
    const cleanup = async () => {
      const step = (what: string, work: () => unknown) =>
        Promise.resolve()
          .then(work)
          .catch((err: unknown) => this.o.logger.warn({ err, dir: dirs.run }, `a run's ${what} stayed behind`));
      await step('egress proxy', () => proxy?.close());
      if (mounted) await step('tmpfs', () => unmount(dirs.run, this.o.logger));
      for (const dir of Object.values(dirs))
        await step('folder', () => fs.rmSync(dir, { recursive: true, force: true }));
      await step('control group', () => group?.remove());
    };
    try {
      fs.mkdirSync(dirs.input, { mode: 0o750 });
      await prepareInput(dirs.input);
      fs.mkdirSync(dirs.run, { mode: 0o700 });
      fs.mkdirSync(dirs.sockets, { mode: 0o700 });
      if (user) {
        giveReadOnly(dirs.input, user);
        await run('mount', [
          '-t',
          'tmpfs',
          '-o',
          `size=${this.o.limits.diskBytes},mode=0700,uid=${user.uid},gid=${user.gid},nosuid,nodev`,
          `assay-${id}`,
          dirs.run,
        ]);
        mounted = true;
      }
      // The skeleton is made before any tenant code runs, so nothing in it can be a planted link.
      for (const dir of ['home', 'tmp', '.jupyter']) {
        fs.mkdirSync(path.join(dirs.run, dir), { mode: 0o700 });
        if (user) fs.lchownSync(path.join(dirs.run, dir), user.uid, user.gid);
      }
      if (user) fs.lchownSync(dirs.sockets, user.uid, user.gid);
      if (this.o.egress.length > 0) {
        proxy = await EgressProxy.listen(path.join(dirs.sockets, 'proxy.sock'), this.o.egress, this.o.logger);
      }
      group =
        this.groups?.create(id, { memoryBytes: this.o.limits.memoryBytes, processes: this.o.limits.processes }) ?? null;
      const token = randomBytes(24).toString('hex');
      const proc = this.spawn(dirs, token, user, group, proxy !== null);
      let violated: (reason: string) => void = () => undefined;
      const violation = new Promise<string>((resolve) => (violated = resolve));
      const watch: ConnectionWatch = {
        violation: (why) => {
          this.o.logger.warn({ tenantId, why }, 'a notebook sandbox broke the kernel protocol; its run ends');
          violated(why);
        },
        gate: new KernelMessageGate(gateLimits(this.o.limits.outputBytes)),
      };
      const settings = unixSocketSettings(path.join(dirs.sockets, 'server.sock'), token, watch);
      const sandbox = new Sandbox(proc, settings, dirs.run, cleanup, group, violation, watch.gate);
      await this.ready(sandbox, proc, path.join(dirs.sockets, 'server.sock'));
      this.live.add(sandbox);
      const untrack = sandbox.dispose.bind(sandbox);
      sandbox.dispose = async () => {
        this.live.delete(sandbox);
        await untrack();
      };
      // From now on the sandbox cannot replace its server's socket with a link or a server of its own.
      if (user) {
        fs.lchownSync(dirs.sockets, 0, 0);
        fs.chmodSync(dirs.sockets, 0o711);
      }
      return sandbox;
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /** Ends every sandbox of this process (service shutdown). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((s) => s.dispose()));
    fs.rmSync(this.base, { recursive: true, force: true });
  }

  private spawn(
    dirs: { run: string; input: string; sockets: string },
    token: string,
    user: TenantUser | null,
    group: ControlGroup | null,
    egress: boolean,
  ): ChildProcess {
    const env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: `${INSIDE.runDir}/home`,
      JUPYTER_TOKEN: token,
      JUPYTER_RUNTIME_DIR: `${INSIDE.runDir}/.jupyter/runtime`,
      JUPYTER_DATA_DIR: `${INSIDE.runDir}/.jupyter/data`,
      JUPYTER_CONFIG_DIR: `${INSIDE.runDir}/.jupyter/config`,
      IPYTHONDIR: `${INSIDE.runDir}/home/.ipython`,
      MPLCONFIGDIR: `${INSIDE.runDir}/home/.matplotlib`,
      PYTHONPATH: INSIDE.python,
      PYDEVD_DISABLE_FILE_VALIDATION: '1',
      ASSAY_RUN_DIR: INSIDE.runDir,
      ASSAY_INPUT_DIR: INSIDE.inputDir,
      // With an allow-list, everything goes through the proxy; the sandbox's own loopback holds nothing to reach.
      ...(egress ? proxyEnvironment(`http://127.0.0.1:${EGRESS_PORT}`) : {}),
    };
    const forwarder = egress
      ? [
          '/usr/bin/python3',
          `${INSIDE.python}/assay_egress.py`,
          `${INSIDE.sockets}/proxy.sock`,
          String(EGRESS_PORT),
          '--',
        ]
      : [];
    const server = [
      ...forwarder,
      // jupyter-server, made non-dumpable first so that the kernel cannot take it over.
      '/usr/bin/python3',
      `${INSIDE.python}/assay_server.py`,
      '--no-browser',
      `--sock=${INSIDE.sockets}/server.sock`,
      `--ServerApp.root_dir=${INSIDE.runDir}`,
      '--ServerApp.disable_check_xsrf=True',
    ];
    const limits = [
      '/usr/bin/prlimit',
      `--as=${this.o.limits.memoryBytes}`,
      `--fsize=${this.o.limits.diskBytes}`,
      '--core=0',
      '--nofile=4096',
      // Per user: only meaningful when the user is the tenant's own.
      ...(user ? [`--nproc=${this.o.limits.processes}`] : []),
      '--',
    ];
    const dropToUser = user
      ? ['/usr/bin/setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--no-new-privs', '--']
      : [];
    const seccomp = this.seccompFile ? ['--seccomp', String(SECCOMP_FD)] : [];
    const command = [...limits, ...dropToUser, BWRAP, ...seccomp, ...bwrapArgs(dirs, this.o.pythonDir), ...server];
    // A shell joins the control group first, so that every process after it is counted from birth.
    const joinGroup = group
      ? ['/bin/sh', '-c', 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"', 'sh']
      : [];
    const argv = [...joinGroup, ...(group ? [...group.procsFiles, '--'] : []), ...command];
    // bubblewrap reads the seccomp program from descriptor 3.
    const filter = this.seccompFile ? fs.openSync(this.seccompFile, 'r') : null;
    try {
      const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe', ...(filter === null ? [] : [filter])];
      return spawn(argv[0], argv.slice(1), { env, stdio });
    } finally {
      if (filter !== null) fs.closeSync(filter);
    }
  }

  /** Waits for the sandbox's server to answer on its socket; fails with its last words otherwise. */
  private async ready(sandbox: Sandbox, proc: ChildProcess, socket: string): Promise<void> {
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    const started = Date.now();
    for (;;) {
      if (!sandbox.running || Date.now() - started > START_TIMEOUT_MS) {
        await sandbox.stop();
        const last = output.trim().split('\n').slice(-3).join(' | ');
        throw new Error(`The notebook sandbox did not start: ${last || `exit ${String(proc.exitCode)}`}`);
      }
      if (fs.existsSync(socket) && (await answers(sandbox.settings))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // The server's output is no longer read: closing the pipes makes any later write (also by a
    // kernel holding the server's descriptors) fail at once instead of costing the service CPU.
    proc.stdout!.destroy();
    proc.stderr!.destroy();
    this.o.logger.debug({ ms: Date.now() - started }, 'notebook sandbox started');
  }

  /** The tenant's own system user, created once; null when this process cannot switch users (not root). */
  private tenantUser(tenantId: string): Promise<TenantUser | null> {
    if (!this.asRoot) return Promise.resolve(null);
    let user = this.users.get(tenantId);
    if (!user) {
      user = systemUser(tenantUserName(tenantId));
      user.catch(() => this.users.delete(tenantId));
      this.users.set(tenantId, user);
    }
    return user;
  }
}

/** The name of the system user a tenant's sandboxes run as. */
export function tenantUserName(tenantId: string): string {
  return `assay_${createHash('sha256').update(tenantId).digest('hex').slice(0, 12)}`;
}

/** bubblewrap's view of the machine: the system read-only, the run directory writable, nothing else. */
function bwrapArgs(dirs: { run: string; input: string; sockets: string }, pythonDir: string): string[] {
  const args = [
    '--unshare-all', // user, PID, network (loopback only), IPC, UTS and cgroup namespaces
    '--unshare-user',
    '--disable-userns', // no nested user namespaces: less kernel surface to attack
    '--die-with-parent',
    '--new-session',
    '--hostname',
    'assay',
    '--ro-bind',
    '/usr',
    '/usr',
  ];
  // Merged-/usr systems link /bin, /lib and friends into /usr; older ones have them as folders.
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    const stat = fs.lstatSync(top, { throwIfNoEntry: false });
    if (stat?.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(top), top);
    else if (stat?.isDirectory()) args.push('--ro-bind', top, top);
  }
  args.push(
    ...['--ro-bind', '/etc', '/etc'],
    ...['--proc', '/proc', '--dev', '/dev'],
    ...['--size', String(SHM_BYTES), '--tmpfs', '/dev/shm'],
    ...['--bind', dirs.run, INSIDE.runDir],
    ...['--bind', path.join(dirs.run, 'tmp'), '/tmp'],
    ...['--ro-bind', dirs.input, INSIDE.inputDir],
    ...['--ro-bind', pythonDir, INSIDE.python],
    ...['--bind', dirs.sockets, INSIDE.sockets],
    // bubblewrap's own root and /dev are tmpfs without a size: nothing may be written there.
    ...['--remount-ro', '/dev', '--remount-ro', '/'],
    ...['--chdir', INSIDE.runDir],
    '--',
  );
  return args;
}

/** Proxy variables as curl, pip, requests and urllib read them, in both spellings. */
function proxyEnvironment(url: string): Record<string, string> {
  return { HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url, NO_PROXY: '', no_proxy: '' };
}

/** Lets the tenant's user read the inputs (owned by root, group of the user), and nothing more. */
function giveReadOnly(dir: string, user: TenantUser): void {
  fs.lchownSync(dir, 0, user.gid);
  fs.chmodSync(dir, 0o750);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(dir, entry.name);
    fs.lchownSync(file, 0, user.gid);
    fs.chmodSync(file, 0o640);
  }
}

async function answers(settings: ServerConnection.ISettings): Promise<boolean> {
  try {
    const res = await ServerConnection.makeRequest(`${settings.baseUrl}api/status`, {}, settings);
    return res.ok;
  } catch {
    return false;
  }
}

async function systemUser(name: string): Promise<TenantUser> {
  const id = async (flag: '-u' | '-g') => Number((await run('id', [flag, name])).stdout.trim());
  try {
    await run('id', ['-u', name]);
  } catch {
    // Another process may create the same user at the same moment; the lookup below decides.
    await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]).catch(() => undefined);
  }
  return { uid: await id('-u'), gid: await id('-g'), name };
}

async function unmount(dir: string, logger: Logger): Promise<void> {
  try {
    await run('umount', [dir]);
  } catch {
    // Still busy while the last killed processes exit: detach it now, the kernel frees it after.
    await run('umount', ['-l', dir]).catch((err: unknown) => logger.warn({ err, dir }, 'could not unmount a run'));
  }
}

/**
 * Run directories of processes that are gone (killed without a chance to clean up): their
 * sandboxes died with them, so only mounts and folders are left to remove.
 */
function sweepStale(root: string, logger: Logger): void {
  for (const entry of fs.readdirSync(root)) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    const dir = path.join(root, entry);
    for (const runName of fs.readdirSync(dir)) {
      spawnSyncQuiet('umount', ['-l', path.join(dir, runName)]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    logger.info({ dir }, 'removed the runs of a stopped process');
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function spawnSyncQuiet(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
  } catch {
    // Not a mount point: nothing to detach.
  }
}
