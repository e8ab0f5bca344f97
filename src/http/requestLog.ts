import { randomUUID } from 'node:crypto';
import type express from 'express';
import type { Logger } from 'pino';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request id: the client's `X-Request-Id` when it is sane, else a new one. */
    id: string;
    /** A logger that stamps every line with the request id. */
    log: Logger;
  }
}

const SANE_ID = /^[\w.-]{1,100}$/;

/**
 * Gives every request an id (echoed in `X-Request-Id` and in error bodies) and logs one line
 * per answered request. Cheaper than a child logger per request: `req.log` is made on first use.
 */
export function requestLog(app: express.Express, logger: Logger): express.RequestHandler {
  Object.defineProperty(app.request, 'log', {
    get(this: express.Request & { _log?: Logger }) {
      return (this._log ??= logger.child({ reqId: this.id }));
    },
  });
  return (req, res, next) => {
    const sent = req.headers['x-request-id'];
    req.id = typeof sent === 'string' && SANE_ID.test(sent) ? sent : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    if (logger.isLevelEnabled('info')) {
      const started = performance.now();
      res.once('finish', () => {
        const ms = Math.round((performance.now() - started) * 100) / 100;
        logger.info(
          { reqId: req.id, method: req.method, url: withoutSecrets(req.originalUrl), status: res.statusCode, ms },
          'request',
        );
      });
    }
    next();
  };
}

/** The URL as logged: a stream ticket in the query is replaced, so logs never hold a usable one. */
export function withoutSecrets(url: string): string {
  return url.replace(/([?&]ticket=)[^&#]*/gi, '$1[hidden]');
}
