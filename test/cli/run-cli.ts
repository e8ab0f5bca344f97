import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The built entry point that `assay` runs (dist/main.js, built by test/e2e/global-setup.ts). */
export const MAIN = path.resolve(__dirname, '..', '..', 'dist', 'main.js');

/** What one run of the binary did. */
export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a run: this process's, without any ASSAY_* setting or jest's NODE_OPTIONS, plus `env`. */
export function cliEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ASSAY_')));
  return { ...base, NODE_OPTIONS: '', NO_COLOR: '1', ...env };
}

/** Starts `node dist/main.js ...args` with pipes (so neither output is a terminal). */
export function startCli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string } = {},
): ChildProcess {
  return spawn(process.execPath, [MAIN, ...args], {
    cwd: opts.cwd,
    env: cliEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Collects a started run to its exit. */
export function finished(child: ChildProcess, input?: string): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  if (input !== undefined) child.stdin!.end(input);
  else child.stdin!.end();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the binary to its end. */
export function cli(
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: string; cwd?: string } = {},
): Promise<Ran> {
  return finished(startCli(args, opts), opts.input);
}

/** Quotes a word for sh. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs the binary under a pseudo-terminal (`script` from util-linux), as a person at a terminal
 * would: standard output and standard error are the terminal, so `stdout` is both, with the
 * carriage returns and escape sequences a progress bar draws.
 */
export function cliInTerminal(
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<Ran> {
  const command = [process.execPath, MAIN, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: opts.cwd,
    env: cliEnv({ TERM: 'xterm', COLUMNS: '120', ...opts.env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return finished(child);
}
