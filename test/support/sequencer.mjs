// The order jest starts the test files in: the slowest first, so that two workers finish together
// instead of one running a long file alone at the end.
//
// jest orders by the durations of the last run, kept in its cache; a fresh clone (CI) has none,
// and jest then orders by file size, which starts the end-to-end and readiness files (short
// files, long waits) last. FILE_SECONDS stands in for the cache where it has nothing: the seconds
// each slow file took in a full run on the shared 2-core machine (load about 12); the files not
// listed (under 10 s each) come last. Refresh it from `jest --json --outputFile=...` when a file's
// place in the order changes.
import path from 'node:path';
import testSequencer from '@jest/test-sequencer';

// A CommonJS module whose default export is the class.
const Sequencer = testSequencer.default;

const FILE_SECONDS = {
  'test/server/contract-fuzz.test.ts': 136,
  'test/server/sandbox.test.ts': 102,
  'test/server/jupyter.test.ts': 91,
  'test/e2e/seed-pages.test.ts': 58,
  'test/e2e/restart.test.ts': 54,
  'test/e2e/worker-fault.test.ts': 53,
  'test/server/job-control.test.ts': 44,
  'test/contract/code-samples.test.ts': 44,
  'test/cli/cli.test.ts': 44,
  'test/server/storage-quota.test.ts': 43,
  'test/docs/notebook-page.test.ts': 42,
  'test/server/jobs.test.ts': 31,
  'test/client/server.test.ts': 28,
  'test/server/process-map.test.ts': 25,
  'test/server/bad-input.test.ts': 24,
  'test/server/upload-limits.test.ts': 23,
  'test/server/models.test.ts': 19,
  'test/server/readiness.test.ts': 19,
  'test/server/model-blocks.test.ts': 17,
  'test/server/events.test.ts': 16,
  'test/server/every-operation.test.ts': 15,
  'test/e2e/served.test.ts': 13,
  'test/server/notebook-page.test.ts': 13,
  'test/server/quotas.test.ts': 12,
  'test/server/datasets.test.ts': 12,
  'test/server/auth.test.ts': 11,
  'test/docs/docs-page.test.ts': 10,
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
