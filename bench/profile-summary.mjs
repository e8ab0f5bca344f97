import fs from 'node:fs';
import path from 'node:path';

/**
 * Summarises V8 CPU profiles (`.cpuprofile`, e.g. from BENCH_CPU_PROF_DIR=<dir> npm run bench):
 * self time by function and by package or source file, heaviest first. `lastSeconds` keeps only
 * the end of the profile, to leave out start-up and data set-up.
 *   node bench/profile-summary.mjs <file.cpuprofile> [top] [lastSeconds]
 */

const [file, topArg, lastArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top] [lastSeconds]');
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const selfMs = selfTimes(profile, lastArg === undefined ? Infinity : Number(lastArg) * 1000);
const totalMs = [...selfMs.values()].reduce((a, b) => a + b, 0);

print(`self time by function (of ${(totalMs / 1000).toFixed(1)} s sampled)`, groupBy(profile, selfMs, frameName));
print(
  'self time by package or file',
  groupBy(profile, selfMs, (node) => owner(node.callFrame.url)),
);

/** Self time of every node in ms over the last `windowMs` of the profile (a sample owns the delta after it). */
function selfTimes({ samples, timeDeltas, endTime }, windowMs) {
  const times = new Map();
  let at = endTime - timeDeltas.reduce((a, b) => a + b, 0); // µs, the first sample's time
  samples.forEach((id, i) => {
    at += timeDeltas[i];
    if ((endTime - at) / 1000 > windowMs) return;
    times.set(id, (times.get(id) ?? 0) + (timeDeltas[i + 1] ?? 0) / 1000);
  });
  return times;
}

function groupBy({ nodes }, times, key) {
  const groups = new Map();
  for (const node of nodes) {
    const k = key(node);
    groups.set(k, (groups.get(k) ?? 0) + (times.get(node.id) ?? 0));
  }
  return [...groups].sort((a, b) => b[1] - a[1]);
}

function frameName({ callFrame: { functionName, url, lineNumber } }) {
  const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
}

/** `express`, `@electric-sql/pglite`, `src/http/app.ts`-like names: who the time belongs to. */
function owner(url) {
  if (!url) return '(native, gc, idle)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node core';
  return shortUrl(url);
}

function shortUrl(url) {
  const p = url.replace(/^file:\/\//, '');
  return p.startsWith(process.cwd()) ? path.relative(process.cwd(), p) : p;
}

function print(title, rows) {
  console.log(`\n${title}`);
  for (const [name, ms] of rows.slice(0, top)) {
    console.log(`${ms.toFixed(0).padStart(8)} ms  ${((ms / totalMs) * 100).toFixed(1).padStart(5)}%  ${name}`);
  }
}
