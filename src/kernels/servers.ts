import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ServerConnection } from '@jupyterlab/services';
import type { Logger } from 'pino';
import { remoteSettings, type ConnectionWatch } from './connection';
import type { EgressRule } from './egress';
import { KernelMessageGate } from './messageGate';
import { gateLimits, INSIDE, Sandboxes, type SandboxLimits } from './sandbox';

/** Where one execution's kernel runs: the server to talk to, and the directories its code uses. */
export interface KernelPlace {
  settings: ServerConnection.ISettings;
  /** The run directory as the service sees it; everything in it was written by notebook code. */
  runDir: string;
  /** The same places as the kernel sees them. */
  inside: { runDir: string; inputDir: string; python: string | null };
  /** Whether the run has a sandbox of its own, whose end ends every process of the run. */
  sandboxed: boolean;
  /** Whether the kernel's memory limit ended a process of the run (where that can be told). */
  memoryRanOut(): boolean;
  /** Resolves, with why, if the run's server goes away or breaks the protocol while the run needs it. */
  lost: Promise<string>;
  /** The gate the run's kernel messages pass: it knows which outputs were dropped over the budget. */
  gate: KernelMessageGate;
  /** Ends every process of the run (a no-op for a remote server: its kernel is shut down by the runner). */
  stop(): Promise<void>;
  /** Stops the run and removes its directories. */
  dispose(): Promise<void>;
}

export interface KernelServersOptions {
  logger: Logger;
  /** An existing Jupyter Server or Enterprise Gateway; unset: a sandbox per execution. */
  url?: string;
  token?: string;
  /** Where run directories live (outside DATA_DIR, which kernels must never see). */
  homeRoot: string;
  limits: SandboxLimits;
  /** Destinations sandboxes may reach (`KERNEL_EGRESS_ALLOW`); empty: no network at all. */
  egress: EgressRule[];
}

/** The `assay` module kernels import, shipped in this repository's python/ folder. */
export const PYTHON_DIR = path.resolve(__dirname, '..', '..', 'python');
/** Where Jupyter looks for system-wide kernelspecs (python3 from python3-ipykernel; IRkernel's ir). */
const KERNELSPEC_DIRS = ['/usr/share/jupyter/kernels', '/usr/local/share/jupyter/kernels'];

/**
 * Where notebook kernels run. By default every execution gets a sandbox of its own (see
 * sandbox.ts): a Jupyter Server and its kernel that can reach nothing but their run directory.
 * With `JUPYTER_URL`, every tenant's kernels run on that server instead, with whatever
 * isolation it provides (how kernels scale past one machine).
 */
export class KernelServers {
  private specs: { names: string[]; until: number } | null = null;
  private sandboxes: Sandboxes | null = null;
  /** Places handed out and not yet disposed of: the notebook runs of this process with a kernel up. */
  private openPlaces = 0;

  constructor(private readonly o: KernelServersOptions) {
    // Made at start, not at the first run: it also clears what a killed process left behind.
    if (!o.url && !Sandboxes.unavailableReason()) this.sandboxes = this.openSandboxes();
  }

  /** Whether kernels can run here at all, and why not. */
  unavailableReason(): string | null {
    return this.o.url ? null : Sandboxes.unavailableReason();
  }

  /** The kernelspec names kernels can be started with (cached for a minute). */
  async kernelNames(): Promise<string[]> {
    if (this.specs && this.specs.until > Date.now()) return this.specs.names;
    let names: string[] = [];
    if (this.o.url) {
      const settings = remoteSettings(this.o.url, this.o.token ?? '', {
        violation: () => undefined,
        gate: new KernelMessageGate(gateLimits(0)),
      });
      const res = await ServerConnection.makeRequest(`${settings.baseUrl}api/kernelspecs`, {}, settings);
      if (!res.ok) throw new Error(`The Jupyter Server at ${this.o.url} answered ${res.status} for its kernelspecs`);
      names = Object.keys(((await res.json()) as { kernelspecs: Record<string, unknown> }).kernelspecs);
    } else {
      // The kernelspecs a sandbox's server finds (the system's, read-only): a folder with a kernel.json each.
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

  /**
   * A place for one execution of a tenant's notebook; `prepareInput` writes the inputs into a
   * directory the kernel reads at `inside.inputDir`. Call `dispose` when the run is over.
   */
  async open(tenantId: string, workDir: string, prepareInput: (dir: string) => Promise<void>): Promise<KernelPlace> {
    const place = this.o.url
      ? await this.remotePlace(workDir, prepareInput)
      : await this.sandboxPlace(tenantId, prepareInput);
    return this.counted(place);
  }

  /** Notebook runs of this process with a kernel up: a sandbox, or a run on `JUPYTER_URL`. */
  runningKernels(): number {
    return this.openPlaces;
  }

  /** Counts a place as running until it is disposed of (once, however often `dispose` is called). */
  private counted(place: KernelPlace): KernelPlace {
    this.openPlaces++;
    let disposed = false;
    return {
      ...place,
      dispose: async () => {
        if (disposed) return place.dispose();
        disposed = true;
        try {
          await place.dispose();
        } finally {
          this.openPlaces--;
        }
      },
    };
  }

  private async sandboxPlace(tenantId: string, prepareInput: (dir: string) => Promise<void>): Promise<KernelPlace> {
    this.sandboxes ??= this.openSandboxes();
    const sandbox = await this.sandboxes.open(tenantId, prepareInput);
    return {
      settings: sandbox.settings,
      runDir: sandbox.runDir,
      inside: { ...INSIDE },
      sandboxed: true,
      memoryRanOut: () => sandbox.memoryRanOut(),
      lost: sandbox.lost,
      gate: sandbox.gate,
      stop: () => sandbox.stop(),
      dispose: () => sandbox.dispose(),
    };
  }

  private openSandboxes(): Sandboxes {
    const sandboxes = new Sandboxes({
      logger: this.o.logger,
      root: this.o.homeRoot,
      pythonDir: PYTHON_DIR,
      limits: this.o.limits,
      egress: this.o.egress,
    });
    this.o.logger.info({ root: this.o.homeRoot, ...sandboxes.describe() }, 'notebook runs are sandboxed');
    return sandboxes;
  }

  /** Ends every sandbox of this process. */
  async stop(): Promise<void> {
    await this.sandboxes?.stopAll();
  }

  /**
   * A remote server reads the run's directory only if it shares this machine's filesystem;
   * the paths are the same on both sides, and the `assay` module is copied into the run.
   */
  private async remotePlace(workDir: string, prepareInput: (dir: string) => Promise<void>): Promise<KernelPlace> {
    const runDir = path.join(workDir, 'run');
    const inputDir = path.join(workDir, 'input');
    fs.mkdirSync(runDir, { recursive: true });
    fs.mkdirSync(inputDir, { recursive: true });
    await prepareInput(inputDir);
    fs.copyFileSync(path.join(PYTHON_DIR, 'assay.py'), path.join(runDir, 'assay.py'));
    const remove = async () => {
      fs.rmSync(runDir, { recursive: true, force: true });
      fs.rmSync(inputDir, { recursive: true, force: true });
    };
    let violated: (reason: string) => void = () => undefined;
    const lost = new Promise<string>((resolve) => (violated = resolve));
    const watch: ConnectionWatch = {
      violation: (why) => violated(why),
      gate: new KernelMessageGate(gateLimits(this.o.limits.outputBytes)),
    };
    return {
      settings: remoteSettings(this.o.url!, this.o.token ?? '', watch),
      runDir,
      inside: { runDir, inputDir, python: runDir },
      sandboxed: false,
      memoryRanOut: () => false,
      lost,
      gate: watch.gate,
      stop: async () => undefined,
      dispose: remove,
    };
  }
}

/** A directory for run directories next to the system's temporary files, one per data directory. */
export function defaultKernelHomeRoot(dataDir: string): string {
  return path.join(os.tmpdir(), `assay-kernels-${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`);
}
