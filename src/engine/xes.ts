import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LogRefused } from './limits';
import { XesError, XesScanner, type XesSink } from './xesScan';

export { XesError } from './xesScan';

/** Bytes read from the file, and handed to the scanner, at a time: fewer, larger chunks cost less per byte. */
const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Streams an XES (or gzipped XES) file through the byte-level scanner of `xesScan.ts`. The
 * gunzip runs in libuv's thread pool while the scanner works on the previous chunk. `raw` sees
 * every chunk as stored (compressed when gzipped), for hashing it in the same pass. More than
 * `maxBytes` bytes of XML (a gzip bomb) are refused.
 */
export async function scanXesFile(
  file: string,
  gzipped: boolean,
  sink: XesSink,
  opts: { maxBytes: number; raw?: (chunk: Buffer) => void; afterChunk?: () => void },
): Promise<void> {
  const input = fs.createReadStream(file, { highWaterMark: READ_CHUNK_BYTES });
  const raw = opts.raw;
  let stream: Readable = input;
  if (gzipped) {
    // The compressed chunks are hashed as they go into the gunzip.
    if (raw) input.on('data', (chunk) => raw(chunk as Buffer));
    const gunzip = createGunzip({ chunkSize: READ_CHUNK_BYTES });
    input.on('error', (err) => gunzip.destroy(err));
    stream = input.pipe(gunzip);
  }
  const scanner = new XesScanner(sink);
  let bytes = 0;
  try {
    for await (const chunk of stream) {
      if (raw && !gzipped) raw(chunk as Buffer);
      bytes += (chunk as Buffer).length;
      if (bytes > opts.maxBytes) throw new XesError(`The XES file holds more than ${opts.maxBytes} bytes of XML.`);
      scanner.write(chunk as Buffer);
      opts.afterChunk?.();
    }
    scanner.end();
  } catch (err) {
    input.destroy();
    stream.destroy();
    if (err instanceof LogRefused) throw err;
    throw new XesError(`The XES file could not be read: ${(err as Error).message}`);
  }
}

/** What {@link readXes} hands over as it goes: every event at once, and each trace's own attributes when it closes. */
export interface XesHandlers {
  /** The direct attributes of one event, with the index of its trace (0, 1, ... in file order). */
  event(caseIndex: number, attributes: Record<string, string>): void;
  /** The direct attributes of a trace, read when it closes: they may come before or after its events. */
  traceEnd(caseIndex: number, attributes: Record<string, string>): void;
}

/**
 * Reads an XES (or gzipped XES) file event by event as plain objects, without holding a
 * trace's events: for tests and tools. The import stages bytes directly (`stageXes.ts`).
 */
export async function readXes(file: string, gzipped: boolean, handlers: XesHandlers, maxBytes: number): Promise<void> {
  let caseIndex = -1;
  let trace: Record<string, string> = {};
  let event: Record<string, string> = {};
  await scanXesFile(
    file,
    gzipped,
    {
      traceStart() {
        caseIndex++;
        trace = {};
      },
      eventStart() {
        event = {};
      },
      attribute(inEvent, key, value) {
        (inEvent ? event : trace)[key.text()] = value.text();
      },
      eventEnd() {
        handlers.event(caseIndex, event);
      },
      traceEnd() {
        handlers.traceEnd(caseIndex, trace);
      },
    },
    { maxBytes },
  );
}
