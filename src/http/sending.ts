import type express from 'express';
import type { OpenAPIBackend, Operation } from 'openapi-backend';
import type { Logger } from 'pino';
import { bodyErrorReply, removeUpload } from './bodies';
import { errorReply, plainError } from './errors';
import { send, type Reply } from './reply';
import { maybeRouteOf, routeOf } from './routing';

/** How answers are checked before they are sent. */
export interface AnswerCheck {
  api: OpenAPIBackend;
  logger: Logger;
  /** Check every answer against the contract and fail loudly on drift (tests turn this on). */
  validateResponses?: boolean;
}

/** Sends the handler's reply, checked against the contract. */
export function sendReply(check: AnswerCheck): express.RequestHandler {
  return (req, res) => {
    removeUpload(req);
    send(res, checkReply(check, routeOf(res).operation, res.locals.reply as Reply, req.id));
  };
}

/**
 * Sends the answer to an error of any stage after routing (a body that cannot be read, an
 * unacceptable value, a failed security check or validation, a domain error), in the error envelope.
 */
export function sendFailure(check: AnswerCheck): express.ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    removeUpload(req);
    const reply = bodyErrorReply(err, req.id, req.headers['content-encoding']) ?? errorReply(err, req.id);
    if (reply.status >= 500) req.log.error({ err }, 'request failed');
    const operation = maybeRouteOf(res)?.operation;
    send(res, operation ? checkReply(check, operation, reply, req.id) : reply);
  };
}

/**
 * In tests, every answer must be one the contract documents for the operation, with a valid
 * body; a drifting answer becomes a 500 that names the drift, so the test fails loudly.
 */
function checkReply(check: AnswerCheck, op: Operation, reply: Reply, requestId: string): Reply {
  if (!check.validateResponses) return reply;
  const documented = Object.keys(op.responses ?? {});
  let drift: string | undefined;
  if (!documented.includes(String(reply.status))) {
    drift = `answered ${reply.status}, which the contract does not document (${documented.join(', ')})`;
  } else if (reply.body !== undefined && !reply.stream) {
    const body = reply.contentType ? serialisedJson(reply) : reply.body;
    const result = body === undefined ? undefined : check.api.validateResponse(body, op, reply.status);
    if (result?.errors) drift = `answered ${reply.status} with a body that drifts: ${JSON.stringify(result.errors)}`;
  }
  if (!drift) return reply;
  check.logger.error({ operationId: op.operationId, reply }, `contract drift: ${drift}`);
  const message = `${op.operationId} ${drift}; body: ${JSON.stringify(reply.body)}`;
  return plainError('CONTRACT_DRIFT', message, requestId);
}

/** The value of a JSON body sent already serialised (a cached answer); undefined for other raw bodies. */
function serialisedJson(reply: Reply): unknown {
  if (!reply.serialisedJson) return undefined;
  return JSON.parse((reply.body as Buffer | string).toString());
}
