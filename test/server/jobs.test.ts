import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { sharedDataFile } from '../support/shared-data';
import {
  base,
  eventually,
  newInvestigation,
  startTestApp,
  stores,
  waitForJob,
  type Tenant,
  type TestApp,
} from './harness';

const reference = JSON.parse(fs.readFileSync(sharedDataFile('running-example.reference.json'), 'utf8')) as {
  cases: number;
  events: number;
  activities: number;
  variants: number;
  dfg_edges: number;
  dfg_total_transitions: number;
  case_duration_s: { mean: number; median: number; min: number; max: number };
};

/** A local SMTP server that keeps what it receives. */
async function startMailbox() {
  const mails: { to: string[]; raw: string }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as { port: number };
  return { mails, url: `smtp://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe.each(stores)('jobs with real work on %s', (store) => {
  let app: TestApp;
  let mailbox: Awaited<ReturnType<typeof startMailbox>>;
  let t: Tenant;
  let datasetId: string;
  let investigationId: string;
  const submit = (body: Record<string, unknown>, headers: Record<string, string> = {}, tenant = t) =>
    app.call('POST', `${base(tenant)}/execution/job`, { token: tenant.token, body, headers });
  const download = (url: string) => app.call('GET', url.slice(app.url.length), { token: t.token });

  beforeAll(async () => {
    mailbox = await startMailbox();
    app = await startTestApp(store, { SMTP_URL: mailbox.url, SMTP_FROM: 'assay@example.test' });
    t = await app.newTenant();
    ({ datasetId, investigationId } = await newInvestigation(app, t));
  }, 60_000);
  afterAll(async () => {
    await app.close();
    await mailbox.close();
  });

  test('ProcessMining: an HTML report, the process map, metrics equal to the reference, an enriched CSV; all downloadable', async () => {
    const res = await submit({
      jobName: 'Weekly Process Analysis',
      jobType: 'ProcessMining',
      priority: 'High',
      resource: { resourceType: 'Investigation', resourceId: investigationId },
      parameters: { analysisType: 'comprehensive' },
      notifications: { onCompletion: true, emailRecipients: ['analyst@example.test'] },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`${app.url}${base(t)}/execution/job/${res.body.jobId}`);
    expect(res.body).toMatchObject({ jobType: 'ProcessMining', priority: 'High', jobName: 'Weekly Process Analysis' });
    const job = await waitForJob(app, t, res.body.jobId);
    expect(job).toMatchObject({
      status: 'Completed',
      statusReason: null,
      progress: { percentage: 100, currentStage: 'Completed' },
      resource: { resourceType: 'Investigation', resourceId: investigationId, resourceName: 'Investigation' },
      metrics: { recordsProcessed: reference.events, totalRecords: reference.events, errorCount: 0 },
      execution: { executionNode: app.worker.id },
    });
    expect(job.progress.elapsedSeconds).toBeGreaterThan(0);

    const results = await app.call('GET', `${base(t)}/execution/job/${job.jobId}/results?format=detailed`, {
      token: t.token,
    });
    expect(results.status).toBe(200);
    expect(results.body).toMatchObject({
      status: 'Completed',
      success: true,
      summary: { recordsProcessed: reference.events, outputsGenerated: 4, dataQualityScore: 100 },
      qualityMetrics: { dataValidation: { totalRecords: reference.events, validRecords: reference.events } },
    });
    const { primaryOutput, additionalOutputs } = results.body.results;
    expect(primaryOutput).toMatchObject({ type: 'ProcessMiningReport', format: 'html' });
    expect(additionalOutputs.map((o: { type: string }) => o.type)).toEqual([
      'ProcessMap',
      'Metrics',
      'EnrichedDataset',
    ]);

    const report = await download(primaryOutput.downloadUrl);
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toContain('text/html');
    expect(report.headers.get('content-disposition')).toContain('report.html');
    expect(report.text).toContain('<svg');
    expect(report.text).toContain('register request');
    expect(Buffer.byteLength(report.text)).toBe(primaryOutput.sizeBytes);
    expect(createHash('sha256').update(report.text).digest('hex')).toBe(primaryOutput.sha256);
    const part = await app.call('GET', primaryOutput.downloadUrl.slice(app.url.length), {
      token: t.token,
      headers: { Range: 'bytes=0-14' },
    });
    expect(part.status).toBe(206);
    expect(part.text).toBe('<!DOCTYPE html>');

    const metrics = JSON.parse((await download(additionalOutputs[1].downloadUrl)).text);
    expect(metrics.summary).toMatchObject({
      caseCount: reference.cases,
      eventCount: reference.events,
      activityCount: reference.activities,
      variantCount: reference.variants,
    });
    expect(metrics.processMap.edges).toHaveLength(reference.dfg_edges);
    expect(metrics.processMap.edges.reduce((n: number, e: { count: number }) => n + e.count, 0)).toBe(
      reference.dfg_total_transitions,
    );
    expect(metrics.throughputTime).toMatchObject({
      meanSeconds: reference.case_duration_s.mean,
      medianSeconds: reference.case_duration_s.median,
    });

    const svg = await download(additionalOutputs[0].downloadUrl);
    expect(svg.headers.get('content-type')).toContain('image/svg+xml');
    const csv = (await download(additionalOutputs[2].downloadUrl)).text.trim().split('\n');
    expect(csv).toHaveLength(reference.events + 1);
    for (const column of [
      'case:duration_seconds',
      'case:variant_id',
      'case:variant_rank',
      'case:event_count',
      'case:has_rework',
    ])
      expect(csv[0]).toContain(column);

    // Another tenant cannot read the job, its results or its files.
    const other = await app.newTenant();
    const foreign = await app.call('GET', `${base(other)}/execution/job/${job.jobId}`, { token: other.token });
    expect(foreign.status).toBe(404);
    const foreignFile = await app.call('GET', `${base(other)}/artifact/${primaryOutput.downloadUrl.split('/').pop()}`, {
      token: other.token,
    });
    expect(foreignFile.status).toBe(404);

    // onCompletion mailed the recipient through SMTP and recorded it.
    const mail = await eventually(
      'the completion mail',
      async () => mailbox.mails.find((m) => m.raw.includes('Weekly Process Analysis')),
      10_000,
    );
    expect(mail.to).toEqual(['analyst@example.test']);
    expect(mail.raw).toContain('Subject: [Assay] Weekly Process Analysis: Completed');
    const notified = await eventually('the notification record', async () => {
      const j = (await app.call('GET', `${base(t)}/execution/job/${job.jobId}`, { token: t.token })).body;
      return j.notificationLog.length > 0 ? j.notificationLog : undefined;
    });
    expect(notified).toEqual([
      expect.objectContaining({ event: 'onCompletion', recipients: ['analyst@example.test'], sent: true }),
    ]);
  });

  test('DataEnrichment: the dataset with per-case columns becomes a new downloadable dataset', async () => {
    const res = await submit({
      jobName: 'Enrich',
      jobType: 'DataEnrichment',
      resource: { resourceType: 'Dataset', resourceId: datasetId },
    });
    const job = await waitForJob(app, t, res.body.jobId);
    expect(job.status).toBe('Completed');
    const results = await app.call('GET', `${base(t)}/execution/job/${job.jobId}/results`, { token: t.token });
    const output = results.body.results.primaryOutput;
    expect(output).toMatchObject({ type: 'EnrichedDataset', format: 'csv', recordCount: reference.events });
    const dataset = await app.call('GET', `${base(t)}/dataset/${output.datasetId}`, { token: t.token });
    expect(dataset.body).toMatchObject({ caseCount: reference.cases, eventCount: reference.events, status: 'Ready' });
    const names = dataset.body.attributes.map((a: { name: string }) => a.name);
    expect(names).toEqual(expect.arrayContaining(['case:duration_seconds', 'case:variant_rank', 'case:has_rework']));
    const durations = dataset.body.attributes.find((a: { name: string }) => a.name === 'case:duration_seconds');
    expect(durations).toMatchObject({ scope: 'case', dataType: 'number' });
    const csv = await download(output.downloadUrl);
    expect(csv.status).toBe(200);
    const lines = csv.text.trim().split('\n');
    expect(lines).toHaveLength(reference.events + 1);
    // Case 3 of the running example takes 1576440 s, the longest case.
    const header = lines[0].split(',');
    const durationIndex = header.indexOf('case:duration_seconds');
    const maxDuration = Math.max(...lines.slice(1).map((l) => Number(l.split(',')[durationIndex])));
    expect(maxDuration).toBe(reference.case_duration_s.max);
  });

  test('Analysis of a Pipeline runs every standard notebook of the investigation in notebookOrder', async () => {
    const names = ['First', 'Second'];
    const notebooks = [];
    for (const name of names) {
      const nb = await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
        token: t.token,
        body: { name },
      });
      await app.call('POST', `${base(t)}/notebook/${nb.body.notebookId}/blocks`, {
        token: t.token,
        body: { blockType: 'Calculator', blockTitle: 'Summary', configuration: { calculatorType: 'summary' } },
      });
      notebooks.push(nb.body.notebookId);
    }
    const res = await submit({
      jobName: 'Pipeline',
      jobType: 'Analysis',
      resource: { resourceType: 'Pipeline', resourceId: investigationId },
    });
    const job = await waitForJob(app, t, res.body.jobId);
    expect(job.status).toBe('Completed');
    const results = await app.call('GET', `${base(t)}/execution/job/${job.jobId}/results`, { token: t.token });
    const runs = JSON.parse((await download(results.body.results.primaryOutput.downloadUrl)).text).executions;
    expect(runs.map((r: { name: string; status: string }) => [r.name, r.status])).toEqual([
      ['First', 'Completed'],
      ['Second', 'Completed'],
    ]);
    const execution = await app.call('GET', `${base(t)}/notebook/${notebooks[1]}/execution/${runs[1].executionId}`, {
      token: t.token,
    });
    expect(execution.body).toMatchObject({ jobId: job.jobId, status: 'Completed', progress: { completedCells: 1 } });
  });

  test('a job that fails records why, and onFailure is recorded even when it cannot be mailed', async () => {
    const res = await submit({
      jobName: 'Broken window',
      jobType: 'ProcessMining',
      resource: { resourceType: 'Dataset', resourceId: datasetId },
      parameters: { timeWindow: { startDate: 'not a date' } },
      notifications: { onFailure: true },
    });
    const job = await waitForJob(app, t, res.body.jobId);
    expect(job.status).toBe('Failed');
    expect(job.statusReason).toBeTruthy();
    expect(job.error.message).toBe(job.statusReason);
    const notified = await eventually('the failure record', async () => {
      const j = (await app.call('GET', `${base(t)}/execution/job/${job.jobId}`, { token: t.token })).body;
      return j.notificationLog.length > 0 ? j.notificationLog : undefined;
    });
    expect(notified).toEqual([
      expect.objectContaining({ event: 'onFailure', sent: false, detail: 'No emailRecipients were given.' }),
    ]);
    const results = await app.call('GET', `${base(t)}/execution/job/${job.jobId}/results?format=detailed`, {
      token: t.token,
    });
    expect(results.body).toMatchObject({ success: false, status: 'Failed' });
    expect(results.body.qualityMetrics.processingErrors).toHaveLength(1);
  });

  test('unknown, foreign or unsuitable resources are refused at submit, and nothing is queued', async () => {
    const before = (await app.call('GET', `${base(t)}/execution/jobs`, { token: t.token })).body.summary.totalJobs;
    const other = await app.newTenant();
    const { datasetId: foreignDataset } = await newInvestigation(app, other);
    const unknown = '00000000-0000-4000-8000-000000000000';
    const cases: [Record<string, unknown>, number, string][] = [
      [{ jobType: 'ProcessMining', resource: { resourceType: 'Dataset', resourceId: unknown } }, 404, 'DatasetId'],
      [
        { jobType: 'ProcessMining', resource: { resourceType: 'Dataset', resourceId: foreignDataset } },
        404,
        'DatasetId',
      ],
      [{ jobType: 'Analysis', resource: { resourceType: 'Pipeline', resourceId: unknown } }, 404, 'InvestigationId'],
      [{ jobType: 'Analysis', resource: { resourceType: 'Dataset', resourceId: datasetId } }, 400, 'ValidationErrors'],
      [
        {
          jobType: 'ProcessMining',
          resource: { resourceType: 'Dataset', resourceId: datasetId },
          parameters: { datasetId: foreignDataset },
        },
        404,
        'DatasetId',
      ],
      [{ jobType: 'Sorcery', resource: { resourceType: 'Dataset', resourceId: datasetId } }, 400, 'ValidationErrors'],
    ];
    for (const [body, status, key] of cases) {
      const res = await submit({ jobName: 'Refused', ...body });
      expect([res.status, Object.keys(res.body)]).toEqual([status, expect.arrayContaining([key])]);
    }
    const jupyter = await app.call('POST', `${base(t)}/notebook`, {
      token: t.token,
      body: { notebookName: 'J', initialCells: [{ cellType: 'code', content: 'limit = 5', tags: ['parameters'] }] },
    });
    const wrongType = await submit({
      jobName: 'Kernel',
      jobType: 'Analysis',
      resource: { resourceType: 'Notebook', resourceId: jupyter.body.notebookId },
    });
    expect(wrongType.status).toBe(400);
    const badParameter = await submit({
      jobName: 'Kernel',
      jobType: 'Notebook',
      resource: { resourceType: 'Notebook', resourceId: jupyter.body.notebookId },
      parameters: { limit: 'five', other: 1 },
    });
    expect(badParameter.status).toBe(400);
    expect(badParameter.body.ValidationErrors.map((e: { Field: string }) => e.Field).sort()).toEqual([
      'body.parameters.limit',
      'body.parameters.other',
    ]);
    const after = (await app.call('GET', `${base(t)}/execution/jobs`, { token: t.token })).body.summary.totalJobs;
    expect(after).toBe(before);
  });

  test('the same Idempotency-Key returns the same job; with another body it answers 409', async () => {
    const body = {
      jobName: 'Once',
      jobType: 'DataEnrichment',
      resource: { resourceType: 'Dataset', resourceId: datasetId },
    };
    const key = { 'Idempotency-Key': `key-${Date.now()}` };
    const [first, second] = await Promise.all([submit(body, key), submit(body, key)]);
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.jobId).toBe(first.body.jobId);
    const third = await submit(body, key);
    expect(third.body.jobId).toBe(first.body.jobId);
    const conflict = await submit({ ...body, jobName: 'Twice' }, key);
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ Error: 'Idempotency key reused', JobId: first.body.jobId });
    const listed = await app.call('GET', `${base(t)}/execution/jobs?jobType=DataEnrichment&pageSize=100`, {
      token: t.token,
    });
    expect(listed.body.jobs.filter((j: { jobName: string }) => j.jobName === 'Once')).toHaveLength(1);
    await waitForJob(app, t, first.body.jobId);
  });

  test('the job list filters and pages with counts over all matching jobs', async () => {
    const all = await app.call('GET', `${base(t)}/execution/jobs?pageSize=2`, { token: t.token });
    expect(all.status).toBe(200);
    expect(all.body.jobs).toHaveLength(2);
    expect(all.body).toMatchObject({ page: 1, pageSize: 2, hasNextPage: true });
    const { summary } = all.body;
    expect(summary.totalJobs).toBe(
      summary.runningJobs + summary.queuedJobs + summary.completedJobs + summary.failedJobs + summary.cancelledJobs,
    );
    const failed = await app.call('GET', `${base(t)}/execution/jobs?status=Failed`, { token: t.token });
    expect(failed.body.jobs.every((j: { status: string }) => j.status === 'Failed')).toBe(true);
    expect(failed.body.totalCount).toBe(summary.failedJobs);
    const byType = await app.call('GET', `${base(t)}/execution/jobs?jobType=ProcessMining&priority=High`, {
      token: t.token,
    });
    expect(byType.body.jobs.map((j: { jobName: string }) => j.jobName)).toEqual(['Weekly Process Analysis']);
    expect(byType.body.jobs[0]).toMatchObject({ status: 'Completed', progress: 100, resourceName: 'Investigation' });
    expect(byType.body.jobs[0].durationSeconds).toBeGreaterThan(0);
    const future = await app.call('GET', `${base(t)}/execution/jobs?dateFrom=2999-01-01T00:00:00Z`, { token: t.token });
    expect(future.body.jobs).toEqual([]);
    const bad = await app.call('GET', `${base(t)}/execution/jobs?status=Sleeping`, { token: t.token });
    expect(bad.status).toBe(400);
  });

  test('the system status shows this worker with live figures, and the queue and day of this tenant', async () => {
    const res = await app.call('GET', `/api/${t.tenantId}/execution/system/status`, { token: t.token });
    expect(res.status).toBe(200);
    expect(res.body.systemStatus).toBe('Healthy');
    const node = res.body.executionNodes.find((n: { nodeId: string }) => n.nodeId === app.worker.id);
    expect(node).toMatchObject({ status: 'Active', jobCapacity: 2, pid: process.pid });
    expect(node.memoryUsage).toBeGreaterThan(0);
    expect(res.body.performanceMetrics.jobsCompletedToday).toBeGreaterThanOrEqual(4);
    expect(res.body.performanceMetrics.successRate).toBeGreaterThan(0);
    expect(res.body.performanceMetrics.successRate).toBeLessThan(100); // one job failed on purpose
    expect(res.body.queueStatistics.totalQueuedJobs).toBe(0);
    expect(res.body.resourceUtilization.diskSpaceAvailableBytes).toBeGreaterThan(0);
    // A worker that stopped heartbeating is shown Inactive after 30 seconds.
    await app.db.query(
      `INSERT INTO workers (id, hostname, pid, capacity, started_at, heartbeat_at) VALUES ('gone', 'h', 1, 4, now(), now() - interval '31 seconds')`,
    );
    const later = await app.call('GET', `/api/${t.tenantId}/execution/system/status`, { token: t.token });
    expect(later.body.executionNodes.find((n: { nodeId: string }) => n.nodeId === 'gone').status).toBe('Inactive');
    // Another tenant sees the shared workers but none of this tenant's jobs.
    const other = await app.newTenant();
    const theirs = await app.call('GET', `/api/${other.tenantId}/execution/system/status`, { token: other.token });
    expect(theirs.body.performanceMetrics.jobsCompletedToday).toBe(0);
  });

  test('a project with queued or running jobs cannot be deleted (409)', async () => {
    const p = await app.call('POST', `/api/${t.tenantId}/project`, { token: t.token, body: { name: 'Busy' } });
    const tp = { ...t, projectId: p.body.projectId };
    const { datasetId: ds } = await newInvestigation(app, tp);
    const queued = await submit(
      {
        jobName: 'Later',
        jobType: 'ProcessMining',
        resource: { resourceType: 'Dataset', resourceId: ds },
        scheduling: { executeImmediately: false, scheduledTime: new Date(Date.now() + 3_600_000).toISOString() },
      },
      {},
      tp,
    );
    const refused = await app.call('DELETE', `/api/${t.tenantId}/project/${tp.projectId}`, { token: t.token });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ Error: 'Project has active jobs', ProjectId: tp.projectId });
    await app.call('DELETE', `${base(tp)}/execution/job/${queued.body.jobId}`, { token: t.token, body: {} });
    const deleted = await app.call('DELETE', `/api/${t.tenantId}/project/${tp.projectId}`, { token: t.token });
    expect(deleted.status).toBe(204);
    expect(fs.existsSync(path.join(app.config.dataDir, 'datasets', ds))).toBe(false);
  });

  test('a notebook with scheduleExecution is executed on its cron as system, until the schedule is cleared', async () => {
    const nb = await app.call('POST', `${base(t)}/notebook/investigation/${investigationId}`, {
      token: t.token,
      body: { name: 'Nightly' },
    });
    const id = nb.body.notebookId;
    await app.call('POST', `${base(t)}/notebook/${id}/blocks`, {
      token: t.token,
      body: { blockType: 'Calculator', blockTitle: 'Summary', configuration: { calculatorType: 'summary' } },
    });
    const bad = await app.call('PUT', `${base(t)}/notebook/${id}`, {
      token: t.token,
      body: { name: 'Nightly', scheduleExecution: 'every night' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.ValidationErrors[0].Field).toBe('body.scheduleExecution');
    // Every two seconds (six fields, seconds first), so the test need not wait for a minute.
    const set = await app.call('PUT', `${base(t)}/notebook/${id}`, {
      token: t.token,
      body: { name: 'Nightly', scheduleExecution: '*/2 * * * * *' },
    });
    expect(set.status).toBe(200);
    expect(set.body.scheduleExecution).toBe('*/2 * * * * *');
    const scheduled = async () =>
      (
        await app.call('GET', `${base(t)}/execution/jobs?submittedBy=system&jobType=Analysis&pageSize=100`, {
          token: t.token,
        })
      ).body.jobs.filter((j: { jobName: string }) => j.jobName === 'Scheduled: Nightly');
    const first = await eventually(
      'a scheduled run',
      async () => {
        const jobs = await scheduled();
        return jobs.find((j: { status: string }) => j.status === 'Completed');
      },
      25_000,
      250,
    );
    expect(first).toMatchObject({ submittedBy: 'system', resourceName: 'Nightly' });
    const cleared = await app.call('PUT', `${base(t)}/notebook/${id}`, {
      token: t.token,
      body: { name: 'Nightly', scheduleExecution: null },
    });
    expect(cleared.body.scheduleExecution).toBeNull();
    await new Promise((r) => setTimeout(r, 3_000));
    const settled = (await scheduled()).length;
    await new Promise((r) => setTimeout(r, 5_000));
    expect((await scheduled()).length).toBe(settled);
  }, 60_000);
});
