import fs from 'node:fs';
import { readXes } from '../../src/engine/xes';
import type { Variant } from '../../src/engine/models/alignments';
import { sharedDataFile } from './shared-data';

/**
 * A small reader of the shared logs into variants, with the conventions of ../shared/data's
 * README: activity = `concept:name` (or the CSV's activity column), the events of a case stably
 * sorted by timestamp (ties keep file order; a case with an event without a timestamp keeps file
 * order), variant = the sequence of activities. Variants come in order of first appearance.
 */
export interface CsvColumns {
  separator: string;
  caseId: string;
  activity: string;
  timestamp: string;
}

interface Ev {
  activity: string;
  time: number | null;
}

/** Every variant of a shared log with its number of cases. */
export async function readVariants(name: string, csv?: CsvColumns): Promise<Variant[]> {
  const file = sharedDataFile(name);
  const cases = new Map<string, Ev[]>();
  if (csv) {
    readCsv(fs.readFileSync(file, 'utf8'), csv, cases);
  } else {
    await readXes(
      file,
      name.endsWith('.gz'),
      {
        event(caseIndex, attrs) {
          const key = String(caseIndex);
          let events = cases.get(key);
          if (!events) cases.set(key, (events = []));
          const ts = attrs['time:timestamp'];
          events.push({ activity: attrs['concept:name'] ?? '', time: ts === undefined ? null : parseTime(ts) });
        },
        traceEnd(caseIndex) {
          if (!cases.has(String(caseIndex))) cases.set(String(caseIndex), []);
        },
      },
      4e9,
    );
  }
  const variants = new Map<string, Variant>();
  for (const events of cases.values()) {
    if (events.every((e) => e.time !== null)) {
      // Array.prototype.sort is stable: ties keep file order.
      events.sort((a, b) => (a.time as number) - (b.time as number));
    }
    const activities = events.map((e) => e.activity);
    const key = activities.join('\u0000');
    const found = variants.get(key);
    if (found) found.cases++;
    else variants.set(key, { activities, cases: 1 });
  }
  return [...variants.values()];
}

const TS =
  /^\s*(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$/;

/** An ISO-8601 timestamp in microseconds since the epoch; no offset means UTC. */
function parseTime(text: string): number | null {
  const m = TS.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  let us = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s) * 1000;
  if (frac) us += Number((frac + '000000').slice(0, 6));
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '+' ? 1 : -1;
    const digits = tz.slice(1).replace(':', '');
    us -= sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4) || '0') * 60) * 1e6;
  }
  return us;
}

function readCsv(text: string, columns: CsvColumns, cases: Map<string, Ev[]>): void {
  const rows = parseCsv(text, columns.separator);
  const header = rows[0];
  const [c, a, t] = [columns.caseId, columns.activity, columns.timestamp].map((name) => header.indexOf(name));
  for (const row of rows.slice(1)) {
    if (row.length < header.length) continue;
    let events = cases.get(row[c]);
    if (!events) cases.set(row[c], (events = []));
    events.push({ activity: row[a], time: row[t] === '' ? null : parseTime(row[t]) });
  }
}

/** RFC 4180 fields: quotes around a field, doubled quotes inside it. */
function parseCsv(text: string, separator: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === separator) {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
