import dns from 'node:dns/promises';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { Logger } from 'pino';

/**
 * Outbound access for sandboxes, off unless `KERNEL_EGRESS_ALLOW` lists destinations. Sandboxes
 * have no network; with an allow-list, each one gets this process's proxy as a Unix socket (and a
 * forwarder inside that turns it into `HTTP_PROXY=http://127.0.0.1:3128`). The proxy, outside the
 * sandbox, decides: a destination must match an entry, and a host name must not resolve to a
 * loopback, link-local (cloud metadata) or unspecified address; an IP entry is taken as written.
 */

/** One allowed destination: a host (`*.` for any subdomain) and a port (null: any). */
export interface EgressRule {
  host: string;
  port: number | null;
}

/** Connections one proxy carries at once; more are refused with 503. */
const MAX_CONNECTIONS = 64;
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

/** Addresses a host name may never lead a sandbox to: this machine, link-local (metadata services), nothing. */
export function forbiddenAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (net.isIPv4(v4)) return /^(127\.|0\.|169\.254\.)/.test(v4);
  const a = address.toLowerCase();
  return a === '::1' || a === '::' || /^fe[89ab]/.test(a);
}

/** The proxy of this process: one Unix socket every sandbox of it can reach. */
export class EgressProxy {
  private readonly server: http.Server;
  private open = 0;

  private constructor(
    private readonly rules: EgressRule[],
    private readonly logger: Logger,
  ) {
    this.server = http.createServer((req, res) => void this.forward(req, res));
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      void this.tunnel(req, socket, head);
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Listens on `socketPath` (reachable by the sandboxes' users). */
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

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** CONNECT host:port (HTTPS and any TCP): checked, then spliced. */
  private async tunnel(req: http.IncomingMessage, client: net.Socket, head: Buffer): Promise<void> {
    const target = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(req.url ?? '');
    const refusal = target ? await this.check(target[1], Number(target[2])) : 'not host:port';
    if (refusal || !target) {
      client.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nAssay egress: ${refusal}\n`);
      return;
    }
    this.open++;
    const upstream = net.connect({ host: target[1].replace(/^\[|\]$/g, ''), port: Number(target[2]) });
    const done = () => {
      client.destroy();
      upstream.destroy();
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
    upstream.once('close', () => this.open--);
    upstream.once('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
  }

  /** A plain HTTP request with an absolute URL: checked, then forwarded. */
  private async forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
      if (url.protocol !== 'http:') throw new Error('only http');
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('Assay egress: send an absolute http:// URL\n');
      return;
    }
    const port = Number(url.port || 80);
    const refusal = await this.check(url.hostname, port);
    if (refusal) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end(`Assay egress: ${refusal}\n`);
      return;
    }
    this.open++;
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port,
        path: url.pathname + url.search,
        method: req.method,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.setTimeout(IDLE_MS, () => upstream.destroy());
    upstream.once('error', () => res.headersSent || res.writeHead(502).end('Assay egress: upstream failed\n'));
    upstream.once('close', () => this.open--);
    req.pipe(upstream);
  }

  /** Why `host:port` is refused, or null when it may be reached. */
  private async check(host: string, port: number): Promise<string | null> {
    if (this.open >= MAX_CONNECTIONS) return `too many connections (${MAX_CONNECTIONS})`;
    const rule = egressAllowed(this.rules, host, port);
    if (!rule) {
      this.logger.info({ host, port }, 'sandbox egress refused');
      return `${host}:${port} is not in KERNEL_EGRESS_ALLOW`;
    }
    const bare = host.replace(/^\[|\]$/g, '');
    if (net.isIP(bare)) return null; // an address the allow-list names itself
    try {
      const addresses = await dns.lookup(bare, { all: true });
      const bad = addresses.find((a) => forbiddenAddress(a.address));
      return bad ? `${host} resolves to ${bad.address}, which sandboxes may not reach by name` : null;
    } catch {
      return `${host} could not be resolved`;
    }
  }
}
