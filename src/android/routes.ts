// The Android routes. Plain HTTP: the DPC APK the setup wizard downloads (pinned by the QR code's
// checksum) and the optional PAC file. HTTPS, under /android/agent/v1: the agent API of
// docs/android-agent-protocol.md. Handlers parse, authenticate, validate, call the service, answer;
// every agent answer carries a `next` directive, and no passing failure ever reads as "unenrolled".
import fs from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { HttpError, Router, readJson, type Context, type Next as KoaNext } from '../http';
import type { Logger } from 'pino';
import { STORAGE_ANSWERS, storageTrouble } from '../db';
import { AgentError, type AndroidService, CONTINUE, type Next } from './service';
import type { DeviceRecord } from './store';
import {
  commandResultSchema,
  compile,
  describeErrors,
  enrollRequestSchema,
  renewRequestSchema,
  securityLogBatchSchema,
  statusReportSchema,
} from './schemas';

export const AGENT_PREFIX = '/android/agent/v1';
const APK_TYPE = 'application/vnd.android.package-archive';

const validateEnroll = compile(enrollRequestSchema);
const validateRenew = compile(renewRequestSchema);
const validateStatus = compile(statusReportSchema);
const validateResult = compile(commandResultSchema);
const validateSecurityLogs = compile(securityLogBatchSchema);

function nextHeader(next: Next): string {
  return next.action === 'retry_later' && next.retryAfterSeconds ? `${next.action}; retry-after=${next.retryAfterSeconds}` : next.action;
}

function answer(ctx: Context, status: number, body: Record<string, unknown> & { next: Next }): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.set('Ward-Next', nextHeader(body.next));
  if (body.next.action === 'retry_later' && body.next.retryAfterSeconds) ctx.set('Retry-After', String(body.next.retryAfterSeconds));
  ctx.body = body;
}

/**
 * Renders every agent failure as {error, reason, requestId, next}. Passing trouble (busy database,
 * full disk, shutdown, a bug) says retry_later; only AgentError carries reauthenticate or unenrolled.
 */
function agentAnswers(log: Logger | undefined) {
  return async function agentAnswersMiddleware(ctx: Context, next: KoaNext): Promise<void> {
    try {
      await next();
    } catch (e) {
      const requestId = ctx.state.requestId ?? null;
      if (e instanceof AgentError) {
        return answer(ctx, e.status, { error: e.code, reason: e.reason, requestId, next: e.next });
      }
      if (e instanceof HttpError && e.status < 500) {
        return answer(ctx, e.status, { error: e.code, reason: e.reason, requestId, next: CONTINUE });
      }
      const trouble = storageTrouble(e);
      if (trouble) {
        const { code, reason, short, retryAfterSeconds } = STORAGE_ANSWERS[trouble];
        return answer(ctx, 503, { error: code, reason, requestId, next: { action: 'retry_later', retryAfterSeconds, reason: short } });
      }
      log?.error({ err: e, requestId }, 'android agent request failed');
      answer(ctx, 500, { error: 'internal_error', reason: 'internal error', requestId, next: { action: 'retry_later', retryAfterSeconds: 30, reason: 'internal error' } });
    }
  };
}

// The client certificate of a TLS connection does not change (Node refuses renegotiation of the
// certificate by default), so it is read once per connection: getPeerCertificate builds a large object.
const peers = new WeakMap<TLSSocket, Buffer | null>();

function peerCertificate(ctx: Context): Buffer | undefined {
  const socket = ctx.req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  let raw = peers.get(socket);
  if (raw === undefined) {
    const peer = socket.getPeerCertificate(false);
    raw = peer && peer.raw && peer.raw.length > 0 ? peer.raw : null;
    peers.set(socket, raw);
  }
  return raw ?? undefined;
}

function requestContext(ctx: Context) {
  return { source: ctx.ip || ctx.req.socket.remoteAddress || null, requestId: ctx.state.requestId ?? null };
}

function device(ctx: Context, service: AndroidService): DeviceRecord {
  return service.authenticate(peerCertificate(ctx), requestContext(ctx), ctx.req.socket);
}

async function body<T>(ctx: Context, limit: number, validate: ((v: unknown) => v is T) & { errors?: unknown }): Promise<T> {
  const value = await readJson(ctx, limit);
  if (!validate(value)) {
    throw new AgentError(400, 'invalid_request', describeErrors((validate as { errors?: Parameters<typeof describeErrors>[0] }).errors), CONTINUE);
  }
  return value;
}

/** Streams a stored APK with its length and a strong ETag (its SHA-256). */
function sendApk(ctx: Context, file: string, sha256: string, filename: string): void {
  const etag = `"${sha256}"`;
  ctx.set('ETag', etag);
  ctx.set('Cache-Control', 'no-cache');
  if (ctx.get('if-none-match') === etag) {
    ctx.status = 304;
    return;
  }
  const stat = fs.statSync(file);
  ctx.type = APK_TYPE;
  ctx.length = stat.size;
  ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
  ctx.body = fs.createReadStream(file);
}

export interface AndroidRouteOptions {
  bodyLimit: number;
  shuttingDown: AbortSignal;
  log?: Logger;
}

export function mountAndroidRoutes(routers: { plain: Router; secure: Router }, service: AndroidService, opts: AndroidRouteOptions): void {
  // ---- plain HTTP: what a factory-fresh device fetches before it trusts Ward
  routers.plain.get('/android/dpc.apk', (ctx) => {
    const dpc = service.currentDpc();
    if (!dpc) throw new HttpError(404, 'no_dpc', 'no DPC APK has been imported (wardctl android dpc import APK --receiver .AdminReceiver)');
    sendApk(ctx, service.apkPath(dpc.sha256), dpc.sha256, `${dpc.packageName}.apk`);
  });
  routers.plain.get('/android/proxy.pac', (ctx) => {
    const script = service.pacScript();
    if (script === undefined) throw new HttpError(404, 'not_found', 'no PAC file is configured (android.provisioning.pac)');
    ctx.type = 'application/x-ns-proxy-autoconfig';
    ctx.body = script;
  });

  // ---- HTTPS: the agent API
  const agent = new Router({ prefix: AGENT_PREFIX });
  agent.use(agentAnswers(opts.log));
  const limit = opts.bodyLimit;

  // Before enrolling, the agent trusts nothing: it takes the chain from here over an unverified TLS
  // connection and accepts it only if the root's SHA-256 equals ward.ca_sha256 from the QR code.
  agent.get('/ca', (ctx) => {
    answer(ctx, 200, { next: CONTINUE, ...service.caChain() });
  });

  agent.post('/enroll', async (ctx) => {
    const req = await body(ctx, limit, validateEnroll);
    const r = service.enroll(req as Parameters<AndroidService['enroll']>[0], requestContext(ctx));
    answer(ctx, 201, { next: CONTINUE, ...r });
  });

  agent.post('/renew', async (ctx) => {
    const d = device(ctx, service);
    const req = await body(ctx, limit, validateRenew);
    answer(ctx, 201, { next: CONTINUE, ...service.renew(d, (req as { csr: string }).csr, requestContext(ctx)) });
  });

  agent.get('/policy', (ctx) => {
    const d = device(ctx, service);
    const p = service.policy(d);
    ctx.set('ETag', p.etag);
    if (ctx.get('if-none-match') === p.etag) {
      ctx.status = 304;
      ctx.set('Ward-Next', nextHeader(CONTINUE));
      return;
    }
    answer(ctx, 200, { next: CONTINUE, policy: p.document, policyEtag: p.etag, pollSeconds: service.config.longPollSeconds });
  });

  agent.post('/status', async (ctx) => {
    const d = device(ctx, service);
    const report = await body(ctx, limit, validateStatus);
    answer(ctx, 200, { next: CONTINUE, ...(await service.reportStatus(d, report as Parameters<AndroidService['reportStatus']>[1], requestContext(ctx))) });
  });

  agent.get('/commands', async (ctx) => {
    const d = device(ctx, service);
    const raw = ctx.query.wait;
    const wait = raw === undefined ? service.config.longPollSeconds : Number(raw);
    if (!Number.isInteger(wait) || wait < 0 || wait > 3600) throw new AgentError(400, 'invalid_request', 'wait must be whole seconds, 0 to 3600', CONTINUE);
    // The poll ends when the client goes away; at shutdown the service ends every held poll at once
    // (one listener on listeners.shuttingDown, not one per poll).
    const gone = new AbortController();
    ctx.res.once('close', () => gone.abort());
    const r = await service.pollCommands(d, wait, opts.shuttingDown.aborted ? [opts.shuttingDown] : [gone.signal], requestContext(ctx));
    if (gone.signal.aborted) return;
    answer(ctx, 200, { next: r.next, commands: r.commands, policyEtag: r.policyEtag });
  });

  agent.post('/commands/:id/result', async (ctx) => {
    const d = device(ctx, service);
    const id = ctx.params.id;
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new AgentError(404, 'command_not_found', `no command ${id.slice(0, 64)} for this device`, CONTINUE);
    const result = await body(ctx, limit, validateResult);
    answer(ctx, 200, { next: CONTINUE, ...(await service.commandResult(d, id, result as Parameters<AndroidService['commandResult']>[2], requestContext(ctx))) });
  });

  agent.post('/security-logs', async (ctx) => {
    const d = device(ctx, service);
    const batch = await body(ctx, limit, validateSecurityLogs);
    answer(ctx, 200, { next: CONTINUE, ...(await service.uploadSecurityLogs(d, (batch as { events: Parameters<AndroidService['uploadSecurityLogs']>[1] }).events, requestContext(ctx))) });
  });

  agent.get('/apps/:file', (ctx) => {
    device(ctx, service);
    const m = /^([0-9a-f]{64})\.apk$/.exec(ctx.params.file);
    const app = m ? service.appForDevice(m[1]) : undefined;
    if (!m || !app) throw new AgentError(404, 'app_not_found', 'Ward hosts no such app', CONTINUE);
    sendApk(ctx, service.apkPath(app.sha256), app.sha256, `${app.packageName}.apk`);
  });

  // Unknown agent paths answer in the agent's own format, and never as "unenrolled".
  agent.all('/{*rest}', () => {
    throw new AgentError(404, 'not_found', 'no such agent API call', CONTINUE);
  });

  routers.secure.use(agent.routes());
  routers.secure.use(agent.allowedMethods());
}
