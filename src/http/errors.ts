import type { ErrorObject } from 'ajv';
import { ERROR_CODES } from '../api/errorCodes';
import type { ErrorCode, StatusOf } from '../api/errorCodes';
import { DomainError, InvalidError, QuotaError } from '../domain/errors';
import type { FieldProblem } from '../domain/errors';
import type { ErrorResponse } from '../api/types';
import type { JsonReply, Reply } from './reply';
import { wellFormed } from './requestValues';

/** The one place where errors become HTTP: status and summary by code, body in the contract's envelope. */
export function errorReply(err: unknown, requestId: string): Reply {
  if (err instanceof DomainError) {
    const body: Record<string, unknown> = {
      Error: err.summary,
      Code: err.code,
      // Messages may quote what the client sent, cut anywhere: never half of a UTF-16 pair.
      Message: wellFormed(err.message),
      ...err.details,
      RequestId: requestId,
    };
    if (err instanceof InvalidError && err.problems.length > 0) body.ValidationErrors = err.problems.map(toField);
    if (err instanceof QuotaError) {
      return { status: err.status, body, headers: { 'Retry-After': String(err.retryAfterSeconds) } };
    }
    return { status: err.status, body };
  }
  // Anything else is a bug: log it (the caller does) and never show its stack or text to clients.
  return plainError(
    'INTERNAL_ERROR',
    'The server failed to handle the request; the server log has the details.',
    requestId,
  );
}

/** A body in the error envelope for errors raised outside the domain (routing, parsing, readiness). */
export function plainError<C extends ErrorCode>(
  code: C,
  message: string,
  requestId: string,
  extra: Partial<ErrorResponse> = {},
): JsonReply<StatusOf<C>, ErrorResponse> {
  const { status, error } = ERROR_CODES[code];
  return { status, body: { Error: error, Code: code, Message: message, ...extra, RequestId: requestId } };
}

function toField(p: FieldProblem) {
  return { Field: wellFormed(p.field), Message: wellFormed(p.message) };
}

/**
 * Turns Ajv's errors for a request into one problem per invalid field, named like the contract
 * says (`body.name`, `query.pageSize`, `path.notebookId`). Branch noise of `oneOf` is dropped
 * when a more precise error about the same field exists.
 */
export function problemsFromAjv(errors: ErrorObject[]): FieldProblem[] {
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  for (const e of errors) {
    let field = fieldName(e.instancePath);
    if (e.keyword === 'required') field = joinField(field, String(e.params.missingProperty));
    if (e.keyword === 'additionalProperties') field = joinField(field, String(e.params.additionalProperty));
    const message =
      e.keyword === 'additionalProperties'
        ? 'is not a field of this request'
        : e.keyword === 'required'
          ? 'is required'
          : e.keyword === 'enum'
            ? `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`
            : (e.message ?? 'is invalid');
    const key = `${field}\n${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ field, message });
  }
  const precise = problems.filter((p) => p.message !== 'must match exactly one schema in oneOf');
  return precise.length > 0 ? precise : problems;
}

const locations: Record<string, string> = { requestBody: 'body', query: 'query', path: 'path', header: 'header' };

function fieldName(instancePath: string): string {
  const parts = instancePath.split('/').filter(Boolean).map(unescapePointer);
  if (parts.length === 0) return 'body';
  const [where, ...rest] = parts;
  let name = locations[where] ?? where;
  for (const part of rest) name = /^\d+$/.test(part) ? `${name}[${part}]` : `${name}.${part}`;
  return name;
}

function joinField(base: string, child: string): string {
  // A missing body is reported by Ajv as a missing `requestBody` property of the request.
  if (child === 'requestBody') return 'body';
  return `${base}.${child}`;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}
