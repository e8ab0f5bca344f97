import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { figure, LOG_LIMITS, LogRefused } from './limits';
import { readXes } from './xes';

/** A problem with one row of the input, by its line in the file where that is known. */
export interface ImportWarning {
  line: number | null;
  message: string;
}

/**
 * An XES log staged for DuckDB: one line of JSON per event (`k` trace index, `a` activity, `t`
 * timestamp text, `r` resource, `l` lifecycle, `i` event index, `e:<key>` other attributes) and
 * one per trace (`k`, `n` case id, `c:<key>` other attributes), joined on `k` later.
 */
export interface StagedXes {
  eventsFile: string;
  casesFile: string;
  /** Event attribute keys besides the four the engine has columns for. */
  eventKeys: string[];
  /** Trace attribute keys besides `concept:name`. */
  caseKeys: string[];
  invalidCount: number;
  warnings: ImportWarning[];
  sha256: string;
}

const MAX_WARNINGS = 100;
/** The XML text a gzipped XES may expand to: 8 GiB, far beyond any real log (a gzip bomb is refused). */
export const MAX_XES_CHARS = 8 * 1024 ** 3;
const XES_CORE = new Set(['concept:name', 'time:timestamp', 'org:resource', 'lifecycle:transition']);

/**
 * Streams an XES file to the two staging files in `workDir`, event by event, checking the log's
 * shape limits as it goes (attributes, events per case, record size, keys that differ only in
 * case). Runs in a worker thread: it is the CPU-bound part of an import.
 */
export async function stageXes(input: { source: string; gzipped: boolean; workDir: string }): Promise<StagedXes> {
  fs.mkdirSync(input.workDir, { recursive: true });
  const eventsFile = path.join(input.workDir, 'events.ndjson');
  const casesFile = path.join(input.workDir, 'cases.ndjson');
  const events = new LineWriter(eventsFile);
  const cases = new LineWriter(casesFile);
  const keys = new AttributeKeys();
  const hash = createHash('sha256');
  const warnings: ImportWarning[] = [];
  let invalidCount = 0;
  let eventIndex = 0;
  let traceEvents = 0;
  let lastCase = -1;
  try {
    await readXes(
      input.source,
      input.gzipped,
      {
        event(caseIndex, attributes) {
          eventIndex++;
          traceEvents = caseIndex === lastCase ? traceEvents + 1 : 1;
          lastCase = caseIndex;
          if (traceEvents > LOG_LIMITS.maxCaseEvents) throw caseTooLong(caseIndex);
          const activity = attributes['concept:name'];
          if (activity === undefined) {
            invalidCount++;
            if (warnings.length < MAX_WARNINGS)
              warnings.push({ line: null, message: `event ${eventIndex} has no concept:name` });
            return;
          }
          const row: Record<string, unknown> = {
            k: caseIndex,
            a: activity,
            t: attributes['time:timestamp'],
            r: attributes['org:resource'],
            l: attributes['lifecycle:transition'],
            i: eventIndex,
          };
          for (const [k, v] of Object.entries(attributes)) {
            if (XES_CORE.has(k)) continue;
            keys.addEvent(k);
            row[`e:${k}`] = v;
          }
          events.add(row, () => `Event ${eventIndex}`);
        },
        traceEnd(caseIndex, attributes) {
          const row: Record<string, unknown> = { k: caseIndex, n: attributes['concept:name'] };
          for (const [k, v] of Object.entries(attributes)) {
            if (k === 'concept:name') continue;
            keys.addCase(k);
            row[`c:${k}`] = v;
          }
          cases.add(row, () => `Trace ${caseIndex + 1}`);
        },
        afterChunk: async () => {
          await events.flush();
          await cases.flush();
        },
        raw: (chunk) => hash.update(chunk),
      },
      MAX_XES_CHARS,
    );
    await Promise.all([events.close(), cases.close()]);
  } catch (err) {
    await Promise.all([events.discard(), cases.discard()]);
    throw err;
  }
  return {
    eventsFile,
    casesFile,
    eventKeys: keys.eventKeys(),
    caseKeys: keys.caseKeys(),
    invalidCount,
    warnings,
    sha256: hash.digest('hex'),
  };
}

function caseTooLong(caseIndex: number): LogRefused {
  const max = figure(LOG_LIMITS.maxCaseEvents);
  return new LogRefused(
    'CASE_TOO_LONG',
    `Trace ${caseIndex + 1} has more than ${max} events; a case may have at most ${max} events.`,
  );
}

/**
 * The distinct attribute keys of a log, as the attribute names they become (`<key>` for an
 * event's, `case:<key>` for a trace's), within the attribute limit. Column names are compared
 * without case in SQL, so two names that differ only in case are refused rather than merged.
 */
class AttributeKeys {
  private readonly events = new Set<string>();
  private readonly traces = new Set<string>();
  /** Lower-cased attribute name to the name as first seen. */
  private readonly names = new Map<string, string>();

  addEvent(key: string): void {
    if (this.events.has(key)) return;
    this.events.add(key);
    this.claim(key);
  }

  addCase(key: string): void {
    if (this.traces.has(key)) return;
    this.traces.add(key);
    this.claim(`case:${key}`);
  }

  eventKeys(): string[] {
    return [...this.events];
  }

  caseKeys(): string[] {
    return [...this.traces];
  }

  private claim(name: string): void {
    const lower = name.toLowerCase();
    const seen = this.names.get(lower);
    // The same name from an event and a trace (`case:x` and trace key `x`) is one attribute, as before.
    if (seen === name) return;
    if (seen !== undefined) {
      throw new LogRefused(
        'ATTRIBUTE_NAMES_DIFFER_ONLY_IN_CASE',
        `The attribute keys '${seen}' and '${name}' differ only in upper and lower case; attribute names are compared without case, so a log cannot hold both. Rename one of them.`,
      );
    }
    this.names.set(lower, name);
    if (this.names.size > LOG_LIMITS.maxAttributes) {
      const max = figure(LOG_LIMITS.maxAttributes);
      throw new LogRefused(
        'TOO_MANY_ATTRIBUTES',
        `The log has more than ${max} distinct attribute keys; a log may have at most ${max}.`,
      );
    }
  }
}

/**
 * Lines of JSON to a file, gathered per chunk of input and written with backpressure. A record
 * over the size limit is refused: every later step reads records whole. A write error is kept
 * and thrown at the next flush, never left to surface as an uncaught error of the thread.
 */
class LineWriter {
  private readonly out: fs.WriteStream;
  private pending: string[] = [];
  private failure: Error | undefined;

  constructor(file: string) {
    this.out = fs.createWriteStream(file);
    this.out.on('error', (err) => (this.failure ??= err));
  }

  add(row: Record<string, unknown>, what: () => string): void {
    const line = JSON.stringify(row);
    if (Buffer.byteLength(line) > LOG_LIMITS.maxRecordBytes) {
      throw new LogRefused(
        'RECORD_TOO_LARGE',
        `${what()} has more than ${figure(LOG_LIMITS.maxRecordBytes)} bytes of attributes; an event or a trace may have at most that many.`,
      );
    }
    this.pending.push(line);
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    if (!this.out.write(text)) await this.settled('drain');
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    await this.flush();
    this.out.end();
    await this.settled('close');
    if (this.failure) throw this.failure;
  }

  /** Stops writing (the import failed); the caller removes the file. */
  async discard(): Promise<void> {
    this.pending = [];
    if (this.out.closed) return;
    this.out.destroy();
    await this.settled('close');
  }

  /** Until `event`, or until the stream closes or fails on the way. */
  private settled(event: 'drain' | 'close'): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.out.off(event, done).off('close', done).off('error', done);
        resolve();
      };
      this.out.once(event, done).once('close', done).once('error', done);
    });
  }
}
