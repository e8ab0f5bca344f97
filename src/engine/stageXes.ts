import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { figure, LOG_LIMITS, LogRefused } from './limits';
import { scanXesFile } from './xes';
import type { Slice } from './xesScan';

/** A problem with one row of the input, by its line in the file where that is known. */
export interface ImportWarning {
  line: number | null;
  message: string;
}

/**
 * An XES log staged for DuckDB as CSV (every text field quoted, an absent one empty, so that
 * DuckDB tells NULL from ''). `eventsFile` has one row per event: trace index, event index,
 * activity, timestamp text, resource, lifecycle, the trace's case id, then one field per entry of
 * `columns`, a trace's attributes copied onto each of its events. A row ends after the last
 * column known when it was written (later keys add columns). A trace with attributes after one
 * of its events is written again, whole, to `lateTracesFile` when it closes (trace index, case
 * id, then `columns`), to be joined on the trace index; most logs have none.
 */
export interface StagedXes {
  eventsFile: string;
  lateTracesFile: string;
  lateTraces: number;
  /** The attribute columns after the fixed ones, in file order: an event key, or a trace key. */
  columns: { scope: 'event' | 'case'; key: string }[];
  /** Event attribute keys besides the four the engine has columns for. */
  eventKeys: string[];
  /** Trace attribute keys besides `concept:name`. */
  caseKeys: string[];
  /** Some value holds a line break: DuckDB's parallel CSV reader cannot read those with short rows. */
  lineBreaks: boolean;
  invalidCount: number;
  warnings: ImportWarning[];
  sha256: string;
}

const MAX_WARNINGS = 100;
/** The XML a gzipped XES may expand to: 8 GiB, far beyond any real log (a gzip bomb is refused). */
export const MAX_XES_BYTES = 8 * 1024 ** 3;

/** Fixed fields of a record: an event's four core attributes, then the trace's case id. */
const ACTIVITY = 0;
const TIMESTAMP = 1;
const RESOURCE = 2;
const LIFECYCLE = 3;
const CASE_ID = 4;
const FIXED = 5;
const CORE_KEYS = new Map([
  ['concept:name', ACTIVITY],
  ['time:timestamp', TIMESTAMP],
  ['org:resource', RESOURCE],
  ['lifecycle:transition', LIFECYCLE],
]);
/** Keys remembered as bytes; a log with more looks the others up by text. */
const MAX_SEEN_KEYS = 64;
const COMMA = 0x2c;
const NEWLINE = 0x0a;
const QUOTE = 0x22;
/** Output gathered before it is written: large writes, few calls. */
const FLUSH_BYTES = 1024 * 1024;

/**
 * Streams an XES file to the staging CSV in `workDir`, event by event, checking the log's shape
 * limits as it goes (attributes, events per case, record size, keys that differ only in case).
 * Values go from the input bytes to the output bytes without a string unless they hold a
 * reference, a non-ASCII character or a quote. Runs in a worker thread: it is the CPU-bound
 * part of an import.
 */
export async function stageXes(input: { source: string; gzipped: boolean; workDir: string }): Promise<StagedXes> {
  fs.mkdirSync(input.workDir, { recursive: true });
  const eventsFile = path.join(input.workDir, 'events.csv');
  const lateTracesFile = path.join(input.workDir, 'late-traces.csv');
  const events = new Output(eventsFile);
  const late = new Output(lateTracesFile);
  const keys = new AttributeKeys();
  const hash = createHash('sha256');
  const warnings: ImportWarning[] = [];
  /** For each column after the fixed ones: does it hold a trace's attribute (else an event's)? */
  const columnIsCase: boolean[] = [];
  const columns: StagedXes['columns'] = [];
  const eventColumns = new Map<string, number>();
  const caseColumns = new Map<string, number>();
  const event = new Fields();
  const trace = new Fields();
  let invalidCount = 0;
  let eventIndex = 0;
  let traceIndex = -1;
  let traceEvents = 0;
  let traceIsLate = false;
  let lateTraces = 0;

  // The keys of a log are few: each is looked up by its bytes, and by its text only the first time.
  const seenKeys: { bytes: Buffer; inEvent: boolean; column: number }[] = [];
  const column = (inEvent: boolean, key: Slice): number => {
    if (key.plain) {
      for (let c = 0; c < seenKeys.length; c++) {
        const seen = seenKeys[c];
        if (seen.inEvent === inEvent && sameBytes(key, seen.bytes)) return seen.column;
      }
    }
    const name = key.text();
    const core = CORE_KEYS.get(name);
    let found: number;
    if (core !== undefined && (inEvent || core === ACTIVITY)) found = inEvent ? core : CASE_ID;
    else found = (inEvent ? eventColumns : caseColumns).get(name) ?? newColumn(inEvent, name);
    if (key.plain && seenKeys.length < MAX_SEEN_KEYS) {
      seenKeys.push({ bytes: Buffer.from(key.buf.subarray(key.start, key.end)), inEvent, column: found });
    }
    return found;
  };
  const newColumn = (inEvent: boolean, name: string): number => {
    if (inEvent) keys.addEvent(name);
    else keys.addCase(name);
    const index = FIXED + columns.length;
    columns.push({ scope: inEvent ? 'event' : 'case', key: name });
    columnIsCase.push(!inEvent);
    (inEvent ? eventColumns : caseColumns).set(name, index);
    return index;
  };

  try {
    await scanXesFile(
      input.source,
      input.gzipped,
      {
        traceStart() {
          traceIndex++;
          traceEvents = 0;
          traceIsLate = false;
          trace.reset();
        },
        eventStart() {
          eventIndex++;
          traceEvents++;
          if (traceEvents > LOG_LIMITS.maxCaseEvents) throw caseTooLong(traceIndex);
          event.reset();
        },
        attribute(inEvent, key, value) {
          if (inEvent) {
            event.set(column(true, key), value);
            if (event.size > LOG_LIMITS.maxRecordBytes) throw recordTooLarge(`Event ${eventIndex}`);
          } else {
            if (traceEvents > 0) traceIsLate = true;
            trace.set(column(false, key), value);
            if (trace.size > LOG_LIMITS.maxRecordBytes) throw recordTooLarge(`Trace ${traceIndex + 1}`);
          }
        },
        eventEnd() {
          if (!event.has(ACTIVITY)) {
            invalidCount++;
            if (warnings.length < MAX_WARNINGS)
              warnings.push({ line: null, message: `event ${eventIndex} has no concept:name` });
            return;
          }
          events.number(traceIndex);
          events.byte(COMMA);
          events.number(eventIndex);
          for (let f = ACTIVITY; f <= LIFECYCLE; f++) {
            events.byte(COMMA);
            event.copyTo(f, events);
          }
          events.byte(COMMA);
          trace.copyTo(CASE_ID, events);
          // The row stops after its last field: DuckDB pads the rest with NULL.
          const last = Math.max(event.top, trace.top) - FIXED;
          for (let c = 0; c <= last; c++) {
            events.byte(COMMA);
            (columnIsCase[c] ? trace : event).copyTo(FIXED + c, events);
          }
          events.byte(NEWLINE);
        },
        traceEnd() {
          keys.traceEnd();
          if (!traceIsLate) return;
          lateTraces++;
          late.number(traceIndex);
          late.byte(COMMA);
          trace.copyTo(CASE_ID, late);
          for (let c = 0; c <= trace.top - FIXED; c++) {
            late.byte(COMMA);
            if (columnIsCase[c]) trace.copyTo(FIXED + c, late);
          }
          late.byte(NEWLINE);
        },
      },
      {
        maxBytes: MAX_XES_BYTES,
        raw: (chunk) => hash.update(chunk),
        afterChunk: () => {
          events.flush(FLUSH_BYTES);
          late.flush(FLUSH_BYTES);
        },
      },
    );
    events.close();
    late.close();
  } catch (err) {
    events.discard();
    late.discard();
    throw err;
  }
  return {
    eventsFile,
    lateTracesFile,
    lateTraces,
    columns,
    eventKeys: keys.eventKeys(),
    caseKeys: keys.caseKeys(),
    lineBreaks: event.lineBreaks || trace.lineBreaks,
    invalidCount,
    warnings,
    sha256: hash.digest('hex'),
  };
}

function sameBytes(slice: Slice, bytes: Buffer): boolean {
  const len = bytes.length;
  if (slice.end - slice.start !== len) return false;
  const buf = slice.buf;
  const start = slice.start;
  for (let j = 0; j < len; j++) if (buf[start + j] !== bytes[j]) return false;
  return true;
}

function tooManyAttributes(): LogRefused {
  const max = figure(LOG_LIMITS.maxAttributes);
  return new LogRefused(
    'TOO_MANY_ATTRIBUTES',
    `The log has more than ${max} distinct attribute keys; a log may have at most ${max}.`,
  );
}

function caseTooLong(caseIndex: number): LogRefused {
  const max = figure(LOG_LIMITS.maxCaseEvents);
  return new LogRefused(
    'CASE_TOO_LONG',
    `Trace ${caseIndex + 1} has more than ${max} events; a case may have at most ${max} events.`,
  );
}

function recordTooLarge(what: string): LogRefused {
  return new LogRefused(
    'RECORD_TOO_LARGE',
    `${what} has more than ${figure(LOG_LIMITS.maxRecordBytes)} bytes of attributes; an event or a trace may have at most that many.`,
  );
}

/**
 * The fields of one event or trace as quoted CSV bytes, by column. A key given twice keeps its
 * last value; `size` counts every value given (the record limit is on what was read).
 */
class Fields {
  private bytes = Buffer.allocUnsafe(64 * 1024);
  size = 0;
  /** The highest column set in this record, -1 when none is. */
  top = -1;
  lineBreaks = false;
  private starts = new Int32Array(64);
  private ends = new Int32Array(64);
  /** The record each column was last set in: a reset is one increment, not a clear. */
  private stamps = new Int32Array(64);
  private stamp = 1;

  reset(): void {
    this.size = 0;
    this.top = -1;
    this.stamp++;
  }

  has(column: number): boolean {
    return column < this.stamps.length && this.stamps[column] === this.stamp;
  }

  set(column: number, value: Slice): void {
    if (column >= this.stamps.length) this.growColumns(column + 1);
    const length = value.end - value.start;
    let start = this.size;
    if (value.plain && value.ascii) {
      this.reserve(length + 2);
      const out = this.bytes;
      out[start] = QUOTE;
      if (length < 64) {
        const src = value.buf;
        for (let j = 0, s = value.start; j < length; j++) out[start + 1 + j] = src[s + j];
      } else {
        value.buf.copy(out, start + 1, value.start, value.end);
      }
      out[start + 1 + length] = QUOTE;
      this.size = start + length + 2;
    } else {
      // Decoded and escaped: a reference, a non-ASCII character (invalid UTF-8 becomes U+FFFD, as DuckDB needs) or a quote.
      const text = value.text();
      if (/[\r\n]/.test(text)) this.lineBreaks = true;
      const quoted = `"${text.replace(/"/g, '""')}"`;
      this.reserve(Buffer.byteLength(quoted));
      start = this.size;
      this.size += this.bytes.write(quoted, start, 'utf8');
    }
    if (column > this.top) this.top = column;
    this.starts[column] = start;
    this.ends[column] = this.size;
    this.stamps[column] = this.stamp;
  }

  /** The column's field to `out`, or nothing when the record has none. */
  copyTo(column: number, out: Output): void {
    if (!this.has(column)) return;
    out.bytesFrom(this.bytes, this.starts[column], this.ends[column]);
  }

  private reserve(extra: number): void {
    if (this.size + extra <= this.bytes.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.size + extra));
    this.bytes.copy(bigger, 0, 0, this.size);
    this.bytes = bigger;
  }

  private growColumns(count: number): void {
    const size = Math.max(count, this.stamps.length * 2);
    const grow = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.starts = grow(this.starts);
    this.ends = grow(this.ends);
    this.stamps = grow(this.stamps);
  }
}

/** Bytes to a file through a buffer, written synchronously: the thread has nothing else to do meanwhile. */
class Output {
  private buf = Buffer.allocUnsafe(2 * FLUSH_BYTES);
  private used = 0;
  private readonly fd: number;

  constructor(private readonly file: string) {
    this.fd = fs.openSync(file, 'w');
  }

  byte(b: number): void {
    if (this.used === this.buf.length) this.grow(1);
    this.buf[this.used++] = b;
  }

  /** A non-negative integer in decimal. */
  number(n: number): void {
    this.reserve(16);
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    let at = this.used + digits;
    this.used = at;
    let rest = n;
    do {
      this.buf[--at] = 0x30 + (rest % 10);
      rest = Math.floor(rest / 10);
    } while (rest > 0);
  }

  bytesFrom(src: Buffer, start: number, end: number): void {
    const length = end - start;
    this.reserve(length);
    if (length < 64) {
      const out = this.buf;
      const at = this.used;
      for (let j = 0; j < length; j++) out[at + j] = src[start + j];
    } else {
      src.copy(this.buf, this.used, start, end);
    }
    this.used += length;
  }

  /** Writes what is gathered once it reaches `atLeast` bytes. */
  flush(atLeast = 0): void {
    if (this.used < atLeast || this.used === 0) return;
    let done = 0;
    while (done < this.used) done += fs.writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }

  /** Stops writing (the import failed) and removes the file. */
  discard(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already closed.
    }
    fs.rmSync(this.file, { force: true });
  }

  private reserve(extra: number): void {
    if (this.used + extra > this.buf.length) this.grow(extra);
  }

  private grow(extra: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + extra));
    this.buf.copy(bigger, 0, 0, this.used);
    this.buf = bigger;
  }
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
  /** Trace keys of the open trace not yet claimed. */
  private pending: string[] = [];

  addEvent(key: string): void {
    if (this.events.has(key)) return;
    this.events.add(key);
    this.claim(key);
  }

  /** A trace key, claimed when its trace closes (as keys were when traces were read whole), counted at once. */
  addCase(key: string): void {
    if (this.traces.has(key)) return;
    this.traces.add(key);
    this.pending.push(`case:${key}`);
    const fresh = this.pending.filter((name) => !this.names.has(name.toLowerCase())).length;
    if (this.names.size + fresh > LOG_LIMITS.maxAttributes) throw tooManyAttributes();
  }

  /** The end of a trace: its new keys become names. */
  traceEnd(): void {
    for (const name of this.pending) this.claim(name);
    this.pending = [];
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
    if (this.names.size > LOG_LIMITS.maxAttributes) throw tooManyAttributes();
  }
}
