import { Command } from 'commander';
import {
  clientFor,
  common,
  connection,
  print,
  printJson,
  say,
  UsageError,
  withJson,
  type CommonOptions,
} from './context';
import { settingsPath, writeSettings } from './settings';

/** Reads standard input to its end (the key, piped in). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The key: `ASSAY_TOKEN`, else standard input when it is not a terminal (the key is never an argument, so never in `ps`). */
async function readKey(): Promise<string> {
  if (process.env.ASSAY_TOKEN) return process.env.ASSAY_TOKEN.trim();
  if (process.stdin.isTTY)
    throw new UsageError('the key comes from standard input or ASSAY_TOKEN: `assay login --url URL < key.txt`');
  const key = (await readStdin()).trim();
  if (!key) throw new UsageError('no key on standard input (and ASSAY_TOKEN is not set)');
  if (/\s/.test(key)) throw new UsageError('the key on standard input has white space in it; give the key alone');
  return key;
}

interface LoginOptions extends CommonOptions {
  url: string;
  tenant?: string;
  project?: string;
}

/**
 * `assay login`: checks the key against the service and stores it. A key belongs to one tenant, and
 * the API has no call that names a key's tenant, so the tenant comes from `--tenant` or
 * `ASSAY_TENANT`. The project comes from `--project`, or is the tenant's only project.
 */
async function login(opts: LoginOptions): Promise<void> {
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    throw new UsageError(`--url takes the service's address, such as http://127.0.0.1:3000, not '${opts.url}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--url must be http or https');
  const base = url.toString().replace(/\/+$/, '');
  const token = await readKey();
  const tenantId = opts.tenant ?? process.env.ASSAY_TENANT;
  if (!tenantId) throw new UsageError("give the key's tenant with --tenant ID (or ASSAY_TENANT)");
  const probe = clientFor({ url: base, token, tenantId, projectId: opts.project ?? '' });
  // Lists the tenant's projects: a wrong key answers 401, a key of another tenant 403.
  const projects = probe.unwrap(
    await probe.api.GET('/api/{tenantId}/projects', { params: { path: { tenantId }, query: { pageSize: 100 } } }),
  );
  let projectId = opts.project ?? process.env.ASSAY_PROJECT;
  if (!projectId) {
    if (projects.projects.length !== 1) {
      const names = projects.projects.map((p) => `  ${p.projectId}  ${p.name}`).join('\n');
      throw new UsageError(
        projects.projects.length === 0
          ? 'the tenant has no project yet'
          : `the tenant has ${projects.totalCount} projects; pick one with --project ID:\n${names}`,
      );
    }
    projectId = projects.projects[0].projectId;
  }
  const project = probe.unwrap(
    await probe.api.GET('/api/{tenantId}/project/{projectId}', { params: { path: { tenantId, projectId } } }),
  );
  const file = settingsPath();
  writeSettings({ url: base, token, tenantId, projectId: project.projectId }, file);
  if (opts.json) printJson(project);
  say(`Logged in to ${base}: tenant ${tenantId}, project ${project.projectId} (${project.name}). Saved in ${file}.`);
}

/** `assay whoami`: the service, tenant and project the commands use, checked against the service. */
async function whoami(opts: CommonOptions, cmd: Command): Promise<void> {
  const conn = connection(cmd);
  const client = clientFor(conn);
  const project = client.unwrap(
    await client.api.GET('/api/{tenantId}/project/{projectId}', {
      params: { path: { tenantId: conn.tenantId, projectId: conn.projectId } },
    }),
  );
  if (opts.json) return printJson(project);
  print(`url      ${conn.url}`);
  print(`tenant   ${conn.tenantId}`);
  print(`project  ${project.projectId} (${project.name})`);
  print(`key      ${conn.token.slice(0, 10)}...`);
}

/** Registers `login` and `whoami`. */
export function registerLogin(program: Command): void {
  withJson(
    program
      .command('login')
      .description('store the service address and an API key (read from standard input or ASSAY_TOKEN)')
      .requiredOption('--url <url>', "the service's address, such as http://127.0.0.1:3000")
      .option('--tenant <id>', "the key's tenant (default: ASSAY_TENANT)")
      .option('--project <id>', "the project to work in (default: ASSAY_PROJECT, or the tenant's only project)"),
  ).action((opts: LoginOptions) => login(opts));
  common(program.command('whoami').description('show the service, tenant and project the commands use')).action(
    (opts: CommonOptions, cmd: Command) => whoami(opts, cmd),
  );
}
