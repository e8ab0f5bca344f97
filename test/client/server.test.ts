import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AssayApiError,
  AssayTimeoutError,
  createAssayClient,
  type AssayClient,
  type AssayEvent,
  type Dataset,
} from '@assay/client';
import { startTestApp, stores, type Tenant, type TestApp } from '../server/harness';

/** A CSV of `cases` cases of four events each, about 60 bytes a line. */
function csvLog(cases: number): string {
  const lines = ['case_id,activity,timestamp,resource'];
  const steps = ['register request', 'examine thoroughly', 'decide', 'pay compensation'];
  for (let c = 0; c < cases; c++) {
    steps.forEach((step, i) => {
      const at = new Date(Date.UTC(2024, 0, 1) + c * 3_600_000 + i * 600_000 + (c % 7) * 60_000);
      lines.push(`case-${c},${step},${at.toISOString()},${c % 3 === 0 ? 'Pete' : 'Sara'}`);
    });
  }
  return lines.join('\n') + '\n';
}

const mapping = {
  caseColumn: 'case_id',
  activityColumn: 'activity',
  timestampColumn: 'timestamp',
  resourceColumn: 'resource',
};

/** The client with every request it sends recorded. */
function recordingClient(app: TestApp, t: Tenant, retry?: { retries?: number }) {
  const sent: Request[] = [];
  const client = createAssayClient({
    baseUrl: app.url,
    token: t.token,
    tenantId: t.tenantId,
    projectId: t.projectId,
    retry,
    fetch: (input, init) => {
      const request = new Request(input, init);
      sent.push(request.clone());
      return fetch(request);
    },
    userAgent: 'assay-client-test',
  });
  return { client, sent };
}

describe.each(stores)('@assay/client against the server on %s', (store) => {
  let app: TestApp;
  let t: Tenant;
  let assay: AssayClient;
  let sent: Request[];
  let dataset: Dataset;
  let tmp: string;

  beforeAll(async () => {
    // One event stream per key: the polling fallback below is the server's own 429.
    app = await startTestApp(store, { STREAMS_PER_KEY: '1' });
    t = await app.newTenant();
    ({ client: assay, sent } = recordingClient(app, t));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-client-'));
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('uploadDataset streams a file from disk with progress, and resolves the imported dataset', async () => {
    const file = path.join(tmp, 'log.csv');
    fs.writeFileSync(file, csvLog(6000));
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(1_000_000);
    const progress: [number, number | undefined][] = [];
    dataset = await assay.uploadDataset({
      file,
      mapping,
      name: 'Generated log',
      onProgress: (bytes, total) => progress.push([bytes, total]),
    });
    expect(dataset).toMatchObject({
      name: 'Generated log',
      sourceFormat: 'csv',
      originalFileName: 'log.csv',
      status: 'Ready',
      caseCount: 6000,
      eventCount: 24000,
      activityCount: 4,
      sizeBytes: size,
    });
    // 64 KiB at a time, growing to the whole file, always with the total.
    expect(progress.length).toBeGreaterThanOrEqual(Math.ceil(size / 65536));
    expect(progress.at(-1)).toEqual([size, size]);
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThanOrEqual(progress[i - 1][0]);
    expect(progress.every(([, total]) => total === size)).toBe(true);
    const upload = sent.find((r) => r.method === 'POST' && r.url.endsWith('/dataset'))!;
    expect(upload.headers.get('content-type')).toMatch(/^multipart\/form-data; boundary=/);
    expect(upload.headers.get('user-agent')).toBe('assay-client-test');
  });

  test('uploadDataset from a stream of unknown size and from bytes; a bad mapping is an AssayApiError', async () => {
    const text = csvLog(10);
    const bytes = new TextEncoder().encode(text);
    const progress: [number, number | undefined][] = [];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 100));
        controller.enqueue(bytes.subarray(100));
        controller.close();
      },
    });
    const fromStream = await assay.uploadDataset({
      file: stream,
      format: 'csv',
      mapping,
      onProgress: (b, total) => progress.push([b, total]),
    });
    expect(fromStream).toMatchObject({ caseCount: 10, eventCount: 40, originalFileName: 'upload.csv' });
    expect(progress).toEqual([
      [0, undefined],
      [100, undefined],
      [bytes.byteLength, undefined],
    ]);
    const fromBytes = await assay.uploadDataset({ file: bytes, fileName: 'small.csv', mapping });
    expect(fromBytes).toMatchObject({ caseCount: 10, originalFileName: 'small.csv' });

    const err = await assay
      .uploadDataset({ file: bytes, fileName: 'small.csv', mapping: { ...mapping, timestampColumn: 'time' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AssayApiError);
    const apiError = err as AssayApiError;
    expect(apiError).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      error: 'Validation failed',
      method: 'POST',
    });
    expect(apiError.message).toMatch(/column mapping/);
    expect(apiError.body).toMatchObject({ Code: 'VALIDATION_FAILED', ValidationErrors: [expect.anything()] });
    expect(apiError.requestId).toMatch(/\S/);
  });

  test('AssayApiError carries status, code, error, message and body; api answers are unwrapped', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const err = (await assay.getJob(missing).catch((e: unknown) => e)) as AssayApiError;
    expect(err).toBeInstanceOf(AssayApiError);
    expect(err).toMatchObject({ status: 404, code: 'JOB_NOT_FOUND', error: 'Job not found' });
    expect(err.message).toBe((err.body as { Message: string }).Message);
    expect(err.url).toBe(`${app.url}/api/${t.tenantId}/${t.projectId}/execution/job/${missing}`);

    // The openapi-fetch client answers { data, error, response }; unwrap throws the same error.
    const result = await assay.api.GET('/api/{tenantId}/{projectId}/dataset/{datasetId}', {
      params: { path: { datasetId: missing } },
    });
    expect(result.response.status).toBe(404);
    expect(() => assay.unwrap(result)).toThrow(AssayApiError);
    try {
      assay.unwrap(result);
    } catch (e) {
      expect(e).toMatchObject({ status: 404, code: 'DATASET_NOT_FOUND', method: 'GET' });
    }
    // The tenant and project come from the client; an explicit one wins (here one that does not exist).
    const own = assay.unwrap(await assay.api.GET('/api/{tenantId}/{projectId}/datasets'));
    expect(own.datasets.map((d) => d.datasetId)).toContain(dataset.datasetId);
    const other = await assay.api.GET('/api/{tenantId}/{projectId}/datasets', {
      params: { path: { projectId: missing } },
    });
    expect(other.response.status).toBe(404);
    expect(other.error).toMatchObject({ Code: 'PROJECT_NOT_FOUND' });
  });

  test('submitJob sends an Idempotency-Key: the same key makes one job, another key another', async () => {
    const body = {
      jobName: 'Idempotent',
      jobType: 'ProcessMining' as const,
      resource: { resourceType: 'Dataset' as const, resourceId: dataset.datasetId },
      scheduling: { executeImmediately: false, scheduledTime: new Date(Date.now() + 3_600_000).toISOString() },
    };
    const before = sent.length;
    const first = await assay.submitJob(body);
    const key = sent[before].headers.get('idempotency-key');
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    const again = await assay.submitJob(body, { idempotencyKey: key! });
    expect(again.jobId).toBe(first.jobId);
    const other = await assay.submitJob(body);
    expect(other.jobId).not.toBe(first.jobId);
    expect(sent[sent.length - 1].headers.get('idempotency-key')).not.toBe(key);
    const conflict = await assay.submitJob({ ...body, jobName: 'Changed' }, { idempotencyKey: key! }).catch((e) => e);
    expect(conflict).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_REUSED' });

    // A scheduled job does not end: waitForJob gives up at its timeout, or when its signal aborts.
    await expect(assay.waitForJob(first.jobId, { timeoutMs: 400, pollIntervalMs: 100 })).rejects.toBeInstanceOf(
      AssayTimeoutError,
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop waiting')), 300);
    await expect(assay.waitForJob(first.jobId, { signal: controller.signal })).rejects.toThrow('stop waiting');
    for (const id of [first.jobId, other.jobId]) {
      await assay.api.DELETE('/api/{tenantId}/{projectId}/execution/job/{jobId}', { params: { path: { jobId: id } } });
    }
  });

  let completedJobId: string;

  test('waitForJob follows the event stream to the end of a ProcessMining job', async () => {
    const submitted = await assay.submitJob({
      jobName: 'Through the stream',
      jobType: 'ProcessMining',
      resource: { resourceType: 'Dataset', resourceId: dataset.datasetId },
    });
    const events: AssayEvent[] = [];
    const job = await assay.waitForJob(submitted.jobId, { timeoutMs: 60_000, onEvent: (e) => events.push(e) });
    expect(job).toMatchObject({ jobId: submitted.jobId, status: 'Completed' });
    const statuses = events.flatMap((e) => (e.event === 'job.status' ? [e.data.status] : []));
    expect(statuses).toContain('Running');
    expect(statuses.at(-1)).toBe('Completed');
    expect(events.some((e) => e.event === 'job.progress')).toBe(true);
    // Increasing ids; no polling of the job while the stream ran (one GET of the job at the end).
    const ids = events.map((e) => Number(e.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const gets = sent.filter((r) => r.method === 'GET' && r.url.endsWith(`/execution/job/${submitted.jobId}`));
    expect(gets).toHaveLength(1);
    completedJobId = submitted.jobId;
  }, 90_000);

  test('waitForJob falls back to polling when the stream is refused (429: the key has its one stream open)', async () => {
    const controller = new AbortController();
    // The project's stream holds the key's only place until the test aborts it.
    const watching = (async () => {
      const seen: AssayEvent[] = [];
      try {
        for await (const e of assay.watch({ project: true, types: ['job.status'] }, { signal: controller.signal })) {
          seen.push(e);
        }
      } catch (err) {
        if (!controller.signal.aborted) throw err;
      }
      return seen;
    })();
    await new Promise((r) => setTimeout(r, 300));
    const submitted = await assay.submitJob({
      jobName: 'Through polling',
      jobType: 'ProcessMining',
      resource: { resourceType: 'Dataset', resourceId: dataset.datasetId },
    });
    const before = sent.length;
    const events: AssayEvent[] = [];
    const job = await assay.waitForJob(submitted.jobId, {
      timeoutMs: 60_000,
      pollIntervalMs: 200,
      onEvent: (e) => events.push(e),
    });
    expect(job).toMatchObject({ jobId: submitted.jobId, status: 'Completed' });
    expect(events).toEqual([]);
    const after = sent.slice(before);
    expect(after[0].url).toMatch(/\/events$/);
    expect(after.filter((r) => r.url.endsWith(`/execution/job/${submitted.jobId}`)).length).toBeGreaterThanOrEqual(1);
    controller.abort();
    // The project stream saw the job's statuses meanwhile.
    const seen = await watching;
    expect(
      seen.flatMap((e) => (e.event === 'job.status' && e.data.jobId === submitted.jobId ? [e.data.status] : [])),
    ).toEqual(expect.arrayContaining(['Queued', 'Running', 'Completed']));
    // Its place is freed for the next stream (released when the server sees the close).
    await new Promise((r) => setTimeout(r, 300));
  }, 90_000);

  test('downloadArtifact streams to disk, resumes a .part with Range byte-identically, and checks the sha256', async () => {
    const results = assay.unwrap(
      await assay.api.GET('/api/{tenantId}/{projectId}/execution/job/{jobId}/results', {
        params: { path: { jobId: completedJobId } },
      }),
    );
    const outputs = [results.results.primaryOutput!, ...results.results.additionalOutputs];
    const report = outputs.find((o) => o.format === 'html') ?? outputs[0];
    const whole = Buffer.from(
      await (await fetch(report.downloadUrl, { headers: { Authorization: `Bearer ${t.token}` } })).arrayBuffer(),
    );
    expect(whole.length).toBeGreaterThan(1000);
    const sha = createHash('sha256').update(whole).digest('hex');
    expect(report.sha256).toBe(sha);

    // Fresh.
    const dest = path.join(tmp, 'report.html');
    const progress: number[] = [];
    const fresh = await assay.downloadArtifact(report.downloadUrl, dest, { onProgress: (b) => progress.push(b) });
    expect(fresh).toMatchObject({ path: dest, bytes: whole.length, sha256: sha, resumedFrom: 0 });
    expect(fs.readFileSync(dest).equals(whole)).toBe(true);
    expect(progress.at(-1)).toBe(whole.length);
    expect(fs.existsSync(`${dest}.part`)).toBe(false);

    // Resumed from the first half left by an interrupted download.
    const resumedDest = path.join(tmp, 'resumed.html');
    const half = Math.floor(whole.length / 2);
    fs.writeFileSync(`${resumedDest}.part`, whole.subarray(0, half));
    const before = sent.length;
    const artifactId = report.downloadUrl.split('/').at(-1)!;
    const resumed = await assay.downloadArtifact(artifactId, resumedDest);
    expect(resumed).toMatchObject({ bytes: whole.length, sha256: sha, resumedFrom: half });
    expect(fs.readFileSync(resumedDest).equals(whole)).toBe(true);
    const ranged = sent.slice(before);
    expect(ranged).toHaveLength(1);
    expect(ranged[0].headers.get('range')).toBe(`bytes=${half}-`);

    // A part that is already whole: the server answers 416, the part is checked and kept.
    const wholeDest = path.join(tmp, 'whole.html');
    fs.writeFileSync(`${wholeDest}.part`, whole);
    expect(await assay.downloadArtifact(artifactId, wholeDest)).toMatchObject({ bytes: whole.length, sha256: sha });
    expect(fs.readFileSync(wholeDest).equals(whole)).toBe(true);

    // A part with wrong bytes: the sha256 does not match, so it is downloaded again from the start.
    const badDest = path.join(tmp, 'bad.html');
    fs.writeFileSync(`${badDest}.part`, Buffer.alloc(half, 0x21));
    const repaired = await assay.downloadArtifact(artifactId, badDest);
    expect(repaired).toMatchObject({ bytes: whole.length, sha256: sha, resumedFrom: 0 });
    expect(fs.readFileSync(badDest).equals(whole)).toBe(true);

    // Another server's URL is refused before any request: the key goes to its own server only.
    await expect(assay.downloadArtifact(`http://elsewhere.example/${artifactId}`, badDest)).rejects.toThrow(
      /not under/,
    );
  }, 60_000);

  test('a notebook: blocks, execute, watch its events and waitForExecution, then its results', async () => {
    const investigation = assay.unwrap(
      await assay.api.POST('/api/{tenantId}/{projectId}/investigation', {
        body: { name: 'Client investigation', datasetId: dataset.datasetId },
      }),
    );
    const notebook = assay.unwrap(
      await assay.api.POST('/api/{tenantId}/{projectId}/notebook/investigation/{investigationId}', {
        params: { path: { investigationId: investigation.investigationId } },
        body: { name: 'Client notebook', notebookType: 0 },
      }),
    );
    const blocks = [];
    for (const [title, configuration] of [
      ['Summary', '{"calculatorType":"summary"}'],
      ['Variants', '{"calculatorType":"variants"}'],
    ]) {
      blocks.push(
        assay.unwrap(
          await assay.api.POST('/api/{tenantId}/{projectId}/notebook/{notebookId}/blocks', {
            params: { path: { notebookId: notebook.notebookId } },
            body: { blockType: 'Calculator', blockTitle: title, configuration },
          }),
        ),
      );
    }
    const accepted = assay.unwrap(
      await assay.api.POST('/api/{tenantId}/{projectId}/notebook/{notebookId}/execute', {
        params: { path: { notebookId: notebook.notebookId } },
        body: { executionMode: 'all' },
      }),
    );
    const events: AssayEvent[] = [];
    for await (const e of assay.watch({ notebookId: notebook.notebookId, executionId: accepted.executionId })) {
      events.push(e);
    }
    // The stream ended by itself, after the job's last status.
    const completed = events.flatMap((e) => (e.event === 'block.completed' ? [e.data] : []));
    expect(completed.map((b) => b.blockId)).toEqual(blocks.map((b) => b.blockId));
    expect(events.find((e) => e.event === 'execution.status' && e.data.status === 'Completed')).toBeDefined();
    expect(events.at(-1)).toMatchObject({ event: 'job.status', data: { status: 'Completed' } });

    // An ended execution's stream replays and closes: waitForExecution answers at once.
    const replayed: AssayEvent[] = [];
    const execution = await assay.waitForExecution(notebook.notebookId, accepted.executionId, {
      timeoutMs: 30_000,
      onEvent: (e) => replayed.push(e),
    });
    expect(execution).toMatchObject({ executionId: accepted.executionId, status: 'Completed' });
    expect(replayed.length).toBeGreaterThan(0);
    // watch after an event id starts after it.
    const later: AssayEvent[] = [];
    for await (const e of assay.watch(
      { notebookId: notebook.notebookId, executionId: accepted.executionId },
      { after: events[1].id },
    )) {
      later.push(e);
    }
    expect(later.map((e) => e.id)).toEqual(events.slice(2).map((e) => e.id));

    const results = assay.unwrap(
      await assay.api.GET('/api/{tenantId}/{projectId}/notebook/{notebookId}/execution/{executionId}/results', {
        params: { path: { notebookId: notebook.notebookId, executionId: accepted.executionId } },
      }),
    );
    expect(JSON.stringify(results)).toContain(blocks[1].blockId);
  }, 90_000);

  test('paginate walks every page of a list, with its filters', async () => {
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const inv = assay.unwrap(
        await assay.api.POST('/api/{tenantId}/{projectId}/investigation', {
          body: { name: `Paged ${i}`, datasetId: dataset.datasetId },
        }),
      );
      created.push(inv.investigationId);
    }
    const before = sent.length;
    const seen: string[] = [];
    for await (const inv of assay.paginate('/api/{tenantId}/{projectId}/investigations', { pageSize: 2 })) {
      seen.push(inv.investigationId);
    }
    // Six investigations (one from the notebook test): three pages of two, no duplicates.
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    expect(seen).toEqual(expect.arrayContaining(created));
    const pages = sent.slice(before).map((r) => new URL(r.url).searchParams);
    expect(pages.map((q) => [q.get('page'), q.get('pageSize')])).toEqual([
      ['1', '2'],
      ['2', '2'],
      ['3', '2'],
    ]);

    const completed: string[] = [];
    for await (const job of assay.paginate('/api/{tenantId}/{projectId}/execution/jobs', {
      params: { query: { status: 'Completed' } },
      pageSize: 1,
    })) {
      expect(job.status).toBe('Completed');
      completed.push(job.jobId);
    }
    expect(completed).toEqual(expect.arrayContaining([completedJobId]));
    // An empty list ends at once.
    const none = [];
    for await (const job of assay.paginate('/api/{tenantId}/{projectId}/execution/jobs', {
      params: { query: { jobType: 'DataEnrichment' } },
    })) {
      none.push(job);
    }
    expect(none).toEqual([]);
  }, 60_000);
});
