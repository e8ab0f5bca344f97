import { createGzip } from 'node:zlib';

/**
 * Event logs shaped to hurt an importer, generated here rather than kept as files. Gzipped
 * ones are compressed as they are produced, so a log of millions of events never sits in
 * memory as text.
 */

/** An XES event with a name and a timestamp `i` seconds after 2024-01-01. */
export function xesEvent(activity: string, i: number, extra = ''): string {
  const ts = new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();
  return `<event><string key="concept:name" value="${activity}"/><date key="time:timestamp" value="${ts}"/>${extra}</event>`;
}

/** An XES document around `traces` (already XML). */
export function xesLog(traces: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0">${traces}</log>\n`;
}

/** Gzips text produced piece by piece by `pieces`. */
export async function gzipPieces(pieces: Iterable<string>): Promise<Buffer> {
  const gzip = createGzip({ level: 6 });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  for (const piece of pieces) {
    if (!gzip.write(piece)) await new Promise<void>((resolve) => gzip.once('drain', () => resolve()));
  }
  gzip.end();
  await done;
  return Buffer.concat(chunks);
}

/** The shape of the log that stopped the service: one trace of `events` events, gzipped. */
export function singleTraceXesGz(events: number): Promise<Buffer> {
  return gzipPieces(
    (function* () {
      yield '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0"><trace><string key="concept:name" value="only"/>';
      const batch = 10_000;
      for (let i = 0; i < events; i += batch) {
        let text = '';
        for (let j = i; j < Math.min(events, i + batch); j++) text += xesEvent(j % 2 ? 'b' : 'a', j);
        yield text;
      }
      yield '</trace></log>\n';
    })(),
  );
}

/** One trace of one event carrying `keys` distinct attributes named `k0`, `k1`, ... */
export function xesWithKeys(keys: number): string {
  const attributes = Array.from({ length: keys }, (_, i) => `<string key="k${i}" value="v"/>`).join('');
  return xesLog(`<trace><string key="concept:name" value="c"/>${xesEvent('a', 0, attributes)}</trace>`);
}

/** A gzipped XES with one attribute value of `chars` characters: it needs that much memory to read. */
export function hugeValueXesGz(chars: number): Promise<Buffer> {
  return gzipPieces(
    (function* () {
      yield '<?xml version="1.0"?><log><trace><event><string key="concept:name" value="';
      const piece = 'a'.repeat(1024 * 1024);
      for (let n = 0; n < chars; n += piece.length) yield piece.slice(0, Math.min(piece.length, chars - n));
      yield '"/></event></trace></log>';
    })(),
  );
}

/**
 * A gzipped XES of `depth` nested elements: well-formed as far as it goes, and each open
 * element is remembered until it closes, so reading it needs memory in proportion to `depth`.
 */
export function deepXesGz(depth: number): Promise<Buffer> {
  return gzipPieces(
    (function* () {
      yield '<?xml version="1.0"?><log>';
      const piece = '<a>'.repeat(1024 * 1024);
      for (let n = 0; n < depth; n += 1024 * 1024) yield piece.slice(0, 3 * Math.min(1024 * 1024, depth - n));
    })(),
  );
}

/** A CSV with a header and `rows` rows of `case,activity,time`, each its own case and activity. */
export function distinctActivitiesCsv(rows: number): string {
  let text = 'case,activity,time\n';
  for (let i = 0; i < rows; i++) text += `c${i},activity ${i},2024-01-01T00:00:00Z\n`;
  return text;
}
