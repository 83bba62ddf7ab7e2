// Compliance of one device, judged from what it reported (Apple SecurityInfo / DeviceInformation,
// Android status), against its effective policy. Pure: the facts, the policy, the previous state and
// the clock go in; the verdict, every reason, and the state to keep come out.
import { explainSettings } from './explain';
import { compareVersions, type EffectivePolicy } from './resolve';
import { SAFEGUARDS, sortSafeguards } from './safeguards';
import { BREACH_ACTIONS, type BreachAction, type BreachRule, type GracedRule, type PolicySettings } from './schema';

export type Platform = 'ios' | 'ipados' | 'macos' | 'android';
export const PLATFORMS: readonly Platform[] = ['ios', 'ipados', 'macos', 'android'];

/**
 * What the Apple and Android domains tell policy about a device. Unknown facts stay undefined
 * (never guessed): passcode and encryption that were never reported count as failing (within the
 * grace period), other unknowns are shown as "not reported".
 */
export interface DeviceFacts {
  deviceId: string;
  platform: Platform;
  /** The enrollment group (the group name the enrollment token was bound to). */
  group?: string;
  /** Changes whenever any fact below changes (counter, timestamp or hash): the evaluation cache key. */
  factsVersion: string | number;
  /** Last time the device talked to Ward (ISO 8601). */
  lastSeenAt: string;
  /** false once the device checked out or was unenrolled. */
  enrolled?: boolean;
  osVersion?: string;
  /** Android security patch level (YYYY-MM-DD). */
  securityPatchLevel?: string;
  passcodePresent?: boolean;
  /** Apple PasscodeCompliantWithProfiles; Android isActivePasswordSufficient(). */
  passcodeCompliant?: boolean;
  /** Apple: Data Protection in effect or FileVault on; Android: storage encryption active. */
  encrypted?: boolean;
  /** Bundle identifiers / package names. */
  installedApps?: string[];
  /** Android lock task running; Apple Single App Mode in effect. */
  kioskActive?: boolean;
  /** Apple: a Shared iPad (DeviceInformation IsMultiUser), the device shift-change log-outs go to. */
  sharedIpad?: boolean;
  /** The effective policy hash the device confirmed applying (Android policyEtag; Apple: mapped from ProfileList by the Apple domain). */
  appliedPolicy?: string;
  /** Serials (lowercase hex) of the Ward identity certificates the device holds: NAC look-up keys. */
  certificateSerials?: string[];
  /** Wi-Fi (and other) MAC addresses: NAC look-up keys. */
  macAddresses?: string[];
}

export type RuleId = BreachRule;
export type ComplianceStatus = 'compliant' | 'grace' | 'noncompliant';

/** Hours a failing rule may stay failing before it counts (a policy's compliance.graceHours overrides). */
export const DEFAULT_GRACE_HOURS: Record<GracedRule, number> = {
  passcode: 24,
  encryption: 24,
  osVersion: 14 * 24,
  securityPatch: 14 * 24,
  blockedApps: 4,
  policyApplied: 24,
  kiosk: 1,
};

/** A device not seen for longer than this is non-compliant when its policy sets no maxOfflineHours. */
export const DEFAULT_MAX_OFFLINE_HOURS = 7 * 24;

const RULE_SAFEGUARDS: Record<Exclude<RuleId, 'policyApplied'>, string[]> = {
  enrolled: ['164.312(a)(1)', '164.310(d)(2)(iii)'],
  lastSeen: ['164.310(d)(2)(iii)', '164.312(b)'],
  passcode: ['164.312(a)(1)', '164.312(d)', '164.308(a)(5)(ii)(D)'],
  encryption: ['164.312(a)(2)(iv)', '164.310(d)(1)'],
  osVersion: ['164.312(c)(1)', '164.308(a)(5)(ii)(B)'],
  securityPatch: ['164.312(c)(1)', '164.308(a)(5)(ii)(B)'],
  blockedApps: ['164.308(a)(5)(ii)(B)', '164.312(c)(1)'],
  kiosk: ['164.310(b)', '164.310(c)'],
};

export interface Finding {
  rule: RuleId;
  ok: boolean;
  /** The reason when failing ("passcode not set"), the evidence when passing. */
  text: string;
  safeguards: string[];
  /** Failing only: when it started failing, when the grace ends, whether it counts now. */
  failingSince?: string;
  graceUntil?: string;
  enforced?: boolean;
}

/** What is kept between evaluations: when each failing rule started failing. */
export interface ComplianceState {
  status: ComplianceStatus;
  failingSince: Partial<Record<RuleId, string>>;
}

export interface ComplianceResult extends ComplianceState {
  deviceId: string;
  compliant: boolean;
  /** Every failing rule's reason, enforced ones first. */
  reasons: string[];
  findings: Finding[];
  policyHash: string;
  evaluatedAt: string;
  /** The earliest time the verdict can change by the clock alone (grace ends, offline limit, patch age); null: never. */
  validUntil: string | null;
  /**
   * What to do on breach (noncompliant only): the strongest action of the enforced failing rules
   * (compliance.onBreachByRule, else compliance.onBreach, else mark). mark < quarantine < lock, each
   * including the one before; a kiosk is quarantined, never locked.
   */
  breachAction?: BreachAction;
}

/** Whether a breach action includes `level` (mark < quarantine < lock). */
export function breachIncludes(action: BreachAction | undefined, level: BreachAction): boolean {
  return action !== undefined && BREACH_ACTIONS.indexOf(action) >= BREACH_ACTIONS.indexOf(level);
}

function breachActionOf(settings: PolicySettings, failing: RuleId[]): BreachAction {
  const c = settings.compliance;
  let action: BreachAction = 'mark';
  for (const rule of failing) {
    const a = c?.onBreachByRule?.[rule] ?? c?.onBreach ?? 'mark';
    if (BREACH_ACTIONS.indexOf(a) > BREACH_ACTIONS.indexOf(action)) action = a;
  }
  // A patient may be using a kiosk: never locked, held by the NAC instead.
  return action === 'lock' && settings.mode === 'kiosk' ? 'quarantine' : action;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function ago(ms: number): string {
  if (ms >= 2 * DAY) return `${Math.floor(ms / DAY)} days`;
  if (ms >= 2 * HOUR) return `${Math.floor(ms / HOUR)} hours`;
  return `${Math.max(1, Math.floor(ms / 60_000))} minutes`;
}

function minVersionFor(settings: PolicySettings, platform: Platform): string | undefined {
  const mv = settings.os?.minVersion;
  if (!mv) return undefined;
  // iPadOS shares iOS version numbers: an iPad is held to the iOS floor when no iPadOS one is set.
  return platform === 'ipados' ? (mv.ipados ?? mv.ios) : mv[platform];
}

function appIdsFor(platform: Platform, apps: { apple?: string; android?: string }[] | undefined): string[] {
  return (apps ?? []).flatMap((a) => {
    const id = platform === 'android' ? a.android : a.apple;
    return id ? [id] : [];
  });
}

interface RuleOutcome {
  rule: RuleId;
  ok: boolean;
  text: string;
  /** Passing rules that will fail at a known time (offline limit, patch age). */
  failsAt?: number;
}

function checkRules(facts: DeviceFacts, policy: EffectivePolicy, now: number): RuleOutcome[] {
  const s = policy.settings;
  const out: RuleOutcome[] = [];
  const add = (rule: RuleId, ok: boolean, text: string, failsAt?: number) => out.push({ rule, ok, text, failsAt });

  if (facts.enrolled === false) add('enrolled', false, 'device unenrolled');

  const maxOffline = (s.compliance?.maxOfflineHours ?? DEFAULT_MAX_OFFLINE_HOURS) * HOUR;
  const seen = Date.parse(facts.lastSeenAt);
  if (Number.isNaN(seen)) add('lastSeen', false, 'never seen');
  else if (now - seen > maxOffline) add('lastSeen', false, `not seen for ${ago(now - seen)}`);
  else add('lastSeen', true, `seen ${ago(Math.max(0, now - seen))} ago (limit ${ago(maxOffline)})`, seen + maxOffline);

  if (s.passcode?.required) {
    const problems: string[] = [];
    if (facts.passcodePresent === false) problems.push('passcode not set');
    else if (facts.passcodePresent === undefined && facts.passcodeCompliant === undefined) problems.push('passcode state not reported');
    if (facts.passcodeCompliant === false) problems.push('passcode does not meet the policy');
    add('passcode', problems.length === 0, problems.length ? problems.join('; ') : facts.passcodeCompliant ? 'passcode set and meets the policy' : 'passcode set');
  }

  if (s.encryption?.required) {
    if (facts.encrypted === true) add('encryption', true, 'storage encrypted');
    else add('encryption', false, facts.encrypted === false ? 'storage not encrypted' : 'encryption state not reported');
  }

  const floor = minVersionFor(s, facts.platform);
  if (floor) {
    if (!facts.osVersion) add('osVersion', false, 'OS version not reported');
    else if (compareVersions(facts.osVersion, floor) < 0) add('osVersion', false, `OS ${facts.osVersion} below ${floor}`);
    else add('osVersion', true, `OS ${facts.osVersion} (minimum ${floor})`);
  }

  const maxPatchDays = s.os?.maxSecurityPatchAgeDays;
  if (maxPatchDays !== undefined && facts.platform === 'android') {
    const patch = facts.securityPatchLevel ? Date.parse(`${facts.securityPatchLevel}T00:00:00Z`) : Number.NaN;
    if (Number.isNaN(patch)) add('securityPatch', false, 'security patch level not reported');
    else {
      const ageDays = Math.floor((now - patch) / DAY);
      if (ageDays > maxPatchDays) add('securityPatch', false, `security patch ${facts.securityPatchLevel} is ${ageDays} days old (limit ${maxPatchDays})`);
      else add('securityPatch', true, `security patch ${facts.securityPatchLevel} (${ageDays} days old, limit ${maxPatchDays})`, patch + (maxPatchDays + 1) * DAY);
    }
  }

  const blocked = appIdsFor(facts.platform, s.apps?.block);
  if (blocked.length) {
    if (!facts.installedApps) add('blockedApps', true, 'no app inventory reported yet');
    else {
      const found = blocked.filter((id) => facts.installedApps!.includes(id));
      if (found.length) add('blockedApps', false, found.map((id) => `blocked app ${id} installed`).join('; '));
      else add('blockedApps', true, `none of ${blocked.length} blocked apps installed`);
    }
  }

  if (s.mode === 'kiosk' && s.kiosk) {
    if (facts.kioskActive === false) add('kiosk', false, facts.platform === 'android' ? 'lock task mode not active' : 'Single App Mode not active');
    else add('kiosk', true, facts.kioskActive ? 'kiosk mode active' : 'kiosk state not reported');
  }

  if (facts.appliedPolicy !== undefined) {
    if (facts.appliedPolicy === policy.hash) add('policyApplied', true, `policy ${policy.hash} applied`);
    else add('policyApplied', false, `policy ${policy.hash} not applied yet (device reports ${facts.appliedPolicy || 'none'})`);
  }
  return out;
}

function graceHours(settings: PolicySettings, rule: RuleId): number {
  if (rule === 'enrolled' || rule === 'lastSeen') return 0;
  return settings.compliance?.graceHours?.[rule] ?? DEFAULT_GRACE_HOURS[rule];
}

/** Safeguards a policy's configured settings serve: what "policy applied" is evidence for. */
function configuredSafeguards(settings: PolicySettings): string[] {
  return sortSafeguards(explainSettings(settings).settings.flatMap((r) => r.safeguards));
}

export function ruleSafeguards(rule: RuleId, settings: PolicySettings): string[] {
  return rule === 'policyApplied' ? configuredSafeguards(settings) : RULE_SAFEGUARDS[rule];
}

export function evaluateCompliance(input: { facts: DeviceFacts; policy: EffectivePolicy; previous?: ComplianceState; now: Date }): ComplianceResult {
  const { facts, policy, previous } = input;
  const now = input.now.getTime();
  const outcomes = checkRules(facts, policy, now);
  const failingSince: Partial<Record<RuleId, string>> = {};
  const findings: Finding[] = [];
  let validUntil = Number.POSITIVE_INFINITY;
  for (const o of outcomes) {
    const safeguards = ruleSafeguards(o.rule, policy.settings);
    if (o.ok) {
      findings.push({ rule: o.rule, ok: true, text: o.text, safeguards });
      if (o.failsAt !== undefined) validUntil = Math.min(validUntil, o.failsAt);
      continue;
    }
    const sinceIso = previous?.failingSince[o.rule] ?? input.now.toISOString();
    const since = Math.min(Date.parse(sinceIso), now);
    const graceEnd = since + graceHours(policy.settings, o.rule) * HOUR;
    const enforced = now >= graceEnd;
    if (!enforced) validUntil = Math.min(validUntil, graceEnd);
    failingSince[o.rule] = new Date(since).toISOString();
    findings.push({ rule: o.rule, ok: false, text: o.text, safeguards, failingSince: failingSince[o.rule], graceUntil: new Date(graceEnd).toISOString(), enforced });
  }
  const failing = findings.filter((f) => !f.ok);
  const status: ComplianceStatus = failing.some((f) => f.enforced) ? 'noncompliant' : failing.length ? 'grace' : 'compliant';
  const reasons = [...failing.filter((f) => f.enforced), ...failing.filter((f) => !f.enforced)].map((f) => (f.enforced ? f.text : `${f.text} (grace until ${f.graceUntil})`));
  return {
    deviceId: facts.deviceId,
    status,
    compliant: status !== 'noncompliant',
    reasons,
    findings,
    failingSince,
    policyHash: policy.hash,
    evaluatedAt: input.now.toISOString(),
    validUntil: Number.isFinite(validUntil) ? new Date(validUntil).toISOString() : null,
    breachAction: status === 'noncompliant' ? breachActionOf(policy.settings, failing.filter((f) => f.enforced).map((f) => f.rule)) : undefined,
  };
}

// ---- the per-device HIPAA report ----

export type SafeguardStatus = 'met' | 'not_met' | 'in_grace' | 'configured' | 'not_addressed';

export interface SafeguardEvidence {
  id: string;
  title: string;
  status: SafeguardStatus;
  /** Policy settings serving it, with their effective values. */
  settings: Array<{ path: string; value: unknown }>;
  /** What the device reported and what Ward itself does, one line each. */
  evidence: string[];
}

export interface HipaaReport {
  deviceId: string;
  platform: Platform;
  generatedAt: string;
  status: ComplianceStatus;
  policy: { hash: string; layers: EffectivePolicy['layers'] };
  safeguards: SafeguardEvidence[];
}

/** Ward-side evidence that holds for every managed device (ARCHITECTURE.md). */
function wardEvidence(facts: DeviceFacts): Record<string, string[]> {
  const serials = facts.certificateSerials ?? [];
  return {
    '164.312(b)': ['Ward records every management action and device report for this device in its append-only, signed audit log'],
    '164.312(d)': serials.length ? [`device authenticates to Ward with its Ward-issued identity certificate (serial ${serials.join(', ')})`] : [],
    '164.312(e)(1)': ['management traffic between the device and Ward runs over TLS 1.2 or later'],
  };
}

export function hipaaReport(facts: DeviceFacts, policy: EffectivePolicy, result: ComplianceResult): HipaaReport {
  const explained = explainSettings(policy.settings);
  const ward = wardEvidence(facts);
  const safeguards = SAFEGUARDS.map((g): SafeguardEvidence => {
    const settings = explained.settings.filter((r) => r.safeguards.includes(g.id)).map((r) => ({ path: r.path, value: r.value }));
    const findings = result.findings.filter((f) => f.safeguards.includes(g.id));
    const evidence = [
      ...findings.map((f) => (f.ok ? `ok: ${f.text}` : f.enforced ? `FAILING: ${f.text}` : `failing, in grace until ${f.graceUntil}: ${f.text}`)),
      ...(ward[g.id] ?? []),
    ];
    let status: SafeguardStatus;
    if (findings.some((f) => !f.ok && f.enforced)) status = 'not_met';
    else if (findings.some((f) => !f.ok)) status = 'in_grace';
    else if (findings.length || (ward[g.id]?.length ?? 0) > 0) status = 'met';
    else if (settings.length) status = 'configured';
    else status = 'not_addressed';
    return { id: g.id, title: g.title, status, settings, evidence };
  });
  return { deviceId: facts.deviceId, platform: facts.platform, generatedAt: result.evaluatedAt, status: result.status, policy: { hash: policy.hash, layers: policy.layers }, safeguards };
}

/** The report as plain text: what `wardctl policy report` prints and the admin API answers for text/plain. */
export function hipaaReportText(r: HipaaReport): string {
  const lines = [`HIPAA report for ${r.deviceId} (${r.platform}), ${r.generatedAt}: ${r.status}; policy ${r.policy.hash}`];
  for (const g of r.safeguards) {
    lines.push(`${g.status.toUpperCase().padEnd(13)} ${g.id} ${g.title}`);
    for (const s of g.settings) lines.push(`    setting  ${s.path} = ${JSON.stringify(s.value).slice(0, 80)}`);
    for (const line of g.evidence) lines.push(`    evidence ${line}`);
  }
  return lines.join('\n') + '\n';
}
