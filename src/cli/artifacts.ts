import path from 'node:path';
import { Command } from 'commander';
import {
  bytes,
  common,
  connect,
  interrupt,
  printJson,
  progressBar,
  say,
  UsageError,
  type Client,
  type CommonOptions,
} from './context';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An artifact id, given as the id or as a `downloadUrl` of a result (`.../artifact/{id}`). */
function artifactIdOf(raw: string): string {
  const id = /\/artifact\/([^/?#]+)\/?(?:[?#].*)?$/.exec(raw)?.[1] ?? raw;
  if (!UUID.test(id)) throw new UsageError(`give an artifact id or its downloadUrl, not '${raw}'`);
  return id;
}

/** The file name the service gives the artifact (`Content-Disposition` of a HEAD), else its id. */
async function serverName(client: Client, id: string): Promise<string> {
  const res = await client.send(client.path('/api/{tenantId}/{projectId}/artifact/{artifactId}', { artifactId: id }), {
    method: 'HEAD',
    signal: interrupt.signal,
  });
  const header = res.headers.get('content-disposition') ?? '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  const plain = /filename="?([^";]+)"?/i.exec(header);
  const raw = star ? decodeURIComponent(star[1]) : plain?.[1];
  const name = raw ? path.basename(raw) : '';
  return name && name !== '.' && name !== '..' ? name : id;
}

/**
 * `assay artifacts download`: streams the file to disk through `PATH.part`, resumes a part left by
 * an interrupted try with `Range`, and checks the sha256 the service announces.
 */
async function download(raw: string, opts: CommonOptions & { output?: string }, cmd: Command): Promise<void> {
  const id = artifactIdOf(raw);
  const client = connect(cmd);
  const dest = opts.output ?? (await serverName(client, id));
  const bar = progressBar('download |{bar}| {percentage}% {value}/{total} bytes | {eta_formatted}');
  let started = false;
  let result;
  try {
    result = await client.downloadArtifact(id, dest, {
      signal: interrupt.signal,
      onProgress: (done: number, total?: number) => {
        if (!bar || total === undefined) return;
        if (!started) bar.start(total, done);
        started = true;
        bar.update(done);
      },
    });
  } finally {
    if (started) bar?.stop();
  }
  if (opts.json) return printJson({ ...result, path: path.resolve(result.path) });
  const resumed = result.resumedFrom > 0 ? `, resumed after ${bytes(result.resumedFrom)}` : '';
  say(`saved ${result.path} (${bytes(result.bytes)}${resumed}), sha256 ${result.sha256} verified`);
}

/** Registers `assay artifacts download`. */
export function registerArtifacts(program: Command): void {
  const artifacts = program.command('artifacts').description('download what runs produced (reports, models, data)');
  common(
    artifacts
      .command('download')
      .description('download an artifact, resuming an interrupted download, and check its sha256')
      .argument('<artifact>', "the artifact id, or a downloadUrl from a run's results")
      .option('-o, --output <path>', 'where to write it (default: the name the service gives)'),
  ).action(download);
}
