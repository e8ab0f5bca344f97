import fs from 'node:fs';
import { pipeline, type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SaxesParser } from 'saxes';
import { LogRefused } from './limits';

/** Thrown for XES that is not well-formed or uses what we refuse (DTDs, entities). */
export class XesError extends LogRefused {
  constructor(message: string) {
    super('INVALID_XES_FILE', message);
  }
}

/** What the reader hands over as it goes: every event at once, and each trace's own attributes when it closes. */
export interface XesHandlers {
  /** The direct attributes of one event, with the index of its trace (0, 1, ... in file order). */
  event(caseIndex: number, attributes: Record<string, string>): void;
  /** The direct attributes of a trace, read when it closes: they may come before or after its events. */
  traceEnd(caseIndex: number, attributes: Record<string, string>): void;
  /** Called after each chunk of input, so that writers can catch up (backpressure). */
  afterChunk?(): Promise<void> | void;
  /** Every chunk of the file as stored (compressed when gzipped), for hashing it in the same pass. */
  raw?(chunk: Buffer): void;
}

/**
 * Streams an XES (or gzipped XES) file event by event, without building a DOM and without
 * holding a trace's events: memory stays flat whatever the shape of the log. Only direct
 * children of `<trace>` and `<event>` are read (nested attributes and `<global>` defaults are
 * not), as IEEE 1849's plain reading of `concept:name` and `time:timestamp` needs. A DOCTYPE is
 * refused before anything is expanded, which stops entity bombs and external entities. More
 * than `maxChars` characters of XML (a gzip bomb) are refused too.
 */
export async function readXes(file: string, gzipped: boolean, handlers: XesHandlers, maxChars: number): Promise<void> {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: string[] = [];
  let caseIndex = -1;
  let traceAttrs: Record<string, string> = {};
  let current: Record<string, string> | undefined;

  parser.on('doctype', () => {
    throw new XesError('DTDs and entity declarations are not accepted in XES files.');
  });
  parser.on('error', (err) => {
    throw new XesError(`The XES file is not well-formed XML: ${err.message}`);
  });
  parser.on('opentag', (tag) => {
    const name = localName(tag.name);
    const parent = stack[stack.length - 1];
    stack.push(name);
    if (name === 'trace' && stack.length === 2) {
      caseIndex++;
      traceAttrs = {};
    } else if (name === 'event' && parent === 'trace' && stack.length === 3) {
      current = {};
    } else {
      const key = tag.attributes.key;
      const value = tag.attributes.value;
      if (typeof key !== 'string' || typeof value !== 'string') return;
      if (parent === 'event' && stack.length === 4 && current) current[key] = value;
      else if (parent === 'trace' && stack.length === 3) traceAttrs[key] = value;
    }
  });
  parser.on('closetag', (tag) => {
    const name = localName(tag.name);
    stack.pop();
    if (name === 'event' && stack.length === 2 && current) {
      handlers.event(caseIndex, current);
      current = undefined;
    } else if (name === 'trace' && stack.length === 1) {
      handlers.traceEnd(caseIndex, traceAttrs);
    }
  });

  const input = fs.createReadStream(file);
  const stages: Transform[] = [];
  const raw = handlers.raw;
  if (raw) {
    stages.push(
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          raw(chunk);
          done(null, chunk);
        },
      }),
    );
  }
  if (gzipped) stages.push(createGunzip());
  // pipeline() passes an error of any stage (a missing file, bad gzip) on to the last one, which we read.
  const last = stages.at(-1);
  if (last) pipeline([input, ...stages], () => undefined);
  const stream: Readable = last ?? input;
  // Decode as a stream so that characters split across chunks stay whole.
  stream.setEncoding('utf8');
  let chars = 0;
  try {
    for await (const chunk of stream) {
      chars += (chunk as string).length;
      if (chars > maxChars) throw new XesError(`The XES file holds more than ${maxChars} characters of XML.`);
      parser.write(chunk as string);
      await handlers.afterChunk?.();
    }
    parser.close();
  } catch (err) {
    input.destroy();
    if (err instanceof LogRefused) throw err;
    throw new XesError(`The XES file could not be read: ${(err as Error).message}`);
  }
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon >= 0 ? name.slice(colon + 1) : name;
}
