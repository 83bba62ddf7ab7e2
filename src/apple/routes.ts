// The wire: koa handlers for the enrollment profile download, the check-in endpoint (CheckInURL)
// and the command endpoint (ServerURL). Each reads the body with a limit, finds the device
// identity, decodes the plist, and calls the (cert-auth wrapped) CheckinService; errors become the
// JSON 4xx of src/http, never a 500.
import fs from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { HttpError, auditContextOf, readBody, type Context, type Router } from '../http';
import { MdmAuthError } from './certauth';
import { CmsError, verifyMdmSignature } from './cms';
import { CommandFormatError } from './commands';
import { EscrowError } from './escrow';
import { decodeCheckin, decodeCommandReport, MdmProtocolError, resolveEnrollment } from './messages';
import type { AppleConfig } from '../config/sections/apple';
import { AppleError, type AppleMdmService, type CheckinReply, type CheckinService, type MdmRequest, type PresentedIdentity } from './service';

const CHECKIN_TYPE = 'application/x-apple-aspen-mdm-checkin';
const COMMAND_TYPE = 'application/x-apple-aspen-mdm';
const PLIST_TYPE = 'application/xml; charset=utf-8';

const APPLE_ERROR_STATUS: Record<AppleError['code'], number> = {
  'not-found': 404,
  conflict: 409,
  'bad-request': 400,
  gone: 410,
  unavailable: 503,
};

function toHttp(e: unknown): unknown {
  if (e instanceof MdmProtocolError) return new HttpError(e.httpStatus, `mdm_${e.reason.replace(/-/g, '_')}`, e.message);
  if (e instanceof MdmAuthError) return new HttpError(401, 'unauthorized', e.reason);
  if (e instanceof AppleError) return new HttpError(APPLE_ERROR_STATUS[e.code], e.code.replace(/-/g, '_'), e.message);
  if (e instanceof CommandFormatError) return new HttpError(400, e.reason.replace(/-/g, '_'), e.message);
  if (e instanceof EscrowError) return new HttpError(503, 'escrow_unavailable', 'an escrowed secret could not be opened');
  return e;
}

// The peer certificate of a TLS connection does not change: read it once per socket.
const peerCerts = new WeakMap<object, Buffer | null>();
function tlsClientCertificate(ctx: Context): Buffer | undefined {
  const socket = ctx.req.socket as TLSSocket;
  let der = peerCerts.get(socket);
  if (der === undefined) {
    const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate(false) : undefined;
    der = peer && peer.raw && peer.raw.length > 0 ? peer.raw : null;
    peerCerts.set(socket, der);
  }
  return der ?? undefined;
}

/** The device identity of a request: TLS client certificate and/or Mdm-Signature signer. */
function identityOf(ctx: Context, body: Buffer): { identity?: PresentedIdentity; error?: string } {
  const tls = tlsClientCertificate(ctx);
  const header = ctx.get('mdm-signature');
  if (header) {
    let signer: Buffer;
    try {
      signer = verifyMdmSignature(header, body).certificate;
    } catch (e) {
      return { error: `Mdm-Signature refused: ${e instanceof CmsError ? e.message : 'unreadable'}` };
    }
    if (tls && !tls.equals(signer)) return { error: 'the TLS client certificate and the Mdm-Signature signer differ' };
    return { identity: { der: signer, via: 'mdm-signature' } };
  }
  if (tls) return { identity: { der: tls, via: 'tls' } };
  return {};
}

function requestOf(ctx: Context, body: Buffer, enrollment: MdmRequest['enrollment']): MdmRequest {
  const { identity, error } = identityOf(ctx, body);
  const profile = typeof ctx.query.profile === 'string' && /^[0-9a-f-]{36}$/i.test(ctx.query.profile) ? ctx.query.profile : undefined;
  return {
    enrollment,
    identity,
    identityError: error,
    profileId: profile,
    ctx: auditContextOf(ctx, { type: 'device', id: enrollment.id }),
  };
}

function reply(ctx: Context, r: CheckinReply): void {
  ctx.status = r.status;
  if (r.body) {
    ctx.type = r.contentType ?? PLIST_TYPE;
    ctx.body = r.body;
  } else {
    ctx.body = '';
  }
}

export function mountAppleRoutes(router: Router, service: AppleMdmService, checkin: CheckinService, cfg: AppleConfig): void {
  // Enrollment profile download (issue: GET /mdm/enroll?token=T on the HTTPS listener).
  router.get('/mdm/enroll', async (ctx) => {
    const token = ctx.query.token;
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(token)) {
      throw new HttpError(400, 'bad_request', 'an enrollment token is required: /mdm/enroll?token=...');
    }
    try {
      const profile = await service.profileForToken(token, auditContextOf(ctx, { type: 'device', id: 'unenrolled' }));
      ctx.set('Content-Disposition', 'attachment; filename="ward-enroll.mobileconfig"');
      ctx.type = 'application/x-apple-aspen-config';
      ctx.body = profile;
    } catch (e) {
      throw toHttp(e);
    }
  });

  // In-house apps for InstallApplication: the manifest (ManifestURL) and the .ipa it names.
  router.get('/mdm/apps/:id/manifest.plist', (ctx) => {
    const manifest = /^app-[0-9a-f]{16}$/.test(ctx.params.id) ? service.appManifest(ctx.params.id) : undefined;
    if (!manifest) throw new HttpError(404, 'not_found', 'no such app');
    ctx.type = 'application/xml';
    ctx.body = manifest;
  });
  router.get('/mdm/apps/:id/app.ipa', (ctx) => {
    const pkg = /^app-[0-9a-f]{16}$/.test(ctx.params.id) ? service.appPackage(ctx.params.id) : undefined;
    if (!pkg || !fs.existsSync(pkg.file)) throw new HttpError(404, 'not_found', 'no such app');
    ctx.type = 'application/octet-stream';
    ctx.length = pkg.size;
    ctx.set('Cache-Control', 'private, max-age=300');
    ctx.body = fs.createReadStream(pkg.file);
  });

  // CheckInURL (Apple, check-in protocol): one PUT per MessageType.
  router.put('/mdm/checkin', async (ctx) => {
    try {
      const body = await readBody(ctx, cfg.mdm.checkinBodyBytes, [CHECKIN_TYPE]);
      const msg = decodeCheckin(body);
      const req = requestOf(ctx, body, resolveEnrollment(msg));
      switch (msg.MessageType) {
        case 'Authenticate':
          await checkin.authenticate(req, msg);
          return reply(ctx, { status: 200 });
        case 'TokenUpdate':
          await checkin.tokenUpdate(req, msg);
          return reply(ctx, { status: 200 });
        case 'CheckOut':
          await checkin.checkOut(req, msg);
          return reply(ctx, { status: 200 });
        case 'UserAuthenticate':
          return reply(ctx, await checkin.userAuthenticate(req, msg));
        case 'SetBootstrapToken':
          await checkin.setBootstrapToken(req, msg);
          return reply(ctx, { status: 200 });
        case 'GetBootstrapToken':
          return reply(ctx, { status: 200, body: await checkin.getBootstrapToken(req, msg) });
        case 'DeclarativeManagement':
          return reply(ctx, await checkin.declarativeManagement(req, msg));
      }
    } catch (e) {
      throw toHttp(e);
    }
  });

  // ServerURL: a command report (Idle, Acknowledged, Error, CommandFormatError, NotNow), answered
  // with the next command or an empty 200.
  router.put('/mdm/command', async (ctx) => {
    try {
      const body = await readBody(ctx, cfg.mdm.reportBodyBytes, [COMMAND_TYPE]);
      const report = decodeCommandReport(body);
      const next = await checkin.commandAndReportResults(requestOf(ctx, body, resolveEnrollment(report)), report);
      reply(ctx, next ? { status: 200, body: next } : { status: 200 });
    } catch (e) {
      throw toHttp(e);
    }
  });
}
