import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { createAssayClient, type AssayClient } from '@assay/client';
import { readSettings } from './settings';

/** The client the commands use, as `@assay/client` makes it. */
export type Client = AssayClient;

/** A mistake in how the command was called: exit code 2, like commander's own usage errors. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A run that ended badly and has been reported already: exit code 1 with nothing more to say. */
export class RunFailed extends Error {
  override readonly name = 'RunFailed';
}

/** Exit codes CI pipelines depend on. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Options every command takes. */
export interface CommonOptions {
  json?: boolean;
  project?: string;
}

/** The options of a list command: a page of the API's list (`--page`, `--page-size`). */
export interface ListOptions extends CommonOptions {
  page?: number;
  pageSize?: number;
}

/** The page a list command asks for: the first, 100 items, unless told. */
export function pageQuery(opts: ListOptions): { page: number; pageSize: number } {
  return { page: opts.page ?? 1, pageSize: opts.pageSize ?? 100 };
}

/** Says, on standard error, how to get the next page of a list answer when there is one. */
export function sayNextPage(answer: { hasNextPage: boolean; page: number }, counted?: string): void {
  if (!answer.hasNextPage) return;
  say(`${counted ? `${counted}; ` : ''}this is page ${answer.page}: --page ${answer.page + 1} for more`);
}

/** Adds `--json` to a command: its answer is the API's JSON on standard output, nothing else. */
export function withJson(cmd: Command): Command {
  return cmd.option('--json', "print the API's JSON answer on standard output");
}

/** Adds the options of every command that works in a project: `--json` and `--project`. */
export function common(cmd: Command): Command {
  return withJson(cmd).option('--project <id>', 'work in this project instead of the one `assay login` chose');
}

/** A message for people: always on standard error, so standard output stays the command's answer. */
export function say(message: string): void {
  process.stderr.write(message + '\n');
}

/** The command's answer for people, on standard output. */
export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

/** The command's answer for scripts: the API's JSON, on standard output. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Bars only when a person watches: standard output (and standard error, where they are drawn) are terminals. */
export function showBars(): boolean {
  return Boolean(process.stdout.isTTY && process.stderr.isTTY);
}

/** A progress bar on standard error, or null when bars are off. */
export function progressBar(format: string): cliProgress.SingleBar | null {
  if (!showBars()) return null;
  return new cliProgress.SingleBar(
    { stream: process.stderr, format, hideCursor: true, clearOnComplete: false, etaBuffer: 20, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
}

/** Ctrl-C aborts what is running (a download keeps its partial file); a second one ends the process. */
export const interrupt = new AbortController();

/** The connection the commands use: environment first, then what `assay login` stored, then `--project`. */
export interface Connection {
  url: string;
  token: string;
  tenantId: string;
  projectId: string;
}

/** Reads the connection; a missing piece is a usage error that says how to supply it. */
export function connection(cmd: Command): Connection {
  const saved = readSettings() ?? {};
  const opts = cmd.opts() as CommonOptions;
  const env = process.env;
  const found = {
    url: env.ASSAY_URL || saved.url,
    token: env.ASSAY_TOKEN || saved.token,
    tenantId: env.ASSAY_TENANT || saved.tenantId,
    projectId: opts.project || env.ASSAY_PROJECT || saved.projectId,
  };
  const missing = Object.entries(found)
    .filter(([, value]) => !value)
    .map(([key]) => key);
  if (missing.length > 0) {
    throw new UsageError(
      `not logged in (no ${missing.join(', ')}): run \`assay login --url URL --tenant ID\` with the key on standard input, ` +
        'or set ASSAY_URL, ASSAY_TOKEN, ASSAY_TENANT and ASSAY_PROJECT',
    );
  }
  return found as Connection;
}

/** A client for the connection, with the CLI's user agent and the default retry policy. */
export function clientFor(conn: Connection): Client {
  return createAssayClient({
    baseUrl: conn.url,
    token: conn.token,
    tenantId: conn.tenantId,
    projectId: conn.projectId,
    userAgent: 'assay-cli',
  });
}

/** The client for a command's connection. */
export function connect(cmd: Command): Client {
  return clientFor(connection(cmd));
}

/** `--param k=v` values, collected: the value is JSON when it parses as JSON (numbers, lists), else text. */
export function collectParam(raw: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new UsageError(`--param takes name=value, not '${raw}'`);
  const name = raw.slice(0, eq);
  const text = raw.slice(eq + 1);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    // Not JSON: the text itself.
  }
  return { ...previous, [name]: value };
}

/** A positive whole number option, such as a page size. */
export function intOption(flags: string, description: string, min = 1, max = Number.MAX_SAFE_INTEGER): Option {
  return new Option(flags, description).argParser((raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new UsageError(`${flags.split(' ')[0]} takes a whole number from ${min} to ${max}, not '${raw}'`);
    return n;
  });
}

/** A byte count for people: 1.2 MB. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Rows as an aligned table on standard output. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): void {
  const cells = [headers, ...rows.map((row) => row.map((v) => (v === null || v === undefined ? '-' : String(v))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  for (const row of cells) print(row.map((v, i) => (i === row.length - 1 ? v : v.padEnd(widths[i]))).join('  '));
}
