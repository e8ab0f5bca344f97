/** One invalid field of a request, as the contract's `ValidationErrors` lists it. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** Extra keys of the error body, such as `{ NotebookId: '...' }` or `{ CurrentStatus: 'Running' }`. */
export type ErrorDetails = Record<string, unknown>;

/** Base of every error the domain raises on purpose; anything else is a bug and answers 500. */
export abstract class DomainError extends Error {
  constructor(
    /** The short summary that becomes the body's `Error`. */
    readonly summary: string,
    message: string | undefined,
    readonly details: ErrorDetails = {},
  ) {
    super(message ?? summary);
  }
}

/** The resource does not exist for this tenant and project (or exists only elsewhere). */
export class NotFoundError extends DomainError {
  constructor(resource: string, idKey: string, id: string) {
    super(`${resource} not found`, undefined, { [idKey]: id });
  }
}

/** The request is well-formed but breaks a rule; lists every problem found. */
export class InvalidError extends DomainError {
  constructor(
    summary: string,
    message: string,
    readonly problems: FieldProblem[] = [],
    details: ErrorDetails = {},
  ) {
    super(summary, message, details);
  }
}

/** The request clashes with the resource's current state (stale update, running execution, name taken). */
export class ConflictError extends DomainError {}

/** The caller is not who it claims, or is not allowed here. */
export class AuthError extends DomainError {
  constructor(
    readonly reason: 'unauthenticated' | 'forbidden',
    message: string,
    details: ErrorDetails = {},
  ) {
    super(reason === 'unauthenticated' ? 'Unauthorized' : 'Forbidden', message, details);
  }
}

/** A body or upload is over the configured limit. */
export class TooLargeError extends DomainError {
  constructor(limitBytes: number, what: string) {
    super('Payload too large', `The ${what} is larger than the limit of ${limitBytes} bytes; nothing was stored.`, {
      LimitBytes: limitBytes,
    });
  }
}

/** A tenant's quota is used up; the request may succeed later (429 with `Retry-After`). */
export class QuotaError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    details: ErrorDetails = {},
  ) {
    super('Quota exceeded', message, details);
  }
}

/** Storing something would take the tenant past its stored-bytes quota (`TENANT_STORAGE_LIMIT_BYTES`). */
export class StorageQuotaError extends DomainError {
  constructor(limitBytes: number, usedBytes: number, requestedBytes: number, what: string) {
    super(
      'Storage quota exceeded',
      `The tenant stores ${usedBytes} bytes of its quota of ${limitBytes}; ${what} of ${requestedBytes} bytes would exceed it, so nothing was stored. Delete datasets or outputs, or ask for a larger quota.`,
      { LimitBytes: limitBytes, UsedBytes: usedBytes, RequestedBytes: requestedBytes },
    );
    this.name = 'StorageQuotaExceeded'; // a failed job's errorType
  }
}

/** The operation exists in the contract but not yet for this kind of resource. */
export class NotYetError extends DomainError {}
