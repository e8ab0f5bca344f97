import { Command, Option } from 'commander';
import type { components } from '../../generated/api';
import {
  collectParam,
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

type Schemas = components['schemas'];
type ResourceType = Schemas['JobResourceRef']['resourceType'];
type StreamEvent = Schemas['StreamEvent'];

const PREFIXES: Record<string, ResourceType> = {
  dataset: 'Dataset',
  notebook: 'Notebook',
  investigation: 'Investigation',
  pipeline: 'Pipeline',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * What a job works on. `dataset:ID`, `notebook:ID`, `investigation:ID` or `pipeline:ID` name the
 * type; a bare id is looked up as a dataset, a notebook and an investigation of the project (ids
 * are UUIDs of one space, so at most one answers). A Pipeline (an investigation's notebooks in
 * order) is only ever asked for by name.
 */
async function resolveResource(
  client: Client,
  raw: string,
): Promise<{ resourceType: ResourceType; resourceId: string }> {
  const colon = raw.indexOf(':');
  if (colon > 0) {
    const type = PREFIXES[raw.slice(0, colon).toLowerCase()];
    const id = raw.slice(colon + 1);
    if (!type)
      throw new UsageError(
        `--resource prefix must be one of ${Object.keys(PREFIXES).join(', ')}, not '${raw.slice(0, colon)}'`,
      );
    if (!UUID.test(id)) throw new UsageError(`--resource takes an id (a UUID), not '${id}'`);
    return { resourceType: type, resourceId: id };
  }
  if (!UUID.test(raw)) throw new UsageError(`--resource takes an id (a UUID), optionally as type:id, not '${raw}'`);
  const scope = { tenantId: client.tenantId, projectId: client.projectId };
  const [dataset, notebook, investigation] = await Promise.all([
    client.api.GET('/api/{tenantId}/{projectId}/dataset/{datasetId}', {
      params: { path: { ...scope, datasetId: raw } },
    }),
    client.api.GET('/api/{tenantId}/{projectId}/notebook/{notebookId}', {
      params: { path: { ...scope, notebookId: raw } },
    }),
    client.api.GET('/api/{tenantId}/{projectId}/investigation/{investigationId}', {
      params: { path: { ...scope, investigationId: raw } },
    }),
  ]);
  if (dataset.response.ok) return { resourceType: 'Dataset', resourceId: raw };
  if (notebook.response.ok) return { resourceType: 'Notebook', resourceId: raw };
  if (investigation.response.ok) return { resourceType: 'Investigation', resourceId: raw };
  // Not found anywhere: the dataset lookup's error (404, or 401/403) says why.
  client.unwrap(dataset);
  throw new Error(`no dataset, notebook or investigation ${raw} in the project`);
}

/** Follows a job: a percentage bar with its stage on a terminal, a line per stage otherwise. */
function jobFollower() {
  const bar = progressBar('job |{bar}| {percentage}% | {stage}');
  bar?.start(100, 0, { stage: 'queued' });
  let lastStage = '';
  return {
    onEvent(ev: StreamEvent): void {
      const data = ev.data as Record<string, unknown>;
      if (ev.event === 'job.progress') {
        const stage = String(data.stage ?? '');
        bar?.update(Number(data.percentage ?? 0), { stage });
        if (!bar && stage !== lastStage) say(`${Math.round(Number(data.percentage ?? 0))}% ${stage}`);
        lastStage = stage;
      } else if (ev.event === 'job.status') {
        bar?.update({ stage: String(data.status) });
        if (!bar) say(`job ${String(data.status)}${data.reason ? `: ${String(data.reason)}` : ''}`);
      } else if (ev.event === 'cell.completed' && data.status === 'Error') {
        bar?.stop();
        say(
          `cell ${String(data.cellId)} failed: ${String(data.errorType ?? 'Error')}: ${String(data.errorMessage ?? '')}`,
        );
      }
    },
    stop: () => bar?.stop(),
  };
}

/** Waits for a job and reports its end: exit 0 when Completed, 1 otherwise; with --json the results (or the job). */
async function waitAndReport(client: Client, jobId: string, json: boolean | undefined): Promise<void> {
  const follow = jobFollower();
  let job: Schemas['Job'];
  try {
    job = await client.waitForJob(jobId, {
      signal: interrupt.signal,
      onEvent: (ev: StreamEvent) => follow.onEvent(ev),
    });
  } finally {
    follow.stop();
  }
  const path = { tenantId: client.tenantId, projectId: client.projectId, jobId };
  const results = await client.api.GET('/api/{tenantId}/{projectId}/execution/job/{jobId}/results', {
    params: { path, query: { includeArtifacts: true } },
  });
  if (json) printJson(results.response.ok ? results.data : job);
  else if (results.response.ok && results.data) {
    const r = results.data.results;
    for (const output of [r.primaryOutput, ...r.additionalOutputs]) {
      if (output) say(`output: ${JSON.stringify(output)}`);
    }
  }
  if (job.status === 'Completed') {
    say(`job ${jobId} Completed in ${job.progress.elapsedTime ?? '?'}`);
    return;
  }
  say(`job ${jobId} ${job.status}${job.statusReason ? `: ${job.statusReason}` : ''}`);
  throw new RunFailed(`job ${job.status}`);
}

interface SubmitOptions extends CommonOptions {
  type: Schemas['JobType'];
  resource: string;
  priority?: Schemas['Priority'];
  name?: string;
  param?: Record<string, unknown>;
  wait?: boolean;
}

async function submit(opts: SubmitOptions, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const resource = await resolveResource(client, opts.resource);
  const submitted = await client.submitJob({
    jobName: opts.name ?? `${opts.type} of ${resource.resourceType.toLowerCase()} ${resource.resourceId}`,
    jobType: opts.type,
    resource,
    ...(opts.priority ? { priority: opts.priority } : {}),
    ...(opts.param ? { parameters: opts.param } : {}),
  });
  if (!opts.wait) {
    if (opts.json) return printJson(submitted);
    print(submitted.jobId);
    say(
      `job ${submitted.jobId} ${submitted.status}${submitted.queuePosition ? `, position ${submitted.queuePosition}` : ''}`,
    );
    return;
  }
  say(`job ${submitted.jobId} submitted (${resource.resourceType} ${resource.resourceId})`);
  await waitAndReport(client, submitted.jobId, opts.json);
}

interface JobListOptions extends ListOptions {
  status?: Schemas['JobStatus'];
  type?: Schemas['JobType'];
}

async function list(opts: JobListOptions, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const answer = client.unwrap(
    await client.api.GET('/api/{tenantId}/{projectId}/execution/jobs', {
      params: {
        path: { tenantId: client.tenantId, projectId: client.projectId },
        query: {
          ...pageQuery(opts),
          ...(opts.status ? { status: opts.status } : {}),
          ...(opts.type ? { jobType: opts.type } : {}),
        },
      },
    }),
  );
  if (opts.json) return printJson(answer);
  table(
    ['JOB', 'TYPE', 'STATUS', 'PROGRESS', 'PRIORITY', 'STARTED', 'NAME'],
    answer.jobs.map((j) => [j.jobId, j.jobType, j.status, `${j.progress}%`, j.priority, j.startTime, j.jobName]),
  );
  const s = answer.summary;
  say(
    `${s.totalJobs} jobs: ${s.queuedJobs} queued, ${s.runningJobs} running, ${s.completedJobs} completed, ${s.failedJobs} failed, ${s.cancelledJobs} cancelled`,
  );
  sayNextPage(answer);
}

function jobPath(client: Client, jobId: string) {
  return { tenantId: client.tenantId, projectId: client.projectId, jobId };
}

/** A job for people. */
function describe(job: Schemas['Job']): void {
  print(`job       ${job.jobId}  ${job.jobName}`);
  print(`type      ${job.jobType} on ${job.resource.resourceType} ${job.resource.resourceId}`);
  print(`status    ${job.status}${job.statusReason ? ` (${job.statusReason})` : ''}`);
  print(`progress  ${job.progress.percentage}% ${job.progress.currentStage ?? ''}`);
  print(`started   ${job.execution.startTime ?? '-'}  ended ${job.execution.endTime ?? '-'}`);
}

async function show(jobId: string, opts: CommonOptions, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const job = client.unwrap(
    await client.api.GET('/api/{tenantId}/{projectId}/execution/job/{jobId}', {
      params: { path: jobPath(client, jobId) },
    }),
  );
  if (opts.json) return printJson(job);
  describe(job);
}

async function cancel(
  jobId: string,
  opts: CommonOptions & { reason?: string; force?: boolean },
  cmd: Command,
): Promise<void> {
  const client = connect(cmd);
  const answer = client.unwrap(
    await client.api.DELETE('/api/{tenantId}/{projectId}/execution/job/{jobId}', {
      params: { path: jobPath(client, jobId) },
      body: { ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.force ? { forceTermination: true } : {}) },
    }),
  );
  if (opts.json) return printJson(answer);
  say(`job ${jobId}: ${JSON.stringify(answer)}`);
}

async function retry(
  jobId: string,
  opts: CommonOptions & { reason?: string; wait?: boolean },
  cmd: Command,
): Promise<void> {
  const client = connect(cmd);
  const job = client.unwrap(
    await client.api.POST('/api/{tenantId}/{projectId}/execution/job/{jobId}/retry', {
      params: { path: jobPath(client, jobId) },
      body: opts.reason ? { retryReason: opts.reason } : {},
    }),
  );
  if (!opts.wait) {
    if (opts.json) return printJson(job);
    print(job.jobId);
    say(`job ${jobId} retried as ${job.jobId} (${job.status})`);
    return;
  }
  say(`job ${jobId} retried as ${job.jobId}`);
  await waitAndReport(client, job.jobId, opts.json);
}

/** The log lines after `since` as the API gives them, and the `since` to pass next. */
async function logsAfter(client: Client, jobId: string, since: number): Promise<{ text: string; next: number }> {
  const answer = await client.api.GET('/api/{tenantId}/{projectId}/execution/job/{jobId}/logs', {
    params: { path: jobPath(client, jobId), query: { since } },
    parseAs: 'text',
  });
  if (!answer.response.ok) client.unwrap(answer);
  const next = Number(answer.response.headers.get('x-next-since') ?? since);
  return { text: (answer.data as string | undefined) ?? '', next: Number.isFinite(next) ? next : since };
}

/** A log line as JSON: the fields of the API's text line. */
function lineJson(line: string) {
  const m = /^(\d+) (\S+) (\S+) ?(.*)$/s.exec(line);
  return m ? { eventId: Number(m[1]), time: m[2], source: m[3], line: m[4] } : { line };
}

/** Prints log text: as it is, or with --json one JSON object per line. */
function emitLogs(text: string, json: boolean | undefined): void {
  if (!text) return;
  if (!json) return void process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  for (const line of text.split('\n')) if (line) process.stdout.write(JSON.stringify(lineJson(line)) + '\n');
}

/** `jobs logs`: the lines so far; with --follow, new lines as the job's event stream announces them, until it ends. */
async function logs(jobId: string, opts: CommonOptions & { follow?: boolean }, cmd: Command): Promise<void> {
  const client = connect(cmd);
  let { text, next } = await logsAfter(client, jobId, 0);
  emitLogs(text, opts.json);
  if (!opts.follow) return;
  for await (const ev of client.watch({ jobId }, { signal: interrupt.signal, after: String(next) })) {
    if ((ev as StreamEvent).event !== 'log') continue;
    ({ text, next } = await logsAfter(client, jobId, next));
    emitLogs(text, opts.json);
  }
  ({ text } = await logsAfter(client, jobId, next));
  emitLogs(text, opts.json);
}

const JOB_TYPES = ['ProcessMining', 'DataEnrichment', 'Notebook', 'Analysis'];
const PRIORITIES = ['Low', 'Normal', 'High', 'Critical'];

/** Registers `assay jobs ...`. */
export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('submit, list, follow, cancel and retry jobs');
  common(
    jobs
      .command('submit')
      .description('submit a job; with --wait follow it to the end (exit 0 Completed, 1 otherwise)')
      .addOption(new Option('--type <type>', 'the job type').choices(JOB_TYPES).makeOptionMandatory())
      .requiredOption(
        '--resource <id>',
        'what it works on: an id (its type is looked up) or dataset:ID, notebook:ID, investigation:ID, pipeline:ID',
      )
      .addOption(new Option('--priority <priority>', 'queue priority').choices(PRIORITIES))
      .option('--name <name>', "the job's name")
      .option('--param <name=value>', 'a job parameter (JSON values are parsed); repeatable', collectParam)
      .option('--wait', 'follow the job to its end, with a progress bar on a terminal'),
  ).action(submit);
  common(
    jobs
      .command('list')
      .description("list the project's jobs")
      .addOption(
        new Option('--status <status>', 'only jobs in this status').choices([
          'Queued',
          'Running',
          'Completed',
          'Failed',
          'Cancelled',
        ]),
      )
      .addOption(new Option('--type <type>', 'only jobs of this type').choices(JOB_TYPES))
      .addOption(intOption('--page <n>', 'the page, from 1'))
      .addOption(intOption('--page-size <n>', 'jobs per page (at most 100)', 1, 100)),
  ).action(list);
  common(jobs.command('show').description('a job and its progress').argument('<jobId>')).action(show);
  common(
    jobs
      .command('cancel')
      .description('cancel a queued or running job')
      .argument('<jobId>')
      .option('--reason <text>', 'why')
      .option('--force', 'stop at once instead of at the next safe point'),
  ).action(cancel);
  common(
    jobs
      .command('retry')
      .description('retry a Failed or Cancelled job as a new job')
      .argument('<jobId>')
      .option('--reason <text>', 'why')
      .option('--wait', 'follow the new job to its end'),
  ).action(retry);
  common(
    jobs
      .command('logs')
      .description("a job's log lines; --follow prints new ones until the job ends")
      .argument('<jobId>')
      .option('-f, --follow', 'keep printing lines until the job ends'),
  ).action(logs);
}
