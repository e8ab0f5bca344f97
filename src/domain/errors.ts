import { ERROR_CODES } from '../api/errorCodes';
import type { CodeWithStatus, ErrorCode } from '../api/errorCodes';

/** One invalid field of a request, as the contract's `ValidationErrors` lists it. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** Extra keys of the error body, such as `{ NotebookId: '...' }` or `{ CurrentStatus: 'Running' }`. */
export type ErrorDetails = Record<string, unknown>;

/**
 * Base of every error the domain raises on purpose; anything else is a bug and answers 500. The
 * code (src/api/errorCodes.ts) decides the HTTP status and the body's `Error` summary.
 */
export abstract class DomainError extends Error {
  /** The short summary that becomes the body's `Error`. */
  readonly summary: string;

  constructor(
    readonly code: ErrorCode,
    message: string | undefined,
    readonly details: ErrorDetails = {},
    /** Only where clients expect another summary than the catalogue's for this code. */
    summary?: string,
  ) {
    super(message ?? summary ?? ERROR_CODES[code].error);
    this.summary = summary ?? ERROR_CODES[code].error;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** The resource does not exist for this tenant and project (or exists only elsewhere). */
export class NotFoundError extends DomainError {
  constructor(code: CodeWithStatus<404>, idKey: string, id: string, message?: string) {
    super(code, message, { [idKey]: id });
  }
}

/** The request is well-formed but breaks a rule; lists every problem found. */
export class InvalidError extends DomainError {
  declare readonly code: CodeWithStatus<400>;

  constructor(
    code: CodeWithStatus<400>,
    message: string,
    readonly problems: FieldProblem[] = [],
    details: ErrorDetails = {},
    summary?: string,
  ) {
    super(code, message, details, summary);
  }
}

/** The request clashes with the resource's current state (stale update, running execution, name taken). */
export class ConflictError extends DomainError {
  constructor(code: CodeWithStatus<409>, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}

/** The caller is not who it claims (401), or is not allowed here (403). */
export class AuthError extends DomainError {
  constructor(code: CodeWithStatus<401 | 403>, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}

/** A body or upload is over the configured limit. */
export class TooLargeError extends DomainError {
  constructor(limitBytes: number, what: string) {
    super('PAYLOAD_TOO_LARGE', `The ${what} is larger than the limit of ${limitBytes} bytes; nothing was stored.`, {
      LimitBytes: limitBytes,
    });
  }
}

/** A tenant's quota is used up; the request may succeed later (429 with `Retry-After`). */
export class QuotaError extends DomainError {
  constructor(
    code: CodeWithStatus<429>,
    message: string,
    readonly retryAfterSeconds: number,
    details: ErrorDetails = {},
  ) {
    super(code, message, details);
  }
}

/** Storing something would take the tenant past its stored-bytes quota (`TENANT_STORAGE_LIMIT_BYTES`). */
export class StorageQuotaError extends DomainError {
  constructor(limitBytes: number, usedBytes: number, requestedBytes: number, what: string) {
    super(
      'STORAGE_QUOTA_EXCEEDED',
      `The tenant stores ${usedBytes} bytes of its quota of ${limitBytes}; ${what} of ${requestedBytes} bytes would exceed it, so nothing was stored. Delete datasets or outputs, or ask for a larger quota.`,
      { LimitBytes: limitBytes, UsedBytes: usedBytes, RequestedBytes: requestedBytes },
    );
    this.name = 'StorageQuotaExceeded'; // a failed job's errorType
  }
}
