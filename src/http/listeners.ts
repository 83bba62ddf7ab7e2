// The two listeners of ARCHITECTURE.md: plain HTTP (SCEP, CA chain, CRL, DPC APK: things a device
// needs before it trusts Ward) and HTTPS (everything else), each a koa app with the same middleware.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { accessLogOf, type WardConfig } from '../config';
import { errorBoundary } from './errors';
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
  const appOf = (router: Router, name: string) => {
    const app = new Koa();
    app.proxy = false;
    app.silent = true;
    const l = log.child({ listener: name });
    app.use(requestLog(accessLogOf(log, { listener: name })));
    app.use(errorBoundary(l));
    app.use(securityHeaders);
    app.use(router.routes());
    app.use(router.allowedMethods());
    return app;
  };
  const httpServer = http.createServer(appOf(plain, 'http').callback());
  const httpsServer = https.createServer(tlsOptions(tls), appOf(secure, 'https').callback());
  for (const s of [httpServer, httpsServer]) {
    s.requestTimeout = cfg.limits.requestTimeoutMs;
    s.headersTimeout = cfg.limits.headersTimeoutMs;
    s.keepAliveTimeout = 5000;
    s.maxHeadersCount = 100;
    s.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }
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
    secure,
    shuttingDown: abort.signal,
    async start() {
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
