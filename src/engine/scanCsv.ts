import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { figure, LOG_LIMITS, LogRefused } from './limits';

/**
 * Reads a CSV file once before DuckDB does, hashing it and refusing what DuckDB would answer
 * slowly or unclearly: a NUL character, and a line longer than the record limit, both named by
 * their line (counted from 1, as editors do). Runs in a worker thread.
 */
export async function scanCsv(input: { source: string }): Promise<{ sha256: string; lines: number }> {
  const hash = createHash('sha256');
  const max = LOG_LIMITS.maxRecordBytes;
  let line = 1;
  let lineBytes = 0;
  for await (const chunk of fs.createReadStream(input.source, { highWaterMark: 1024 * 1024 })) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    const nul = bytes.indexOf(0);
    for (let at = 0; ;) {
      const newline = bytes.indexOf(10, at);
      const end = newline < 0 ? bytes.length : newline;
      if (nul >= at && nul < end) {
        throw new LogRefused(
          'INVALID_CSV_FILE',
          `Line ${line} holds a NUL character (byte 0), which CSV text cannot contain.`,
        );
      }
      lineBytes += end - at;
      if (lineBytes > max) throw lineTooLong(line);
      if (newline < 0) break;
      line++;
      lineBytes = 0;
      at = newline + 1;
    }
  }
  return { sha256: hash.digest('hex'), lines: lineBytes > 0 ? line : line - 1 };
}

/** The refusal of a CSV line longer than the record limit. */
export function lineTooLong(line: number): LogRefused {
  const max = figure(LOG_LIMITS.maxRecordBytes);
  return new LogRefused(
    'LINE_TOO_LONG',
    `Line ${line} is longer than ${max} bytes; a CSV line may have at most ${max} bytes.`,
  );
}
