// A local HTTP/2 TLS server standing in for APNs (it checks the client certificate like Apple does)
// and an HTTP CONNECT proxy, both on 127.0.0.1 with port 0.
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type tls from 'node:tls';
import type { Identity } from './openssl';

export interface ApnsRequest {
  path: string;
  headers: http2.IncomingHttpHeaders;
  body: string;
  clientCertSubject: string;
}

export type Responder = (req: ApnsRequest, index: number) => { status: number; reason?: string } | Promise<{ status: number; reason?: string }>;

export class ApnsStandIn {
  readonly requests: ApnsRequest[] = [];
  private waiters: Array<() => void> = [];
  responder: Responder = () => ({ status: 200 });
  private constructor(private readonly server: http2.Http2SecureServer) {}

  static async start(server: Identity, clientCa: Identity): Promise<ApnsStandIn> {
    const s = http2.createSecureServer({
      key: fs.readFileSync(server.keyPath),
      cert: server.certPem,
      ca: clientCa.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const standIn = new ApnsStandIn(s);
    s.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const peer = (stream.session?.socket as tls.TLSSocket).getPeerCertificate();
        const req: ApnsRequest = {
          path: String(headers[':path']),
          headers,
          body: Buffer.concat(chunks).toString('utf8'),
          clientCertSubject: `UID=${peer.subject?.UID ?? ''},CN=${peer.subject?.CN ?? ''}`,
        };
        const index = standIn.requests.push(req) - 1;
        standIn.waiters.splice(0).forEach((w) => w());
        const answer = await standIn.responder(req, index);
        if (stream.destroyed) return;
        stream.respond({ ':status': answer.status, 'apns-id': `apns-${index}`, 'content-type': 'application/json' });
        stream.end(answer.status === 200 ? '' : JSON.stringify({ reason: answer.reason ?? 'Error' }));
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return standIn;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Resolves once at least n requests have arrived. */
  async waitFor(n: number): Promise<void> {
    while (this.requests.length < n) await new Promise<void>((r) => this.waiters.push(r));
  }

  reset(responder: Responder = () => ({ status: 200 })): void {
    this.requests.length = 0;
    this.responder = responder;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** An HTTP CONNECT proxy that records the targets it was asked for. */
export class ConnectProxy {
  readonly targets: string[] = [];
  private readonly sockets = new Set<net.Socket>();
  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<ConnectProxy> {
    const server = http.createServer((_req, res) => {
      res.statusCode = 405;
      res.end();
    });
    const proxy = new ConnectProxy(server);
    server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      proxy.targets.push(String(req.url));
      const [host, port] = String(req.url).split(':');
      if (host !== '127.0.0.1') {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}
