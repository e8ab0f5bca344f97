import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

/** Limits a control group puts on every process of one execution's sandbox together. */
export interface GroupLimits {
  memoryBytes: number;
  processes: number;
}

/** One execution's control group: processes join it by writing their pid to `procsFiles`. */
export interface ControlGroup {
  procsFiles: string[];
  /** Times the kernel's out-of-memory killer killed a process of the group. */
  oomKills(): number;
  /** Processes still in the group. */
  processCount(): number;
  /** Removes the group once its processes are gone (retries briefly while they exit). */
  remove(): Promise<void>;
}

type Layout = { kind: 'v1'; memory: string; pids: string } | { kind: 'v2'; parent: string };

/**
 * Control groups for sandboxes, where this process may make them: cgroup v1 with writable
 * `memory` and `pids` hierarchies, or cgroup v2 with both controllers delegated below this
 * process's own group. Elsewhere (`probe` answers null) only per-process rlimits apply.
 */
export class ControlGroups {
  private constructor(
    private readonly layout: Layout,
    readonly kind: 'v1' | 'v2',
  ) {}

  /** The control groups this process can create, or null (not root, read-only, or controllers missing). */
  static probe(logger: Logger): ControlGroups | null {
    try {
      const layout = findLayout();
      if (!layout) return null;
      const groups = new ControlGroups(layout, layout.kind);
      groups.sweep(logger);
      const probe = groups.create('probe', { memoryBytes: 64 * 1024 * 1024, processes: 8 });
      void probe.remove();
      return groups;
    } catch (err) {
      logger.info({ err: (err as Error).message }, 'no control groups for kernel sandboxes; rlimits only');
      return null;
    }
  }

  /** The folders this process's sandbox groups are made in. */
  parents(): string[] {
    return this.layout.kind === 'v1' ? [this.layout.memory, this.layout.pids] : [this.layout.parent];
  }

  /**
   * Removes the empty groups of processes that are gone (killed before they could clean up; their
   * sandboxes died with them). Groups of live processes, and any still holding a process, stay.
   */
  sweep(logger: Logger): void {
    for (const parent of this.parents()) {
      for (const entry of fs.readdirSync(parent)) {
        const owner = /^assay-(\d+)-/.exec(entry);
        if (!owner || processAlive(Number(owner[1]))) continue;
        try {
          fs.rmdirSync(path.join(parent, entry));
          logger.info({ group: path.join(parent, entry) }, 'removed the control group of a stopped process');
        } catch {
          // Not empty, or already gone.
        }
      }
    }
  }

  /** Makes a control group for one sandbox with these limits, named after this process and the run. */
  create(name: string, limits: GroupLimits): ControlGroup {
    const leaf = `assay-${process.pid}-${name}`;
    if (this.layout.kind === 'v1') {
      const memory = path.join(this.layout.memory, leaf);
      const pids = path.join(this.layout.pids, leaf);
      fs.mkdirSync(memory);
      fs.mkdirSync(pids);
      fs.writeFileSync(path.join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      // Swap counts too where the kernel accounts it; otherwise a sandbox could page its way past the limit.
      writeIfPresent(path.join(memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes));
      fs.writeFileSync(path.join(pids, 'pids.max'), String(limits.processes));
      return {
        procsFiles: [path.join(memory, 'cgroup.procs'), path.join(pids, 'cgroup.procs')],
        oomKills: () => counter(path.join(memory, 'memory.oom_control'), 'oom_kill'),
        processCount: () => processCount(path.join(pids, 'cgroup.procs')),
        remove: () => removeGroups([memory, pids]),
      };
    }
    const dir = path.join(this.layout.parent, leaf);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'memory.max'), String(limits.memoryBytes));
    writeIfPresent(path.join(dir, 'memory.swap.max'), '0');
    fs.writeFileSync(path.join(dir, 'pids.max'), String(limits.processes));
    return {
      procsFiles: [path.join(dir, 'cgroup.procs')],
      oomKills: () => counter(path.join(dir, 'memory.events'), 'oom_kill'),
      processCount: () => processCount(path.join(dir, 'cgroup.procs')),
      remove: () => removeGroups([dir]),
    };
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Where this process's own groups are, per /proc/self/cgroup, if it can write below them. */
function findLayout(): Layout | null {
  if (process.getuid?.() !== 0) return null;
  const own = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, where] = line.split(':');
    if (controllers === undefined || where === undefined) continue;
    for (const c of controllers.split(',')) own.set(c, where);
  }
  const v1 = (controller: string) => {
    const where = own.get(controller);
    const dir = where === undefined ? null : path.join('/sys/fs/cgroup', controller, where);
    return dir && fs.existsSync(path.join(dir, 'cgroup.procs')) ? dir : null;
  };
  const memory = v1('memory');
  const pids = v1('pids');
  if (memory && pids) return { kind: 'v1', memory, pids };
  // cgroup v2 alone: a group below our own, with memory and pids enabled for its children.
  const unified = own.get('');
  if (unified === undefined || !fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return null;
  const parent = path.join('/sys/fs/cgroup', unified);
  const enabled = fs.readFileSync(path.join(parent, 'cgroup.subtree_control'), 'utf8');
  if (!/\bmemory\b/.test(enabled) || !/\bpids\b/.test(enabled)) {
    fs.writeFileSync(path.join(parent, 'cgroup.subtree_control'), '+memory +pids');
  }
  return { kind: 'v2', parent };
}

function writeIfPresent(file: string, value: string): void {
  try {
    fs.writeFileSync(file, value);
  } catch {
    // Not accounted by this kernel (no swap accounting): the memory limit alone applies.
  }
}

function counter(file: string, name: string): number {
  try {
    const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

function processCount(file: string): number {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function removeGroups(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.rmdirSync(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        // EBUSY while the killed processes are still being torn down.
        if (attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}
