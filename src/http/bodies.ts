import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import multer from 'multer';
import type { Operation } from 'openapi-backend';
import type { Config } from '../config';
import { InvalidError, TooLargeError } from '../domain/errors';
import { errorReply, plainError } from './errors';
import type { Reply } from './reply';
import { valueProblems } from './requestValues';
import { routeOf } from './routing';

/**
 * Reads the body of operations that take one (JSON, text, or a multipart upload whose
 * file lands in `DATA_DIR/tmp`); others ignore what was sent. Limits come from the config.
 */
export function bodyParsers(config: Config): express.RequestHandler[] {
  const json = express.json({ limit: config.bodyLimitBytes, type: ['application/json', 'application/*+json'] });
  const text = express.text({ limit: config.bodyLimitBytes, type: ['text/*'] });
  const uploads = multer({
    dest: path.join(config.dataDir, 'tmp'),
    // File names are UTF-8, as browsers and fetch send them (busboy's default would read them as Latin-1).
    defParamCharset: 'utf8',
    limits: { fileSize: config.uploadLimitBytes, files: 1, fields: 20, fieldSize: 64 * 1024 },
  }).single('file');
  const upload: express.RequestHandler = (req, res, next) =>
    uploads(req, res, (err?: unknown) => {
      if (err instanceof multer.MulterError && err.code === 'LIMIT_FILE_SIZE') {
        return next(new TooLargeError(config.uploadLimitBytes, 'upload'));
      }
      if (err)
        return next(
          new InvalidError('INVALID_UPLOAD', `The multipart body could not be read: ${(err as Error).message}`),
        );
      // The contract lists `file` among the form's fields; multer keeps it apart, so name it back.
      if (req.file) (req.body as Record<string, unknown>).file = req.file.originalname;
      next();
    });
  return [
    (req, res, next) => (hasBody(routeOf(res).operation) ? json(req, res, next) : next()),
    (req, res, next) => (hasBody(routeOf(res).operation) ? text(req, res, next) : next()),
    (req, res, next) => (isMultipart(routeOf(res).operation) ? upload(req, res, next) : next()),
  ];
}

/**
 * Refuses, before anything else reads them, request values no operation can take (see
 * `valueProblems`): the body of an operation that has one, its declared query and path parameters.
 */
export function acceptableValues(maxDepth: number): express.RequestHandler {
  return (req, res, next) => {
    const { operation, params } = routeOf(res);
    const problems = [];
    if (hasBody(operation) && req.body !== undefined) problems.push(...valueProblems(req.body, 'body', maxDepth));
    const query = req.query as Record<string, unknown>;
    for (const param of (operation.parameters ?? []) as { in?: string; name?: string }[]) {
      if (param.in === 'query' && param.name && query[param.name] !== undefined)
        problems.push(...valueProblems(query[param.name], `query.${param.name}`, maxDepth));
    }
    for (const [name, value] of Object.entries(params))
      problems.push(...valueProblems(value, `path.${name}`, maxDepth));
    if (problems.length === 0) return next();
    const message = 'The request holds values no operation accepts; nothing was changed.';
    next(new InvalidError('VALIDATION_FAILED', message, problems));
  };
}

/** The answer to a body that could not be read (malformed, too large, badly encoded), or undefined. */
export function bodyErrorReply(err: unknown, requestId: string, encoding = 'identity'): Reply | undefined {
  const parserError = err as { type?: string; status?: number; message?: string; code?: string; limit?: number };
  switch (parserError?.type) {
    case 'entity.parse.failed':
      return plainError('MALFORMED_JSON', `The request body is not valid JSON: ${parserError.message}`, requestId);
    case 'entity.too.large':
      return errorReply(new TooLargeError(Number(parserError.limit), 'request body'), requestId);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return plainError('UNSUPPORTED_BODY_ENCODING', `${parserError.message}; ${BODY_ENCODINGS}`, requestId);
    // Other failures to read a body that are the client's (aborted, wrong length), as body-parser reports them.
    case 'request.aborted':
    case 'request.size.invalid':
      return plainError('UNREADABLE_BODY', `The request body could not be read: ${parserError.message}`, requestId);
  }
  if (typeof parserError?.code === 'string' && /^(Z_|ERR_)/.test(parserError.code) && parserError.status === 400) {
    // zlib could not decompress what `Content-Encoding` announced.
    const message = `The body is sent with \`Content-Encoding: ${encoding}\` but is not valid ${encoding} data.`;
    return plainError('MALFORMED_COMPRESSED_BODY', message, requestId);
  }
  return undefined;
}

const BODY_ENCODINGS = 'send UTF-8 JSON, uncompressed or with `Content-Encoding` gzip, deflate or br.';

/** Removes the temporary file of an upload, once the request has been answered. */
export function removeUpload(req: express.Request): void {
  const file = req.file;
  if (file?.path && fs.existsSync(file.path)) fs.rmSync(file.path, { force: true });
}

function hasBody(op: Operation): boolean {
  return Boolean((op.requestBody as { content?: unknown } | undefined)?.content);
}

function isMultipart(op: Operation): boolean {
  const body = op.requestBody as { content?: Record<string, unknown> } | undefined;
  return Boolean(body?.content?.['multipart/form-data']);
}
