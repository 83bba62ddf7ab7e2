// What the admin surface needs from the other domains, as small interfaces that main.ts fills in
// (admin.attach({...})). A route whose interface is not attached is not served and not in the
// OpenAPI document: Ward never answers for a domain it does not have.
import type { AuditContext } from '../audit';

export type Platform = 'apple' | 'android';
export type MaybePromise<T> = T | Promise<T>;

export interface DeviceSummary {
  /** Unique across platforms (the platform's enrollment id). */
  id: string;
  platform: Platform;
  /** What people call the device ("Ward 4B nurse station iPad"); the lock/wipe confirmation names it. */
  name: string;
  model: string | null;
  osVersion: string | null;
  serialNumber: string | null;
  /** corporate | shared | kiosk | byod, as the policy domain names the mode. */
  mode: string | null;
  enrolledAt: string | null;
  lastSeenAt: string | null;
  /** null: not evaluated yet. */
  compliant: boolean | null;
}

export type DeviceKey = Pick<DeviceSummary, 'id' | 'name' | 'lastSeenAt'>;

export interface DeviceDetail extends DeviceSummary {
  /** Inventory as the device reported it (DeviceInformation, SecurityInfo, Android status). */
  facts: Record<string, unknown>;
  compliance: { compliant: boolean; reasons: string[]; evaluatedAt: string } | null;
  /** Wipes this device supports: a BYOD work profile only "selective". */
  wipeModes: ('full' | 'selective')[];
  /** Serials of the device's identity certificates. */
  certificates: string[];
}

export interface DeviceQuery {
  /** Free text: name, serial number, model, id. */
  q?: string;
  platform?: Platform;
  compliant?: boolean;
  /** name (then id), or lastSeen: most recent check-in first (devices never seen last). */
  sort?: 'name' | 'lastSeen';
  limit: number;
  offset: number;
}

export interface DeviceCommandView {
  id: string;
  deviceId: string;
  /** The platform's own command name (DeviceLock, EraseDevice, LOCK, WIPE...). */
  type: string;
  status: 'queued' | 'sent' | 'acknowledged' | 'error' | 'notnow' | 'canceled';
  queuedAt: string;
  updatedAt: string | null;
  requestedBy: string | null;
  /** Error chain or result summary, never a secret (no unlock tokens, no passcodes). */
  result?: Record<string, unknown> | null;
}

export type DeviceAction =
  | { kind: 'lock'; message?: string; phoneNumber?: string }
  | { kind: 'wipe'; mode: 'full' | 'selective'; reason: string }
  | { kind: 'restart' }
  | { kind: 'refresh' };

/**
 * One platform's devices (src/apple, src/android). Lists are sorted as DeviceQuery.sort says. queue() turns
 * the action into the platform's command (DeviceLock / LOCK ...), records its audit event in the
 * same transaction and wakes the device (APNs push / long-poll wake). It throws DeviceActionRefused
 * for a device that cannot take the action.
 */
export interface DeviceFleet {
  readonly platform: Platform;
  list(query: DeviceQuery): MaybePromise<{ devices: DeviceSummary[]; total: number }>;
  /**
   * The same list's sort keys only (what DeviceQuery.sort orders by). With it, a page over several
   * fleets merges keys and then lists only each fleet's share of the page, instead of building
   * every device before the page's offset.
   */
  keys?(query: DeviceQuery): MaybePromise<{ keys: DeviceKey[]; total: number }>;
  device(id: string): MaybePromise<DeviceDetail | undefined>;
  commands(id: string, opts: { limit: number }): MaybePromise<DeviceCommandView[]>;
  /** May be asynchronous (a platform that commits in groups); resolves once the command is stored. */
  queue(id: string, action: DeviceAction, ctx: AuditContext): MaybePromise<DeviceCommandView>;
}

/** A platform refusing an action (unsupported on this device, already pending...). */
export class DeviceActionRefused extends Error {
  override name = 'DeviceActionRefused';
  constructor(
    readonly status: 400 | 404 | 409,
    readonly code: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Compliance answers (src/policy). `key`: a device id, a certificate serial or a Wi-Fi MAC. */
export interface ComplianceLookup {
  lookup(key: string): MaybePromise<
    | {
        deviceId: string;
        compliant: boolean;
        reasons: string[];
        evaluatedAt: string | null;
        /** Which kind of key matched. */
        matchedBy?: 'device' | 'certificate' | 'mac';
        status?: 'compliant' | 'grace' | 'noncompliant';
        /** Put the device on the quarantine network (a breach action stands). */
        quarantine?: boolean;
        /** The effective policy the device was judged against. */
        policy?: string;
        /** The answer holds until then unless the device reports something new (null: no clock-driven change). */
        validUntil?: string | null;
        /** Seconds until validUntil by the compliance domain's clock (caching stops there; null: no limit). */
        secondsValid?: number | null;
      }
    | undefined
  >;
  summary(): MaybePromise<{ total: number; compliant: number; nonCompliant: number; unknown: number; reasons: { reason: string; devices: number }[] }>;
  /** The per-device HIPAA report; undefined when no device of that id has reported facts. */
  hipaaReport(deviceId: string): MaybePromise<HipaaReportView | undefined>;
  /** The same report as plain text (exactly what `wardctl policy report` prints). */
  hipaaReportText(report: HipaaReportView): string;
}

/** Each 45 CFR 164.3xx safeguard of the catalogue with its status, the settings serving it and the evidence (src/policy). */
export interface HipaaReportView {
  deviceId: string;
  platform: 'ios' | 'ipados' | 'macos' | 'android';
  generatedAt: string;
  status: 'compliant' | 'grace' | 'noncompliant';
  /** The effective policy (hash) and the assigned policies it combines, least specific first. */
  policy: { hash: string; layers: { scope: string; target: string; policy: string; version: number }[] };
  safeguards: {
    id: string;
    title: string;
    /** configured: set in policy, not yet confirmed by the device; not_addressed: nothing serves it. */
    status: 'met' | 'not_met' | 'in_grace' | 'configured' | 'not_addressed';
    settings: { path: string; value: unknown }[];
    evidence: string[];
  }[];
}

export interface PolicySummary {
  id: string;
  name: string;
  version: number;
  mode: string | null;
  platforms: Platform[];
  updatedAt: string;
  /** Groups (unit, ward, device role) the policy is assigned to. */
  groups: string[];
}

/** Policies and their assignment (src/policy). assign() records its audit event and reaches the devices. */
export interface PolicyCatalog {
  list(): MaybePromise<PolicySummary[]>;
  get(id: string): MaybePromise<(PolicySummary & { settings: Record<string, unknown>; safeguards: Record<string, string[]> }) | undefined>;
  assign(id: string, groups: string[], ctx: AuditContext): MaybePromise<PolicySummary>;
}

/** One-time SCEP enrollment challenges (src/scep). The challenge is returned once and never again. */
export interface EnrollmentChallenges {
  issue(opts: { ttlMinutes?: number; boundTo?: string }, ctx: AuditContext): MaybePromise<{ id: string; challenge: string; expiresAt: string }>;
}

/** Apple enrollment (src/apple): a link to a signed .mobileconfig bound to a one-time or expiring token. */
export interface AppleEnrollment {
  enrollmentLink(opts: { singleUse: boolean; ttlMinutes?: number; group?: string }, ctx: AuditContext): MaybePromise<{ url: string; expiresAt: string }>;
}

/** Android provisioning (src/android): the QR payload (JSON) and its PNG, with a fresh enrollment token. */
export interface AndroidEnrollment {
  provisioning(
    opts: { mode: 'fullyManaged' | 'workProfile'; ttlMinutes?: number; maxDevices?: number; group?: string },
    ctx: AuditContext,
  ): MaybePromise<{ payload: Record<string, unknown>; png: Buffer; expiresAt: string }>;
}

/** Signed audit bundles (src/audit). exportBundle records its own audit.bundle.exported event. */
export interface AuditBundles {
  exportBundle(range: { since?: string; until?: string }, ctx: AuditContext): Promise<{ bundle: Buffer; range: { start: number; end: number } }>;
  /** Every check, offline. With `ctx`, a bundle this Ward exported that verifies is also marked a
   * verified export (what audit retention requires before it prunes), like `wardctl audit verify --record`. */
  verifyBundle(bytes: Buffer, previous?: Buffer, ctx?: AuditContext): MaybePromise<{
    ok: boolean;
    failures: { check: string; message: string; line?: number }[];
    lines: number;
    treeHead?: { treeSize: number; rootHash: string; timestamp: string };
    /** Present when the bundle is one of this Ward's recorded exports. */
    export?: { id: number; verifiedAt: string | null; newlyVerified: boolean };
  }>;
}

/** Reading the audit log (src/audit): recent events, and a device's history. */
export interface AuditEventReader {
  events(filter: {
    since?: string;
    until?: string;
    action?: string;
    actor?: string;
    target?: { type: string; id: string };
    limit: number;
    beforeSeq?: number;
  }): MaybePromise<{ seq: number; time: string; action: string; actor: { type: string; id: string }; target: { type: string; id: string } | null; outcome: string; reason: string | null; source: string | null; details: Record<string, unknown> }[]>;
}

/** Everything main.ts can attach; each key switches on the routes that need it. */
export interface AdminDomains {
  fleets?: DeviceFleet[];
  compliance?: ComplianceLookup;
  policies?: PolicyCatalog;
  challenges?: EnrollmentChallenges;
  appleEnrollment?: AppleEnrollment;
  androidEnrollment?: AndroidEnrollment;
  auditBundles?: AuditBundles;
  auditEvents?: AuditEventReader;
}

export type DomainName = Exclude<keyof AdminDomains, 'fleets'> | 'devices';
