import http from 'node:http';
import https from 'node:https';
import { ServerConnection } from '@jupyterlab/services';
import WebSocket from 'ws';
import { MAX_KERNEL_MESSAGE_BYTES, type KernelMessageGate } from './messageGate';

/**
 * How the service talks to a Jupyter Server whose kernel runs tenant code. Everything that comes
 * back is hostile: a kernel can hijack its own server (same user, same sandbox) and answer
 * anything. So answers are bounded in size and time, a message the client library cannot
 * validate ends the run instead of throwing out of a websocket callback (which would stop the
 * whole service), and a frame over the limit ends the run instead of hanging it.
 */

/** Largest answer read from a server's REST API (kernel models and kernelspecs are small). */
const MAX_REST_ANSWER_BYTES = 1024 * 1024;
/** Longest a REST request may take from start to end, however the server dribbles its answer. */
const REST_DEADLINE_MS = 30_000;

/** What a connection reports about the server on the other end, and the gate its messages pass. */
export interface ConnectionWatch {
  /** Called once the server or kernel broke the protocol; the run must end. */
  violation(reason: string): void;
  gate: KernelMessageGate;
}

/** Settings for a server listening on a Unix socket (a sandbox's), with the run's token in every request. */
export function unixSocketSettings(socketPath: string, token: string, watch: ConnectionWatch) {
  return ServerConnection.makeSettings({
    baseUrl: 'http://sandbox/',
    wsUrl: 'ws://sandbox/',
    token,
    appendToken: false, // in the Authorization header, never in a URL a log could keep
    fetch: ((request: Request) => boundedRequest(request, socketPath)) as unknown as typeof globalThis.fetch,
    WebSocket: guardedWebSocket(watch, { headers: { Authorization: `token ${token}` } }, (url) => {
      const { pathname, search } = new URL(url);
      return `ws+unix://${socketPath}:${pathname}${search}`;
    }) as unknown as typeof globalThis.WebSocket,
    serializer: watch.gate.serializer(),
  });
}

/** Settings for a remote server (`JUPYTER_URL`), with the same guards on what it sends. */
export function remoteSettings(url: string, token: string, watch: ConnectionWatch) {
  const base = url.replace(/\/?$/, '/');
  return ServerConnection.makeSettings({
    baseUrl: base,
    wsUrl: base.replace(/^http/, 'ws'),
    token,
    appendToken: true,
    fetch: ((request: Request) => boundedRequest(request, null)) as unknown as typeof globalThis.fetch,
    WebSocket: guardedWebSocket(watch, {}) as unknown as typeof globalThis.WebSocket,
    serializer: watch.gate.serializer(),
  });
}

/**
 * A `ws` WebSocket whose message handler cannot throw into the event loop: @jupyterlab/services
 * rethrows a message that fails its validation from inside the websocket callback.
 */
function guardedWebSocket(watch: ConnectionWatch, options: WebSocket.ClientOptions, rewrite = (url: string) => url) {
  class GuardedWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(rewrite(url), protocols, { ...options, maxPayload: MAX_KERNEL_MESSAGE_BYTES });
      const tooLarge = () => watch.violation(`a kernel message exceeded ${MAX_KERNEL_MESSAGE_BYTES} bytes`);
      this.on('error', (err: Error & { code?: string }) => {
        if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tooLarge();
      });
      this.on('close', (code: number) => {
        if (code === 1009) tooLarge();
      });
    }
  }
  // `ws` defines onmessage as an accessor of its prototype; this one wraps the handler it is given.
  const inherited = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage')!;
  Object.defineProperty(GuardedWebSocket.prototype, 'onmessage', {
    configurable: true,
    get(this: WebSocket) {
      return inherited.get!.call(this) as unknown;
    },
    set(this: WebSocket, handler: ((event: WebSocket.MessageEvent) => void) | null) {
      const guarded = (event: WebSocket.MessageEvent) => {
        try {
          handler!.call(this, event);
        } catch (err) {
          watch.violation(`the kernel sent an invalid message (${(err as Error).message.slice(0, 200)})`);
          this.terminate();
        }
      };
      inherited.set!.call(this, handler ? guarded : null);
    },
  });
  return GuardedWebSocket;
}

/**
 * A fetch over a Unix socket (`socketPath`) or to the request's own host: the answer bounded in
 * size and in total time, its status checked, the connection never pooled (nothing outlives it).
 */
async function boundedRequest(request: Request, socketPath: string | null): Promise<Response> {
  const url = new URL(request.url);
  const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      {
        ...(socketPath ? { socketPath } : { host: url.hostname, port: url.port || undefined }),
        path: url.pathname + url.search,
        method: request.method,
        headers: Object.fromEntries(request.headers),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REST_ANSWER_BYTES)
            req.destroy(new Error(`the answer exceeded ${MAX_REST_ANSWER_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          try {
            resolve(toResponse(res, Buffer.concat(chunks), request.method));
          } catch (err) {
            reject(err as Error);
          }
        });
        res.on('error', reject);
      },
    );
    const deadline = setTimeout(() => req.destroy(new Error('no answer within 30 s')), REST_DEADLINE_MS);
    req.on('close', () => clearTimeout(deadline));
    req.on('error', reject);
    req.end(body);
  });
}

function toResponse(res: http.IncomingMessage, body: Buffer, method: string): Response {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 599) throw new Error(`the server answered with status ${status}`);
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    for (const v of [value ?? []].flat()) headers.append(name, v);
  }
  const empty = status === 204 || status === 205 || status === 304 || method === 'HEAD';
  return new Response(empty ? null : body, { status, headers });
}
