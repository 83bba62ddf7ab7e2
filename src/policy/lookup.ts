// Compliance over time: facts come in (pushed with report(), or pulled from the Apple and Android
// domains through DeviceFactsSource), verdicts are kept with the time each failing rule started
// failing (grace periods), every change of verdict is an audit event, and the NAC asks
// lookup(device id | certificate serial | MAC). Evaluations are cached by device, facts version and
// policy hash until the clock could change them.
import crypto from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import { SYSTEM_ACTOR, canonicalJson, type AuditContext, type AuditLog } from '../audit';
import type { WardDb } from '../db';
import {
  DEFAULT_MAX_OFFLINE_HOURS, PLATFORMS, breachIncludes, evaluateCompliance, hipaaReport, hipaaReportText,
  type ComplianceResult, type ComplianceStatus, type DeviceFacts, type HipaaReport, type Platform, type RuleId,
} from './compliance';
import type { PolicyService } from './service';
import type { BreachActionRow, DeviceRow, PolicyStore, StoredStatus } from './store';

/** One platform's devices as compliance sees them (main.ts adapts the Apple and Android domains). */
export interface DeviceFactsSource {
  readonly name: string;
  /** The device's current facts, or undefined when this source does not know it. */
  facts(deviceId: string): DeviceFacts | undefined;
  /**
   * Up to `limit` devices in device id order after `after` ('' for the first page): the periodic
   * re-evaluation pages with it. Keyset on the primary key, so every page costs the same.
   */
  page(after: string, limit: number): DeviceFacts[];
  /** The device a NAC key names (serial in the CA's form, MAC as aa:bb:cc:dd:ee:ff) by a point look-up, else undefined. */
  find(kind: 'certificate' | 'mac', value: string): DeviceFacts | undefined;
}

/**
 * A platform that locks a device whose breach calls for it (Apple DeviceLock, Android LOCK). lock()
 * queues the command with the platform's own audit event in the command's transaction, wakes the
 * device, and returns the command id. It throws LockRefused when this device cannot be locked at all
 * (not retried), anything else when it may work later (retried).
 */
export interface BreachResponder {
  readonly platforms: readonly Platform[];
  lock(device: { id: string; platform: Platform }, result: ComplianceResult, ctx: AuditContext): Promise<{ commandId: string }> | { commandId: string };
}

/** The device cannot be locked (unsupported platform, checked out, unenrolled): recorded once, not retried. */
export class LockRefused extends Error {
  override name = 'LockRefused';
}

/** What the certificate serial a NAC asks about stands for now (the CA's record). */
export type CertificateState = 'valid' | 'revoked' | 'expired' | 'unknown';

export type LookupKind = 'device' | 'certificate' | 'mac';

/** The NAC answer (GET /api/v1/compliance/{key}). */
export interface NacAnswer {
  key: string;
  matchedBy: LookupKind;
  deviceId: string;
  compliant: boolean;
  status: ComplianceStatus;
  /** The NAC should put the device on the quarantine network: a breach whose action is quarantine or lock stands. */
  quarantine: boolean;
  reasons: string[];
  policy: string;
  evaluatedAt: string;
  /** Until when the answer holds unless the device reports something new (null: no clock-driven change). */
  validUntil: string | null;
  /** Seconds from now (Ward's clock) until validUntil: how long a cache may keep the answer at most (null: no limit). */
  secondsValid: number | null;
}

export interface ComplianceSummary {
  total: number;
  compliant: number;
  nonCompliant: number;
  unknown: number;
  reasons: Array<{ reason: string; devices: number }>;
}

export interface ComplianceDeps {
  db: WardDb;
  audit: AuditLog;
  policies: PolicyService;
  log?: Logger;
  clock?: () => Date;
  /** The CA's view of a certificate serial (main.ts: ca.certificate(serial)). */
  certificateStatus?: (serial: string) => CertificateState;
  /** A source's facts are re-read for a device look-up at most this often (default 15 s). */
  refreshMs?: number;
  /** A lock that failed for a passing reason is tried again after this long (default 15 min). */
  lockRetryMs?: number;
  /** Devices a sync reads, judges and writes (one transaction) before it lets other work run (default 200). */
  syncBatch?: number;
}

export interface SyncProgress {
  /** Syncs started since the process started. */
  runs: number;
  /** Batches written by the sync in flight, or by the last one. */
  batches: number;
  running: boolean;
}

/** aa:bb:cc:dd:ee:ff from any common spelling (AA-BB-..., aabb.ccdd.eeff, aabbccddeeff), else undefined. */
export function normalizeMac(s: string): string | undefined {
  const hex = s.replace(/[:.\-\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** Lowercase hex without leading zeros (the CA's form), else undefined. */
export function normalizeSerial(s: string): string | undefined {
  const hex = s.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(hex)) return undefined;
  return BigInt(`0x${hex}`).toString(16);
}

const RULE_LABEL: Record<RuleId, string> = {
  enrolled: 'device unenrolled',
  lastSeen: 'not seen within the offline limit',
  passcode: 'passcode not set or not compliant',
  encryption: 'storage not encrypted',
  osVersion: 'OS below the minimum version',
  securityPatch: 'security patch too old',
  blockedApps: 'blocked app installed',
  kiosk: 'kiosk mode not active',
  policyApplied: 'current policy not applied',
};

/** The identifiers a NAC key may stand for, normalized, in the order they are tried. */
function keyCandidates(key: string): Array<{ kind: LookupKind; value: string }> {
  const m = /^(device|certificate|serial|mac):(.+)$/i.exec(key);
  const kinds: LookupKind[] = m ? [m[1].toLowerCase() === 'serial' ? 'certificate' : (m[1].toLowerCase() as LookupKind)] : ['device', 'mac', 'certificate'];
  const raw = m ? m[2] : key;
  return kinds.flatMap((kind) => {
    const value = kind === 'device' ? raw : kind === 'mac' ? normalizeMac(raw) : normalizeSerial(raw);
    return value ? [{ kind, value }] : [];
  });
}

function factsVersionOf(facts: DeviceFacts): string {
  return String(facts.factsVersion);
}

/** Cheap structural checks on facts handed in by another domain: never trust shape blindly. */
function checkFacts(f: DeviceFacts): void {
  if (typeof f.deviceId !== 'string' || f.deviceId.length === 0 || f.deviceId.length > 200) throw new TypeError('facts.deviceId must be a non-empty string');
  if (!PLATFORMS.includes(f.platform)) throw new TypeError(`facts.platform must be one of ${PLATFORMS.join(', ')}`);
  if (typeof f.lastSeenAt !== 'string') throw new TypeError('facts.lastSeenAt must be an ISO 8601 string');
  if (typeof f.factsVersion !== 'string' && typeof f.factsVersion !== 'number') throw new TypeError('facts.factsVersion must be a string or number');
}

/** A device whose breach calls for a lock it has not had yet. */
interface LockDue {
  result: ComplianceResult;
  platform: Platform;
}

interface CacheEntry {
  key: string;
  facts: DeviceFacts;
  result: ComplianceResult;
  validUntil: number;
}

export class ComplianceService {
  private readonly store: PolicyStore;
  private readonly sources: DeviceFactsSource[] = [];
  private readonly responders: BreachResponder[] = [];
  private readonly cache = new Map<string, CacheEntry>();
  private readonly refreshedAt = new Map<string, number>();
  private readonly locking = new Map<string, Promise<void>>();
  private readonly lockFailedAt = new Map<string, number>();
  private syncing: Promise<{ devices: number; changed: number }> | undefined;
  private readonly progress: SyncProgress = { runs: 0, batches: 0, running: false };

  constructor(private readonly deps: ComplianceDeps) {
    this.store = deps.policies.store;
  }

  private now(): Date {
    return this.deps.clock?.() ?? new Date();
  }

  addSource(source: DeviceFactsSource): void {
    this.sources.push(source);
  }

  addBreachResponder(r: BreachResponder): void {
    this.responders.push(r);
  }

  // ---------------------------------------------------------------- facts in

  /**
   * Stores a device's facts and evaluates it. Idempotent for the same factsVersion. The verdict
   * change, if any, is recorded in the same transaction.
   */
  report(facts: DeviceFacts, ctx: AuditContext = { actor: SYSTEM_ACTOR }): ComplianceResult {
    checkFacts(facts);
    const breaches: LockDue[] = [];
    const result = this.deps.db.write(() => {
      const row = this.storeFacts(facts);
      return this.judge(row, facts, ctx, breaches);
    });
    this.respond(breaches);
    return result;
  }

  private storeFacts(facts: DeviceFacts): DeviceRow {
    const at = this.now().toISOString();
    const version = factsVersionOf(facts);
    let row = this.store.device(facts.deviceId);
    if (!row) {
      row = {
        deviceId: facts.deviceId,
        platform: facts.platform,
        groupName: facts.group ?? null,
        facts: JSON.stringify(facts),
        factsVersion: version,
        reportedAt: at,
        status: 'unknown',
        statusSince: at,
        evaluation: null,
        publishedPolicy: null,
      };
      this.store.insertDevice(row);
    } else if (row.factsVersion !== version || row.groupName !== (facts.group ?? null) || row.platform !== facts.platform) {
      row = { ...row, platform: facts.platform, groupName: facts.group ?? null, facts: JSON.stringify(facts), factsVersion: version, reportedAt: at };
      this.store.updateFacts(row);
    }
    for (const s of facts.certificateSerials ?? []) {
      const n = normalizeSerial(s);
      if (n) this.store.upsertKey('certificate', n, facts.deviceId);
    }
    for (const m of facts.macAddresses ?? []) {
      const n = normalizeMac(m);
      if (n) this.store.upsertKey('mac', n, facts.deviceId);
    }
    return row;
  }

  /**
   * Evaluates one stored device (cached), persisting the verdict when it or the failing rules
   * changed. Runs inside a write transaction when it may write.
   */
  private judge(row: DeviceRow, factsIn: DeviceFacts | undefined, ctx: AuditContext, breaches: LockDue[]): ComplianceResult {
    const now = this.now();
    const policy = this.deps.policies.effectiveFor({ deviceId: row.deviceId, group: row.groupName ?? undefined });
    const key = `${row.factsVersion}\u0000${policy.hash}\u0000${row.evaluation ? crypto.createHash('sha1').update(row.evaluation).digest('hex') : ''}`;
    const hit = this.cache.get(row.deviceId);
    if (hit && hit.key === key && now.getTime() < hit.validUntil) return hit.result;
    const facts = factsIn ?? (hit && hit.key.startsWith(`${row.factsVersion}\u0000`) ? hit.facts : (JSON.parse(row.facts) as DeviceFacts));
    const previous = row.evaluation ? (JSON.parse(row.evaluation) as ComplianceResult) : undefined;
    const result = evaluateCompliance({ facts, policy, previous: previous && { status: previous.status, failingSince: previous.failingSince }, now });
    const statusChanged = result.status !== row.status;
    const rulesChanged = canonicalJson(result.failingSince) !== canonicalJson(previous?.failingSince ?? {}) || previous?.policyHash !== result.policyHash;
    const standing = this.store.breachActions(row.deviceId);
    const breach = result.status === 'noncompliant';
    const quarantine = breach && breachIncludes(result.breachAction, 'quarantine');
    const quarantined = standing.some((a) => a.action === 'quarantine');
    // A breach's actions stand until the device is compliant again (or, for quarantine, until the policy no longer asks for it).
    const released = standing.filter((a) => !breach || (a.action === 'quarantine' && !quarantine));
    let evaluation = row.evaluation;
    if (statusChanged || rulesChanged || !previous || quarantine !== quarantined || released.length) {
      evaluation = JSON.stringify(result);
      const at = result.evaluatedAt;
      this.deps.db.write(() => {
        this.store.updateVerdict({ deviceId: row.deviceId, status: result.status, statusSince: statusChanged ? at : row.statusSince, evaluation });
        if (statusChanged) this.recordChange(row.status, result, ctx);
        if (quarantine && !quarantined) {
          this.store.insertBreachAction({ deviceId: row.deviceId, action: 'quarantine', takenAt: at, commandId: null, note: null });
          this.recordAction(ctx, 'policy.compliance.quarantined', result, { since: at });
        }
        if (released.length) {
          for (const a of released) this.store.deleteBreachAction(row.deviceId, a.action);
          this.recordAction(ctx, 'policy.compliance.released', result, { actions: released.map((a) => ({ action: a.action, takenAt: a.takenAt, commandId: a.commandId })) });
        }
      });
    }
    if (breach && breachIncludes(result.breachAction, 'lock') && !standing.some((a) => a.action === 'lock')) {
      breaches.push({ result, platform: row.platform as Platform });
    }
    const validUntil = result.validUntil ? Date.parse(result.validUntil) : Number.POSITIVE_INFINITY;
    const nextKey = `${row.factsVersion}\u0000${policy.hash}\u0000${evaluation ? crypto.createHash('sha1').update(evaluation).digest('hex') : ''}`;
    this.cache.set(row.deviceId, { key: nextKey, facts, result, validUntil });
    return result;
  }

  private recordChange(from: StoredStatus, result: ComplianceResult, ctx: AuditContext): void {
    this.deps.audit.record({
      ...ctx,
      action: 'policy.compliance.changed',
      target: { type: 'device', id: result.deviceId },
      details: {
        from,
        to: result.status,
        compliant: result.compliant,
        reasons: result.reasons,
        policy: result.policyHash,
        breachAction: result.breachAction ?? null,
      },
    });
    if (result.status === 'noncompliant') {
      this.deps.log?.warn({ deviceId: result.deviceId, reasons: result.reasons, action: result.breachAction }, 'compliance: device is non-compliant');
    }
  }

  private recordAction(ctx: AuditContext, action: string, result: ComplianceResult, details: Record<string, unknown>, failure?: string): void {
    this.deps.audit.record({
      ...ctx,
      action,
      target: { type: 'device', id: result.deviceId },
      ...(failure !== undefined && { outcome: 'failure' as const, reason: failure }),
      details: { ...details, status: result.status, breachAction: result.breachAction ?? null, reasons: result.reasons, policy: result.policyHash },
    });
  }

  /**
   * After commit: asks the device's platform to lock each device whose breach calls for it, once
   * per breach. The lock and its audit event are one transaction; a refusal is recorded once, a
   * passing failure is tried again after lockRetryMs.
   */
  private respond(due: LockDue[]): void {
    // A process without platforms (wardctl) leaves locking to the daemon.
    if (this.responders.length === 0) return;
    for (const { result, platform } of due) {
      const id = result.deviceId;
      if (this.locking.has(id)) continue;
      const failedAt = this.lockFailedAt.get(id);
      if (failedAt !== undefined && Date.now() - failedAt < (this.deps.lockRetryMs ?? 15 * 60_000)) continue;
      const ctx: AuditContext = { actor: SYSTEM_ACTOR };
      const responder = this.responders.find((r) => r.platforms.includes(platform));
      const run = (async () => {
        try {
          if (!responder) throw new LockRefused(`Ward cannot lock ${platform} devices`);
          const { commandId } = await responder.lock({ id, platform }, result, ctx);
          this.lockFailedAt.delete(id);
          this.deps.db.write(() => {
            // Compliant again meanwhile: the command went out, but no breach is left to hold it against.
            if (this.store.device(id)?.status === 'noncompliant') this.store.insertBreachAction({ deviceId: id, action: 'lock', takenAt: this.now().toISOString(), commandId, note: null });
            this.recordAction(ctx, 'policy.compliance.lock_queued', result, { platform, commandId });
          });
        } catch (e) {
          const why = (e as Error).message;
          const refused = e instanceof LockRefused;
          this.deps.db.write(() => {
            if (refused && this.store.device(id)?.status === 'noncompliant') {
              this.store.insertBreachAction({ deviceId: id, action: 'lock', takenAt: this.now().toISOString(), commandId: null, note: why.slice(0, 300) });
            }
            this.recordAction(ctx, 'policy.compliance.lock_failed', result, { platform, retried: !refused }, why.slice(0, 300));
          });
          if (!refused) this.lockFailedAt.set(id, Date.now());
          this.deps.log?.error({ err: why, deviceId: id, platform }, `compliance: the device could not be locked${refused ? '' : '; tried again later'}`);
        }
      })().finally(() => this.locking.delete(id));
      this.locking.set(id, run);
    }
  }

  /** Resolves once every lock asked for so far has been queued or has failed (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.locking.size) await Promise.all([...this.locking.values()]);
  }

  /** The breach actions in force for a device (quarantine, lock). */
  standingActions(deviceId: string): BreachActionRow[] {
    return this.store.breachActions(deviceId);
  }

  // ---------------------------------------------------------------- sources

  private refreshFromSources(deviceId: string, force = false): void {
    if (this.sources.length === 0) return;
    const at = Date.now();
    if (!force && at - (this.refreshedAt.get(deviceId) ?? 0) < (this.deps.refreshMs ?? 15_000)) return;
    this.refreshedAt.set(deviceId, at);
    for (const s of this.sources) {
      const f = s.facts(deviceId);
      if (!f) continue;
      const row = this.store.device(deviceId);
      if (row && row.factsVersion === factsVersionOf(f) && row.groupName === (f.group ?? null)) return;
      this.report(f);
      return;
    }
  }

  /**
   * Pulls every device of every source, stores new facts and re-evaluates everything (scheduled).
   * One batch of devices (syncBatch) at a time: read by keyset page, judged and written in one
   * transaction, each verdict change with its audit event; then the event loop runs whatever waits
   * (check-ins, NAC look-ups) before the next batch. One sync at a time: a second call joins the
   * one in flight.
   */
  sync(): Promise<{ devices: number; changed: number }> {
    this.syncing ??= this.runSync().finally(() => {
      this.syncing = undefined;
      this.progress.running = false;
    });
    return this.syncing;
  }

  /** How far syncs got (tests; the sync's own counters). */
  syncProgress(): SyncProgress {
    return { ...this.progress };
  }

  private async runSync(): Promise<{ devices: number; changed: number }> {
    const size = this.deps.syncBatch ?? 200;
    let devices = 0;
    let changed = 0;
    const breaches: LockDue[] = [];
    Object.assign(this.progress, { runs: this.progress.runs + 1, batches: 0, running: true });
    const seen = new Set<string>();
    // Facts are read and written in the same turn of the loop, so a check-in answered in between never sees them overwritten by older ones.
    const flush = (batch: Array<DeviceFacts | string>) => {
      this.deps.db.write(() => {
        for (const item of batch) {
          const row = typeof item === 'string' ? this.store.device(item) : this.storeFacts(item);
          if (row && this.judge(row, typeof item === 'string' ? undefined : item, { actor: SYSTEM_ACTOR }, breaches).status !== row.status) changed++;
        }
      });
      this.progress.batches++;
    };
    for (const s of this.sources) {
      for (let after = ''; ; ) {
        const page = s.page(after, size);
        for (const f of page) {
          checkFacts(f);
          seen.add(f.deviceId);
        }
        devices += page.length;
        if (page.length) flush(page);
        await nextTurn();
        if (page.length < size) break;
        after = page[page.length - 1].deviceId;
      }
    }
    // Devices reported by push only: the clock may still change them (grace ends, offline limit).
    for (let after = ''; ; ) {
      const ids = this.store.deviceIdsAfter(after, size);
      const pushed = ids.filter((id) => !seen.has(id));
      devices += pushed.length;
      if (pushed.length) {
        flush(pushed);
        await nextTurn();
      }
      if (ids.length < size) break;
      after = ids[ids.length - 1];
    }
    // Locks still due from before (a failure to retry, a restart in between).
    const listed = new Set(breaches.map((b) => b.result.deviceId));
    for (const d of this.store.notLocked()) {
      const result = JSON.parse(d.evaluation) as ComplianceResult;
      if (!listed.has(d.deviceId) && breachIncludes(result.breachAction, 'lock')) breaches.push({ result, platform: d.platform as Platform });
    }
    this.respond(breaches);
    return { devices, changed };
  }

  /**
   * The "devices not seen for N days" sweep (an ops job in /healthz): re-evaluates every device
   * (sync), then counts those failing the lastSeen rule: not seen within their policy's
   * compliance.maxOfflineHours (DEFAULT_MAX_OFFLINE_HOURS when unset), hence non-compliant (that
   * rule has no grace period). Counts only: /healthz is unauthenticated.
   */
  async notSeenSweep(): Promise<{ devices: number; changed: number; notSeen: number; defaultLimitDays: number }> {
    const { devices, changed } = await this.sync();
    let notSeen = 0;
    for (const e of this.store.failingEvaluations()) {
      if ((JSON.parse(e) as ComplianceResult).findings.some((f) => f.rule === 'lastSeen' && !f.ok)) notSeen++;
    }
    return { devices, changed, notSeen, defaultLimitDays: DEFAULT_MAX_OFFLINE_HOURS / 24 };
  }

  // ---------------------------------------------------------------- answers

  /** The verdict for one device (fresh facts from its source, cached evaluation). */
  evaluate(deviceId: string): ComplianceResult | undefined {
    this.refreshFromSources(deviceId);
    const row = this.store.device(deviceId);
    if (!row) return undefined;
    const breaches: LockDue[] = [];
    const r = this.judge(row, undefined, { actor: SYSTEM_ACTOR }, breaches);
    this.respond(breaches);
    return r;
  }

  /** Which device a NAC key names: `device:ID`, `certificate:SERIAL` / `serial:SERIAL`, `mac:MAC`, or bare (device id, then MAC, then serial). */
  resolveKey(key: string): { deviceId: string; kind: LookupKind; serial?: string } | undefined {
    for (const { kind, value } of keyCandidates(key)) {
      const id = kind === 'device' ? (this.store.device(value) ? value : undefined) : this.store.deviceByKey(kind, value);
      if (id) return { deviceId: id, kind, serial: kind === 'certificate' ? value : undefined };
    }
    return undefined;
  }

  /**
   * A key compliance has not indexed yet (a device enrolled or changed its MAC since the last sync):
   * asked of each source by a point look-up (primary key, certificate, Wi-Fi MAC index), and
   * stored when found. Never a sync: a NAC asking about visitors' MACs costs a few index reads each.
   */
  private findInSources(key: string): void {
    for (const { kind, value } of keyCandidates(key)) {
      for (const s of this.sources) {
        const f = kind === 'device' ? s.facts(value) : s.find(kind, value);
        if (!f) continue;
        this.refreshedAt.set(f.deviceId, Date.now());
        this.report(f);
        return;
      }
    }
  }

  /** The NAC answer, or undefined when no device matches the key. */
  lookup(key: string): NacAnswer | undefined {
    if (key.length === 0 || key.length > 256) return undefined;
    let found = this.resolveKey(key);
    if (!found && this.sources.length > 0) {
      this.findInSources(key);
      found = this.resolveKey(key);
    }
    if (!found) return undefined;
    const result = this.evaluate(found.deviceId)!;
    let { compliant, status } = result;
    let reasons = result.reasons;
    if (found.serial && this.deps.certificateStatus) {
      const state = this.deps.certificateStatus(found.serial);
      if (state !== 'valid') {
        compliant = false;
        status = 'noncompliant';
        reasons = [`certificate ${found.serial} ${state === 'unknown' ? 'not issued by Ward' : state}`, ...reasons];
      }
    }
    return {
      key,
      matchedBy: found.kind,
      deviceId: found.deviceId,
      compliant,
      status,
      quarantine: this.store.breachActions(found.deviceId).some((a) => a.action === 'quarantine'),
      reasons,
      policy: result.policyHash,
      evaluatedAt: result.evaluatedAt,
      validUntil: result.validUntil,
      secondsValid: result.validUntil === null ? null : Math.max(0, Math.floor((Date.parse(result.validUntil) - this.now().getTime()) / 1000)),
    };
  }

  summary(): ComplianceSummary {
    const counts = this.store.statusCounts();
    const byRule = new Map<RuleId, number>();
    for (const e of this.store.failingEvaluations()) {
      const r = JSON.parse(e) as ComplianceResult;
      for (const rule of new Set(r.findings.filter((f) => !f.ok).map((f) => f.rule))) byRule.set(rule, (byRule.get(rule) ?? 0) + 1);
    }
    return {
      total: counts.unknown + counts.compliant + counts.grace + counts.noncompliant,
      compliant: counts.compliant + counts.grace,
      nonCompliant: counts.noncompliant,
      unknown: counts.unknown,
      reasons: [...byRule].sort((a, b) => b[1] - a[1]).map(([rule, devices]) => ({ reason: RULE_LABEL[rule], devices })),
    };
  }

  /** Each HIPAA safeguard with the settings that serve it and the device's evidence. */
  hipaaReport(deviceId: string): HipaaReport | undefined {
    const result = this.evaluate(deviceId);
    if (!result) return undefined;
    const row = this.store.device(deviceId)!;
    const facts = JSON.parse(row.facts) as DeviceFacts;
    return hipaaReport(facts, this.deps.policies.effectiveFor({ deviceId, group: row.groupName ?? undefined }), result);
  }

  /** The report as plain text (wardctl policy report; the admin API's text/plain answer). */
  hipaaReportText(report: HipaaReport): string {
    return hipaaReportText(report);
  }

  /** Stored facts of a device (wardctl policy compliance --facts). */
  facts(deviceId: string): DeviceFacts | undefined {
    const row = this.store.device(deviceId);
    return row ? (JSON.parse(row.facts) as DeviceFacts) : undefined;
  }
}
