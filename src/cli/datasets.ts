import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Command, Option } from 'commander';
import {
  bytes,
  common,
  connect,
  intOption,
  interrupt,
  print,
  printJson,
  progressBar,
  RunFailed,
  say,
  table,
  UsageError,
  type Client,
  type CommonOptions,
  type ListOptions,
  pageQuery,
  sayNextPage,
} from './context';

/** A dataset as the API answers it. */
type Dataset = Awaited<ReturnType<Client['uploadDataset']>>;

interface UploadOptions extends CommonOptions {
  case?: string;
  activity?: string;
  timestamp?: string;
  resource?: string;
  format?: 'csv' | 'xes' | 'xes.gz';
  name?: string;
}

/** The format named by `--format`, else by the file's extension. */
function formatOf(file: string, given?: UploadOptions['format']): UploadOptions['format'] {
  if (given) return given;
  const lower = file.toLowerCase();
  if (lower.endsWith('.xes.gz')) return 'xes.gz';
  if (lower.endsWith('.xes')) return 'xes';
  return 'csv';
}

/** Waits while the import runs (the API answers most uploads Ready, a slow import Importing). */
async function settled(client: Client, dataset: Dataset): Promise<Dataset> {
  let current = dataset;
  while (current.status === 'Uploaded' || current.status === 'Importing') {
    await new Promise((resolve) => setTimeout(resolve, 500));
    current = client.unwrap(
      await client.api.GET('/api/{tenantId}/{projectId}/dataset/{datasetId}', {
        params: { path: { tenantId: client.tenantId, projectId: client.projectId, datasetId: dataset.datasetId } },
      }),
    );
  }
  return current;
}

/** The import's figures and warnings, for people (on standard output: they are the answer). */
function describe(d: Dataset): void {
  print(`dataset     ${d.datasetId}  ${d.name}  (${d.status})`);
  print(`file        ${d.originalFileName}, ${d.sourceFormat}, ${bytes(d.sizeBytes)}`);
  if (d.caseCount !== null) {
    print(`cases       ${d.caseCount}`);
    print(`events      ${d.eventCount}`);
    print(`activities  ${d.activityCount}`);
    print(`variants    ${d.variantCount}`);
    print(`time range  ${d.startTime ?? '-'} .. ${d.endTime ?? '-'}`);
  }
  if (d.attributes.length > 0)
    print(`attributes  ${d.attributes.map((a) => `${a.name} (${a.scope} ${a.dataType})`).join(', ')}`);
  const w = d.importWarnings;
  if (w.invalidRowCount > 0 || w.warnings.length > 0) {
    say(`${w.invalidRowCount} invalid row(s); ${w.warnings.length} warning(s):`);
    for (const warning of w.warnings)
      say(`  ${warning.line === null ? '' : `line ${warning.line}: `}${warning.message}`);
  }
}

async function upload(file: string, opts: UploadOptions, cmd: Command): Promise<void> {
  const format = formatOf(file, opts.format);
  if (format === 'csv') {
    const missing = (['case', 'activity', 'timestamp'] as const).filter((k) => !opts[k]).map((k) => `--${k}`);
    if (missing.length > 0) throw new UsageError(`a CSV needs its column mapping: ${missing.join(', ')} COLUMN`);
  }
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new UsageError(`cannot read ${file}`);
  }
  const client = connect(cmd);
  const bar = progressBar('upload |{bar}| {percentage}% {value}/{total} bytes | {eta_formatted}');
  bar?.start(size, 0);
  let dataset: Dataset;
  try {
    dataset = await client.uploadDataset({
      file,
      fileName: path.basename(file),
      format,
      name: opts.name,
      mapping: {
        caseColumn: opts.case ?? '',
        activityColumn: opts.activity ?? '',
        timestampColumn: opts.timestamp ?? '',
        ...(opts.resource ? { resourceColumn: opts.resource } : {}),
      },
      onProgress: (sent: number) => bar?.update(Math.min(sent, size)),
      signal: interrupt.signal,
    });
    bar?.update(size);
  } finally {
    bar?.stop();
  }
  if (!bar) say(`uploaded ${file} (${bytes(size)}), dataset ${dataset.datasetId}`);
  dataset = await settled(client, dataset);
  if (opts.json) printJson(dataset);
  else describe(dataset);
  if (dataset.status === 'Failed') throw new RunFailed(`the import of ${file} failed`);
}

async function list(opts: ListOptions, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const answer = client.unwrap(
    await client.api.GET('/api/{tenantId}/{projectId}/datasets', {
      params: {
        path: { tenantId: client.tenantId, projectId: client.projectId },
        query: pageQuery(opts),
      },
    }),
  );
  if (opts.json) return printJson(answer);
  table(
    ['DATASET', 'STATUS', 'FORMAT', 'SIZE', 'CASES', 'EVENTS', 'NAME'],
    answer.datasets.map((d) => [
      d.datasetId,
      d.status,
      d.sourceFormat,
      bytes(d.sizeBytes),
      d.caseCount,
      d.eventCount,
      d.name,
    ]),
  );
  sayNextPage(answer, `${answer.totalCount} datasets`);
}

async function show(id: string, opts: CommonOptions, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const dataset = client.unwrap(
    await client.api.GET('/api/{tenantId}/{projectId}/dataset/{datasetId}', {
      params: { path: { tenantId: client.tenantId, projectId: client.projectId, datasetId: id } },
    }),
  );
  if (opts.json) return printJson(dataset);
  describe(dataset);
}

interface DownloadOptions extends CommonOptions {
  output?: string;
  format?: 'csv' | 'parquet' | 'original';
}

/** The file name a `Content-Disposition` header gives, reduced to a base name. */
function dispositionName(header: string | null): string | undefined {
  if (!header) return undefined;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  const plain = /filename="?([^";]+)"?/i.exec(header);
  const raw = star ? decodeURIComponent(star[1]) : plain?.[1];
  return raw ? path.basename(raw) : undefined;
}

/** Streams the dataset's export to a file (written as `.part` and renamed when complete), with its sha256. */
async function download(id: string, opts: DownloadOptions, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const format = opts.format ?? 'csv';
  const path_ = client.path('/api/{tenantId}/{projectId}/dataset/{datasetId}/download', { datasetId: id });
  const response = await client.send(`${path_}?format=${format}`, { signal: interrupt.signal });
  const dest = opts.output ?? dispositionName(response.headers.get('content-disposition')) ?? `${id}.${format}`;
  const total = Number(response.headers.get('content-length') ?? NaN);
  const bar = Number.isFinite(total)
    ? progressBar('download |{bar}| {percentage}% {value}/{total} bytes | {eta_formatted}')
    : null;
  bar?.start(total, 0);
  let received = 0;
  const hash = createHash('sha256');
  const body = Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>).on('data', (chunk: Buffer) => {
    received += chunk.length;
    hash.update(chunk);
    bar?.update(received);
  });
  try {
    await pipeline(body, fs.createWriteStream(`${dest}.part`), { signal: interrupt.signal });
  } finally {
    bar?.stop();
  }
  fs.renameSync(`${dest}.part`, dest);
  const summary = { path: path.resolve(dest), bytes: received, sha256: hash.digest('hex') };
  if (opts.json) printJson(summary);
  else say(`saved ${dest} (${bytes(received)}, sha256 ${summary.sha256})`);
}

/** Registers `assay datasets ...`. */
export function registerDatasets(program: Command): void {
  const datasets = program.command('datasets').description('upload, list, show and download event logs');
  common(
    datasets
      .command('upload')
      .description('upload an event log (CSV with its column mapping, XES or .xes.gz) and show what the import found')
      .argument('<file>', 'the event log')
      .option('--case <column>', 'CSV: the case id column')
      .option('--activity <column>', 'CSV: the activity column')
      .option('--timestamp <column>', 'CSV: the timestamp column')
      .option('--resource <column>', 'CSV: the resource column')
      .addOption(
        new Option('--format <format>', 'the file format (default: from the extension)').choices([
          'csv',
          'xes',
          'xes.gz',
        ]),
      )
      .option('--name <name>', "the dataset's name (default: the file name)"),
  ).action(upload);
  common(
    datasets
      .command('list')
      .description("list the project's datasets")
      .addOption(intOption('--page <n>', 'the page, from 1'))
      .addOption(intOption('--page-size <n>', 'datasets per page (at most 100)', 1, 100)),
  ).action(list);
  common(datasets.command('show').description("a dataset's figures and warnings").argument('<datasetId>')).action(show);
  common(
    datasets
      .command('download')
      .description("download a dataset's events (CSV or Parquet) or the file as uploaded")
      .argument('<datasetId>')
      .option('-o, --output <path>', 'where to write it (default: the name the service gives)')
      .addOption(
        new Option('--format <format>', 'what to download').choices(['csv', 'parquet', 'original']).default('csv'),
      ),
  ).action(download);
}
