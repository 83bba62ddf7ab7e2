// The Apple MDM service: one method per check-in MessageType plus command reports (the shape of
// NanoMDM's service interface; our own code), the per-enrollment command queue, enrollment tokens
// and profiles, and the push certificate. The HTTP layer decodes and calls it; certauth.ts wraps it
// so only the bound device identity gets here. Every state change and its audit event commit
// together through AppleStore.commit (group commit).
import crypto, { X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import type { DevicePageOptions } from '../db';
import type { AuditContext, AuditLog } from '../audit';
import type { AppleConfig } from '../config/sections/apple';
import { signCms } from './cms';
import { commandPlist, commandRequest } from './commands';
import type { Escrow } from './escrow';
import {
  SHARED_IPAD_USER_ID,
  type Authenticate,
  type CheckOut,
  type CommandReport,
  type CommandStatus,
  type DeclarativeManagement,
  type ErrorChainItem,
  type GetBootstrapToken,
  type ResolvedEnrollment,
  type SetBootstrapToken,
  type TokenUpdate,
  type UserAuthenticate,
} from './messages';
import { buildPlistBuffer } from './plist';
import { enrollmentProfileBytes } from './profile';
import { PUSH_KEY_CONTEXT, type PushService, type WakeResult } from './push';
import { factsFromResult, inventoryFacts, type DeviceFacts } from './results';
import type { AppleStore, AppRow, CommandRow, DeviceFactsUpdate, DeviceRow, TokenRow } from './store';

/** The identity a request carried (TLS client certificate or Mdm-Signature signer). */
export interface PresentedIdentity {
  der: Buffer;
  via: 'tls' | 'mdm-signature';
  /** Set by cert-auth once the certificate is known to be Ward-issued and good. */
  serial?: string;
}

export interface MdmRequest {
  enrollment: ResolvedEnrollment;
  identity?: PresentedIdentity;
  /** Why a presented identity was refused before cert-auth (bad Mdm-Signature...). */
  identityError?: string;
  /** The profile id from the CheckInURL query (?profile=), naming the group enrolled into. */
  profileId?: string;
  /** Audit context: actor is the device (its enrollment id). */
  ctx: AuditContext;
}

/** An answer the protocol defines other than "200, empty" (UserAuthenticate 410, DM JSON). */
export interface CheckinReply {
  status: number;
  body?: Buffer;
  contentType?: string;
}

/** One method per check-in MessageType, and the command report endpoint. */
export interface CheckinService {
  authenticate(req: MdmRequest, msg: Authenticate): Promise<void>;
  tokenUpdate(req: MdmRequest, msg: TokenUpdate): Promise<void>;
  checkOut(req: MdmRequest, msg: CheckOut): Promise<void>;
  userAuthenticate(req: MdmRequest, msg: UserAuthenticate): Promise<CheckinReply>;
  setBootstrapToken(req: MdmRequest, msg: SetBootstrapToken): Promise<void>;
  /** The plist body to answer with. */
  getBootstrapToken(req: MdmRequest, msg: GetBootstrapToken): Promise<Buffer>;
  declarativeManagement(req: MdmRequest, msg: DeclarativeManagement): Promise<CheckinReply>;
  /** Records the report and returns the next command plist, or undefined (empty 200). */
  commandAndReportResults(req: MdmRequest, report: CommandReport): Promise<Buffer | undefined>;
}

/** The SCEP domain's challenge issuance (ScepService.createChallenge satisfies this). */
export interface ChallengeSource {
  createChallenge(options: { ttl?: string; boundTo?: string }, ctx: AuditContext): { challenge: string; expiresAt: string };
}

/** What the enrollment profile needs from the CA (CertificateAuthority satisfies this). */
export interface ProfileAuthority {
  root: { der: Buffer };
  issuing: { der: Buffer };
  serviceIdentity(which: 'profileSigner'): { key: KeyObject; der: Buffer; chainDer: Buffer[] };
}

export class AppleError extends Error {
  override readonly name = 'AppleError';
  constructor(
    message: string,
    readonly code: 'not-found' | 'conflict' | 'bad-request' | 'gone' | 'unavailable',
  ) {
    super(message);
  }
}

export interface AppleUrls {
  /** https://host:port of the HTTPS listener. */
  https: string;
  /** http://host:port of the plain listener (SCEP). */
  http: string;
}

const unlockContext = (deviceId: string) => `apple.unlock-token:${deviceId}`;
const bootstrapContext = (deviceId: string) => `apple.bootstrap-token:${deviceId}`;
const sha256Hex = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

const REPORT_STATUS: Record<Exclude<CommandStatus, 'Idle' | 'NotNow'>, 'acknowledged' | 'error' | 'command-format-error'> = {
  Acknowledged: 'acknowledged',
  Error: 'error',
  CommandFormatError: 'command-format-error',
};

/** DeviceFacts (results.ts) as the columns and JSON the store keeps. */
function factsUpdate(f: DeviceFacts): DeviceFactsUpdate {
  const u: DeviceFactsUpdate = {
    serialNumber: f.serialNumber,
    model: f.model,
    modelName: f.modelName,
    productName: f.productName,
    osVersion: f.osVersion,
    buildVersion: f.buildVersion,
    deviceName: f.deviceName,
    facts: { ...f },
  };
  if (f.security) {
    u.encrypted = f.security.encrypted;
    u.passcodePresent = f.security.passcodePresent;
    u.passcodeCompliant = f.security.passcodeCompliant;
  }
  return u;
}

function firstError(chain: ErrorChainItem[] | undefined): string {
  const e = chain?.[0];
  if (!e) return 'the device reported an error without an ErrorChain';
  return `${e.ErrorDomain ?? 'error'} ${e.ErrorCode ?? ''}: ${e.USEnglishDescription ?? e.LocalizedDescription ?? ''}`.trim();
}

export class AppleMdmService implements CheckinService {
  constructor(
    private readonly cfg: AppleConfig,
    private readonly store: AppleStore,
    private readonly audit: AuditLog,
    private readonly escrow: Escrow,
    private readonly push: PushService,
  ) {}

  // ---- check-in messages ----

  async authenticate(req: MdmRequest, msg: Authenticate): Promise<void> {
    const e = req.enrollment;
    const profile = req.profileId ? this.store.profile(req.profileId) : undefined;
    const groupName = profile?.groupName ?? this.store.device(e.deviceId)?.groupName ?? this.cfg.enrollment.defaultGroup;
    const certSerial = req.identity!.serial!;
    const inv = inventoryFacts(msg.raw);
    await this.store.commit(() => {
      this.store.upsertAuthenticated({
        id: e.deviceId,
        enrollmentType: e.type,
        groupName,
        profileId: profile?.id ?? null,
        certSerial,
        topic: msg.Topic,
        at: new Date().toISOString(),
        inventory: factsUpdate(inv),
      });
      this.audit.record({
        ...req.ctx,
        action: 'apple.device.authenticated',
        target: { type: 'apple-device', id: e.deviceId },
        details: {
          certificateSerial: certSerial,
          via: req.identity!.via,
          group: groupName,
          profileId: profile?.id ?? null,
          enrollmentType: e.type,
          productName: inv.productName ?? null,
          osVersion: inv.osVersion ?? null,
          serialNumber: inv.serialNumber ?? null,
        },
      });
    });
  }

  async tokenUpdate(req: MdmRequest, msg: TokenUpdate): Promise<void> {
    const e = req.enrollment;
    const now = new Date().toISOString();
    if (e.userId) {
      await this.store.commit(() => {
        this.store.upsertUserChannel({
          id: e.id,
          deviceId: e.deviceId,
          userId: e.userId!,
          userShortName: msg.UserShortName ?? null,
          userLongName: msg.UserLongName ?? null,
          pushToken: msg.Token,
          pushMagic: msg.PushMagic,
          updatedAt: now,
        });
        this.audit.record({
          ...req.ctx,
          action: 'apple.user_channel.token_updated',
          target: { type: 'apple-enrollment', id: e.id },
          details: { device: e.deviceId, sharedIpad: msg.UserID === SHARED_IPAD_USER_ID, userShortName: msg.UserShortName ?? null },
        });
      });
      return;
    }
    const queued: string[] = [];
    await this.store.commit(() => {
      const before = this.store.deviceBinding(e.deviceId)!;
      const sealedUnlock = msg.UnlockToken && msg.UnlockToken.length > 0 ? this.escrow.seal(msg.UnlockToken, unlockContext(e.deviceId)) : null;
      this.store.tokenUpdate(e.deviceId, msg.Token, msg.PushMagic, sealedUnlock, msg.Topic, now);
      const first = before.status !== 'enrolled';
      this.audit.record({
        ...req.ctx,
        action: first ? 'apple.device.enrolled' : 'apple.device.token_updated',
        target: { type: 'apple-device', id: e.deviceId },
        details: { group: before.groupName, unlockTokenEscrowed: sealedUnlock !== null, awaitingConfiguration: msg.AwaitingConfiguration ?? false },
      });
      if (first) {
        // Inventory and security state right away: compliance needs them.
        for (const type of this.cfg.mdm.initialCommands) {
          queued.push(this.insertCommand(e.id, e.deviceId, commandRequest(type), req.ctx));
        }
      }
    });
    if (queued.length > 0) void this.push.wake(e.id);
  }

  async checkOut(req: MdmRequest, _msg: CheckOut): Promise<void> {
    const e = req.enrollment;
    await this.store.commit(() => {
      if (!e.userId) this.store.checkOut(e.deviceId, new Date().toISOString());
      this.audit.record({ ...req.ctx, action: 'apple.device.checked_out', target: { type: e.userId ? 'apple-enrollment' : 'apple-device', id: e.id } });
    });
  }

  // Apple, UserAuthenticate: "If the server isn't going to manage the user, it returns a 410 status
  // code to the initial UserAuthenticate request." Ward does not authenticate network users.
  async userAuthenticate(_req: MdmRequest, _msg: UserAuthenticate): Promise<CheckinReply> {
    return { status: 410 };
  }

  async setBootstrapToken(req: MdmRequest, msg: SetBootstrapToken): Promise<void> {
    const e = req.enrollment;
    if (e.userId) throw new AppleError('SetBootstrapToken is a device channel message', 'bad-request');
    // setbootstraptoken.yaml: a missing or empty token means "remove the stored one".
    const token = msg.BootstrapToken && msg.BootstrapToken.length > 0 ? msg.BootstrapToken : undefined;
    await this.store.commit(() => {
      this.store.setBootstrapToken(e.deviceId, token ? this.escrow.seal(token, bootstrapContext(e.deviceId)) : null);
      this.audit.record({
        ...req.ctx,
        action: token ? 'apple.bootstrap_token.escrowed' : 'apple.bootstrap_token.removed',
        target: { type: 'apple-device', id: e.deviceId },
      });
    });
  }

  async getBootstrapToken(req: MdmRequest, _msg: GetBootstrapToken): Promise<Buffer> {
    const e = req.enrollment;
    const sealed = e.userId ? null : this.store.device(e.deviceId)?.bootstrapToken;
    const token = sealed ? this.escrow.open(sealed, bootstrapContext(e.deviceId)) : undefined;
    // Handing out an escrowed secret is recorded even though nothing changes.
    await this.store.commit(() =>
      this.audit.record({
        ...req.ctx,
        action: 'apple.bootstrap_token.retrieved',
        target: { type: 'apple-device', id: e.deviceId },
        details: { found: token !== undefined },
      }),
    );
    return buildPlistBuffer(token ? { BootstrapToken: token } : {});
  }

  // Ward manages no declarations. Declarative Management (Apple, "Declarative Management" check-in):
  // answer as a server with an empty declaration set, so a device that asks ends up with nothing
  // from Ward and stays consistent: tokens and declaration-items describe the empty set, status
  // reports are accepted, and any declaration fetch is 404 ("removes the corresponding declaration").
  async declarativeManagement(_req: MdmRequest, msg: DeclarativeManagement): Promise<CheckinReply> {
    const json = (v: unknown): CheckinReply => ({ status: 200, body: Buffer.from(JSON.stringify(v)), contentType: 'application/json' });
    const token = 'ward-no-declarations-1';
    switch (msg.Endpoint) {
      case 'tokens':
        return json({ SyncTokens: { DeclarationsToken: token, Timestamp: '2024-01-01T00:00:00Z' } });
      case 'declaration-items':
        return json({ Declarations: { Activations: [], Assets: [], Configurations: [], Management: [] }, DeclarationsToken: token });
      case 'status':
        return { status: 200 };
      default:
        if (msg.Endpoint.startsWith('declaration/')) return { status: 404 };
        throw new AppleError(`unknown Declarative Management endpoint ${JSON.stringify(msg.Endpoint.slice(0, 64))}`, 'bad-request');
    }
  }

  // ---- command reports and the queue ----

  async commandAndReportResults(req: MdmRequest, report: CommandReport): Promise<Buffer | undefined> {
    const e = req.enrollment;
    const now = new Date().toISOString();
    this.store.noteSeen(e.deviceId, now);
    const idle = report.Status === 'Idle';
    // A new session (Idle) retries commands the device answered NotNow; within a session they are
    // skipped, so a device that keeps saying NotNow never spins (Apple: "NotNow ... retry later").
    const peek = idle ? this.store.nextCommand(e.id, true) : undefined;
    if (idle && !peek) return undefined;
    return this.store.commit(() => {
      if (!idle) this.recordReport(req, report, now);
      // Idle: the command peeked above, unless another request of this device took it meanwhile.
      const next = peek && this.store.commandPending(peek.uuid) ? peek : this.store.nextCommand(e.id, idle);
      if (!next) return undefined;
      this.store.markSent(next.uuid, now);
      this.audit.record({
        ...req.ctx,
        action: 'apple.command.sent',
        target: { type: 'apple-command', id: next.uuid },
        details: { requestType: next.requestType, enrollment: e.id, resent: next.status !== 'queued' },
      });
      return next.body;
    });
  }

  private recordReport(req: MdmRequest, report: CommandReport, now: string): void {
    const e = req.enrollment;
    const uuid = report.CommandUUID!;
    const cmd = this.store.commandOfEnrollment(uuid, e.id);
    if (!cmd) {
      // Not this enrollment's command (or none at all): the answer is ignored, the attempt kept.
      this.audit.record({
        ...req.ctx,
        action: 'apple.command.report_refused',
        target: { type: 'apple-command', id: uuid.slice(0, 128) },
        outcome: 'failure',
        reason: 'no such command in this enrollment\'s queue',
        details: { status: report.Status, enrollment: e.id },
      });
      return;
    }
    if (!['sent', 'queued', 'not-now'].includes(cmd.status)) return; // a repeated answer: already recorded
    const target = { type: 'apple-command', id: uuid };
    if (report.Status === 'NotNow') {
      const expire = cmd.notNowCount + 1 >= this.cfg.mdm.maxNotNowRetries;
      this.store.notNow(uuid, now, expire);
      this.audit.record({
        ...req.ctx,
        action: expire ? 'apple.command.expired' : 'apple.command.not_now',
        target,
        details: { requestType: cmd.requestType, notNowCount: cmd.notNowCount + 1 },
      });
      return;
    }
    const status = REPORT_STATUS[report.Status as keyof typeof REPORT_STATUS];
    this.store.answerCommand(uuid, status, now, report.ErrorChain);
    if (status === 'acknowledged') {
      const facts = e.userId ? {} : factsFromResult(cmd.requestType, report.raw);
      if (Object.keys(facts).length > 0) this.store.updateFacts(e.deviceId, factsUpdate(facts));
      this.audit.record({ ...req.ctx, action: 'apple.command.acknowledged', target, details: { requestType: cmd.requestType, factsUpdated: Object.keys(facts) } });
    } else {
      this.audit.record({
        ...req.ctx,
        action: status === 'error' ? 'apple.command.failed' : 'apple.command.format_error',
        target,
        outcome: 'failure',
        reason: firstError(report.ErrorChain),
        details: { requestType: cmd.requestType, errorChain: report.ErrorChain ?? [] },
      });
    }
  }

  private insertCommand(enrollmentId: string, deviceId: string, request: ReturnType<typeof commandRequest>, ctx: AuditContext): string {
    const uuid = crypto.randomUUID();
    this.store.insertCommand({
      uuid,
      enrollmentId,
      deviceId,
      requestType: request.RequestType,
      body: commandPlist(uuid, request),
      at: new Date().toISOString(),
      by: `${ctx.actor.type}:${ctx.actor.id}`,
    });
    this.audit.record({
      ...ctx,
      action: 'apple.command.queued',
      target: { type: 'apple-command', id: uuid },
      details: { requestType: request.RequestType, enrollment: enrollmentId },
    });
    return uuid;
  }

  /**
   * Queues a command for a device (or one of its user channels) and wakes it. Parameters are
   * validated against the command's schema; ClearPasscode takes the escrowed UnlockToken.
   */
  async queueCommand(
    deviceId: string,
    type: string,
    params: unknown,
    ctx: AuditContext,
    opts: { user?: string } = {},
  ): Promise<{ uuid: string; enrollmentId: string; push: Promise<WakeResult> }> {
    const device = this.store.device(deviceId);
    if (!device) throw new AppleError(`no Apple device ${deviceId}`, 'not-found');
    if (device.status === 'checked-out') throw new AppleError(`device ${deviceId} has checked out (unenrolled)`, 'conflict');
    let enrollmentId = deviceId;
    if (opts.user) {
      enrollmentId = `${deviceId}:${opts.user}`;
      if (!this.store.userChannel(enrollmentId)) throw new AppleError(`device ${deviceId} has no user channel for ${opts.user}`, 'not-found');
    }
    const unlockToken = type === 'ClearPasscode' && device.unlockToken ? this.escrow.open(device.unlockToken, unlockContext(deviceId)) : undefined;
    const request = commandRequest(type, this.withAppSettings(deviceId, type, params), { unlockToken, manifestUrlOf: (id) => this.manifestUrl(id) });
    const uuid = await this.store.commit(() => this.insertCommand(enrollmentId, deviceId, request, ctx));
    return { uuid, enrollmentId, push: this.push.wake(enrollmentId) };
  }

  /** InstallApplication of a catalog app: the policy's Configuration / Attributes unless the caller gave its own. */
  private withAppSettings(deviceId: string, type: string, params: unknown): unknown {
    const p = params as { App?: unknown; Configuration?: unknown; Attributes?: unknown } | null | undefined;
    if (type !== 'InstallApplication' || !this.appSettings || typeof p?.App !== 'string') return params;
    const app = this.store.app(p.App);
    const given = app && this.appSettings(deviceId, app.bundleId);
    if (!given) return params;
    return { ...(given.Configuration && { Configuration: given.Configuration }), ...(given.Attributes && { Attributes: given.Attributes }), ...p };
  }

  // ---- enrollment tokens and profiles ----

  async createToken(
    opts: { group?: string; oneTime?: boolean; ttlHours?: number },
    ctx: AuditContext,
  ): Promise<{ id: string; token: string; url: string; expiresAt: string; group: string; oneTime: boolean }> {
    const token = crypto.randomBytes(24).toString('base64url');
    const id = `et-${crypto.randomBytes(5).toString('hex')}`;
    const now = new Date();
    const ttl = opts.ttlHours ?? this.cfg.enrollment.tokenTtlHours;
    if (!(Number.isFinite(ttl) && ttl > 0)) throw new AppleError('token lifetime must be a positive number of hours', 'bad-request');
    const expiresAt = new Date(now.getTime() + ttl * 3_600_000).toISOString();
    const group = opts.group ?? this.cfg.enrollment.defaultGroup;
    const oneTime = opts.oneTime ?? false;
    await this.store.commit(() => {
      this.store.insertToken({ id, tokenSha256: sha256Hex(token), groupName: group, oneTime, expiresAt, createdAt: now.toISOString(), createdBy: `${ctx.actor.type}:${ctx.actor.id}` });
      this.audit.record({ ...ctx, action: 'apple.enrollment_token.created', target: { type: 'apple-enrollment-token', id }, details: { group, oneTime, expiresAt } });
    });
    return { id, token, url: `${this.urls().https}/mdm/enroll?token=${token}`, expiresAt, group, oneTime };
  }

  async revokeToken(id: string, ctx: AuditContext): Promise<void> {
    const ok = await this.store.commit(() => {
      if (!this.store.revokeToken(id, new Date().toISOString())) return false;
      this.audit.record({ ...ctx, action: 'apple.enrollment_token.revoked', target: { type: 'apple-enrollment-token', id } });
      return true;
    });
    if (!ok) throw new AppleError(`no active enrollment token ${id}`, 'not-found');
  }

  listTokens(): Array<Omit<TokenRow, 'tokenSha256'>> {
    return this.store.listTokens().map(({ tokenSha256: _h, ...t }) => t);
  }

  /** GET /mdm/enroll?token=T: checks the token, uses it, and returns the signed profile. */
  async profileForToken(token: string, ctx: AuditContext): Promise<Buffer> {
    const row = this.store.tokenByHash(sha256Hex(token));
    const now = new Date().toISOString();
    let refusal: AppleError | undefined;
    if (!row) refusal = new AppleError('unknown enrollment token', 'not-found');
    else if (row.revokedAt) refusal = new AppleError('this enrollment token was revoked', 'gone');
    else if (row.expiresAt <= now) refusal = new AppleError('this enrollment token has expired', 'gone');
    else if (row.oneTime && row.uses > 0) refusal = new AppleError('this one-time enrollment token was already used', 'gone');
    if (refusal || !row) {
      await this.refuseProfile(ctx, row?.id ?? null, refusal!.message);
      throw refusal;
    }
    try {
      return await this.profile({ group: row.groupName, token: row, source: 'web' }, ctx);
    } catch (e) {
      if (e instanceof AppleError && e.code === 'gone') await this.refuseProfile(ctx, row.id, e.message);
      throw e;
    }
  }

  private refuseProfile(ctx: AuditContext, tokenId: string | null, reason: string): Promise<unknown> {
    return this.store.commit(() =>
      this.audit.record({
        ...ctx,
        action: 'apple.profile.refused',
        target: tokenId ? { type: 'apple-enrollment-token', id: tokenId } : null,
        outcome: 'failure',
        reason,
      }),
    );
  }

  /** A signed enrollment profile for a group (wardctl apple profile, or a token's download). */
  async profile(opts: { group?: string; token?: TokenRow; source: 'web' | 'cli' }, ctx: AuditContext): Promise<Buffer> {
    const push = this.store.currentPushCertificate();
    if (!push) throw new AppleError('no APNs push certificate: import one first (wardctl apple push-cert import)', 'unavailable');
    if (!this.challenges) throw new AppleError('no SCEP challenge source is configured', 'unavailable');
    const group = opts.group ?? opts.token?.groupName ?? this.cfg.enrollment.defaultGroup;
    const profileId = crypto.randomUUID();
    const { challenge } = this.challenges.createChallenge({ ttl: `${this.cfg.enrollment.challengeTtlMinutes}m` }, ctx);
    const used = await this.store.commit(() => {
      if (opts.token && !this.store.useToken(opts.token.id)) return false;
      this.store.insertProfile({ id: profileId, tokenId: opts.token?.id ?? null, groupName: group, createdAt: new Date().toISOString(), source: opts.source });
      this.audit.record({
        ...ctx,
        action: 'apple.profile.issued',
        target: { type: 'apple-profile', id: profileId },
        details: { group, tokenId: opts.token?.id ?? null, source: opts.source, topic: push.topic },
      });
      return true;
    });
    if (!used) throw new AppleError('this one-time enrollment token was already used', 'gone');
    return this.signedProfile(profileId, challenge, push.topic);
  }

  private signedProfile(profileId: string, challenge: string, topic: string): Buffer {
    const ca = this.authority!;
    const urls = this.urls();
    const fingerprint = this.cfg.enrollment.caFingerprint === 'root-sha1' ? crypto.createHash('sha1').update(ca.root.der).digest() : undefined;
    const bytes = enrollmentProfileBytes({
      identifier: this.cfg.profileIdentifier,
      organization: this.organization,
      uuids: { profile: profileId, root: crypto.randomUUID(), scep: crypto.randomUUID(), mdm: crypto.randomUUID() },
      rootCertificate: ca.root.der,
      scep: {
        url: `${urls.http}/scep`,
        challenge,
        name: this.organization,
        subject: [
          ['O', this.organization],
          ['OU', this.cfg.enrollment.subjectOrganizationalUnit],
          ['CN', `ward-apple-${profileId}`],
        ],
        caFingerprint: fingerprint,
      },
      mdm: {
        serverUrl: `${urls.https}/mdm/command`,
        checkInUrl: `${urls.https}/mdm/checkin?profile=${profileId}`,
        topic,
        accessRights: this.cfg.mdm.accessRights,
        signMessage: this.cfg.mdm.signMessage,
      },
    });
    const signer = ca.serviceIdentity('profileSigner');
    return signCms(bytes, { key: signer.key, certificate: signer.der, chain: signer.chainDer.slice(1) });
  }

  // Set by AppleMdm after construction (the CA and SCEP are wired in main.ts).
  authority?: ProfileAuthority;
  challenges?: ChallengeSource;
  organization = 'Ward';
  dataDir = '.';
  urls: () => AppleUrls = () => ({ https: 'https://localhost:8443', http: 'http://localhost:8080' });
  /**
   * The managed configuration and attributes (per-app VPN) a device's policy gives an app (main.ts
   * wires the policy domain in): InstallApplication of a catalog app carries them from the start.
   */
  appSettings?: (deviceId: string, bundleId: string) => { Configuration?: Record<string, unknown>; Attributes?: Record<string, unknown> } | undefined;

  // ---- in-house apps (InstallApplication with a manifest Ward serves) ----

  /** Adds an .ipa to Ward's catalog: copied under <dataDir>/apple-apps/, served over HTTPS. */
  async addApp(input: { file: string; bundleId: string; version: string; title?: string }, ctx: AuditContext): Promise<AppView> {
    if (!/^[A-Za-z0-9.-]{1,255}$/.test(input.bundleId)) throw new AppleError('bundle id must be a reverse-DNS name', 'bad-request');
    if (!/^[A-Za-z0-9.-]{1,64}$/.test(input.version)) throw new AppleError('version must be letters, digits, dots or dashes', 'bad-request');
    if (this.store.appExists(input.bundleId, input.version)) throw new AppleError(`${input.bundleId} ${input.version} is already in the catalog`, 'conflict');
    let data: Buffer;
    try {
      data = fs.readFileSync(input.file);
    } catch (e) {
      throw new AppleError(`cannot read ${input.file}: ${(e as NodeJS.ErrnoException).code}`, 'bad-request');
    }
    // An .ipa is a ZIP archive ("PK\x03\x04").
    if (data.length < 4 || data.readUInt32LE(0) !== 0x04034b50) throw new AppleError(`${input.file} is not an .ipa (ZIP) file`, 'bad-request');
    const id = `app-${crypto.randomBytes(8).toString('hex')}`;
    const dir = path.join(this.dataDir, 'apple-apps');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${id}.ipa`);
    fs.writeFileSync(file, data, { mode: 0o600 });
    const row = {
      id,
      bundleId: input.bundleId,
      version: input.version,
      title: input.title ?? input.bundleId,
      sha256: sha256Hex(data),
      size: data.length,
      file,
      addedAt: new Date().toISOString(),
      addedBy: `${ctx.actor.type}:${ctx.actor.id}`,
    };
    try {
      await this.store.commit(() => {
        this.store.insertApp(row);
        this.audit.record({
          ...ctx,
          action: 'apple.app.added',
          target: { type: 'apple-app', id },
          details: { bundleId: row.bundleId, version: row.version, sha256: row.sha256, size: row.size },
        });
      });
    } catch (e) {
      fs.rmSync(file, { force: true });
      throw e;
    }
    return appView(row, this.urls().https);
  }

  apps(): AppView[] {
    return this.store.listApps().map((a) => appView(a, this.urls().https));
  }

  private manifestUrl(appId: string): string {
    if (!this.store.app(appId)) throw new AppleError(`no app ${appId} in Ward's catalog`, 'not-found');
    return `${this.urls().https}/mdm/apps/${appId}/manifest.plist`;
  }

  /** The manifest InstallApplication's ManifestURL points at (Apple's software-package manifest). */
  appManifest(appId: string): Buffer | undefined {
    const a = this.store.app(appId);
    if (!a) return undefined;
    return buildPlistBuffer({
      items: [
        {
          assets: [
            {
              kind: 'software-package',
              url: `${this.urls().https}/mdm/apps/${a.id}/app.ipa`,
              // One chunk covering the whole file (sha256-size is the chunk size).
              'sha256-size': a.size,
              sha256s: [Buffer.from(a.sha256, 'hex')],
            },
          ],
          metadata: { 'bundle-identifier': a.bundleId, 'bundle-version': a.version, kind: 'software', title: a.title },
        },
      ],
    });
  }

  appPackage(appId: string): { file: string; size: number } | undefined {
    const a = this.store.app(appId);
    return a && { file: a.file, size: a.size };
  }

  // ---- push certificate ----

  /**
   * Imports the APNs MDM push certificate: PEM certificate + PEM key, or a PKCS#12 file. The topic
   * is the certificate subject's UID (Apple: "the topic is the UID of the push certificate").
   */
  async importPushCertificate(
    input: { certificate: Buffer; key?: Buffer; passphrase?: string },
    ctx: AuditContext,
  ): Promise<{ topic: string; serial: string; notAfter: string; sha256: string }> {
    const { certPem, keyPem } = readPushMaterial(input);
    let cert: X509Certificate;
    let key: KeyObject;
    try {
      cert = new X509Certificate(certPem);
      key = crypto.createPrivateKey(keyPem);
    } catch (e) {
      throw new AppleError(`push certificate or key unreadable: ${(e as Error).message}`, 'bad-request');
    }
    if (!cert.checkPrivateKey(key)) throw new AppleError('the key does not belong to the push certificate', 'bad-request');
    const uid = /(?:^|\n)UID=([^\n]+)/.exec(cert.subject)?.[1]?.trim();
    if (!uid) throw new AppleError('the certificate subject has no UID: not an APNs MDM push certificate', 'bad-request');
    // An expiry X509Certificate cannot read is NaN (and toISOString throws on it; found by fuzzing).
    if (!Number.isFinite(cert.validToDate.getTime())) throw new AppleError('the push certificate has no readable expiry date', 'bad-request');
    if (cert.validToDate.getTime() < Date.now()) throw new AppleError(`the push certificate expired on ${cert.validToDate.toISOString()}`, 'bad-request');
    // RFC 5280 section 4.1.2.2: a positive integer (a negative one read as "-80" broke BigInt; found by fuzzing).
    if (!/^[0-9A-F]+$/i.test(cert.serialNumber)) throw new AppleError('the push certificate serial number is not a positive integer', 'bad-request');
    const facts = {
      topic: uid,
      serial: BigInt(`0x${cert.serialNumber}`).toString(16),
      notAfter: cert.validToDate.toISOString(),
      sha256: sha256Hex(cert.raw),
    };
    const pkcs8 = key.export({ type: 'pkcs8', format: 'pem' }) as string;
    await this.store.commit(() => {
      this.store.insertPushCertificate({
        ...facts,
        certificatePem: cert.toString(),
        sealedKey: this.escrow.seal(Buffer.from(pkcs8), PUSH_KEY_CONTEXT),
        importedAt: new Date().toISOString(),
      });
      this.audit.record({ ...ctx, action: 'apple.push_certificate.imported', target: { type: 'apple-push-certificate', id: facts.serial }, details: facts });
    });
    return facts;
  }

  pushCertificate(): { topic: string; serial: string; notAfter: string; sha256: string; importedAt: string } | undefined {
    const r = this.store.currentPushCertificate();
    return r && { topic: r.topic, serial: r.serial, notAfter: r.notAfter, sha256: r.sha256, importedAt: r.importedAt };
  }

  // ---- devices (wardctl device, admin API, compliance) ----

  devices(opts: { group?: string; status?: DeviceRow['status']; limit?: number; offset?: number } = {}): DeviceView[] {
    return this.store.listDevices(opts).map(deviceView);
  }

  /** Devices in id order after `after` (compliance's sync pages with it; keyset, so each page costs the same). */
  devicesAfter(after: string, limit: number): DeviceView[] {
    return this.store.devicesAfter(after, limit).map(deviceView);
  }

  /** The device holding this identity certificate serial, or reporting this Wi-Fi MAC (the NAC's keys). */
  deviceByKey(kind: 'certificate' | 'mac', value: string): DeviceView | undefined {
    const d = kind === 'certificate' ? this.store.deviceByCert(value) : this.store.deviceByWifiMac(value);
    return d && deviceView(d);
  }

  /** A page of the admin device list, ordered and filtered in SQL (AppleStore.devicePage). */
  devicePage(opts: DevicePageOptions): { devices: DeviceView[]; total: number } {
    const page = this.store.devicePage(opts);
    return { devices: page.devices.map(deviceView), total: page.total };
  }

  deviceKeys(opts: DevicePageOptions): ReturnType<AppleStore['deviceKeys']> {
    return this.store.deviceKeys(opts);
  }

  device(id: string): (DeviceView & { userChannels: string[]; commands: CommandView[] }) | undefined {
    const d = this.store.device(id);
    if (!d) return undefined;
    return {
      ...deviceView(d),
      userChannels: this.store.userChannelsOf(id).map((u) => u.id),
      commands: this.store.commandsOfDevice(id, 50).map(commandView),
    };
  }

  command(uuid: string): CommandView | undefined {
    const c = this.store.command(uuid);
    return c && commandView(c);
  }
}

/** An in-house app as the console and API show it: the stored row without its file path and uploader, with its manifest URL. */
export type AppView = Omit<AppRow, 'file' | 'addedBy'> & { manifestUrl: string };

function appView(a: AppRow, https: string): AppView {
  const { file: _file, addedBy: _addedBy, ...shown } = a;
  return { ...shown, manifestUrl: `${https}/mdm/apps/${a.id}/manifest.plist` };
}

/** What Ward shows of a device: never the escrowed secrets or the push token. Inventory fields are
 * the stored row's own, so a new inventory column shows up here too. */
export type DeviceView = Pick<
  DeviceRow,
  | 'id' | 'enrollmentType' | 'status' | 'serialNumber' | 'model' | 'modelName' | 'productName' | 'osVersion' | 'buildVersion'
  | 'deviceName' | 'encrypted' | 'passcodePresent' | 'passcodeCompliant' | 'facts' | 'authenticatedAt' | 'enrolledAt'
  | 'checkedOutAt' | 'lastSeenAt'
> & {
  group: string;
  certificateSerial: string;
  pushable: boolean;
  unlockTokenEscrowed: boolean;
  bootstrapTokenEscrowed: boolean;
};

export interface CommandView {
  uuid: string;
  enrollmentId: string;
  requestType: string;
  status: CommandRow['status'];
  queuedAt: string;
  queuedBy: string;
  sentAt: string | null;
  answeredAt: string | null;
  notNowCount: number;
  errorChain: unknown[] | null;
}

function deviceView(d: DeviceRow): DeviceView {
  return {
    id: d.id,
    enrollmentType: d.enrollmentType,
    status: d.status,
    group: d.groupName,
    certificateSerial: d.certSerial,
    serialNumber: d.serialNumber,
    model: d.model,
    modelName: d.modelName,
    productName: d.productName,
    osVersion: d.osVersion,
    buildVersion: d.buildVersion,
    deviceName: d.deviceName,
    encrypted: d.encrypted,
    passcodePresent: d.passcodePresent,
    passcodeCompliant: d.passcodeCompliant,
    pushable: d.status === 'enrolled' && d.pushToken !== null && d.pushDeadAt === null,
    unlockTokenEscrowed: d.unlockToken !== null,
    bootstrapTokenEscrowed: d.bootstrapToken !== null,
    facts: d.facts,
    authenticatedAt: d.authenticatedAt,
    enrolledAt: d.enrolledAt,
    checkedOutAt: d.checkedOutAt,
    lastSeenAt: d.lastSeenAt,
  };
}

function commandView(c: CommandRow): CommandView {
  return {
    uuid: c.uuid,
    enrollmentId: c.enrollmentId,
    requestType: c.requestType,
    status: c.status,
    queuedAt: c.queuedAt,
    queuedBy: c.queuedBy,
    sentAt: c.sentAt,
    answeredAt: c.answeredAt,
    notNowCount: c.notNowCount,
    errorChain: c.errorChain,
  };
}

// Password-based key derivation runs as many rounds as the file says: PKCS#12 MacData.iterations
// (RFC 7292) and the PBES1 / PBKDF2 / PKCS#12-PBE parameters (RFC 8018) of the encrypted parts. A
// file claiming 2^31 rounds held the import for hours (found by fuzzing). Real exports use 2,000
// (OpenSSL, macOS keychain) to 600,000.
const MAX_KDF_ITERATIONS = 1_000_000;
const KDF_OIDS = new Set(['1.2.840.113549.1.5.12', '1.2.840.113549.1.5.3', '1.2.840.113549.1.5.6', '1.2.840.113549.1.5.10', '1.2.840.113549.1.5.11']);
const isPkcs12Pbe = (oid: string) => oid.startsWith('1.2.840.113549.1.12.1.');

function iterationCount(node: forge.asn1.Asn1 | undefined): number | undefined {
  if (!node || node.tagClass !== forge.asn1.Class.UNIVERSAL || node.type !== forge.asn1.Type.INTEGER || typeof node.value !== 'string') return undefined;
  const bytes = Buffer.from(node.value, 'binary');
  const first = bytes.findIndex((b) => b !== 0);
  const significant = first === -1 ? Buffer.alloc(0) : bytes.subarray(first);
  return significant.length > 4 ? Infinity : significant.reduce((n, b) => n * 256 + b, 0);
}

/**
 * Throws when DER (a PFX, or an EncryptedPrivateKeyInfo) asks for more KDF rounds than
 * MAX_KDF_ITERATIONS, wherever they are readable. `whole`: the DER must parse completely (what
 * is not read here is not handed on).
 */
function refuseCostlyKeyDerivation(der: Buffer, whole = false): void {
  const { asn1 } = forge;
  const tooMany = (n: number | undefined) => n !== undefined && n > MAX_KDF_ITERATIONS;
  const walk = (node: forge.asn1.Asn1, depth: number, top: boolean): void => {
    if (depth > 24) return;
    if (Array.isArray(node.value)) {
      const kids = node.value;
      const first = kids[0];
      if (first && first.type === asn1.Type.OID && typeof first.value === 'string') {
        let oid: string | undefined;
        try {
          oid = asn1.derToOid(first.value);
        } catch {
          oid = undefined; // not an OID forge can read: nothing to check here
        }
        const params = kids[1];
        if (oid && (KDF_OIDS.has(oid) || isPkcs12Pbe(oid)) && params && Array.isArray(params.value) && tooMany(iterationCount(params.value[1]))) {
          throw new AppleError(`the file asks for more than ${MAX_KDF_ITERATIONS} key derivation rounds`, 'bad-request');
        }
      }
      // PFX ::= SEQUENCE { version, authSafe, macData SEQUENCE { mac, macSalt, iterations } }
      if (top && kids[2] && Array.isArray(kids[2].value) && tooMany(iterationCount(kids[2].value[2]))) {
        throw new AppleError(`the PKCS#12 MAC asks for more than ${MAX_KDF_ITERATIONS} rounds`, 'bad-request');
      }
      for (const kid of kids) walk(kid, depth + 1, false);
    } else if (node.type === asn1.Type.OCTETSTRING && typeof node.value === 'string' && node.value.length > 1) {
      // authSafe and SafeContents travel as DER inside OCTET STRINGs
      let inner: forge.asn1.Asn1 | undefined;
      try {
        inner = asn1.fromDer(forge.util.createBuffer(node.value), { strict: true, parseAllBytes: true, decodeBitStrings: false } as unknown as boolean);
      } catch {
        inner = undefined;
      }
      if (inner) walk(inner, depth + 1, false);
    }
  };
  let root: forge.asn1.Asn1;
  try {
    root = asn1.fromDer(forge.util.createBuffer(der.toString('binary')), { strict: true, parseAllBytes: whole, decodeBitStrings: false } as unknown as boolean);
  } catch {
    if (whole) throw new AppleError('the encrypted private key is not DER', 'bad-request');
    return; // not DER: forge's PKCS#12 reader below says so (it reads with the same strictness)
  }
  walk(root, 0, true);
}

/** PEM certificate + PEM key, or PKCS#12 (parsed by node-forge: a symmetric PBE step only). */
function readPushMaterial(input: { certificate: Buffer; key?: Buffer; passphrase?: string }): { certPem: string; keyPem: string } {
  const text = input.certificate.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
    const keySource = input.key ? input.key.toString('latin1') : text;
    // BEGIN and END must name the same kind: a file mixing them once reached OpenSSL's decryption unchecked.
    const keyMatch = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/.exec(keySource);
    const keyPem = keyMatch?.[0];
    if (!certPem) throw new AppleError('no PEM certificate found', 'bad-request');
    if (!keyPem) throw new AppleError('no PEM private key found (give the key file, or a PKCS#12 file)', 'bad-request');
    const passphrase = input.passphrase ?? '';
    // PKCS#8: OpenSSL gets exactly the DER whose key derivation was checked (its own PEM reading of a
    // damaged file could differ). The traditional Proc-Type form (RFC 1421) derives its key in one round.
    let encrypted: crypto.PrivateKeyInput | undefined;
    if (keyMatch![1] === 'ENCRYPTED PRIVATE KEY') {
      const der = Buffer.from(keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
      refuseCostlyKeyDerivation(der, true);
      encrypted = { key: der, format: 'der', type: 'pkcs8', passphrase };
    } else if (/^Proc-Type:\s*4,ENCRYPTED/m.test(keyPem)) {
      encrypted = { key: keyPem, passphrase };
    }
    if (encrypted) {
      try {
        return { certPem, keyPem: crypto.createPrivateKey(encrypted).export({ type: 'pkcs8', format: 'pem' }) as string };
      } catch {
        throw new AppleError('the private key is encrypted and the passphrase does not open it', 'bad-request');
      }
    }
    return { certPem, keyPem };
  }
  // PKCS#12 (DER).
  refuseCostlyKeyDerivation(input.certificate);
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.createBuffer(text)), input.passphrase ?? '');
  } catch (e) {
    throw new AppleError(`not a PEM certificate or a PKCS#12 file this passphrase opens: ${(e as Error).message}`, 'bad-request');
  }
  const certBag = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag]?.[0];
  const keyBag =
    p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag]?.[0] ??
    p12.getBags({ bagType: forge.pki.oids.keyBag })[forge.pki.oids.keyBag]?.[0];
  if (!certBag?.cert || !keyBag?.key) throw new AppleError('the PKCS#12 file lacks a certificate or a key', 'bad-request');
  // Re-encode the key as PKCS#8 DER and hand it to node:crypto: forge never uses it for signing.
  const keyDer = Buffer.from(forge.asn1.toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key))).getBytes(), 'binary');
  const keyPem = crypto.createPrivateKey({ key: keyDer, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { certPem: forge.pki.certificateToPem(certBag.cert), keyPem };
}

