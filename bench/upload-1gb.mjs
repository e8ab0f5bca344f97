// Memory on the largest upload: a generated event log just under UPLOAD_LIMIT_BYTES (1 GiB), as
// CSV and as plain XES, uploaded through the API to the built server (PGlite, embedded defaults,
// DuckDB's 2 GB limit) while its resident memory is sampled every 50 ms from /proc and /health is
// probed on a connection of its own. Prints the server's peak RSS above its idle RSS, the import's
// rate and /health's worst answer. Asserts nothing (see README, Benchmarks).
//
//   npm run build && node bench/upload-1gb.mjs
//   BENCH_1GB_FORMATS=csv BENCH_1GB_BYTES=200000000 node bench/upload-1gb.mjs
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAssayClient } from '../client/dist/esm/index.js';
import { startAssay } from './servers.mjs';

/* global fetch */

/** Just under the service's default upload limit (1,073,741,824 bytes), so the upload is accepted. */
const TARGET_BYTES = Number(process.env.BENCH_1GB_BYTES ?? 1_070_000_000);
const FORMATS = (process.env.BENCH_1GB_FORMATS ?? 'csv,xes').split(',');
const ACTIVITIES = ['register', 'check', 'examine', 'decide', 'approve', 'reject', 'rework', 'pay', 'notify', 'close'];
const EVENTS_PER_CASE = 10;
const progress = (message) => process.stderr.write(`[bench:1gb] ${message}\n`);

/** Writes `bytes` of a CSV or XES log of 10-event cases; resolves the number of events written. */
async function generate(file, format, bytes) {
  const out = fs.createWriteStream(file);
  const write = (text) => (out.write(text) ? undefined : new Promise((r) => out.once('drain', r)));
  let written = 0;
  let events = 0;
  let buffer =
    format === 'csv'
      ? 'case,activity,time,resource\n'
      : '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0" xmlns="http://www.xes-standard.org/">\n';
  const closing = format === 'csv' ? '' : '</log>\n';
  const start = Date.UTC(2024, 0, 1);
  for (let c = 0; ; c++) {
    let trace = format === 'csv' ? '' : `<trace><string key="concept:name" value="case ${c}"/>\n`;
    for (let e = 0; e < EVENTS_PER_CASE; e++) {
      const activity = ACTIVITIES[(c + e * 3) % ACTIVITIES.length];
      const time = new Date(start + c * 60_000 + e * 3_600_000).toISOString();
      const resource = `r${(c * 7 + e) % 50}`;
      trace +=
        format === 'csv'
          ? `case ${c},${activity},${time},${resource}\n`
          : `<event><string key="concept:name" value="${activity}"/><date key="time:timestamp" value="${time}"/><string key="org:resource" value="${resource}"/></event>\n`;
    }
    if (format !== 'csv') trace += '</trace>\n';
    if (written + buffer.length + trace.length + closing.length > bytes) break;
    buffer += trace;
    events += EVENTS_PER_CASE;
    if (buffer.length > 1 << 20) {
      written += buffer.length;
      await write(buffer);
      buffer = '';
    }
  }
  await write(buffer + closing);
  await new Promise((resolve, reject) => out.end((err) => (err ? reject(err) : resolve())));
  return events;
}

/** The process's resident set, in bytes, from /proc. */
function rss(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
}

const mib = (bytes) => `${Math.round(bytes / 1024 ** 2).toLocaleString('en-US')} MiB`;

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-1gb-'));
  const results = [];
  progress('starting the service');
  const server = await startAssay();
  try {
    const { token, tenantId, projectId } = server.credentials;
    const assay = createAssayClient({ baseUrl: server.url, token, tenantId, projectId, userAgent: 'assay-bench' });
    for (const format of FORMATS) {
      const file = path.join(dir, `generated.${format}`);
      progress(`${format}: writing ${TARGET_BYTES.toLocaleString('en-US')} bytes`);
      const events = await generate(file, format, TARGET_BYTES);
      await sleep(2000);
      const idle = rss(server.pid);
      let peak = idle;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, rss(server.pid));
          await sleep(50);
        }
      })();
      let healthWorst = 0;
      const prober = (async () => {
        while (sampling) {
          const t = performance.now();
          await fetch(`${server.url}/health`).then((r) => r.arrayBuffer());
          healthWorst = Math.max(healthWorst, performance.now() - t);
          await sleep(100);
        }
      })();
      progress(`${format}: uploading ${events.toLocaleString('en-US')} events`);
      const t0 = performance.now();
      let outcome;
      try {
        const mapping =
          format === 'csv'
            ? { caseColumn: 'case', activityColumn: 'activity', timestampColumn: 'time', resourceColumn: 'resource' }
            : undefined;
        const dataset = await assay.uploadDataset({ file, mapping });
        outcome = `imported, ${dataset.eventCount.toLocaleString('en-US')} events`;
      } catch (err) {
        outcome = `refused: ${err.message}`.slice(0, 120);
      }
      const seconds = (performance.now() - t0) / 1000;
      sampling = false;
      await Promise.all([sampler, prober]);
      results.push({ format, bytes: fs.statSync(file).size, events, seconds, idle, peak, healthWorst, outcome });
      fs.rmSync(file, { force: true });
    }
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nAssay 1 GiB upload benchmark, ${new Date().toISOString()}`);
  console.log(
    `node ${process.version}, ${os.cpus().length} cores, load average after: ${os
      .loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}\n`,
  );
  console.log(
    'format | bytes | events | upload + import s | events/s | idle RSS | peak RSS | above idle | /health worst ms | outcome',
  );
  for (const r of results) {
    console.log(
      [
        r.format,
        r.bytes.toLocaleString('en-US'),
        r.events.toLocaleString('en-US'),
        r.seconds.toFixed(1),
        Math.round(r.events / r.seconds).toLocaleString('en-US'),
        mib(r.idle),
        mib(r.peak),
        mib(r.peak - r.idle),
        Math.round(r.healthWorst),
        r.outcome,
      ].join(' | '),
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
