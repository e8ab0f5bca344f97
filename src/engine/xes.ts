import fs from 'node:fs';
import { createGunzip } from 'node:zlib';
import { SaxesParser } from 'saxes';

/** One event of an XES trace: the direct attributes of the event and of its trace. */
export interface XesEvent {
  caseIndex: number;
  caseAttributes: Record<string, string>;
  attributes: Record<string, string>;
}

/** Thrown for XES that is not well-formed or uses what we refuse (DTDs, entities). */
export class XesError extends Error {}

/**
 * Streams the events of an XES (or gzipped XES) file, trace by trace, without building a DOM.
 * Only direct children of `<trace>` and `<event>` are read (nested attributes and `<global>`
 * defaults are not), as IEEE 1849's plain reading of `concept:name` and `time:timestamp`
 * needs. A DOCTYPE is refused before anything is expanded, which stops entity bombs and
 * external entities.
 */
export async function readXes(
  file: string,
  gzipped: boolean,
  onTrace: (events: XesEvent[]) => void | Promise<void>,
): Promise<void> {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: string[] = [];
  let caseIndex = -1;
  let traceAttrs: Record<string, string> = {};
  let events: XesEvent[] = [];
  let current: Record<string, string> | undefined;
  let failure: Error | undefined;
  const pending: Promise<void>[] = [];

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
      events = [];
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
      events.push({ caseIndex, caseAttributes: traceAttrs, attributes: current });
      current = undefined;
    } else if (name === 'trace' && stack.length === 1) {
      for (const e of events) e.caseAttributes = traceAttrs;
      const result = onTrace(events);
      if (result) pending.push(result);
    }
  });

  const input = fs.createReadStream(file);
  const stream = gzipped ? input.pipe(createGunzip()) : input;
  // Decode as a stream so that characters split across chunks stay whole.
  stream.setEncoding('utf8');
  try {
    for await (const chunk of stream) {
      parser.write(chunk as string);
      if (pending.length > 0) await Promise.all(pending.splice(0));
    }
    parser.close();
    await Promise.all(pending);
  } catch (err) {
    failure = err instanceof XesError ? err : new XesError(`The XES file could not be read: ${(err as Error).message}`);
    input.destroy();
  }
  if (failure) throw failure;
}

function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon >= 0 ? name.slice(colon + 1) : name;
}
