import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openEngine, rows } from '../../src/engine/duck';
import { checkCsvHeader, importEventLog, type ColumnMapping } from '../../src/engine/importLog';
import { LOG_LIMITS, LogRefused } from '../../src/engine/limits';
import { profileLog } from '../../src/engine/profile';
import { readXes } from '../../src/engine/xes';
import { distinctActivitiesCsv, gzipPieces, xesEvent, xesLog, xesWithKeys } from '../support/hostile-logs';

const MAPPING: ColumnMapping = { caseIdColumn: 'case', activityColumn: 'activity', timestampColumn: 'time' };
const MiB = 1024 * 1024;

let con: DuckDBConnection;
let workDir: string;
let n = 0;
beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-limits-'));
  con = await openEngine({ memoryLimit: '512MB' });
}, 60_000);
afterAll(() => {
  con?.closeSync();
  fs.rmSync(workDir, { recursive: true, force: true });
});

/** Writes `content` as a log file, imports and profiles it; resolves with the profile or rejects with the refusal. */
async function importAndProfile(content: string | Buffer, format: 'csv' | 'xes' | 'xes.gz', mapping = MAPPING) {
  const dir = path.join(workDir, String(++n));
  fs.mkdirSync(dir);
  const source = path.join(dir, `log.${format}`);
  fs.writeFileSync(source, content);
  const parquet = path.join(dir, 'events.parquet');
  await importEventLog(con, { source, format, mapping: format === 'csv' ? mapping : null, parquet, workDir: dir });
  return profileLog(con, `read_parquet('${parquet}')`);
}

/** The refusal an import ends with (fails the test if it imports). */
async function refusal(work: Promise<unknown>): Promise<LogRefused> {
  try {
    await work;
  } catch (err) {
    if (err instanceof LogRefused) return err;
    throw err;
  }
  throw new Error('the log was imported, not refused');
}

/** One trace of `events` events, gzipped. */
function traceOf(events: number): Promise<Buffer> {
  return gzipPieces(
    (function* () {
      yield '<?xml version="1.0"?><log><trace><string key="concept:name" value="long"/>';
      for (let i = 0; i < events; i += 10_000) {
        let text = '';
        for (let j = i; j < Math.min(events, i + 10_000); j++) text += xesEvent('a', j);
        yield text;
      }
      yield '</trace></log>';
    })(),
  );
}

describe('XES is read event by event', () => {
  test('readXes hands over each event before its trace closes, and the trace attributes when it closes', async () => {
    const file = path.join(workDir, 'order.xes');
    fs.writeFileSync(
      file,
      xesLog(
        `<trace><string key="before" value="1"/>${xesEvent('a', 0)}${xesEvent('b', 1)}<string key="concept:name" value="c1"/></trace>`,
      ),
    );
    const calls: string[] = [];
    await readXes(
      file,
      false,
      {
        event: (caseIndex, attributes) => calls.push(`event ${caseIndex} ${attributes['concept:name']}`),
        traceEnd: (caseIndex, attributes) => calls.push(`trace ${caseIndex} ${JSON.stringify(attributes)}`),
      },
      1e9,
    );
    expect(calls).toEqual(['event 0 a', 'event 0 b', 'trace 0 {"before":"1","concept:name":"c1"}']);
  });

  test('trace attributes after the events reach every event of the trace', async () => {
    const log = xesLog(
      `<trace>${xesEvent('a', 0)}${xesEvent('b', 1)}<string key="concept:name" value="late"/><string key="tier" value="gold"/></trace>` +
        `<trace><string key="concept:name" value="early"/>${xesEvent('a', 2)}</trace>`,
    );
    const profile = await importAndProfile(log, 'xes');
    expect(profile).toMatchObject({ caseCount: 2, eventCount: 3 });
    const parquet = path.join(workDir, String(n), 'events.parquet');
    const events = await rows(
      con,
      `SELECT case_id, activity, "a:case:tier" AS tier FROM read_parquet('${parquet}') ORDER BY event_index`,
    );
    expect(events).toEqual([
      { case_id: 'late', activity: 'a', tier: 'gold' },
      { case_id: 'late', activity: 'b', tier: 'gold' },
      { case_id: 'early', activity: 'a', tier: null },
    ]);
  });
});

describe('the shape limits of a log', () => {
  test(`a trace of ${LOG_LIMITS.maxCaseEvents} events imports; one more event is refused as soon as it is read`, async () => {
    const profile = await importAndProfile(await traceOf(LOG_LIMITS.maxCaseEvents), 'xes.gz');
    expect(profile).toMatchObject({ caseCount: 1, eventCount: LOG_LIMITS.maxCaseEvents, variantCount: 1 });
    const refused = await refusal(importAndProfile(await traceOf(LOG_LIMITS.maxCaseEvents + 1), 'xes.gz'));
    expect(refused.summary).toBe('Case too long');
    expect(refused.message).toBe('Trace 1 has more than 100,000 events; a case may have at most 100,000 events.');
  }, 60_000);

  test(`a CSV case of ${LOG_LIMITS.maxCaseEvents + 1} events is refused by name`, async () => {
    let csv = 'case,activity,time\n';
    for (let i = 0; i <= LOG_LIMITS.maxCaseEvents; i++) csv += `big,a,2024-01-01T00:00:00Z\n`;
    csv += 'small,a,2024-01-01T00:00:00Z\n';
    const refused = await refusal(importAndProfile(csv, 'csv'));
    expect(refused.summary).toBe('Case too long');
    expect(refused.message).toContain("Case 'big' has 100,001 events");
  });

  test(`${LOG_LIMITS.maxAttributes} distinct XES keys import and are typed; one more is refused`, async () => {
    const profile = await importAndProfile(xesWithKeys(LOG_LIMITS.maxAttributes), 'xes');
    expect(profile.attributes).toHaveLength(LOG_LIMITS.maxAttributes);
    expect(profile.attributes[0]).toEqual({ name: 'k0', scope: 'case', dataType: 'string' });
    const refused = await refusal(importAndProfile(xesWithKeys(LOG_LIMITS.maxAttributes + 1), 'xes'));
    expect(refused.summary).toBe('Too many attributes');
    expect(refused.message).toContain('at most 1,000');
    expect((await refusal(importAndProfile(xesWithKeys(20_000), 'xes'))).summary).toBe('Too many attributes');
  });

  test('XES keys that differ only in case are refused; a trace key x and an event key case:x stay one attribute', async () => {
    const twoEvents = xesLog(
      `<trace>${xesEvent('a', 0, '<string key="Foo" value="1"/>')}${xesEvent('b', 1, '<string key="foo" value="2"/>')}</trace>`,
    );
    const refused = await refusal(importAndProfile(twoEvents, 'xes'));
    expect(refused.summary).toBe('Attribute names differ only in case');
    expect(refused.message).toContain("'Foo' and 'foo'");
    const traceAndEvent = xesLog(
      `<trace><string key="foo" value="t"/>${xesEvent('a', 0, '<string key="case:Foo" value="e"/>')}</trace>`,
    );
    expect((await refusal(importAndProfile(traceAndEvent, 'xes'))).message).toContain("'case:Foo' and 'case:foo'");
    const same = xesLog(
      `<trace><string key="x" value="t"/>${xesEvent('a', 0, '<string key="case:x" value="e"/>')}</trace>`,
    );
    expect((await importAndProfile(same, 'xes')).attributes).toEqual([
      { name: 'case:x', scope: 'case', dataType: 'string' },
    ]);
  });

  test('an XES event just under the record limit imports; one over it is refused', async () => {
    const event = (chars: number) =>
      xesLog(`<trace>${xesEvent('a', 0, `<string key="note" value="${'n'.repeat(chars)}"/>`)}</trace>`);
    await expect(importAndProfile(event(MiB - 200), 'xes')).resolves.toMatchObject({ eventCount: 1 });
    const refused = await refusal(importAndProfile(event(MiB), 'xes'));
    expect(refused.summary).toBe('Record too large');
    expect(refused.message).toContain('Event 1 has more than 1,048,576 bytes');
  });

  test(`${LOG_LIMITS.maxActivities} distinct activities import; one more is refused`, async () => {
    await expect(importAndProfile(distinctActivitiesCsv(LOG_LIMITS.maxActivities), 'csv')).resolves.toMatchObject({
      activityCount: LOG_LIMITS.maxActivities,
    });
    const refused = await refusal(importAndProfile(distinctActivitiesCsv(LOG_LIMITS.maxActivities + 1), 'csv'));
    expect(refused.summary).toBe('Too many activities');
    expect(refused.message).toBe('The log has 10,001 distinct activities; a log may have at most 10,000.');
  });
});

describe('CSV lines and columns', () => {
  const row = 'c1,a,2024-01-01T00:00:00Z,';
  const csvWithLine = (bytes: number) =>
    `case,activity,time,note\n${row}x\n${row}${'x'.repeat(bytes - row.length)}\n${row}y\n`;

  test('a line of exactly the limit imports; one byte more is refused, naming its line', async () => {
    await expect(importAndProfile(csvWithLine(LOG_LIMITS.maxRecordBytes), 'csv')).resolves.toMatchObject({
      eventCount: 3,
    });
    const refused = await refusal(importAndProfile(csvWithLine(LOG_LIMITS.maxRecordBytes + 1), 'csv'));
    expect(refused.summary).toBe('Line too long');
    expect(refused.message).toBe('Line 3 is longer than 1,048,576 bytes; a CSV line may have at most 1,048,576 bytes.');
  });

  test('a NUL character after the first 64 KB is refused, naming its line', async () => {
    let csv = 'case,activity,time\n';
    for (let i = 2; i < 5000; i++) csv += `c${i},a,2024-01-01T00:00:00Z\n`;
    csv += 'c5000,a\u0000b,2024-01-01T00:00:00Z\n';
    expect(Buffer.byteLength(csv)).toBeGreaterThan(64 * 1024);
    const refused = await refusal(importAndProfile(csv, 'csv'));
    expect(refused.message).toBe('Line 5000 holds a NUL character (byte 0), which CSV text cannot contain.');
  });

  test(`a header with ${LOG_LIMITS.maxAttributes} attribute columns imports; one more is refused`, async () => {
    const csv = (attributes: number) => {
      const names = Array.from({ length: attributes }, (_, i) => `x${i}`);
      return `case,activity,time,${names.join(',')}\nc1,a,2024-01-01T00:00:00Z,${names.map(() => '1').join(',')}\n`;
    };
    await expect(importAndProfile(csv(LOG_LIMITS.maxAttributes), 'csv')).resolves.toMatchObject({ eventCount: 1 });
    const refused = await refusal(importAndProfile(csv(LOG_LIMITS.maxAttributes + 1), 'csv'));
    expect(refused.summary).toBe('Too many attributes');
  });

  test('checkCsvHeader refuses attributes that differ only in case and names given twice; a mapped column may share an attribute name but for case', () => {
    expect(() => checkCsvHeader(['case', 'activity', 'Activity', 'time'], ['case', 'activity', 'time'])).not.toThrow();
    expect(() => checkCsvHeader(['case', 'Foo', 'foo'], ['case'])).toThrow(
      "Columns 2 and 3 are named 'Foo' and 'foo'; attribute names are compared without case, so each must be unique.",
    );
    expect(() => checkCsvHeader(['case', 'x', 'x'], ['case'])).toThrow('Columns 2 and 3');
    expect(() => checkCsvHeader(['case', 'case', 'x'], ['case'])).toThrow(
      "Columns 1 and 2 are named 'case' and 'case'; a mapped column must be named once.",
    );
  });

  test('a mapped activity column and an Activity attribute both import', async () => {
    const csv = 'case,activity,Activity,time\nc1,a,first,2024-01-01T00:00:00Z\nc1,b,second,2024-01-02T00:00:00Z\n';
    const profile = await importAndProfile(csv, 'csv');
    expect(profile).toMatchObject({ eventCount: 2, activities: ['a', 'b'] });
    expect(profile.attributes).toEqual([{ name: 'Activity', scope: 'event', dataType: 'string' }]);
  });
});
