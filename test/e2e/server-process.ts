import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..');

/** `npm start` in a child process: the built server (dist/main.js) on its own data dir and a free port. */
export interface ServerProcess {
  url: string;
  dataDir: string;
  proc: ChildProcess;
  output(): string;
  /** Sends SIGTERM and waits for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts dist/main.js (built by test/e2e/global-setup.ts) and waits until it listens, or with
 * `args: ['worker']` until its worker pool has started (`url` is then empty).
 */
export async function startServerProcess(
  opts: { dataDir?: string; env?: Record<string, string>; args?: string[]; startTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'assay-e2e-'));
  const workerOnly = opts.args?.[0] === 'worker';
  const proc = spawn(process.execPath, [path.join(repoRoot, 'dist', 'main.js'), ...(opts.args ?? [])], {
    cwd: repoRoot,
    env: { ...process.env, NODE_OPTIONS: '', DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout!.on('data', (chunk) => (output += chunk));
  proc.stderr!.on('data', (chunk) => (output += chunk));
  const url = await new Promise<string>((resolve, reject) => {
    const limit = opts.startTimeoutMs ?? 30_000;
    const timer = setTimeout(
      () => reject(new Error(`the server did not start within ${limit / 1000} s:\n${output}`)),
      limit,
    );
    const check = () => {
      const line = output.split('\n').find((l) => l.includes(workerOnly ? '"worker started"' : '"Assay is listening"'));
      if (line) {
        clearTimeout(timer);
        resolve(workerOnly ? '' : (JSON.parse(line).url as string));
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    dataDir,
    proc,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill('SIGTERM');
      }),
  };
}

/** The credentials the first start wrote. */
export function bootstrapOf(dataDir: string): { tenantId: string; projectId: string; token: string } {
  return JSON.parse(fs.readFileSync(path.join(dataDir, 'bootstrap.json'), 'utf8'));
}
