import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { SaxesParser } from 'saxes';
import { LogRefused } from '../../src/engine/limits';
import { readXes } from '../../src/engine/xes';
import { MAX_XES_MARKUP_BYTES, XesError, XesScanner } from '../../src/engine/xesScan';
import { sharedDataFile } from '../support/shared-data';

/** What a reader saw, in order: each event and each trace's attributes, as text. */
type Seen = string[];

/** The byte-level scanner over `chunks`, recorded as readXes hands things over. */
function scan(chunks: Buffer[]): Seen {
  const seen: Seen = [];
  let caseIndex = -1;
  let trace: [string, string][] = [];
  let event: [string, string][] = [];
  const scanner = new XesScanner({
    traceStart() {
      caseIndex++;
      trace = [];
    },
    eventStart() {
      event = [];
    },
    attribute(inEvent, key, value) {
      (inEvent ? event : trace).push([key.text(), value.text()]);
    },
    eventEnd() {
      seen.push(`event ${caseIndex} ${JSON.stringify(event)}`);
    },
    traceEnd() {
      seen.push(`trace ${caseIndex} ${JSON.stringify(trace)}`);
    },
  });
  for (const chunk of chunks) scanner.write(chunk);
  scanner.end();
  return seen;
}

/** The same reading done by saxes, the XML parser the import used before: the reference. */
function reference(xml: string): Seen {
  const seen: Seen = [];
  const parser = new SaxesParser({ xmlns: false });
  const stack: string[] = [];
  let caseIndex = -1;
  let trace: [string, string][] = [];
  let event: [string, string][] | undefined;
  const local = (name: string) => name.slice(name.indexOf(':') + 1);
  parser.on('error', (err) => {
    throw err;
  });
  parser.on('doctype', () => {
    throw new Error('doctype');
  });
  parser.on('opentag', (tag) => {
    const name = local(tag.name);
    const parent = stack[stack.length - 1];
    stack.push(name);
    if (name === 'trace' && stack.length === 2) {
      caseIndex++;
      trace = [];
    } else if (name === 'event' && parent === 'trace' && stack.length === 3) {
      event = [];
    } else {
      const { key, value } = tag.attributes as Record<string, string | undefined>;
      if (typeof key !== 'string' || typeof value !== 'string') return;
      if (parent === 'event' && stack.length === 4 && event) event.push([key, value]);
      else if (parent === 'trace' && stack.length === 3) trace.push([key, value]);
    }
  });
  parser.on('closetag', (tag) => {
    const name = local(tag.name);
    stack.pop();
    if (name === 'event' && stack.length === 2 && event) {
      seen.push(`event ${caseIndex} ${JSON.stringify(event)}`);
      event = undefined;
    } else if (name === 'trace' && stack.length === 1) {
      seen.push(`trace ${caseIndex} ${JSON.stringify(trace)}`);
    }
  });
  parser.write(xml).close();
  return seen;
}

/** `bytes` cut at the given positions. */
function cut(bytes: Buffer, positions: number[]): Buffer[] {
  const at = [...new Set(positions.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const p of at) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

function refusal(work: () => unknown): LogRefused {
  try {
    work();
  } catch (err) {
    if (err instanceof LogRefused) return err;
    throw err;
  }
  throw new Error('the XML was read, not refused');
}

// Values as XES files write them: references, character references, multi-byte characters
// (2, 3 and 4 bytes), quotes of the other kind, and whitespace that XML turns into spaces.
const valueText = fc
  .array(
    fc.constantFrom(
      'a',
      'Z',
      '0',
      ' ',
      '&amp;',
      '&lt;',
      '&gt;',
      '&quot;',
      '&apos;',
      '&#65;',
      '&#x20AC;',
      '&#10;',
      '&#x1F600;',
      'é',
      'ß',
      '€',
      '日本',
      '😀',
      '\t',
      '\n',
      '\r\n',
      '>',
      ',',
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));
const space = fc.constantFrom(' ', '  ', '\n\t', '\r\n ');
const typeName = fc.constantFrom('string', 'date', 'int', 'float', 'boolean', 'id');
const keyName = fc.constantFrom(
  'concept:name',
  'time:timestamp',
  'org:resource',
  'lifecycle:transition',
  'cost',
  'note',
);
const attribute = fc
  .tuple(typeName, keyName, valueText, fc.boolean(), space, space, fc.boolean())
  .map(([type, key, value, single, s1, s2, valueFirst]) => {
    const q = single ? "'" : '"';
    const v = single ? value.replace(/'/g, '&apos;') : value.replace(/"/g, '&quot;');
    const attrs = valueFirst
      ? [`value${s1}=${s2}${q}${v}${q}`, `key=${q}${key}${q}`]
      : [`key=${q}${key}${q}`, `value=${q}${v}${q}`];
    return `<${type}${s1}${attrs.join(s1)}${s2}/>`;
  });
// Nested attributes (a list, an attribute with meta-attributes), comments, CDATA and
// processing instructions: read over, never reported.
const aside = fc.constantFrom(
  '<!-- a comment with <tags> & such -->',
  '<![CDATA[ <event> & ]]>',
  '<?pi some data?>',
  '<list key="items"><values><string key="x" value="in a list"/></values></list>',
  '<container key="box"><int key="n" value="1"/></container>',
  '<string key="meta" value="outer"><string key="inner" value="nested"/></string>',
  'some text &amp; more',
);
const content = fc.array(fc.oneof({ weight: 4, arbitrary: attribute }, { weight: 1, arbitrary: aside }), {
  maxLength: 5,
});
const eventXml = fc
  .tuple(content, fc.boolean())
  .map(([c, prefixed]) => (prefixed ? `<xes:event>${c.join('')}</xes:event>` : `<event>${c.join('\n')}</event>`));
const traceXml = fc
  .tuple(content, fc.array(eventXml, { maxLength: 4 }), content)
  .map(([before, events, after]) => `<trace>${before.join('')}${events.join('\n\t')}${after.join('')}</trace>`);
const document = fc
  .tuple(fc.array(traceXml, { maxLength: 4 }), fc.boolean(), fc.boolean())
  .map(
    ([traces, bom, declaration]) =>
      `${bom ? '\uFEFF' : ''}${declaration ? '<?xml version="1.0" encoding="UTF-8"?>\n' : ''}<!-- head -->\n<log xes.version="1.0">` +
      `<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>` +
      `<global scope="event"><string key="concept:name" value="default"/></global>` +
      `<classifier name="Activity" keys="concept:name"/><string key="origin" value="log level"/>` +
      `${traces.join('\n')}</log>\n`,
  );

describe('the XES scanner reads what an XML parser reads', () => {
  test('any document, cut into chunks anywhere: the same events and traces as saxes', () => {
    fc.assert(
      fc.property(document, fc.array(fc.nat(), { maxLength: 12 }), (xml, positions) => {
        const bytes = Buffer.from(xml);
        expect(scan(cut(bytes, positions))).toEqual(reference(xml.replace(/^\uFEFF/, '')));
      }),
      { seed: 1849, numRuns: 400 },
    );
  });

  test('one document cut at every position, and given one byte at a time', () => {
    const xml = fc.sample(document, { seed: 7, numRuns: 30 }).reduce((a, b) => (b.length > a.length ? b : a));
    const bytes = Buffer.from(xml);
    const expected = reference(xml.replace(/^\uFEFF/, ''));
    expect(expected.length).toBeGreaterThan(3);
    for (let p = 0; p <= bytes.length; p++) expect(scan(cut(bytes, [p]))).toEqual(expected);
    expect(scan([...bytes].map((b) => Buffer.from([b])))).toEqual(expected);
  });

  test.each(['running-example.xes', 'roadtraffic100traces.xes', 'interval_event_log.xes'])(
    '%s: the same as saxes',
    (name) => {
      const bytes = fs.readFileSync(sharedDataFile(name));
      expect(scan(cut(bytes, [4093, 4096 * 7 + 1, 100_001]))).toEqual(reference(bytes.toString('utf8')));
    },
  );
});

describe('the XES scanner refuses what it did before', () => {
  const dtd = 'DTDs and entity declarations are not accepted in XES files.';
  test.each([
    ['a DTD', '<?xml version="1.0"?><!DOCTYPE log [<!ENTITY a "x">]><log/>', dtd],
    ['an entity declaration', '<!ENTITY a "x"><log/>', dtd],
    [
      'an undefined entity in a value',
      '<log><trace><string key="k" value="&xxe;"/></trace></log>',
      'undefined entity &xxe;',
    ],
    ['an undefined entity in text', '<log>&xxe;</log>', 'undefined entity &xxe;'],
    [
      'a bad character reference',
      '<log><trace><string key="k" value="&#0;"/></trace></log>',
      'malformed character entity',
    ],
    ['an unclosed tag', '<log><trace>', 'unclosed tag: trace.'],
    ['a mismatched closing tag', '<log><trace></event></log>', 'unmatched closing tag: event.'],
    ['two roots', '<log/><log/>', 'documents may contain only one root.'],
    ['no root', '<!-- nothing -->', 'document must contain a root element.'],
    ['text outside the root', 'case,activity\n1,a\n', 'text data outside of root node.'],
    ['an unquoted value', '<log><string key=k value="v"/></log>', 'unquoted attribute value.'],
    ['an attribute without a value', '<log><string key value="v"/></log>', 'attribute without value.'],
    ['no space between attributes', '<log><string key="k"value="v"/></log>', 'no whitespace between attributes.'],
    ['a < in a value', '<log><string key="k" value="a<b"/></log>', "'<' in an attribute value."],
    ['a control character', '<log><string key="k" value="a\u0001"/></log>', 'disallowed character.'],
    ['a late XML declaration', '<log><?xml version="1.0"?></log>', 'XML declaration must appear at the start'],
    ['a cut-off tag', '<log><trace><string key="k" val', 'unexpected end'],
  ])('%s', (_, xml, message) => {
    const refused = refusal(() => scan([Buffer.from(xml)]));
    expect(refused).toBeInstanceOf(XesError);
    expect(refused.code).toBe('INVALID_XES_FILE');
    expect(refused.message).toContain(message);
    if (message !== dtd) expect(refused.message).toMatch(/^The XES file is not well-formed XML: at byte \d+/);
  });

  test(`a tag of ${MAX_XES_MARKUP_BYTES} bytes is read; one byte more is refused`, () => {
    const tag = (bytes: number) => {
      const head = '<string key="k" value="';
      const tail = '"/>';
      return `${head}${'v'.repeat(bytes - head.length - tail.length)}${tail}`;
    };
    expect(Buffer.byteLength(tag(MAX_XES_MARKUP_BYTES))).toBe(MAX_XES_MARKUP_BYTES);
    const doc = (bytes: number) => Buffer.from(`<log><trace>${tag(bytes)}</trace></log>`);
    // Chunks of 64 KiB, as a stream gives them: the tag is carried from chunk to chunk.
    const chunks = (b: Buffer) =>
      cut(
        b,
        Array.from({ length: b.length >> 16 }, (_, i) => (i + 1) << 16),
      );
    expect(scan(chunks(doc(MAX_XES_MARKUP_BYTES)))).toHaveLength(1);
    const refused = refusal(() => scan(chunks(doc(MAX_XES_MARKUP_BYTES + 1))));
    expect(refused.code).toBe('RECORD_TOO_LARGE');
    expect(refused.message).toBe(
      'The markup at byte 12 is longer than 2,097,152 bytes; a tag may have at most that many.',
    );
  });
});

describe('readXes', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'assay-xes-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('reads a gzipped file as the same file plain', async () => {
    const xml = fs.readFileSync(sharedDataFile('running-example.xes'));
    const gz = path.join(dir, 'log.xes.gz');
    fs.writeFileSync(gz, gzipSync(xml));
    const seen: string[] = [];
    await readXes(
      gz,
      true,
      { event: (k, a) => seen.push(`${k} ${a['concept:name']}`), traceEnd: () => undefined },
      1e9,
    );
    const plain: string[] = [];
    await readXes(
      sharedDataFile('running-example.xes'),
      false,
      { event: (k, a) => plain.push(`${k} ${a['concept:name']}`), traceEnd: () => undefined },
      1e9,
    );
    expect(seen).toEqual(plain);
    expect(seen).toHaveLength(42);
  });

  test('more bytes of XML than allowed (a gzip bomb) are refused; a file that is not gzip is refused', async () => {
    const gz = path.join(dir, 'bomb.xes.gz');
    fs.writeFileSync(gz, gzipSync(`<log>${' '.repeat(10_000)}</log>`));
    const handlers = { event: () => undefined, traceEnd: () => undefined };
    await expect(readXes(gz, true, handlers, 10_011)).resolves.toBeUndefined();
    await expect(readXes(gz, true, handlers, 10_010)).rejects.toThrow(
      'The XES file holds more than 10010 bytes of XML.',
    );
    const notGzip = path.join(dir, 'plain.xes.gz');
    fs.writeFileSync(notGzip, '<log/>');
    await expect(readXes(notGzip, true, handlers, 1e9)).rejects.toMatchObject({ code: 'INVALID_XES_FILE' });
  });
});
