// The two listeners of ARCHITECTURE.md: plain HTTP (SCEP, CA chain, CRL, DPC APK: things a device
// needs before it trusts Ward) and HTTPS (everything else), each a koa app with the same middleware.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { KeyObject } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { AccessLog, type WardConfig } from '../config';
import { errorBoundary } from './errors';
import { ExchangeRoutes } from './exchange';
import type { Health } from './health';
import { requestLog, securityHeaders } from './middleware';

/** TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3 suites are all acceptable). */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export interface TlsIdentity {
  key: KeyObject;
  certPem: string;
  /** CA certificates (PEM) sent after the server certificate and trusted for client certificates. */
  chainPem: string;
}

export interface Listeners {
  /** Routes of the plain-HTTP listener. */
  plain: Router;
  /** Fixed paths of the plain-HTTP listener answered without koa (exchange.ts), before `plain`. */
  plainExchanges: ExchangeRoutes;
  /** Routes of the HTTPS listener. */
  secure: Router;
  start(): Promise<{ httpPort: number; httpsPort: number }>;
  /** Swaps the server certificate without dropping connections (re-issued identity). */
  setTlsIdentity(id: TlsIdentity): void;
  /** Stops accepting, lets in-flight requests finish (up to graceMs), then closes what is left. */
  stop(graceMs?: number): Promise<void>;
  /** Aborted when shutdown begins: long polls end early with a "retry" answer. */
  readonly shuttingDown: AbortSignal;
}

function tlsOptions(id: TlsIdentity): https.ServerOptions {
  return {
    key: id.key.export({ type: 'pkcs8', format: 'pem' }),
    cert: id.certPem + id.chainPem.split(/(?=-----BEGIN CERTIFICATE-----)/)[0],
    ca: id.chainPem,
    minVersion: 'TLSv1.2',
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
    // Devices authenticate with Ward-issued certificates; the handlers decide who must present one.
    requestCert: true,
    rejectUnauthorized: false,
  };
}

/** A request Node refused before it reached koa: too slow (headersTimeout, requestTimeout), headers too large. */
const CLIENT_ERROR_STATUS: Record<string, string> = {
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
};

/**
 * Open connections per client address over both listeners: past the cap a new connection is closed
 * at once (a flood from one host must not use up maxConnections for every device).
 */
class ConnectionCounts {
  private readonly byAddress = new Map<string, number>();
  readonly open = { http: 0, https: 0 };
  refused = 0;

  constructor(private readonly perAddress: number) {}

  admit(socket: Socket, listener: 'http' | 'https'): void {
    const address = socket.remoteAddress ?? '';
    const held = this.byAddress.get(address) ?? 0;
    if (this.perAddress > 0 && held >= this.perAddress) {
      this.refused++;
      socket.destroy();
      return;
    }
    this.byAddress.set(address, held + 1);
    this.open[listener]++;
    socket.once('close', () => {
      this.open[listener]--;
      const left = (this.byAddress.get(address) ?? 1) - 1;
      if (left > 0) this.byAddress.set(address, left);
      else this.byAddress.delete(address);
    });
  }
}

/**
 * Remembers which routes answer a fixed path. @koa/router tests every route's pattern on every
 * request (the HTTPS router holds 65 with the admin API), and a fleet sends the same few paths
 * (/mdm/checkin, /mdm/command, the Android agent's) all day. Only paths a route answers and that
 * have no path parameters are kept (/api/v1/devices/:id would make the table grow with the fleet,
 * a scanner's junk paths would fill it), at most 256, and each caller gets its own arrays: the
 * router stores them on the request context.
 */
function rememberRouteMatches(router: Router): void {
  type Match = ReturnType<Router['match']>;
  const match = router.match.bind(router);
  const known = new Map<string, Match>();
  let routes = router.stack.length;
  router.match = (path: string, method: string): Match => {
    // A route mounted after start (tests do) may answer a path already remembered.
    if (router.stack.length !== routes) {
      known.clear();
      routes = router.stack.length;
    }
    const key = `${method} ${path}`;
    let found = known.get(key);
    if (!found) {
      found = match(path, method);
      if (found.route && known.size < 256 && found.path.every((layer) => layer.paramNames.length === 0)) known.set(key, found);
      else return found;
    }
    return { path: [...found.path], pathAndMethod: [...found.pathAndMethod], route: found.route };
  };
}

export function createListeners(cfg: WardConfig, log: Logger, health: Health, tls: TlsIdentity): Listeners {
  const abort = new AbortController();
  const plain = new Router();
  const secure = new Router();
  for (const r of [plain, secure]) {
    r.get('/healthz', (ctx) => {
      const report = health.report();
      ctx.status = report.status === 'ok' ? 200 : 503;
      ctx.body = report;
    });
  }
  const appOf = (router: Router, name: string, accessLog: AccessLog) => {
    const app = new Koa();
    app.proxy = false;
    app.silent = true;
    const l = log.child({ listener: name });
    app.use(requestLog(accessLog));
    app.use(errorBoundary(l));
    app.use(securityHeaders);
    app.use(router.routes());
    app.use(router.allowedMethods());
    return app;
  };
  const limits = cfg.limits;
  // Node checks the header and request deadlines every connectionsCheckingInterval (default 30 s,
  // which would let a slow client keep its socket that long past headersTimeout), and refuses a
  // headersTimeout longer than the requestTimeout (the headers are part of the request).
  const timing = {
    headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs), requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs, connectionsCheckingInterval: 1000,
  };
  const plainAccessLog = new AccessLog(log, { listener: 'http' });
  const plainExchanges = new ExchangeRoutes(plainAccessLog, log.child({ listener: 'http' }));
  const plainApp = appOf(plain, 'http', plainAccessLog).callback();
  const httpServer = http.createServer(timing, (req, res) => {
    if (!plainExchanges.serve(req, res)) void plainApp(req, res);
  });
  const httpsServer = https.createServer({ ...timing, ...tlsOptions(tls), handshakeTimeout: limits.headersTimeoutMs }, appOf(secure, 'https', new AccessLog(log, { listener: 'https' })).callback());
  const connections = new ConnectionCounts(limits.connectionsPerAddress);
  for (const [s, name] of [[httpServer, 'http'], [httpsServer, 'https']] as const) {
    s.maxConnections = limits.maxConnections;
    s.maxHeadersCount = 100;
    s.on('connection', (socket: Socket) => connections.admit(socket, name));
    s.on('drop', () => connections.refused++);
    // Expect: 100-continue: Node would send "100 Continue" at once; readBody sends it only once the
    // route wants the body, so an oversized upload is refused before the client sends it.
    s.on('checkContinue', (req, res) => s.emit('request', req, res));
    s.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // Only an HTTP-level refusal gets an HTTP answer. The HTTPS server reports failed or timed-out
      // TLS handshakes here too: a plaintext answer on such a socket would wait for a handshake that
      // never comes, and keep the socket open for good.
      const code = err.code ?? '';
      const http = code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (http && socket.writable) socket.end(`HTTP/1.1 ${CLIENT_ERROR_STATUS[code] ?? '400 Bad Request'}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
  }
  health.register('http', () => ({
    ok: true,
    details: { connections: { ...connections.open }, refusedConnections: connections.refused },
  }));
  httpsServer.on('tlsClientError', (err) => log.debug({ err: err.message }, 'tls handshake failed'));

  const listen = (s: http.Server, l: { host: string; port: number }) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen(l.port, l.host, () => {
        s.off('error', reject);
        resolve((s.address() as AddressInfo).port);
      });
    });
  const close = (s: http.Server, graceMs: number) =>
    new Promise<void>((resolve) => {
      if (!s.listening) return resolve();
      const force = setTimeout(() => s.closeAllConnections(), graceMs);
      s.close(() => {
        clearTimeout(force);
        resolve();
      });
      s.closeIdleConnections();
    });

  return {
    plain,
    plainExchanges,
    secure,
    shuttingDown: abort.signal,
    async start() {
      // Every domain has mounted its routes by now (main.ts starts the listeners last).
      rememberRouteMatches(plain);
      rememberRouteMatches(secure);
      const httpPort = await listen(httpServer, cfg.http);
      const httpsPort = await listen(httpsServer, cfg.https);
      return { httpPort, httpsPort };
    },
    setTlsIdentity(id) {
      httpsServer.setSecureContext(tlsOptions(id));
    },
    async stop(graceMs = 10_000) {
      abort.abort();
      await Promise.all([close(httpServer, graceMs), close(httpsServer, graceMs)]);
    },
  };
}
