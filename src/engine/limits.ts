import { ERROR_CODES, type CodeWithStatus } from '../api/errorCodes';

/** The error codes of a log the engine refuses (a 400 of the upload). */
export type LogRefusal = CodeWithStatus<400>;

/**
 * The shape limits of an imported event log. They keep every step after the upload (parsing,
 * profiling, variants, enrichment) bounded in memory whatever the file looks like; the contract's
 * `uploadDataset` and the README list them.
 */
export const LOG_LIMITS = {
  /** Attribute columns besides the core ones: CSV columns that are not mapped, distinct XES keys. */
  maxAttributes: 1000,
  /** Events of one case (one XES trace, or one CSV case id). */
  maxCaseEvents: 100_000,
  /** Distinct activities of a log (the dataset record lists them all). */
  maxActivities: 10_000,
  /** Bytes of one CSV line, or of the attributes of one XES event or trace. */
  maxRecordBytes: 1024 * 1024,
} as const;

/** Thrown when an event log cannot be imported as it is: `code` names the problem, the message says what to change. */
export class LogRefused extends Error {
  constructor(
    readonly code: LogRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'LogRefused';
  }

  /** The problem in words, the `Error` of the upload's 400. */
  get summary(): string {
    return ERROR_CODES[this.code].error;
  }
}

/** A count with thousands separators, as the messages show limits. */
export function figure(n: number): string {
  return n.toLocaleString('en-US');
}
