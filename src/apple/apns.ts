// APNs wake-up pushes for MDM (Apple "Sending Notification Requests to APNs" and Device Management,
// "Send a push notification"): HTTP/2 POST /3/device/<token> with the MDM push certificate as the
// TLS client certificate, apns-topic = the certificate's UID, apns-push-type: mdm, and the body
// {"mdm": PushMagic}. The only connection Ward makes off the LAN, so it can go through an HTTP
// CONNECT proxy and can be switched off.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { KeyObject } from 'node:crypto';

export const APNS_PRODUCTION_URL = 'https://api.push.apple.com';

export interface ApnsOptions {
  /** APNs base URL (default Apple's production gateway). */
  url?: string;
  /** Push certificate (PEM) and its private key; the key is handed to TLS only. */
  certificate: string;
  key: KeyObject | string;
  /** apns-topic: the UID of the push certificate's subject. */
  topic: string;
  /** HTTP CONNECT proxy, e.g. "http://proxy.hospital.local:3128". */
  proxy?: string;
  /** Extra trust anchors for the APNs endpoint (tests use a local stand-in). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Attempts per push including the first (default 5). */
  maxAttempts?: number;
  /** First retry delay in ms, doubled each attempt up to maxBackoffMs (defaults 1000 / 60000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Per-request timeout in ms (default 15000). */
  timeoutMs?: number;
  /** Called when APNs answers 410 Unregistered: the token is dead until the next TokenUpdate. */
  onUnregistered?: (token: Buffer, at: Date) => void;
  /** Called after each push settles (for the audit trail and metrics; never sees PushMagic). */
  onResult?: (token: Buffer, result: PushResult) => void;
}

export interface PushTarget {
  /** The device's push token (TokenUpdate Token). */
  token: Uint8Array;
  /** The device's PushMagic (TokenUpdate PushMagic). */
  pushMagic: string;
}

export type PushResult =
  | { status: 'sent'; apnsId?: string; attempts: number }
  | { status: 'unregistered'; attempts: number; reason: string }
  | { status: 'rejected'; httpStatus: number; reason: string; attempts: number }
  | { status: 'failed'; reason: string; attempts: number };

interface Pending {
  promise: Promise<PushResult>;
  /** The current attempt's request has been written: a newer push request needs a follow-up. */
  onWire: boolean;
  /** A push was asked for while this one was already on the wire: send one more after it. */
  again: boolean;
  target: PushTarget;
}

class ApnsResponseError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly reason: string,
  ) {
    super(`APNs ${httpStatus} ${reason}`);
  }
}

// Apple "Handling notification responses from APNs": which answers are worth a retry.
const RETRYABLE_STATUS = new Set([429, 500, 503]);

export class ApnsClient {
  private session?: http2.ClientHttp2Session;
  private connecting?: Promise<http2.ClientHttp2Session>;
  private readonly pending = new Map<string, Pending>();
  private readonly url: URL;
  private readonly keyPem: string;
  private closed = false;
  /** Backoff waits, so close() can end them at once. */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();

  constructor(private readonly options: ApnsOptions) {
    this.url = new URL(options.url ?? APNS_PRODUCTION_URL);
    this.keyPem = typeof options.key === 'string' ? options.key : (options.key.export({ type: 'pkcs8', format: 'pem' }) as string);
  }

  /**
   * Wakes one device. Pushes to the same token coalesce: while one is waiting or on the wire, more
   * requests share it (plus at most one follow-up, so a command queued mid-push is not missed).
   */
  push(target: PushTarget): Promise<PushResult> {
    const id = Buffer.from(target.token).toString('hex');
    const existing = this.pending.get(id);
    if (existing) {
      if (existing.onWire) existing.again = true;
      existing.target = target;
      return existing.promise;
    }
    const entry: Pending = { onWire: false, again: false, target, promise: Promise.resolve() as unknown as Promise<PushResult> };
    entry.promise = this.run(id, entry);
    this.pending.set(id, entry);
    return entry.promise;
  }

  /** Number of devices with a push queued or on the wire. */
  get inFlight(): number {
    return this.pending.size;
  }

  private async run(id: string, entry: Pending): Promise<PushResult> {
    let result: PushResult;
    try {
      do {
        entry.again = false;
        entry.onWire = false;
        result = await this.deliver(entry);
      } while (entry.again && result.status === 'sent' && !this.closed);
    } finally {
      this.pending.delete(id);
    }
    this.options.onResult?.(Buffer.from(entry.target.token), result);
    return result;
  }

  private async deliver(entry: Pending): Promise<PushResult> {
    const target = entry.target;
    const maxAttempts = this.options.maxAttempts ?? 5;
    let delay = this.options.backoffMs ?? 1000;
    const maxDelay = this.options.maxBackoffMs ?? 60_000;
    let lastReason = 'not attempted';
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (this.closed) return { status: 'failed', reason: 'client closed', attempts: attempt - 1 };
      try {
        const apnsId = await this.send(entry);
        return { status: 'sent', apnsId, attempts: attempt };
      } catch (e) {
        if (e instanceof ApnsResponseError) {
          if (e.httpStatus === 410) {
            this.options.onUnregistered?.(Buffer.from(target.token), new Date());
            return { status: 'unregistered', attempts: attempt, reason: e.reason };
          }
          if (!RETRYABLE_STATUS.has(e.httpStatus)) {
            return { status: 'rejected', httpStatus: e.httpStatus, reason: e.reason, attempts: attempt };
          }
        }
        lastReason = (e as Error).message;
      }
      if (attempt < maxAttempts) {
        // Jitter keeps many devices from retrying in lock step after an outage.
        await this.sleep(Math.round(delay / 2 + Math.random() * (delay / 2)));
        delay = Math.min(delay * 2, maxDelay);
      }
    }
    return { status: 'failed', reason: lastReason, attempts: maxAttempts };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }

  private async send(entry: Pending): Promise<string | undefined> {
    const session = await this.connect();
    const target = entry.target;
    entry.onWire = true;
    const body = JSON.stringify({ mdm: target.pushMagic });
    const token = Buffer.from(target.token).toString('hex');
    return new Promise((resolve, reject) => {
      const req = session.request({
        ':method': 'POST',
        ':path': `/3/device/${token}`,
        'apns-topic': this.options.topic,
        'apns-push-type': 'mdm',
        'apns-priority': '10',
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      req.setTimeout(this.options.timeoutMs ?? 15_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
      let status = 0;
      let apnsId: string | undefined;
      const chunks: Buffer[] = [];
      req.on('response', (headers) => {
        status = Number(headers[':status']);
        apnsId = headers['apns-id'] as string | undefined;
      });
      req.on('data', (c: Buffer) => {
        if (chunks.length < 16) chunks.push(c);
      });
      req.on('end', () => {
        if (status === 0) return reject(new Error('APNs stream ended without a response'));
        if (status === 200) return resolve(apnsId);
        let reason = `HTTP ${status}`;
        try {
          const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { reason?: unknown };
          if (typeof parsed.reason === 'string') reason = parsed.reason;
        } catch {
          // A body that is not APNs JSON keeps the HTTP status as the reason.
        }
        reject(new ApnsResponseError(status, reason));
      });
      req.on('error', reject);
      req.on('close', () => {
        if (status === 0) reject(new Error('APNs stream closed without a response'));
      });
      req.end(body);
    });
  }

  private connect(): Promise<http2.ClientHttp2Session> {
    if (this.session && !this.session.closed && !this.session.destroyed) return Promise.resolve(this.session);
    if (this.connecting) return this.connecting;
    this.connecting = this.openSession().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async openSession(): Promise<http2.ClientHttp2Session> {
    const host = this.url.hostname;
    const port = Number(this.url.port || 443);
    const tlsOptions: tls.ConnectionOptions = {
      host,
      port,
      servername: net.isIP(host) ? undefined : host,
      ALPNProtocols: ['h2'],
      cert: this.options.certificate,
      key: this.keyPem,
      ca: this.options.ca,
      minVersion: 'TLSv1.2',
    };
    let socket: tls.TLSSocket | undefined;
    if (this.options.proxy) socket = await this.tunnel(host, port, tlsOptions);
    const session = http2.connect(this.url.origin, {
      createConnection: () => socket ?? tls.connect(tlsOptions),
    });
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    session.on('error', () => session.destroy());
    session.on('goaway', () => session.close());
    this.session = session;
    return session;
  }

  /** RFC 9110 9.3.6: CONNECT host:port through the proxy, then TLS inside the tunnel. */
  private tunnel(host: string, port: number, tlsOptions: tls.ConnectionOptions): Promise<tls.TLSSocket> {
    const proxy = new URL(this.options.proxy as string);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { host: `${host}:${port}` };
      if (proxy.username) {
        const cred = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
        headers['proxy-authorization'] = `Basic ${Buffer.from(cred).toString('base64')}`;
      }
      const req = http.request({
        host: proxy.hostname,
        port: Number(proxy.port || 80),
        method: 'CONNECT',
        path: `${host}:${port}`,
        headers,
        timeout: this.options.timeoutMs ?? 15_000,
      });
      req.once('connect', (res, raw) => {
        if (res.statusCode !== 200) {
          raw.destroy();
          reject(new Error(`proxy answered CONNECT with ${res.statusCode}`));
          return;
        }
        const socket = tls.connect({ ...tlsOptions, socket: raw });
        socket.once('secureConnect', () => resolve(socket));
        socket.once('error', reject);
      });
      req.once('timeout', () => req.destroy(new Error('proxy CONNECT timed out')));
      req.once('error', reject);
      req.end();
    });
  }

  /** Closes the HTTP/2 session; queued retries end as failed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [timer, resolve] of this.timers) {
      clearTimeout(timer);
      resolve();
    }
    this.timers.clear();
    const s = this.session;
    this.session = undefined;
    if (s && !s.closed) await new Promise<void>((r) => s.close(() => r()));
  }
}
