import fs from 'node:fs';
import http from 'node:http';
import { ServerConnection } from '@jupyterlab/services';
import WebSocket from 'ws';

/** Largest answer the service reads from a sandboxed Jupyter Server's REST API (kernel models are small). */
const MAX_REST_ANSWER_BYTES = 1024 * 1024;
/** Largest kernel message the service accepts on a kernel's websocket; bigger ones close the connection. */
export const MAX_KERNEL_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Settings for @jupyterlab/services that reach a Jupyter Server listening on a Unix socket
 * (`jupyter-server --sock`) inside a sandbox with no network. Every request carries the run's
 * token: the socket's path is in a directory the sandboxed code can write, so a link planted
 * there could point the service at another sandbox's socket, and that server refuses the token.
 * Before each connection the path must still be a socket owned by the sandbox's user.
 */
export function unixSocketSettings(socketPath: string, token: string, ownerUid: number | null) {
  const check = () => checkSocket(socketPath, ownerUid);
  const socketFetch = (request: Request) => requestOverSocket(socketPath, request, check);
  class SocketWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      check();
      const { pathname, search } = new URL(url);
      super(`ws+unix://${socketPath}:${pathname}${search}`, protocols, {
        headers: { Authorization: `token ${token}` },
        maxPayload: MAX_KERNEL_MESSAGE_BYTES,
      });
    }
  }
  return ServerConnection.makeSettings({
    baseUrl: 'http://sandbox/',
    wsUrl: 'ws://sandbox/',
    token,
    appendToken: false, // in the Authorization header, never in a URL a log could keep
    fetch: socketFetch as unknown as typeof globalThis.fetch,
    WebSocket: SocketWebSocket as unknown as typeof globalThis.WebSocket,
  });
}

/** Throws unless `socketPath` is a Unix socket (not a link to one) owned by `ownerUid` (when known). */
function checkSocket(socketPath: string, ownerUid: number | null): void {
  const stat = fs.lstatSync(socketPath);
  if (!stat.isSocket()) throw new Error(`${socketPath} is not a Unix socket`);
  if (ownerUid !== null && stat.uid !== ownerUid) throw new Error(`${socketPath} belongs to another user`);
}

/** A fetch over a Unix socket: the request's path and headers as given, the answer bounded in size. */
async function requestOverSocket(socketPath: string, request: Request, check: () => void): Promise<Response> {
  check();
  const url = new URL(request.url);
  const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        path: url.pathname + url.search,
        method: request.method,
        headers: Object.fromEntries(request.headers),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REST_ANSWER_BYTES) {
            req.destroy(new Error(`The Jupyter Server's answer exceeded ${MAX_REST_ANSWER_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 502;
          const headers = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const v of [value ?? []].flat()) headers.append(name, v);
          }
          const empty = status === 204 || status === 304 || request.method === 'HEAD';
          resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers }));
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('The Jupyter Server did not answer within 30 s')));
    req.end(body);
  });
}
