import dns from 'node:dns/promises';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import type { Logger } from 'pino';

/**
 * Outbound access for sandboxes, off unless `KERNEL_EGRESS_ALLOW` lists destinations. Sandboxes
 * have no network; with an allow-list, each one gets a proxy of its own as a Unix socket (and a
 * forwarder inside that turns it into `HTTP_PROXY=http://127.0.0.1:3128`). The proxy, outside the
 * sandbox, decides: a destination must match an entry; a host name must resolve to a public
 * address only (not loopback, link-local, private, or this machine's own), and the connection
 * goes to the very address that was checked; an IP entry is taken as written.
 */

/** One allowed destination: a host (`*.` for any subdomain) and a port (null: any). */
export interface EgressRule {
  host: string;
  port: number | null;
}

/** Connections one sandbox's proxy carries at once, and all of this process's together. */
const MAX_CONNECTIONS = 16;
const MAX_CONNECTIONS_IN_ALL = 256;
let openInAll = 0;
/** A tunnel or request idle this long is closed. */
const IDLE_MS = 120_000;

/** Reads `KERNEL_EGRESS_ALLOW`: `host:port` entries separated by commas, `*` for any port. */
export function parseEgressAllow(value: string | undefined): EgressRule[] {
  if (!value?.trim()) return [];
  return value.split(',').map((raw) => {
    const entry = raw.trim().toLowerCase();
    const m = /^(\*\.[a-z0-9.-]+|[a-z0-9.-]+|\[[0-9a-f:]+\]):(\d{1,5}|\*)$/.exec(entry);
    if (!m) throw new Error(`KERNEL_EGRESS_ALLOW entries are host:port (port a number or *), got '${raw.trim()}'`);
    const port = m[2] === '*' ? null : Number(m[2]);
    if (port !== null && (port < 1 || port > 65535)) throw new Error(`KERNEL_EGRESS_ALLOW: bad port in '${entry}'`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

/** Whether `host:port` matches a rule. */
export function egressAllowed(rules: EgressRule[], host: string, port: number): EgressRule | null {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const rule of rules) {
    if (rule.port !== null && rule.port !== port) continue;
    if (rule.host.startsWith('*.') ? h.endsWith(rule.host.slice(1)) : h === rule.host) return rule;
  }
  return null;
}

/**
 * Addresses a host name may never lead a sandbox to: loopback, unspecified, link-local (metadata
 * services), private and shared ranges, and this machine's own. Only an IP entry reaches those.
 */
export function forbiddenAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (ownAddresses().has(v4.toLowerCase())) return true;
  if (net.isIPv4(v4)) return PRIVATE_V4.test(v4);
  const a = address.toLowerCase();
  return a === '::1' || a === '::' || /^fe[89ab]/.test(a) || /^f[cd]/.test(a);
}

/** Loopback, this network, private, link-local and shared (carrier-grade NAT) IPv4 ranges. */
const PRIVATE_V4 =
  /^(127\.|0\.|10\.|169\.254\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.)/;

function ownAddresses(): Set<string> {
  return new Set(
    Object.values(os.networkInterfaces())
      .flat()
      .map((i) => i?.address.toLowerCase() ?? ''),
  );
}

/** The proxy of this process: one Unix socket every sandbox of it can reach. */
export class EgressProxy {
  private readonly server: http.Server;
  /** Connections of this proxy: slots are taken before a destination is checked, so checks cannot race past the limit. */
  private open = 0;
  /** Every client socket, tunnels included (the HTTP server forgets those), so that close() ends them. */
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly rules: EgressRule[],
    private readonly logger: Logger,
  ) {
    this.server = http.createServer((req, res) => {
      this.forward(req, res).catch(() => res.destroy());
    });
    this.server.on('connection', (socket: net.Socket) => {
      // First thing: a socket the sandbox resets must never raise an unhandled error.
      socket.on('error', () => socket.destroy());
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      this.tunnel(req, socket, head).catch(() => socket.destroy());
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listens on `socketPath` (reachable by the sandbox's user). */
  static async listen(socketPath: string, rules: EgressRule[], logger: Logger): Promise<EgressProxy> {
    const proxy = new EgressProxy(rules, logger);
    fs.rmSync(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(socketPath, resolve);
    });
    fs.chmodSync(socketPath, 0o666);
    return proxy;
  }

  /** Ends every connection and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** CONNECT host:port (HTTPS and any TCP): checked, then spliced. */
  private async tunnel(req: http.IncomingMessage, client: net.Socket, head: Buffer): Promise<void> {
    const target = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(req.url ?? '');
    const verdict = target ? await this.reserveAndCheck(target[1], Number(target[2])) : { refusal: 'not host:port' };
    if ('refusal' in verdict || !target) {
      refuse(client, 'refusal' in verdict ? verdict.refusal : '');
      return;
    }
    const upstream = net.connect({ host: verdict.address, port: Number(target[2]) });
    this.sockets.add(upstream);
    let released = false;
    const done = () => {
      client.destroy();
      upstream.destroy();
      if (!released) {
        released = true;
        this.release();
      }
    };
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    for (const s of [client, upstream]) {
      s.setTimeout(IDLE_MS, done);
      s.once('error', done);
      s.once('close', done);
    }
  }

  /** A plain HTTP request with an absolute URL: checked, then forwarded. */
  private async forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    req.on('error', () => res.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '');
      if (url.protocol !== 'http:') throw new Error('only http');
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('Assay egress: send an absolute http:// URL\n');
      return;
    }
    const port = Number(url.port || 80);
    const verdict = await this.reserveAndCheck(url.hostname, port);
    if ('refusal' in verdict) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end(`Assay egress: ${verdict.refusal}\n`);
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request(
      { host: verdict.address, port, path: url.pathname + url.search, method: req.method, headers },
      (answer) => {
        const status = answer.statusCode ?? 0;
        // An answer node cannot relay (no status, 1xx, over 599) is a bad gateway, not a thrown error.
        if (status < 200 || status > 599) {
          answer.destroy();
          if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end('Assay egress: bad answer\n');
          return;
        }
        try {
          res.writeHead(status, answer.headers);
        } catch {
          answer.destroy();
          res.destroy();
          return;
        }
        answer.on('error', () => res.destroy());
        answer.pipe(res);
      },
    );
    upstream.setTimeout(IDLE_MS, () => upstream.destroy());
    upstream.once('upgrade', (_answer, socket: net.Socket) => {
      socket.destroy();
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end('Assay egress: no upgrades\n');
    });
    upstream.once('close', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end('Assay egress: no answer\n');
    });
    upstream.once('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end('Assay egress: upstream failed\n');
      else res.destroy();
    });
    upstream.once('close', () => this.release());
    req.pipe(upstream);
  }

  /**
   * Takes a connection slot, then decides: the address to connect `host:port` to, or why it is
   * refused (and the slot is given back).
   */
  private async reserveAndCheck(host: string, port: number): Promise<{ address: string } | { refusal: string }> {
    if (this.open >= MAX_CONNECTIONS) return { refusal: `too many connections of this run (${MAX_CONNECTIONS})` };
    if (openInAll >= MAX_CONNECTIONS_IN_ALL) return { refusal: 'too many connections; try again later' };
    this.open++;
    openInAll++;
    const verdict = await this.check(host, port);
    if ('refusal' in verdict) this.release();
    return verdict;
  }

  private release(): void {
    this.open--;
    openInAll--;
  }

  /** The address to connect `host:port` to, or why it is refused. */
  private async check(host: string, port: number): Promise<{ address: string } | { refusal: string }> {
    if (port < 1 || port > 65535) return { refusal: `port ${port} does not exist` };
    const rule = egressAllowed(this.rules, host, port);
    if (!rule) {
      this.logger.info({ host, port }, 'sandbox egress refused');
      return { refusal: `${host}:${port} is not in KERNEL_EGRESS_ALLOW` };
    }
    const bare = host.replace(/^\[|\]$/g, '');
    if (net.isIP(bare)) return { address: bare }; // an address the allow-list names itself
    try {
      // Resolved once, and the connection goes to this address: no second lookup to rebind.
      const addresses = await dns.lookup(bare, { all: true });
      const bad = addresses.find((a) => forbiddenAddress(a.address));
      if (bad) return { refusal: `${host} resolves to ${bad.address}, which sandboxes may not reach by name` };
      return { address: addresses[0].address };
    } catch {
      return { refusal: `${host} could not be resolved` };
    }
  }
}

/** Answers a refused CONNECT and closes the socket soon, whether or not the sandbox reads the answer. */
function refuse(client: net.Socket, why: string): void {
  client.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nAssay egress: ${why}\n`);
  setTimeout(() => client.destroy(), 2_000).unref();
}
