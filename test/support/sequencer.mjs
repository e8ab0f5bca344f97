// The order jest starts the test files in: the slowest first, so that two workers finish together
// instead of one running a long file alone at the end.
//
// jest orders by the durations of the last run, kept in its cache; a fresh clone (CI) has none,
// and jest then orders by file size, which starts the end-to-end and readiness files (short
// files, long waits) last. FILE_SECONDS stands in for the cache where it has nothing: the seconds
// each slow file took in a full run on the 2-core machine; the files not listed (under 10 s each)
// come last. Refresh it from `jest --json --outputFile=...` when a file's place in the order changes.
import path from 'node:path';
import testSequencer from '@jest/test-sequencer';

// A CommonJS module whose default export is the class.
const Sequencer = testSequencer.default;

const FILE_SECONDS = {
  'test/server/sandbox.test.ts': 112,
  'test/server/contract-fuzz.test.ts': 72,
  'test/server/upload-limits.test.ts': 70,
  'test/server/process-map.test.ts': 70,
  'test/e2e/worker-fault.test.ts': 70,
  'test/e2e/seed-pages.test.ts': 70,
  'test/server/notebook-page.test.ts': 69,
  'test/server/jupyter.test.ts': 67,
  'test/e2e/restart.test.ts': 60,
  'test/docs/notebook-page.test.ts': 60,
  'test/contract/code-samples.test.ts': 58,
  'test/server/job-control.test.ts': 58,
  'test/server/every-operation.test.ts': 51,
  'test/server/block-results.test.ts': 49,
  'test/server/jobs.test.ts': 48,
  'test/server/storage-quota.test.ts': 47,
  'test/server/blocks.test.ts': 46,
  'test/server/models.test.ts': 45,
  'test/server/quotas.test.ts': 45,
  'test/server/path-ids.test.ts': 45,
  'test/server/readiness.test.ts': 44,
  'test/server/model-blocks.test.ts': 43,
  'test/server/error-codes.test.ts': 43,
  'test/docs/docs-page.test.ts': 42,
  'test/engine/log-limits.test.ts': 38,
  'test/server/metrics.test.ts': 37,
  'test/server/executions.test.ts': 32,
  'test/server/downloads.test.ts': 31,
  'test/engine/inductive.test.ts': 25,
  'test/server/datasets.test.ts': 24,
  'test/server/events.test.ts': 23,
  'test/server/published.test.ts': 21,
  'test/e2e/client-seed-flows.test.ts': 21,
  'test/cli/cli.test.ts': 20,
  'test/server/notebooks.test.ts': 20,
  'test/e2e/sandbox-orphans.test.ts': 20,
  'test/server/bad-input.test.ts': 18,
  'test/server/auth.test.ts': 18,
  'test/client/server.test.ts': 16,
  'test/engine/reference.test.ts': 16,
  'test/e2e/served.test.ts': 14,
  'test/e2e/events-worker.test.ts': 11,
  'test/contract/mock.test.ts': 10,
};

export default class SlowestFirst extends Sequencer {
  /** The last run's duration in ms from jest's cache, or else the one above (0 for a file not listed). */
  time(test) {
    const cached = super.time(test);
    if (cached != null) return cached;
    const file = path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/');
    return (FILE_SECONDS[file] ?? 0) * 1000;
  }
}
