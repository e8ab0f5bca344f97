// The seed pages' flows with the built client alone (client/dist): upload an event log, create a
// notebook with blocks, execute it and read its results; submit a job, wait for it and download its
// artifacts, each checked against its sha256.
//
//   npm run build:client
//   ASSAY_URL=http://127.0.0.1:3000 ASSAY_TOKEN=... ASSAY_TENANT=... ASSAY_PROJECT=... \
//     node client/examples/seed-flows.mjs path/to/log.csv [out-dir]
//
// Without ASSAY_TOKEN it reads data/bootstrap.json (what `npm start` wrote). A CSV's columns are
// case_id, activity, timestamp and resource unless ASSAY_CASE_COLUMN, ASSAY_ACTIVITY_COLUMN,
// ASSAY_TIMESTAMP_COLUMN and ASSAY_RESOURCE_COLUMN name others; an XES needs none. It prints one
// JSON object with what it did; progress goes to standard error.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAssayClient } from '../dist/esm/index.js';

const [logFile, outDir = path.join(process.cwd(), 'seed-flows-out')] = process.argv.slice(2);
if (!logFile) {
  console.error('usage: node client/examples/seed-flows.mjs LOG.csv [OUT_DIR]');
  process.exit(2);
}

function credentials() {
  if (process.env.ASSAY_TOKEN) {
    return {
      baseUrl: process.env.ASSAY_URL ?? 'http://127.0.0.1:3000',
      token: process.env.ASSAY_TOKEN,
      tenantId: process.env.ASSAY_TENANT,
      projectId: process.env.ASSAY_PROJECT,
    };
  }
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const boot = JSON.parse(readFileSync(path.join(root, 'data', 'bootstrap.json'), 'utf8'));
  return { baseUrl: process.env.ASSAY_URL ?? 'http://127.0.0.1:3000', ...boot };
}

const assay = createAssayClient({ ...credentials(), userAgent: 'assay-seed-flows' });
const log = (message) => process.stderr.write(`${message}\n`);

// 1. The event log.
const dataset = await assay.uploadDataset({
  file: logFile,
  mapping: {
    caseColumn: process.env.ASSAY_CASE_COLUMN ?? 'case_id',
    activityColumn: process.env.ASSAY_ACTIVITY_COLUMN ?? 'activity',
    timestampColumn: process.env.ASSAY_TIMESTAMP_COLUMN ?? 'timestamp',
    resourceColumn: process.env.ASSAY_RESOURCE_COLUMN ?? 'resource',
  },
  onProgress: (sent, total) => log(`upload ${sent}/${total ?? '?'} bytes`),
});
log(`dataset ${dataset.datasetId}: ${dataset.caseCount} cases, ${dataset.eventCount} events`);

// 2. A notebook of blocks in an investigation (pages 003 and 004), executed, and its results.
const investigation = assay.unwrap(
  await assay.api.POST('/api/{tenantId}/{projectId}/investigation', {
    body: { name: 'Seed flows', datasetId: dataset.datasetId },
  }),
);
const notebook = assay.unwrap(
  await assay.api.POST('/api/{tenantId}/{projectId}/notebook/investigation/{investigationId}', {
    params: { path: { investigationId: investigation.investigationId } },
    body: { name: 'Seed flows notebook', description: 'Made by client/examples/seed-flows.mjs', notebookType: 0 },
  }),
);
const blocks = [];
for (const [blockType, blockTitle, configuration] of [
  ['Filter', 'Date range', '{"filterType":"dateRange","startDate":"2000-01-01"}'],
  ['Calculator', 'Summary', '{"calculatorType":"summary"}'],
  ['Calculator', 'Variants', '{"calculatorType":"variants"}'],
]) {
  const block = assay.unwrap(
    await assay.api.POST('/api/{tenantId}/{projectId}/notebook/{notebookId}/blocks', {
      params: { path: { notebookId: notebook.notebookId } },
      body: { blockType, blockTitle, configuration },
    }),
  );
  blocks.push(block.blockId);
}
const accepted = assay.unwrap(
  await assay.api.POST('/api/{tenantId}/{projectId}/notebook/{notebookId}/execute', {
    params: { path: { notebookId: notebook.notebookId } },
    body: { executionMode: 'all' },
  }),
);
const execution = await assay.waitForExecution(notebook.notebookId, accepted.executionId, {
  timeoutMs: 120_000,
  onEvent: (event) => {
    if (event.event === 'block.completed') log(`block ${event.data.blockId} done`);
  },
});
const executionResults = assay.unwrap(
  await assay.api.GET('/api/{tenantId}/{projectId}/notebook/{notebookId}/execution/{executionId}/results', {
    params: { path: { notebookId: notebook.notebookId, executionId: accepted.executionId } },
  }),
);

// 3. A ProcessMining job (page 002), waited for, and its artifacts downloaded.
const submitted = await assay.submitJob({
  jobName: 'Seed flows analysis',
  jobType: 'ProcessMining',
  priority: 'High',
  resource: { resourceType: 'Dataset', resourceId: dataset.datasetId },
});
const job = await assay.waitForJob(submitted.jobId, {
  timeoutMs: 120_000,
  onEvent: (event) => {
    if (event.event === 'job.progress') log(`job ${event.data.percentage}% ${event.data.stage}`);
  },
});
const jobResults = assay.unwrap(
  await assay.api.GET('/api/{tenantId}/{projectId}/execution/job/{jobId}/results', {
    params: { path: { jobId: submitted.jobId } },
  }),
);
await mkdir(outDir, { recursive: true });
const downloads = [];
const outputs = [jobResults.results.primaryOutput, ...jobResults.results.additionalOutputs].filter(Boolean);
for (const [i, output] of outputs.entries()) {
  const dest = path.join(outDir, `${i}-${output.title.replace(/[^\w.-]+/g, '_')}.${output.format}`);
  const saved = await assay.downloadArtifact(output.downloadUrl, dest);
  if (saved.sha256 !== output.sha256)
    throw new Error(`${dest}: sha256 ${saved.sha256}, the results say ${output.sha256}`);
  downloads.push({ ...saved, title: output.title, format: output.format });
}

// 4. Every job of the project, page by page.
let jobCount = 0;
for await (const _ of assay.paginate('/api/{tenantId}/{projectId}/execution/jobs', { pageSize: 10 })) jobCount++;

console.log(
  JSON.stringify(
    {
      datasetId: dataset.datasetId,
      caseCount: dataset.caseCount,
      notebookId: notebook.notebookId,
      blockIds: blocks,
      execution: { executionId: execution.executionId, status: execution.status },
      executionResults,
      job: { jobId: job.jobId, status: job.status },
      downloads,
      jobCount,
    },
    null,
    2,
  ),
);
