// The Android domain's service: one method per agent API call (enroll, renew, policy, status, command
// poll, command result, security logs) plus what administrators do (import APKs, enrollment tokens,
// queue commands, unenroll). The HTTP layer only parses and answers; state changes and their audit
// events commit together here.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { type AuditContext, type AuditLog, canonicalJson, clipText } from '../audit';
import type { WardConfig } from '../config';
import type { AndroidConfig } from '../config/sections/android';
import type { DevicePageOptions, WardDb } from '../db';
import { type CertificateAuthority, type CertificateRecord, type CertificateStatus, CsrError, PkiError, parseCertificationRequest } from '../pki';
import { type ApkInfo, type DpcWarning, checkDpc, readApk } from './apk';
import { CommandWaiters } from './long-poll';
import { provisioningPayload } from './provisioning';
import { COMMAND_PARAMETER_SCHEMAS, COMMAND_TYPES, type CommandResultStatus, type CommandType, type NextAction, compile, describeErrors } from './schemas';
import { type ApkRecord, AndroidStore, type CommandRecord, type DeviceRecord, type EnrollmentMode, type TokenRecord } from './store';

export interface Next {
  action: NextAction;
  retryAfterSeconds?: number;
  reason?: string;
}

export const CONTINUE: Next = { action: 'continue' };

/** An answer for the agent that is not a success: HTTP status, stable code, reason, and what to do next. */
export class AgentError extends Error {
  override name = 'AgentError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly reason: string,
    readonly next: Next,
  ) {
    super(reason);
  }
}

/** An administrator's request Ward refuses (unknown device, bad parameters...). */
export class AndroidRequestError extends Error {
  override name = 'AndroidRequestError';
  constructor(
    message: string,
    readonly code: 'bad-request' | 'not-found' | 'conflict' = 'bad-request',
  ) {
    super(message);
  }
}

/** Where a device's policy document comes from: the policy module plugs in here (ETag = its version). */
export interface AndroidPolicySource {
  policyFor(device: { id: string; policyGroup: string; mode: EnrollmentMode }): { document: Record<string, unknown>; etag: string };
}

export function policyEtag(document: unknown): string {
  return `"${crypto.createHash('sha256').update(canonicalJson(document)).digest('base64url').slice(0, 27)}"`;
}

/** Until the policy module assigns policies by group, every device gets android.defaultPolicy. */
export function staticPolicySource(document: Record<string, unknown>): AndroidPolicySource {
  const etag = policyEtag(document);
  return { policyFor: () => ({ document, etag }) };
}

export interface DeviceFacts {
  installationId: string;
  manufacturer?: string;
  model: string;
  serialNumber?: string;
  androidVersion: string;
  sdkInt: number;
  securityPatch?: string;
  managementMode: 'device_owner' | 'profile_owner';
  agentPackage?: string;
  agentVersionCode?: number;
}

export interface EnrollRequest {
  token: string;
  csr: string;
  facts: DeviceFacts;
}

export interface StatusReport {
  model?: string;
  androidVersion: string;
  sdkInt?: number;
  securityPatch: string;
  encryption: string;
  passcodeSufficient: boolean;
  managementMode: 'device_owner' | 'profile_owner';
  installedApps: { packageName: string; versionCode: number; versionName?: string }[];
  lockTask: { active: boolean; packages?: string[] };
  battery?: { level: number; charging?: boolean };
  lastUser?: string | null;
  policyEtag?: string;
  reportedAt?: string;
}

export interface CommandResultInput {
  status: CommandResultStatus;
  error?: string;
  output?: Record<string, unknown>;
}

export interface SecurityLogEvent {
  id: number;
  timeMillis: number;
  tag: number;
  tagName?: string;
  level?: 'info' | 'warning' | 'error';
  data?: (string | number | boolean | null)[];
}

export interface AgentCommand {
  id: string;
  type: string;
  payload: Record<string, unknown>;
  queuedAt: string;
}

export interface TokenOptions {
  mode?: EnrollmentMode;
  policyGroup?: string;
  /** null or undefined: no limit; 1: one-time. */
  maxDevices?: number | null;
  expiresInHours?: number;
  label?: string;
}

const TOKEN_PREFIX = 'wet_';
const REQUIRED_MANAGEMENT: Record<EnrollmentMode, DeviceFacts['managementMode']> = { fully_managed: 'device_owner', work_profile: 'profile_owner' };
const FINAL: ReadonlySet<string> = new Set(['done', 'failed', 'not_supported', 'cancelled']);
const sha256Hex = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');
const retry = (seconds: number, reason: string): Next => ({ action: 'retry_later', retryAfterSeconds: seconds, reason });
const reauthenticate = (reason: string): Next => ({ action: 'reauthenticate', reason });

/** What Ward keeps of a status report in the audit trail: facts that matter for compliance, not telemetry. */
const AUDITED_STATUS = ['androidVersion', 'securityPatch', 'encryption', 'passcodeSufficient', 'managementMode'] as const;
const MAX_LISTED_APPS = 100;
const OUTPUT_MAX_DEPTH = 32;

/** Whether objects and arrays nest deeper than `max` (walked without recursion). */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

export class AndroidService {
  readonly store: AndroidStore;
  readonly waiters: CommandWaiters;
  private readonly acfg: AndroidConfig;
  private readonly storeDir: string;
  private readonly validators = Object.fromEntries(COMMAND_TYPES.map((t) => [t, compile(COMMAND_PARAMETER_SCHEMAS[t])]));
  private watcher: NodeJS.Timeout | undefined;
  private readonly verifiedPeers = new WeakMap<object, { der: Buffer; serial: string; notBefore: number; notAfter: number }>();

  constructor(
    private readonly cfg: WardConfig,
    private readonly db: WardDb,
    private readonly audit: AuditLog,
    private readonly ca: CertificateAuthority,
    private policies: AndroidPolicySource,
    private readonly log?: Logger,
  ) {
    this.acfg = cfg.android as AndroidConfig;
    this.storeDir = this.acfg.storeDir ? path.resolve(cfg.configDir, this.acfg.storeDir) : path.join(cfg.dataDir, 'android');
    this.store = new AndroidStore(db);
    this.waiters = new CommandWaiters(this.acfg.maxHeldPolls);
  }

  get config(): AndroidConfig {
    return this.acfg;
  }

  /** The policy module replaces the default source; held polls learn of the change through policyChanged(). */
  setPolicySource(source: AndroidPolicySource): void {
    this.policies = source;
  }

  // ---------------------------------------------------------------- hosted APKs

  /**
   * Reads, verifies and stores an APK: the DPC agent (its receiver checked for Android 12+) or a clinical
   * app for INSTALL_APP. Throws ApkFormatError for anything Android would refuse.
   */
  importApk(apk: Buffer, opts: { role: 'dpc' | 'app'; receiver?: string }, ctx: AuditContext): { record: ApkRecord; info: ApkInfo; warnings: DpcWarning[] } {
    const info = readApk(apk);
    let componentName: string | null = null;
    let warnings: DpcWarning[] = [];
    if (opts.role === 'dpc') {
      if (!opts.receiver) throw new AndroidRequestError('importing the DPC needs --receiver (the device admin receiver, e.g. .AdminReceiver)');
      const check = checkDpc(info, opts.receiver);
      componentName = check.componentName;
      warnings = check.warnings;
    }
    fs.mkdirSync(this.storeDir, { recursive: true, mode: 0o700 });
    const file = this.apkPath(info.sha256);
    if (!fs.existsSync(file)) {
      // Write then rename: a reader never sees half an APK.
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, apk, { mode: 0o644 });
      fs.renameSync(tmp, file);
    }
    const record: ApkRecord = {
      sha256: info.sha256,
      role: opts.role,
      packageName: info.manifest.packageName,
      versionCode: info.manifest.versionCode,
      versionName: info.manifest.versionName,
      signingCertSha256: info.signingCertificateSha256,
      signatureChecksum: info.signatureChecksum,
      packageChecksum: info.packageChecksum,
      signatureScheme: info.signatureScheme,
      componentName,
      size: info.size,
      warnings,
      importedAt: new Date().toISOString(),
      importedBy: `${ctx.actor.type}:${ctx.actor.id}`,
    };
    this.db.write(() => {
      this.store.insertApk(record);
      this.audit.record({
        ...ctx,
        action: 'android.apk.imported',
        target: { type: 'android_apk', id: info.sha256 },
        details: {
          role: opts.role,
          packageName: record.packageName,
          versionCode: record.versionCode,
          signingCertSha256: record.signingCertSha256,
          signatureScheme: record.signatureScheme,
          componentName,
          warnings: warnings.map((w) => w.code),
        },
      });
    });
    return { record, info, warnings };
  }

  currentDpc(): ApkRecord | undefined {
    return this.store.currentDpc();
  }

  apps(): ApkRecord[] {
    return this.store.apps();
  }

  apkPath(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new AndroidRequestError('not an APK checksum');
    return path.join(this.storeDir, `${sha256}.apk`);
  }

  /** PAC script served at /android/proxy.pac, or undefined when the PAC is not enabled. */
  pacScript(): string | undefined {
    const pac = this.acfg.provisioning.pac;
    if (!pac.enabled) return undefined;
    if (pac.file) return fs.readFileSync(path.resolve(this.cfg.configDir, pac.file), 'utf8');
    return pac.script ?? 'function FindProxyForURL(url, host) {\n  return "DIRECT";\n}\n';
  }

  // ---------------------------------------------------------------- enrollment tokens and the QR code

  /** Creates a token; the secret is returned once and only its SHA-256 is stored. */
  createToken(opts: TokenOptions, ctx: AuditContext): { token: string; record: TokenRecord } {
    const mode = opts.mode ?? this.acfg.tokens.defaultMode;
    if (mode !== 'fully_managed' && mode !== 'work_profile') throw new AndroidRequestError(`mode must be fully_managed or work_profile`);
    const maxDevices = opts.maxDevices ?? null;
    if (maxDevices !== null && !(Number.isInteger(maxDevices) && maxDevices >= 1)) throw new AndroidRequestError('device limit must be a whole number >= 1');
    const hours = opts.expiresInHours ?? this.acfg.tokens.defaultExpiryHours;
    if (!(Number.isInteger(hours) && hours >= 1 && hours <= 8760)) throw new AndroidRequestError('expiry must be 1 to 8760 hours');
    const policyGroup = opts.policyGroup ?? this.acfg.tokens.defaultPolicyGroup;
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(policyGroup)) throw new AndroidRequestError('policy group must be 1-64 letters, digits, dot, dash or underscore');
    const token = TOKEN_PREFIX + crypto.randomBytes(24).toString('base64url');
    const now = new Date();
    const record: TokenRecord = {
      id: `tok_${crypto.randomBytes(6).toString('hex')}`,
      tokenHash: sha256Hex(token),
      label: opts.label ?? null,
      mode,
      policyGroup,
      maxDevices,
      devices: 0,
      expiresAt: new Date(now.getTime() + hours * 3_600_000).toISOString(),
      createdAt: now.toISOString(),
      createdBy: `${ctx.actor.type}:${ctx.actor.id}`,
      revokedAt: null,
    };
    this.db.write(() => {
      this.store.insertToken(record);
      this.audit.record({
        ...ctx,
        action: 'android.enrollment_token.created',
        target: { type: 'android_enrollment_token', id: record.id },
        details: { mode, policyGroup, maxDevices, expiresAt: record.expiresAt, label: record.label },
      });
    });
    return { token, record };
  }

  tokens(): TokenRecord[] {
    return this.store.tokens();
  }

  revokeToken(id: string, ctx: AuditContext): void {
    this.db.write(() => {
      if (!this.store.token(id)) throw new AndroidRequestError(`no enrollment token ${id}`, 'not-found');
      if (!this.store.revokeToken(id, new Date().toISOString())) throw new AndroidRequestError(`enrollment token ${id} is already revoked`, 'conflict');
      this.audit.record({ ...ctx, action: 'android.enrollment_token.revoked', target: { type: 'android_enrollment_token', id } });
    });
  }

  /** The provisioning QR payload for a token secret (the current DPC, Ward's URLs, the CA pin). */
  provisioningPayload(token: string): Record<string, unknown> {
    const dpc = this.store.currentDpc();
    if (!dpc || !dpc.componentName) throw new AndroidRequestError('no DPC APK has been imported yet (wardctl android dpc import APK --receiver .AdminReceiver)', 'conflict');
    const record = this.store.tokenByHash(sha256Hex(token));
    if (!record) throw new AndroidRequestError('unknown enrollment token', 'not-found');
    if (record.revokedAt) throw new AndroidRequestError(`enrollment token ${record.id} is revoked`, 'conflict');
    if (Date.parse(record.expiresAt) <= Date.now()) throw new AndroidRequestError(`enrollment token ${record.id} has expired`, 'conflict');
    const p = this.acfg.provisioning;
    const wifi = p.wifi && {
      ssid: p.wifi.ssid,
      securityType: p.wifi.securityType,
      password: p.wifi.password,
      hidden: p.wifi.hidden,
      pacUrl: p.pac.enabled ? `${this.cfg.http.publicUrl}/android/proxy.pac` : undefined,
    };
    return provisioningPayload({
      dpc: {
        componentName: dpc.componentName,
        downloadUrl: `${this.cfg.http.publicUrl}/android/dpc.apk`,
        signatureChecksum: p.signatureChecksum || !p.packageChecksum ? dpc.signatureChecksum : undefined,
        packageChecksum: p.packageChecksum ? dpc.packageChecksum : undefined,
      },
      ward: { serverUrl: this.cfg.https.publicUrl!, enrollmentToken: token, caSha256: this.ca.rootFingerprint(), enrollmentMode: record.mode },
      wifi,
      locale: p.locale,
      timeZone: p.timeZone,
      leaveAllSystemAppsEnabled: p.leaveAllSystemAppsEnabled,
    });
  }

  // ---------------------------------------------------------------- agent API

  /** Issuing CA and root (PEM) and the root's SHA-256, which the QR code pins. */
  caChain(): { caChain: string[]; rootSha256: string } {
    return { caChain: [this.ca.issuing.pem, this.ca.root.pem], rootSha256: this.ca.rootFingerprint() };
  }

  /**
   * Enroll: token + facts + CSR -> identity certificate, device id, policy. A repeated enroll from the
   * same installation (its answer was lost) gets a fresh certificate for the same device and does not
   * use up the token again.
   */
  enroll(req: EnrollRequest, ctx: Omit<AuditContext, 'actor'>): {
    deviceId: string;
    mode: EnrollmentMode;
    certificate: string;
    caChain: string[];
    policy: Record<string, unknown>;
    policyEtag: string;
    pollSeconds: number;
  } {
    let csr;
    try {
      csr = parseCertificationRequest(req.csr);
    } catch (e) {
      if (e instanceof CsrError || e instanceof PkiError) throw new AgentError(400, 'invalid_csr', `the CSR was refused: ${e.message}`, CONTINUE);
      throw e;
    }
    type Refusal = { refused: string; tokenId: string | null };
    const refuse = (reason: string, tokenId: string | null): Refusal => ({ refused: reason, tokenId });
    const result = this.db.write((): Refusal | { deviceId: string; mode: EnrollmentMode; policyGroup: string; issued: ReturnType<CertificateAuthority['issue']> } => {
      const token = this.store.tokenByHash(sha256Hex(req.token));
      if (!token) return refuse('unknown enrollment token', null);
      if (token.revokedAt) return refuse('the enrollment token was revoked', token.id);
      if (Date.parse(token.expiresAt) <= Date.now()) return refuse('the enrollment token has expired', token.id);
      if (req.facts.managementMode !== REQUIRED_MANAGEMENT[token.mode]) {
        return refuse(`the token is for ${token.mode} (${REQUIRED_MANAGEMENT[token.mode]}), the agent runs as ${req.facts.managementMode}`, token.id);
      }
      const existing = this.store.deviceByInstallation(token.id, req.facts.installationId);
      if (existing && existing.state !== 'active') return refuse('this installation was unenrolled; provision the device again', token.id);
      if (!existing && token.maxDevices !== null && token.devices >= token.maxDevices) {
        return refuse(`the enrollment token is used up (${token.devices} of ${token.maxDevices} devices)`, token.id);
      }
      const deviceId = existing?.id ?? crypto.randomUUID();
      const deviceCtx: AuditContext = { ...ctx, actor: { type: 'device', id: deviceId } };
      const issued = this.ca.issue(
        {
          csr,
          profile: 'device',
          subject: [['CN', deviceId], ['O', this.cfg.organization], ['OU', 'Ward Android']],
          altNames: { uri: [`urn:uuid:${deviceId}`] },
          details: { platform: 'android', deviceId },
        },
        deviceCtx,
      );
      const now = new Date().toISOString();
      if (existing) {
        // The previous certificate stays usable until the device shows the new one (its answer may be lost again).
        this.store.reissueDevice(existing.id, issued.serial, existing.certSerial, req.facts, now);
      } else {
        this.store.insertDevice({ id: deviceId, installationId: req.facts.installationId, tokenId: token.id, mode: token.mode, policyGroup: token.policyGroup, certSerial: issued.serial, facts: req.facts, now });
        this.store.countTokenUse(token.id);
      }
      this.audit.record({
        ...deviceCtx,
        action: existing ? 'android.device.reenrolled' : 'android.device.enrolled',
        target: { type: 'android_device', id: deviceId },
        details: {
          tokenId: token.id,
          mode: token.mode,
          policyGroup: token.policyGroup,
          certificateSerial: issued.serial,
          manufacturer: req.facts.manufacturer ?? null,
          model: req.facts.model,
          androidVersion: req.facts.androidVersion,
          securityPatch: req.facts.securityPatch ?? null,
        },
      });
      return { deviceId, mode: token.mode, policyGroup: token.policyGroup, issued };
    });
    if ('refused' in result) {
      // Recorded on its own: a refusal changes nothing, but the attempt belongs in the audit trail.
      this.audit.record({
        ...ctx,
        actor: { type: 'device', id: `installation:${req.facts.installationId}` },
        action: 'android.device.enrollment_refused',
        outcome: 'failure',
        reason: result.refused,
        target: result.tokenId ? { type: 'android_enrollment_token', id: result.tokenId } : null,
        details: { model: req.facts.model, managementMode: req.facts.managementMode },
      });
      throw new AgentError(403, 'enrollment_refused', result.refused, reauthenticate('scan a fresh provisioning QR code'));
    }
    const policy = this.policies.policyFor({ id: result.deviceId, policyGroup: result.policyGroup, mode: result.mode });
    return {
      deviceId: result.deviceId,
      mode: result.mode,
      certificate: result.issued.pem,
      caChain: [this.ca.issuing.pem, this.ca.root.pem],
      policy: policy.document,
      policyEtag: policy.etag,
      pollSeconds: this.acfg.longPollSeconds,
    };
  }

  /**
   * Maps the TLS client certificate to an active device. Only a device Ward has recorded as unenrolled
   * gets `unenrolled`; every other failure says `reauthenticate` (never a reason to drop the enrollment).
   */
  authenticate(certificateDer: Buffer | undefined, ctx: Omit<AuditContext, 'actor'>, connection?: object): DeviceRecord {
    if (!certificateDer || certificateDer.length === 0) {
      throw new AgentError(401, 'client_certificate_required', 'present the device identity certificate (TLS client authentication)', reauthenticate('no client certificate'));
    }
    const v = this.verifyPeer(certificateDer, connection);
    // A certificate that is presented and refused is an audited attempt, as on the Apple side
    // (apple.device.auth_refused); the answer still says reauthenticate, never unenrolled.
    const refused = (status: number, code: string, reason: string, next: string, device?: DeviceRecord): AgentError => {
      const serial = v.record?.serial ?? null;
      const holder = device ?? (serial ? this.store.deviceByCertificate(serial) : undefined);
      this.db.write(() =>
        this.audit.record({
          ...ctx,
          actor: { type: 'device', id: holder?.id ?? (serial ? `certificate:${serial}` : 'unknown') },
          action: 'android.device.auth_refused',
          outcome: 'failure',
          reason,
          target: holder ? { type: 'android_device', id: holder.id } : null,
          details: { error: code, certificateSerial: serial },
        }),
      );
      return new AgentError(status, code, reason, reauthenticate(next));
    };
    if (v.status === 'unknown') throw refused(401, 'unknown_certificate', 'the client certificate was not issued by Ward', 'unknown certificate');
    if (v.status === 'not-yet-valid') throw refused(401, 'certificate_not_yet_valid', 'the client certificate is not valid yet: check the device clock', 'certificate not yet valid');
    if (v.status === 'expired') throw refused(401, 'certificate_expired', 'the client certificate has expired', 'certificate expired');
    const record = v.record!;
    if (record.profile !== 'device') throw refused(403, 'not_a_device_certificate', 'the client certificate is not a device identity', 'not a device certificate');
    const device = this.store.deviceByCertificate(record.serial);
    if (!device) {
      // A certificate this device replaced (renewal) or one that never was an Android identity.
      if (v.status === 'revoked') throw refused(403, 'certificate_revoked', 'the client certificate was revoked', 'certificate revoked');
      throw refused(401, 'unknown_device', 'no Android device holds this certificate', 'unknown device');
    }
    if (device.state === 'unenrolled') {
      throw new AgentError(403, 'unenrolled', `the device was unenrolled${device.unenrollReason ? `: ${device.unenrollReason}` : ''}`, { action: 'unenrolled', reason: device.unenrollReason ?? 'unenrolled' });
    }
    if (v.status === 'revoked') throw refused(403, 'certificate_revoked', 'the client certificate was revoked', 'certificate revoked', device);
    if (record.serial === device.certSerial && device.previousCertSerial) {
      // The device now uses its new certificate: retire the one it replaced.
      const previous = device.previousCertSerial;
      this.db.write(() => {
        this.store.dropPreviousCertificate(device.id);
        const rec = this.ca.certificate(previous);
        if (rec && !rec.revokedAt) this.ca.revoke(previous, 'superseded', { ...ctx, actor: { type: 'device', id: device.id } });
      });
      device.previousCertSerial = null;
    }
    return device;
  }

  /**
   * ca.verifyIssued once per TLS connection (parsing and the signature check cost more than the rest of
   * a request); on later requests of the same connection only what can change is read again: the
   * certificate's record (revocation) and the clock against its validity.
   */
  private verifyPeer(der: Buffer, connection?: object): { status: CertificateStatus; record?: CertificateRecord } {
    const cached = connection ? this.verifiedPeers.get(connection) : undefined;
    if (cached && cached.der === der) {
      const record = this.ca.certificate(cached.serial);
      if (!record) return { status: 'unknown' };
      const now = Date.now();
      if (record.revokedAt) return { status: 'revoked', record };
      if (now < cached.notBefore) return { status: 'not-yet-valid', record };
      if (now > cached.notAfter) return { status: 'expired', record };
      return { status: 'valid', record };
    }
    const v = this.ca.verifyIssued(der);
    if (connection && v.record && v.notBefore && v.notAfter && (v.status === 'valid' || v.status === 'revoked')) {
      this.verifiedPeers.set(connection, { der, serial: v.record.serial, notBefore: v.notBefore.getTime(), notAfter: v.notAfter.getTime() });
    }
    return v;
  }

  /** Renew: a new identity certificate for an authenticated device (the old one stays good until the new one is used). */
  renew(device: DeviceRecord, csrPem: string, ctx: Omit<AuditContext, 'actor'>): { certificate: string; caChain: string[] } {
    let csr;
    try {
      csr = parseCertificationRequest(csrPem);
    } catch (e) {
      if (e instanceof CsrError || e instanceof PkiError) throw new AgentError(400, 'invalid_csr', `the CSR was refused: ${e.message}`, CONTINUE);
      throw e;
    }
    const deviceCtx: AuditContext = { ...ctx, actor: { type: 'device', id: device.id } };
    const issued = this.db.write(() => {
      const current = this.store.device(device.id)!;
      const issued = this.ca.issue(
        { csr, profile: 'device', subject: [['CN', device.id], ['O', this.cfg.organization], ['OU', 'Ward Android']], altNames: { uri: [`urn:uuid:${device.id}`] }, details: { platform: 'android', deviceId: device.id, renewal: true } },
        deviceCtx,
      );
      this.store.reissueDevice(device.id, issued.serial, current.certSerial, current.facts, new Date().toISOString());
      this.audit.record({ ...deviceCtx, action: 'android.device.certificate_renewed', target: { type: 'android_device', id: device.id }, details: { certificateSerial: issued.serial, previousSerial: current.certSerial } });
      return issued;
    });
    return { certificate: issued.pem, caChain: [this.ca.issuing.pem, this.ca.root.pem] };
  }

  policy(device: DeviceRecord): { document: Record<string, unknown>; etag: string } {
    return this.policies.policyFor({ id: device.id, policyGroup: device.policyGroup, mode: device.mode });
  }

  /** Stores the report; security-relevant changes (OS, patch, encryption, passcode, mode, apps, kiosk) become an audit event. */
  async reportStatus(device: DeviceRecord, report: StatusReport, ctx: Omit<AuditContext, 'actor'>): Promise<{ policyEtag: string; pendingCommands: number }> {
    const prev = (device.status ?? {}) as Partial<StatusReport>;
    const changes: Record<string, unknown> = {};
    for (const k of AUDITED_STATUS) if (prev[k] !== report[k]) changes[k] = { from: prev[k] ?? null, to: report[k] };
    if ((prev.lockTask?.active ?? null) !== report.lockTask.active) changes.lockTask = { from: prev.lockTask?.active ?? null, to: report.lockTask.active };
    const appKey = (a: { packageName: string; versionCode: number }) => `${a.packageName}@${a.versionCode}`;
    const before = new Map((prev.installedApps ?? []).map((a) => [a.packageName, appKey(a)]));
    const after = new Map(report.installedApps.map((a) => [a.packageName, appKey(a)]));
    const added = [...after.keys()].filter((p) => !before.has(p));
    const removed = [...before.keys()].filter((p) => !after.has(p));
    const updated = [...after.entries()].filter(([p, k]) => before.has(p) && before.get(p) !== k).map(([, k]) => k);
    const appChanges = added.length + removed.length + updated.length > 0;
    const now = new Date().toISOString();
    await this.store.commit(() => {
      this.store.saveStatus(device.id, report, now);
      if (Object.keys(changes).length > 0 || appChanges) {
        this.audit.record({
          ...ctx,
          actor: { type: 'device', id: device.id },
          action: 'android.device.status_changed',
          target: { type: 'android_device', id: device.id },
          details: {
            first: device.status === null,
            changes,
            apps: appChanges
              ? { added: added.slice(0, MAX_LISTED_APPS), removed: removed.slice(0, MAX_LISTED_APPS), updated: updated.slice(0, MAX_LISTED_APPS), addedCount: added.length, removedCount: removed.length, updatedCount: updated.length }
              : null,
          },
        });
      }
    });
    device.status = report as unknown as Record<string, unknown>;
    return { policyEtag: this.policy(device).etag, pendingCommands: this.store.countOpen(device.id) };
  }

  /**
   * The command long poll: answers at once when commands wait, else holds until one is queued, the
   * policy changes, the hold ends, or the client or Ward goes away.
   */
  async pollCommands(device: DeviceRecord, waitSeconds: number, signals: AbortSignal[], ctx: Omit<AuditContext, 'actor'>): Promise<{ commands: AgentCommand[]; policyEtag: string; next: Next }> {
    const holdMs = Math.max(0, Math.min(waitSeconds, this.acfg.longPollSeconds)) * 1000;
    let commands = await this.deliver(device, ctx);
    if (commands.length === 0 && holdMs > 0) {
      const outcome = await this.waiters.wait(device.id, holdMs, signals);
      if (outcome === 'full') return { commands: [], policyEtag: this.policy(device).etag, next: retry(5 + crypto.randomInt(25), 'too many polls held; poll again later') };
      if (outcome === 'aborted') return { commands: [], policyEtag: this.policy(device).etag, next: retry(5, 'Ward is restarting') };
      const fresh = this.store.device(device.id);
      if (!fresh || fresh.state !== 'active') {
        throw new AgentError(403, 'unenrolled', `the device was unenrolled${fresh?.unenrollReason ? `: ${fresh.unenrollReason}` : ''}`, { action: 'unenrolled', reason: fresh?.unenrollReason ?? 'unenrolled' });
      }
      if (outcome !== 'superseded') commands = await this.deliver(fresh, ctx);
    }
    return { commands, policyEtag: this.policy(device).etag, next: CONTINUE };
  }

  /** Open commands (queued or sent but not acknowledged); newly delivered ones are marked sent. */
  private async deliver(device: DeviceRecord, ctx: Omit<AuditContext, 'actor'>): Promise<AgentCommand[]> {
    if (!this.store.hasUndelivered(device.id)) return [];
    const open = this.store.openCommands(device.id).filter((c) => c.status === 'queued' || c.status === 'sent');
    const fresh = open.filter((c) => c.status === 'queued');
    if (fresh.length > 0) {
      const now = new Date().toISOString();
      await this.store.commit(() => {
        for (const c of fresh) {
          if (!this.store.markSent(c.id, now)) continue;
          this.audit.record({ ...ctx, actor: { type: 'device', id: device.id }, action: 'android.command.sent', target: { type: 'android_command', id: c.id }, details: { deviceId: device.id, type: c.type } });
        }
      });
    }
    return open.map((c) => ({ id: c.id, type: c.type, payload: c.payload, queuedAt: c.queuedAt }));
  }

  /** A command's result. Only the device the command was queued for may answer it. */
  commandResult(device: DeviceRecord, commandId: string, input: CommandResultInput, ctx: Omit<AuditContext, 'actor'>): Promise<{ commandId: string; status: string }> {
    const deviceCtx: AuditContext = { ...ctx, actor: { type: 'device', id: device.id } };
    // Checked before queueing too, so a stream of bad ids never rolls back other devices' batches.
    // The schema leaves `output` free-form; storing it serializes it, which a few thousand levels of
    // nesting (well inside the body limit) overflow (found by fuzzing).
    if (input.output !== undefined && nestedDeeperThan(input.output, OUTPUT_MAX_DEPTH)) {
      return Promise.reject(new AgentError(400, 'invalid_request', `/output nests deeper than ${OUTPUT_MAX_DEPTH} levels`, CONTINUE));
    }
    const known = this.store.command(commandId);
    if (!known || known.deviceId !== device.id) return Promise.reject(new AgentError(404, 'command_not_found', `no command ${commandId} for this device`, CONTINUE));
    return this.store.commit(() => {
      const cmd = this.store.command(commandId);
      // Another device's command reads exactly like a missing one: nothing leaks across devices.
      if (!cmd || cmd.deviceId !== device.id) throw new AgentError(404, 'command_not_found', `no command ${commandId} for this device`, CONTINUE);
      if (FINAL.has(cmd.status)) {
        if (cmd.status === input.status) return { commandId, status: cmd.status };
        throw new AgentError(409, 'command_closed', `command ${commandId} is already ${cmd.status}`, CONTINUE);
      }
      const now = new Date().toISOString();
      const payload = scrubbed(cmd);
      if (input.status === 'acknowledged') {
        if (cmd.status === 'acknowledged') return { commandId, status: cmd.status };
        this.store.markAcknowledged(commandId, now, payload);
        this.audit.record({ ...deviceCtx, action: 'android.command.acknowledged', target: { type: 'android_command', id: commandId }, details: { deviceId: device.id, type: cmd.type } });
        if (cmd.type === 'WIPE') {
          // After the wipe nothing is left to answer: the acknowledgement is the last word.
          const scope = (cmd.payload as { scope?: string }).scope ?? 'full';
          this.retire(device, `wiped (${scope === 'full' ? 'factory reset' : 'work profile removed'})`, deviceCtx, 'android.device.wiped', { commandId, scope });
        }
        return { commandId, status: 'acknowledged' };
      }
      const result = { error: input.error ?? null, output: input.output ?? null };
      this.store.markFinished(commandId, input.status, now, result, payload);
      this.audit.record({
        ...deviceCtx,
        action: 'android.command.completed',
        target: { type: 'android_command', id: commandId },
        outcome: input.status === 'done' ? 'success' : 'failure',
        reason: input.status === 'done' ? null : clipText(input.error || input.status, 300),
        details: { deviceId: device.id, type: cmd.type, status: input.status },
      });
      return { commandId, status: input.status };
    });
  }

  /**
   * Security log upload: each new entry becomes an audit event tied to the device, so the signed bundle
   * covers the device's own log too. Entries at or before the last one stored are dropped (retries).
   */
  async uploadSecurityLogs(device: DeviceRecord, events: SecurityLogEvent[], ctx: Omit<AuditContext, 'actor'>): Promise<{ accepted: number; duplicates: number; lastId: number | null }> {
    if (events.length > this.acfg.securityLogBatchMax) {
      throw new AgentError(413, 'batch_too_large', `at most ${this.acfg.securityLogBatchMax} events per upload`, CONTINUE);
    }
    const deviceCtx: AuditContext = { ...ctx, actor: { type: 'device', id: device.id } };
    return this.store.commit(() => {
      const current = this.store.device(device.id)!;
      // Cursor (time, id): SecurityEvent ids restart after a reboot, the clock does not.
      let cursor = current.securityLogLastTime === null ? null : { time: current.securityLogLastTime, id: current.securityLogLastId ?? -1 };
      const sorted = [...events].sort((a, b) => a.timeMillis - b.timeMillis || a.id - b.id);
      let accepted = 0;
      for (const e of sorted) {
        if (cursor && (e.timeMillis < cursor.time || (e.timeMillis === cursor.time && e.id <= cursor.id))) continue;
        this.audit.record({
          ...deviceCtx,
          action: 'android.device.security_event',
          target: { type: 'android_device', id: device.id },
          outcome: e.level === 'error' ? 'failure' : 'success',
          reason: e.level === 'error' ? `device security log: ${e.tagName ?? e.tag}` : null,
          details: { logId: e.id, time: new Date(e.timeMillis).toISOString(), tag: e.tag, tagName: e.tagName ?? null, level: e.level ?? null, data: e.data ?? [] },
        });
        cursor = { time: e.timeMillis, id: e.id };
        accepted++;
      }
      if (accepted > 0) this.store.markSecurityLog(device.id, cursor!, new Date().toISOString());
      return { accepted, duplicates: events.length - accepted, lastId: cursor?.id ?? null };
    });
  }

  /** A hosted clinical app, for an enrolled device. */
  appForDevice(sha256: string): ApkRecord | undefined {
    const a = this.store.apk(sha256);
    return a && a.role === 'app' ? a : undefined;
  }

  // ---------------------------------------------------------------- administration

  devices(limit = 100, offset = 0): DeviceRecord[] {
    return this.store.devices(limit, offset);
  }

  /** Devices in id order after `after` (compliance's sync pages with it; keyset, so each page costs the same). */
  devicesAfter(after: string, limit: number): DeviceRecord[] {
    return this.store.devicesAfter(after, limit);
  }

  /** The device holding this identity certificate serial (current or previous): a NAC key. */
  deviceByCertificate(serial: string): DeviceRecord | undefined {
    return this.store.deviceByCertificate(serial);
  }

  /** A page of the admin device list, ordered and filtered in SQL (AndroidStore.devicePage). */
  devicePage(opts: DevicePageOptions): { devices: DeviceRecord[]; total: number } {
    return this.store.devicePage(opts);
  }

  deviceKeys(opts: DevicePageOptions): ReturnType<AndroidStore['deviceKeys']> {
    return this.store.deviceKeys(opts);
  }

  device(id: string): DeviceRecord | undefined {
    return this.store.device(id);
  }

  commandsOf(deviceId: string, limit = 100): CommandRecord[] {
    return this.store.commandsOf(deviceId, limit);
  }

  /** Validates and queues a command, then wakes the device's held poll. */
  queueCommand(deviceId: string, type: string, params: unknown, ctx: AuditContext): CommandRecord {
    if (!(COMMAND_TYPES as readonly string[]).includes(type)) throw new AndroidRequestError(`unknown command ${JSON.stringify(type)}; one of ${COMMAND_TYPES.join(', ')}`);
    const t = type as CommandType;
    const p = (params ?? {}) as Record<string, unknown>;
    const validate = this.validators[t];
    if (!validate(p)) throw new AndroidRequestError(`${t}: ${describeErrors(validate.errors)}`);
    const record = this.db.write(() => {
      const device = this.store.device(deviceId);
      if (!device) throw new AndroidRequestError(`no Android device ${deviceId}`, 'not-found');
      if (device.state !== 'active') throw new AndroidRequestError(`device ${deviceId} is unenrolled`, 'conflict');
      const payload = this.payloadFor(device, t, p);
      const id = crypto.randomUUID();
      const queuedAt = new Date().toISOString();
      this.store.insertCommand({ id, deviceId, type: t, payload, queuedAt, queuedBy: `${ctx.actor.type}:${ctx.actor.id}` });
      this.audit.record({
        ...ctx,
        action: 'android.command.queued',
        target: { type: 'android_device', id: deviceId },
        details: { commandId: id, type: t, parameters: scrubbed({ type: t, payload } as CommandRecord) },
      });
      return this.store.command(id)!;
    });
    this.waiters.wake(deviceId);
    return record;
  }

  private payloadFor(device: DeviceRecord, type: CommandType, p: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
      case 'WIPE': {
        // A work-profile (BYOD) device only ever gets a selective wipe: the profile, not the phone.
        const scope = (p.scope as string | undefined) ?? (device.mode === 'fully_managed' ? 'full' : 'work_profile');
        if (device.mode === 'work_profile' && scope === 'full') throw new AndroidRequestError('a work-profile device can only be wiped selectively (scope work_profile)');
        return { ...p, scope };
      }
      case 'REBOOT':
        if (device.mode !== 'fully_managed') throw new AndroidRequestError('REBOOT needs a fully managed device (DevicePolicyManager.reboot is device-owner only)');
        return p;
      case 'INSTALL_APP': {
        const app = p.sha256 ? this.store.apk(p.sha256 as string) : this.store.latestApp(p.packageName as string);
        if (!app || app.role !== 'app' || app.packageName !== p.packageName) {
          throw new AndroidRequestError(`Ward hosts no app ${p.packageName as string}${p.sha256 ? ` with SHA-256 ${p.sha256 as string}` : ''} (wardctl android app import APK)`, 'not-found');
        }
        return {
          packageName: app.packageName,
          versionCode: app.versionCode,
          sha256: app.sha256,
          size: app.size,
          url: `${this.cfg.https.publicUrl}/android/agent/v1/apps/${app.sha256}.apk`,
          signingCertSha256: app.signingCertSha256,
        };
      }
      default:
        return p;
    }
  }

  /** Unenrolls a device: cancels its commands, revokes its certificates; its next call is answered `unenrolled`. */
  unenroll(deviceId: string, reason: string, ctx: AuditContext): void {
    this.db.write(() => {
      const device = this.store.device(deviceId);
      if (!device) throw new AndroidRequestError(`no Android device ${deviceId}`, 'not-found');
      if (device.state !== 'active') throw new AndroidRequestError(`device ${deviceId} is already unenrolled`, 'conflict');
      this.retire(device, reason, ctx, 'android.device.unenrolled', {});
    });
    this.waiters.wake(deviceId);
  }

  private retire(device: DeviceRecord, reason: string, ctx: AuditContext, action: string, details: Record<string, unknown>): void {
    const now = new Date().toISOString();
    this.store.unenroll(device.id, now, reason);
    const cancelled = this.store.cancelOpen(device.id, now);
    for (const serial of [device.certSerial, device.previousCertSerial]) {
      const rec = serial ? this.ca.certificate(serial) : undefined;
      if (rec && !rec.revokedAt) this.ca.revoke(rec.serial, 'cessationOfOperation', ctx);
    }
    this.audit.record({ ...ctx, action, target: { type: 'android_device', id: device.id }, reason, details: { ...details, cancelledCommands: cancelled } });
  }

  /** Wakes held polls so agents re-read the policy (its ETag is in every poll answer). */
  policyChanged(deviceIds?: string[]): number {
    let woken = 0;
    if (deviceIds) {
      for (const id of deviceIds) if (this.waiters.wake(id)) woken++;
    } else {
      woken = this.waiters.size;
      this.waiters.abortAll();
    }
    return woken;
  }

  /**
   * Notices commands queued by another process (wardctl) and wakes their held polls: SQLite's
   * data_version changes when another connection commits, so the check is one cheap pragma.
   */
  start(shuttingDown: AbortSignal): void {
    let lastSeq = this.store.maxCommandSeq();
    let lastVersion = this.store.dataVersion();
    this.watcher = setInterval(() => {
      try {
        const v = this.store.dataVersion();
        if (v === lastVersion) return;
        lastVersion = v;
        for (const r of this.store.queuedSince(lastSeq)) {
          this.waiters.wake(r.deviceId);
          lastSeq = r.seq;
        }
      } catch (e) {
        this.log?.warn({ err: (e as Error).message }, 'android: command watcher');
      }
    }, this.acfg.crossProcessWakeMs);
    this.watcher.unref();
    shuttingDown.addEventListener('abort', () => this.stop(), { once: true });
  }

  stop(): void {
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = undefined;
    this.waiters.abortAll();
  }

  health(): { ok: boolean; details: Record<string, unknown> } {
    const dpc = this.store.currentDpc();
    return {
      ok: true,
      details: {
        devices: this.store.deviceCounts(),
        heldPolls: this.waiters.size,
        peakHeldPolls: this.waiters.peakSize,
        dpc: dpc ? { packageName: dpc.packageName, versionCode: dpc.versionCode, sha256: dpc.sha256, warnings: dpc.warnings.map((w) => w.code) } : null,
      },
    };
  }
}

/** A command's payload without one-time secrets (RESET_PASSWORD's password), for the audit log and for keeping. */
function scrubbed(cmd: Pick<CommandRecord, 'type' | 'payload'>): Record<string, unknown> {
  if (cmd.type !== 'RESET_PASSWORD' || !('password' in cmd.payload)) return cmd.payload;
  const { password: _password, ...rest } = cmd.payload;
  return { ...rest, passwordGiven: true };
}
