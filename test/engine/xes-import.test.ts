import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import fc from 'fast-check';
import { SaxesParser } from 'saxes';
import { openEngine, rows } from '../../src/engine/duck';
import { importEventLog } from '../../src/engine/importLog';
import { LogRefused } from '../../src/engine/limits';
import { hugeValueXesGz } from '../support/hostile-logs';

let con: DuckDBConnection;
let workDir: string;
let n = 0;
beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-xes-import-'));
  con = await openEngine({ memoryLimit: '512MB' });
}, 60_000);
afterAll(() => {
  con?.closeSync();
  fs.rmSync(workDir, { recursive: true, force: true });
});

type Row = Record<string, string | number | null>;

/** Imports `xml` and answers its rows in file order, every column as text, and the import's result. */
async function imported(xml: string | Buffer, format: 'xes' | 'xes.gz' = 'xes') {
  const dir = path.join(workDir, String(++n));
  fs.mkdirSync(dir);
  const source = path.join(dir, `log.${format}`);
  fs.writeFileSync(source, xml);
  const parquet = path.join(dir, 'events.parquet');
  const result = await importEventLog(con, { source, format, parquet, workDir: dir });
  // The columns of the staging; what the Parquet writer adds for readers (the timestamp parsed, the order) is left out.
  const got = (await rows(con, `SELECT * EXCLUDE (ts) FROM read_parquet('${parquet}') ORDER BY event_index`)).map(
    ({ timed: _timed, ...staged }) => staged,
  );
  const leftovers = fs.readdirSync(dir).filter((f) => f !== 'log.xes' && f !== 'events.parquet');
  return {
    result,
    rows: got.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, text(v)]))),
    leftovers,
  };
}

const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

/**
 * The rows the import should give, from saxes's reading of the same XML: an event's attributes
 * (the last of a key given twice), the case id and attributes its trace has when it closes.
 */
function expectedRows(xml: string): Row[] {
  const parser = new SaxesParser({ xmlns: false });
  const out: Row[] = [];
  let caseKey = -1;
  let eventIndex = 0;
  let depth = 0;
  let trace: Record<string, string> = {};
  let event: Record<string, string> | undefined;
  let pending: Record<string, string>[] = [];
  parser.on('error', (err) => {
    throw err;
  });
  parser.on('opentag', (tag) => {
    depth++;
    const { key, value } = tag.attributes as Record<string, string | undefined>;
    if (tag.name === 'trace' && depth === 2) {
      caseKey++;
      trace = {};
      pending = [];
    } else if (tag.name === 'event' && depth === 3) {
      eventIndex++;
      event = {};
    } else if (key !== undefined && value !== undefined) {
      if (depth === 4 && event) event[key] = value;
      else if (depth === 3) trace[key] = value;
    }
  });
  parser.on('closetag', (tag) => {
    depth--;
    if (tag.name === 'event' && depth === 2 && event) {
      const {
        'concept:name': a,
        'time:timestamp': _timestamp,
        'org:resource': r,
        'lifecycle:transition': l,
        ...rest
      } = event;
      if (a !== undefined) {
        const row: Row = {
          case_key: String(caseKey),
          activity: a,
          resource: r ?? null,
          lifecycle: l ?? null,
          event_index: String(eventIndex),
        };
        for (const [k, v] of Object.entries(rest)) row[`a:${k}`] = v;
        pending.push(row as Record<string, string>);
      }
      event = undefined;
    } else if (tag.name === 'trace' && depth === 1) {
      for (const row of pending) {
        const { 'concept:name': caseId, ...rest } = trace;
        const full: Row = { ...row, case_id: caseId ?? null };
        for (const [k, v] of Object.entries(rest)) if (!(`a:case:${k}` in full)) full[`a:case:${k}`] = v;
        out.push(full);
      }
    }
  });
  parser.write(xml).close();
  return out;
}

/** The rows with every column the import wrote (absent ones null), without the timestamp text columns. */
function complete(expected: Row[], got: Row[]): Row[] {
  const columns = new Set(got.flatMap((r) => Object.keys(r)));
  return expected.map((r) => Object.fromEntries([...columns].map((c) => [c, r[c] ?? null])));
}

const value = fc
  .array(fc.constantFrom('a', 'b', ' ', ',', '&quot;', '"', "'", '&amp;', '&#10;', '&#13;', 'é', '€', '😀', '\\', ''), {
    maxLength: 6,
  })
  .map((p) => p.join(''));
const key = fc.constantFrom('concept:name', 'org:resource', 'lifecycle:transition', 'cost', 'note', 'case:tier');
const attr = fc.tuple(key, value).map(([k, v]) => `<string key="${k}" value="${v.replace(/"/g, '&quot;')}"/>`);
const eventXml = fc.array(attr, { maxLength: 4 }).map((a) => `<event>${a.join('')}</event>`);
const traceXml = fc
  .tuple(
    fc.array(attr, { maxLength: 3 }),
    fc.array(eventXml, { minLength: 1, maxLength: 3 }),
    fc.array(attr, { maxLength: 2 }),
  )
  .map(([before, events, after]) => `<trace>${before.join('')}${events.join('')}${after.join('')}</trace>`);
const logXml = fc
  .array(traceXml, { minLength: 1, maxLength: 4 })
  .map((traces) => `<?xml version="1.0" encoding="UTF-8"?><log xes.version="1.0">${traces.join('\n')}</log>`);

describe('an XES import gives the rows an XML parser reads', () => {
  test('any log: values with quotes, commas, line breaks and non-ASCII text, keys seen late, trace attributes after events', async () => {
    await fc.assert(
      fc.asyncProperty(logXml, async (xml) => {
        const got = await imported(xml);
        expect(got.rows).toEqual(complete(expectedRows(xml), got.rows));
        expect(got.leftovers).toEqual([]);
      }),
      { seed: 2012, numRuns: 40 },
    );
  }, 120_000);

  test('an empty value is the empty text, an absent one null; a trace attribute after the events reaches them all', async () => {
    const { rows: got, result } = await imported(
      `<log><trace><string key="concept:name" value="c1"/><event><string key="concept:name" value=""/><string key="note" value=""/></event>` +
        `<event><string key="concept:name" value="b"/><date key="time:timestamp" value="2024-01-01T00:00:00Z"/></event>` +
        `<string key="tier" value="gold"/></trace>` +
        `<trace><event><string key="concept:name" value="c"/><string key="extra" value="late key"/></event></trace></log>`,
    );
    expect(got).toEqual([
      {
        case_key: '0',
        case_id: 'c1',
        activity: '',
        resource: null,
        lifecycle: null,
        event_index: '1',
        'a:note': '',
        'a:case:tier': 'gold',
        'a:extra': null,
      },
      {
        case_key: '0',
        case_id: 'c1',
        activity: 'b',
        resource: null,
        lifecycle: null,
        event_index: '2',
        'a:note': null,
        'a:case:tier': 'gold',
        'a:extra': null,
      },
      {
        case_key: '1',
        case_id: null,
        activity: 'c',
        resource: null,
        lifecycle: null,
        event_index: '3',
        'a:note': null,
        'a:case:tier': null,
        'a:extra': 'late key',
      },
    ]);
    expect(result.attributes.map((a) => a.name)).toEqual(['note', 'extra', 'case:tier']);
  });

  test('bytes that are not UTF-8 become U+FFFD, as the text decoder did', async () => {
    const xml = Buffer.concat([
      Buffer.from('<log><trace><event><string key="concept:name" value="a'),
      Buffer.from([0xff, 0xc3]),
      Buffer.from('"/></event></trace></log>'),
    ]);
    const { rows: got } = await imported(xml);
    expect(got.map((r) => r.activity)).toEqual(['a\uFFFD\uFFFD']);
  });

  test('a value of 400 MiB is refused by the markup bound as soon as it is read past, and leaves no staging file', async () => {
    const dir = path.join(workDir, 'huge');
    fs.mkdirSync(dir);
    const source = path.join(dir, 'log.xes.gz');
    fs.writeFileSync(source, await hugeValueXesGz(400 * 1024 * 1024));
    const parquet = path.join(dir, 'events.parquet');
    const refused = await importEventLog(con, { source, format: 'xes.gz', parquet, workDir: dir }).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(LogRefused);
    expect((refused as LogRefused).message).toBe(
      'The markup at byte 40 is longer than 2,097,152 bytes; a tag may have at most that many.',
    );
    expect(fs.readdirSync(dir)).toEqual(['log.xes.gz']);
  });
});
