// Shift change on shared clinical tablets (sharedDevice.shiftChanges): at each listed local time,
// whoever is signed in to a Shared iPad is logged out (LogOutUser, apple/device-management
// mdm/commands/user.logout.yaml), so the next shift signs in as themselves and never works in the
// previous user's session (45 CFR 164.312(a)(2)(i) unique user, (a)(2)(iii) automatic logoff).
// Android agents end the session themselves at the same times (sessionEndTimes in their policy).
import type { Logger } from 'pino';
import { SYSTEM_ACTOR, type AuditContext } from '../audit';
import type { DeviceFacts, Platform } from './compliance';
import type { PolicyService } from './service';

/** A platform that logs the current user out of a shared device (Apple: LogOutUser + push). */
export interface SessionEnder {
  readonly platforms: readonly Platform[];
  logOut(deviceId: string, ctx: AuditContext): Promise<{ commandId: string }> | { commandId: string };
}

export interface ShiftRun {
  /** The shift-change times (HH:MM) that fell since the previous run. */
  times: string[];
  devices: number;
  failed: number;
}

const MINUTE = 60_000;

export class ShiftChanges {
  private readonly enders: SessionEnder[] = [];
  private readonly clockTime: Intl.DateTimeFormat;
  private last: number;

  /** timeZone: IANA name (policy.timeZone); '' is the appliance's own. Throws RangeError for an unknown zone. */
  constructor(private readonly deps: { policies: PolicyService; timeZone?: string; clock?: () => Date; log?: Logger }) {
    this.clockTime = new Intl.DateTimeFormat('en-GB', { timeZone: deps.timeZone || undefined, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    // Shift changes missed while Ward was down are not replayed: a log-out hours late would end the next shift's session.
    this.last = this.now();
  }

  private now(): number {
    return (this.deps.clock?.() ?? new Date()).getTime();
  }

  addSessionEnder(e: SessionEnder): void {
    this.enders.push(e);
  }

  /** HH:MM of an instant in the configured zone. */
  localTime(at: number): string {
    const parts = this.clockTime.formatToParts(at);
    const part = (type: string) => parts.find((p) => p.type === type)!.value;
    return `${part('hour')}:${part('minute')}`;
  }

  /** The HH:MM minutes that began in (from, to], at most one day's worth. */
  private minutesBetween(from: number, to: number): Set<string> {
    const out = new Set<string>();
    const start = Math.max(Math.floor(from / MINUTE) + 1, Math.floor(to / MINUTE) - 1439);
    for (let m = start; m * MINUTE <= to; m++) out.add(this.localTime(m * MINUTE));
    return out;
  }

  /** Logs out the Shared iPads whose policy has a shift change since the previous run (scheduled every minute). */
  async run(): Promise<ShiftRun> {
    const to = this.now();
    const due = this.minutesBetween(this.last, to);
    this.last = to;
    const outcome: ShiftRun = { times: [], devices: 0, failed: 0 };
    if (due.size === 0 || this.enders.length === 0) return outcome;
    // Most minutes are no one's shift change: look at the devices only when an assigned policy lists one.
    const policies = this.deps.policies;
    const listed = new Set(policies.assignments().flatMap((a) => policies.policy(a.policyName)?.settings.sharedDevice?.shiftChanges ?? []));
    if (![...due].some((t) => listed.has(t))) return outcome;
    const times = new Set<string>();
    const ctx: AuditContext = { actor: SYSTEM_ACTOR };
    for (const d of policies.store.devices()) {
      const ender = this.enders.find((e) => e.platforms.includes(d.platform as Platform));
      if (!ender) continue;
      const facts = JSON.parse(d.facts) as DeviceFacts;
      if (!facts.sharedIpad || facts.enrolled === false) continue;
      const s = policies.effectiveFor({ deviceId: d.deviceId, group: d.groupName ?? undefined }).settings;
      const hit = s.mode === 'sharedClinicalTablet' ? (s.sharedDevice?.shiftChanges ?? []).filter((t) => due.has(t)) : [];
      if (hit.length === 0) continue;
      for (const t of hit) times.add(t);
      try {
        await ender.logOut(d.deviceId, ctx);
        outcome.devices++;
      } catch (e) {
        outcome.failed++;
        this.deps.log?.error({ err: (e as Error).message, deviceId: d.deviceId }, 'policy: shift-change log-out could not be queued');
      }
    }
    outcome.times = [...times].sort();
    return outcome;
  }
}
