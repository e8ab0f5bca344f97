import { figure, LOG_LIMITS, LogRefused } from './limits';

/** Thrown for XES that is not well-formed or uses what we refuse (DTDs, entities). */
export class XesError extends LogRefused {
  constructor(message: string) {
    super('INVALID_XES_FILE', message);
  }
}

/**
 * The bytes one piece of markup (a tag with its attributes, a comment, a CDATA section, a
 * processing instruction) may span: twice the record limit, so that an event with one huge
 * value is still refused by the record limit, naming the event. The scanner holds a piece of
 * markup whole until it ends, so this bounds its memory whatever the file.
 */
export const MAX_XES_MARKUP_BYTES = 2 * LOG_LIMITS.maxRecordBytes;

/**
 * A range of bytes of the input: an attribute's key or value as written in the file. `plain`
 * says the bytes are the text as they stand (no reference to expand, no whitespace to
 * normalise, no `"`), so they may be copied without decoding; `ascii` that every byte is below 0x80.
 */
export class Slice {
  buf: Buffer = Buffer.alloc(0);
  start = 0;
  end = 0;
  plain = true;
  ascii = true;
  /** Where the slice starts in the whole input, for messages. */
  offset = 0;

  /** The text of the slice: references expanded, attribute whitespace normalised as XML says. */
  text(): string {
    if (this.plain) return this.buf.toString(this.ascii ? 'latin1' : 'utf8', this.start, this.end);
    return decodeAttribute(this.buf.toString('utf8', this.start, this.end), this.offset);
  }
}

/** What the scanner reports: the trace and event structure of the log, and their direct attributes. */
export interface XesSink {
  traceStart(): void;
  eventStart(): void;
  /**
   * A direct child of a trace (`inEvent` false) or of an event with `key` and `value`
   * attributes (`<string>`, `<date>`, `<int>`, `<float>`, `<boolean>`, `<id>`, ...). The slices
   * are valid during the call only.
   */
  attribute(inEvent: boolean, key: Slice, value: Slice): void;
  eventEnd(): void;
  traceEnd(): void;
}

const LT = 0x3c;
const GT = 0x3e;
const AMP = 0x26;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const EQ = 0x3d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;

/** Tag names by kind: only `trace` and `event` (with or without a prefix) change what is read. */
const OTHER = 0;
const TRACE = 1;
const EVENT = 2;

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d;
/** Bytes that end a name in a tag. */
const endsName = (b: number) => isSpace(b) || b === GT || b === SLASH || b === EQ;
/** Bytes a name may not start with (a digit, `-`, `.`) or hold anywhere (markup and quotes). */
const badNameStart = (b: number) => (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e;
const badNameByte = (b: number) =>
  b < 0x20 || b === LT || b === AMP || b === DQUOTE || b === SQUOTE || b === 0x3b || b === 0x40;

/** What a byte of an attribute value asks for: nothing (0), decoding, refusal, or UTF-8 decoding. */
const DECODE = 1;
const REFUSE = 2;
const HIGH = 3;
const VALUE_BYTE = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) VALUE_BYTE[b] = REFUSE;
for (const b of [0x09, 0x0a, 0x0d, AMP, DQUOTE]) VALUE_BYTE[b] = DECODE;
VALUE_BYTE[LT] = REFUSE;
for (let b = 0x80; b < 0x100; b++) VALUE_BYTE[b] = HIGH;

/** Tag names compared as bytes before they are looked up as text. */
const MAX_BYTE_NAMES = 24;
const DOCTYPE_LIKE = /^<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/;

/**
 * A streaming, byte-level reader of XES: it recognises the few tag names and the `key` and
 * `value` attributes that XES needs without making an object per tag or a string per attribute,
 * and checks that the XML is well-formed as it goes (tags nest and match, one root, attributes
 * quoted, references known). A DOCTYPE or entity declaration is refused before anything is
 * expanded, which stops entity bombs and external entities. Input comes in chunks of any size
 * (a multi-byte character may be split between two); only an unfinished piece of markup is
 * carried to the next chunk, at most {@link MAX_XES_MARKUP_BYTES}, so memory stays flat.
 * Only direct children of `<trace>` and `<event>` are reported (nested attributes, `<global>`
 * defaults and classifiers are read over), as IEEE 1849's plain reading of a log needs.
 */
export class XesScanner {
  /** Bytes of the previous chunk not yet understood: the start of a tag or a reference. */
  private carry: Buffer | null = null;
  /** Input bytes before the current buffer, for positions in messages. */
  private base = 0;
  private readonly stack: number[] = [];
  private readonly kinds: number[] = [];
  private readonly names = new Map<string, number>();
  private readonly nameOf: string[] = [];
  /** The first names seen, as bytes, by id. */
  private readonly seenNames: Buffer[] = [];
  private seenRoot = false;
  private rootClosed = false;
  private atStart = true;
  private inTrace = false;
  private inEvent = false;
  private readonly key = new Slice();
  private readonly value = new Slice();

  constructor(private readonly sink: XesSink) {}

  /** Reads the next chunk of the file. */
  write(chunk: Buffer): void {
    let buf = chunk;
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      this.base -= this.carry.length;
      this.carry = null;
    }
    if (this.atStart && buf.length < 3) {
      this.carry = buf;
      this.base += buf.length;
      return;
    }
    let i = 0;
    if (this.atStart) {
      this.atStart = false;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3;
      this.declarationAt = i;
    }
    const stop = this.scan(buf, i);
    if (stop < buf.length) {
      if (buf.length - stop > MAX_XES_MARKUP_BYTES) throw this.tooLong(stop);
      this.carry = Buffer.from(buf.subarray(stop));
    }
    this.base += buf.length;
  }

  /** The end of the input: everything opened must be closed. */
  end(): void {
    if (this.carry) {
      const text = this.carry.toString('utf8', 0, Math.min(this.carry.length, 40));
      throw this.fail(this.base - this.carry.length, `unexpected end in '${text}'.`);
    }
    if (!this.seenRoot) throw this.fail(this.base, 'document must contain a root element.');
    if (this.stack.length > 0) {
      throw this.fail(this.base, `unclosed tag: ${this.nameOf[this.stack[this.stack.length - 1]]}.`);
    }
  }

  /** The one byte an XML declaration may start at: the first, or the one after a byte order mark. */
  private declarationAt = 0;

  private tooLong(start: number): LogRefused {
    return new LogRefused(
      'RECORD_TOO_LARGE',
      `The markup at byte ${figure(this.base + start)} is longer than ${figure(MAX_XES_MARKUP_BYTES)} bytes; a tag may have at most that many.`,
    );
  }

  private fail(at: number, message: string): XesError {
    return new XesError(`The XES file is not well-formed XML: at byte ${figure(at)}: ${message}`);
  }

  /** Scans `buf` from `i`; answers where an unfinished piece starts (the buffer's length when none is). */
  private scan(buf: Buffer, from: number): number {
    let i = from;
    const n = buf.length;
    while (i < n) {
      // Between tags XES has a little whitespace: a loop over it costs less than a native search.
      const outside = this.stack.length === 0;
      let lt = i;
      let special = false;
      for (; lt < n; lt++) {
        const b = buf[lt];
        if (b === LT) break;
        if (b === AMP || (outside && !isSpace(b))) special = true;
      }
      if (special) {
        const unfinished = this.text(buf, i, lt);
        if (unfinished >= 0) return unfinished;
      }
      if (lt === n) return n;
      if (lt + 1 >= n) return lt;
      const next = buf[lt + 1];
      let end: number;
      if (next === SLASH) end = this.closeTag(buf, lt);
      else if (next === BANG) end = this.bang(buf, lt);
      else if (next === QUESTION) end = this.instruction(buf, lt);
      else end = this.openTag(buf, lt);
      if (end < 0) return lt;
      if (end - lt > MAX_XES_MARKUP_BYTES) throw this.tooLong(lt);
      i = end;
    }
    return n;
  }

  /**
   * Text between tags: whitespace outside the root, and references that must be known. XES
   * keeps nothing in text. Answers where an unfinished reference starts, or -1.
   */
  private text(buf: Buffer, start: number, end: number): number {
    if (this.stack.length === 0) {
      for (let j = start; j < end; j++) {
        if (!isSpace(buf[j])) throw this.fail(this.base + j, 'text data outside of root node.');
      }
      return -1;
    }
    // Between tags XES has whitespace: a loop over it costs less than a search to the end of the buffer.
    for (let amp = start; amp < end; amp++) {
      if (buf[amp] !== AMP) continue;
      let semi = amp + 1;
      while (semi < end && buf[semi] !== 0x3b) semi++;
      if (semi === end) {
        // A reference cut by the end of the chunk waits for the next one; one cut by a tag is wrong.
        if (end === buf.length && end - amp < 16) return amp;
        throw this.fail(this.base + amp, 'malformed entity reference.');
      }
      decodeReference(buf.toString('latin1', amp + 1, semi), this.base + amp);
      amp = semi;
    }
    return -1;
  }

  /** `<!--`, `<![CDATA[` or a refused declaration. */
  private bang(buf: Buffer, lt: number): number {
    if (buf.length - lt < 9) return -1;
    if (buf[lt + 2] === 0x2d && buf[lt + 3] === 0x2d) {
      const close = buf.indexOf('-->', lt + 4);
      return close < 0 ? -1 : close + 3;
    }
    const head = buf.toString('latin1', lt, lt + 9);
    if (head === '<![CDATA[') {
      if (this.stack.length === 0) throw this.fail(this.base + lt, 'text data outside of root node.');
      const close = buf.indexOf(']]>', lt + 9);
      return close < 0 ? -1 : close + 3;
    }
    if (DOCTYPE_LIKE.test(head)) throw new XesError('DTDs and entity declarations are not accepted in XES files.');
    throw this.fail(this.base + lt, 'incorrect syntax.');
  }

  /** `<?...?>`: the XML declaration at the very start, or a processing instruction, read over. */
  private instruction(buf: Buffer, lt: number): number {
    const close = buf.indexOf('?>', lt + 2);
    if (close < 0) return -1;
    let j = lt + 2;
    while (j < close && !isSpace(buf[j])) j++;
    const target = buf.toString('latin1', lt + 2, j);
    if (target === '') throw this.fail(this.base + lt, 'processing instruction without a target.');
    if (target.toLowerCase() === 'xml' && this.base + lt !== this.declarationAt) {
      throw this.fail(this.base + lt, 'the XML declaration must appear at the start of the document.');
    }
    return close + 2;
  }

  /**
   * The id of the tag name in `buf[start, end)`, the same for the same name wherever it is seen;
   * a name is checked the first time only.
   */
  private nameId(buf: Buffer, start: number, end: number, what: string): number {
    // The few names of a log are compared as bytes: no string per tag.
    const length = end - start;
    const seen = this.seenNames;
    for (let c = 0; c < seen.length; c++) {
      const bytes = seen[c];
      if (bytes.length !== length) continue;
      let j = 0;
      while (j < length && bytes[j] === buf[start + j]) j++;
      if (j === length) return c;
    }
    this.checkName(buf, start, end, what);
    const name = buf.toString('utf8', start, end);
    let id = this.names.get(name);
    if (id === undefined) {
      id = this.nameOf.length;
      this.names.set(name, id);
      this.nameOf.push(name);
      const local = name.slice(name.indexOf(':') + 1);
      this.kinds.push(local === 'trace' ? TRACE : local === 'event' ? EVENT : OTHER);
      // Ids are positions in `seenNames` while it is short; a log with many names looks the rest up by text.
      if (seen.length === id && seen.length < MAX_BYTE_NAMES) seen.push(Buffer.from(buf.subarray(start, end)));
    }
    return id;
  }

  private checkName(buf: Buffer, start: number, end: number, what: string): void {
    if (end === start || badNameStart(buf[start]))
      throw this.fail(this.base + start, `disallowed character in ${what}.`);
    for (let j = start; j < end; j++) {
      if (badNameByte(buf[j])) throw this.fail(this.base + j, `disallowed character in ${what}.`);
    }
  }

  /** `</name>`: must close the innermost open tag. */
  private closeTag(buf: Buffer, lt: number): number {
    const n = buf.length;
    let j = lt + 2;
    while (j < n && !endsName(buf[j])) j++;
    if (j >= n) return -1;
    const nameEnd = j;
    while (j < n && isSpace(buf[j])) j++;
    if (j >= n) return -1;
    if (buf[j] !== GT) throw this.fail(this.base + j, 'disallowed character in closing tag.');
    const depth = this.stack.length;
    const id = this.nameId(buf, lt + 2, nameEnd, 'closing tag');
    if (depth === 0 || this.stack[depth - 1] !== id) {
      throw this.fail(this.base + lt, `unmatched closing tag: ${buf.toString('utf8', lt + 2, nameEnd)}.`);
    }
    this.stack.pop();
    this.closed(id);
    return j + 1;
  }

  /** After an element closed (the stack already popped). */
  private closed(id: number): void {
    const depth = this.stack.length;
    const kind = this.kinds[id];
    if (kind === EVENT && depth === 2 && this.inEvent) {
      this.inEvent = false;
      this.sink.eventEnd();
    } else if (kind === TRACE && depth === 1) {
      this.inTrace = false;
      this.sink.traceEnd();
    } else if (depth === 0) {
      this.rootClosed = true;
    }
  }

  /** `<name attr="value" ...>` or `.../>`; answers the byte after it, or -1 when the chunk ends first. */
  private openTag(buf: Buffer, lt: number): number {
    const n = buf.length;
    let j = lt + 1;
    while (j < n && !endsName(buf[j])) j++;
    if (j >= n) return -1;
    const nameEnd = j;
    const id = this.nameId(buf, lt + 1, nameEnd, 'tag name');
    const depth = this.stack.length;
    // The element's `key` and `value` matter only for direct children of a trace or an event.
    const wanted = (depth === 2 && this.inTrace) || (depth === 3 && this.inEvent);
    let hasKey = false;
    let hasValue = false;
    let selfClosing = false;
    for (;;) {
      const spaced = isSpace(buf[j]);
      while (j < n && isSpace(buf[j])) j++;
      if (j >= n) return -1;
      const b = buf[j];
      if (b === GT) {
        j++;
        break;
      }
      if (b === SLASH) {
        if (j + 1 >= n) return -1;
        if (buf[j + 1] !== GT) throw this.fail(this.base + j, 'forward-slash in opening tag not followed by >.');
        selfClosing = true;
        j += 2;
        break;
      }
      if (!spaced) throw this.fail(this.base + j, 'no whitespace between attributes.');
      const attrStart = j;
      while (j < n && !endsName(buf[j])) j++;
      if (j >= n) return -1;
      const attrEnd = j;
      while (j < n && isSpace(buf[j])) j++;
      if (j >= n) return -1;
      if (buf[j] !== EQ) throw this.fail(this.base + j, 'attribute without value.');
      j++;
      while (j < n && isSpace(buf[j])) j++;
      if (j >= n) return -1;
      const quote = buf[j];
      if (quote !== DQUOTE && quote !== SQUOTE) throw this.fail(this.base + j, 'unquoted attribute value.');
      let slice: Slice | null = null;
      const len = attrEnd - attrStart;
      // `key` and `value`, told by their bytes; any other name is checked.
      if (len === 3 && buf[attrStart] === 0x6b && buf[attrStart + 1] === 0x65 && buf[attrStart + 2] === 0x79) {
        if (hasKey) throw this.fail(this.base + attrStart, 'duplicate attribute: key.');
        hasKey = true;
        if (wanted) slice = this.key;
      } else if (
        len === 5 &&
        buf[attrStart] === 0x76 &&
        buf[attrStart + 1] === 0x61 &&
        buf[attrStart + 2] === 0x6c &&
        buf[attrStart + 3] === 0x75 &&
        buf[attrStart + 4] === 0x65
      ) {
        if (hasValue) throw this.fail(this.base + attrStart, 'duplicate attribute: value.');
        hasValue = true;
        if (wanted) slice = this.value;
      } else {
        this.checkName(buf, attrStart, attrEnd, 'attribute name');
      }
      const close = this.attributeValue(buf, j + 1, quote, slice);
      if (close < 0) return -1;
      j = close + 1;
      if (j >= n) return -1;
    }
    if (depth === 0) {
      if (this.rootClosed) throw this.fail(this.base + lt, 'documents may contain only one root.');
      this.seenRoot = true;
    }
    const kind = this.kinds[id];
    if (kind === TRACE && depth === 1) {
      this.inTrace = true;
      this.sink.traceStart();
    } else if (kind === EVENT && depth === 2 && this.inTrace) {
      this.inEvent = true;
      this.sink.eventStart();
    } else if (wanted && hasKey && hasValue) {
      this.sink.attribute(this.inEvent, this.key, this.value);
    }
    this.stack.push(id);
    if (selfClosing) {
      this.stack.pop();
      this.closed(id);
    }
    return j;
  }

  /**
   * Finds the end of an attribute value that starts at `start`, up to its closing `quote`, and
   * checks it on the way (no `<`, no control characters; references are checked when decoded).
   * When `slice` is given, points it there with what copying it needs. Answers where the
   * closing quote is, or -1 when the chunk ends first.
   */
  private attributeValue(buf: Buffer, start: number, quote: number, slice: Slice | null): number {
    const n = buf.length;
    let plain = true;
    let ascii = true;
    let end = start;
    for (; end < n; end++) {
      const b = buf[end];
      if (b === quote) break;
      const kind = VALUE_BYTE[b];
      if (kind === 0) continue;
      if (kind === DECODE) plain = false;
      else if (kind === HIGH) ascii = false;
      else if (b === LT) throw this.fail(this.base + end, "'<' in an attribute value.");
      else throw this.fail(this.base + end, 'disallowed character.');
    }
    if (end === n) return -1;
    if (slice) {
      slice.buf = buf;
      slice.start = start;
      slice.end = end;
      slice.plain = plain;
      slice.ascii = ascii;
      slice.offset = this.base + start;
      // A reference is checked when the value is decoded; one never decoded is checked here.
    } else if (!plain) {
      decodeAttribute(buf.toString('utf8', start, end), this.base + start);
    }
    return end;
  }
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** The character a reference names (`amp`, `#38`, `#x26`); any other is refused: no DTD declares more. */
function decodeReference(name: string, at: number): string {
  const predefined = PREDEFINED[name];
  if (predefined !== undefined) return predefined;
  if (name.charCodeAt(0) === 0x23) {
    const hex = name.charCodeAt(1) === 0x78;
    const digits = name.slice(hex ? 2 : 1);
    if (digits !== '' && (hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) {
      const code = parseInt(digits, hex ? 16 : 10);
      if (isXmlChar(code)) return String.fromCodePoint(code);
    }
    throw new XesError(
      `The XES file is not well-formed XML: at byte ${figure(at)}: malformed character entity &${name.slice(0, 20)};.`,
    );
  }
  throw new XesError(
    `The XES file is not well-formed XML: at byte ${figure(at)}: undefined entity &${name.slice(0, 40)};.`,
  );
}

/** XML 1.0's `Char` production. */
function isXmlChar(c: number): boolean {
  return (
    c === 0x9 ||
    c === 0xa ||
    c === 0xd ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  );
}

/**
 * An attribute value as XML reads it: a line break (`\r\n`, `\r` or `\n`) and a tab become a
 * space, then references are expanded (a `&#10;` stays a line break).
 */
export function decodeAttribute(raw: string, at: number): string {
  const spaced = raw.replace(/\r\n|[\r\n\t]/g, ' ');
  if (!spaced.includes('&')) return spaced;
  let out = '';
  let i = 0;
  for (;;) {
    const amp = spaced.indexOf('&', i);
    if (amp < 0) return out + spaced.slice(i);
    const semi = spaced.indexOf(';', amp);
    if (semi < 0) {
      throw new XesError(`The XES file is not well-formed XML: at byte ${figure(at)}: malformed entity reference.`);
    }
    out += spaced.slice(i, amp) + decodeReference(spaced.slice(amp + 1, semi), at);
    i = semi + 1;
  }
}
