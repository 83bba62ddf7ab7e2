// Certificates (notBefore/notAfter, CRL nextUpdate) and the audit trail's timestamps are only as good
// as the system clock. A clock earlier than the newest audit event means it went backwards (a VM
// restored from a snapshot, a dead RTC battery, NTP unreachable): say so loudly, at start and hourly.
import type { Logger } from 'pino';
import type { HealthResult } from '../http';

/** Where the newest audit time comes from: the audit domain's AuditStore. */
export interface AuditClockSource {
  newestEventTime(): string | undefined;
}

/** Small differences are ordinary (NTP slews, events written by another process a moment ago). */
export const CLOCK_TOLERANCE_MS = 2 * 60 * 1000;

export interface ClockReading {
  ok: boolean;
  checkedAt: string;
  newestAuditEvent: string | null;
  /** How far the clock is behind the newest audit event (0 when it is not). */
  behindMs: number;
}

export class ClockCheck {
  private last?: ClockReading;

  constructor(
    private readonly audit: AuditClockSource,
    private readonly log?: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Compares the clock with the newest audit event; logs an error when it is behind. */
  check(): ClockReading {
    const now = this.now();
    const newest = this.audit.newestEventTime();
    const behindMs = newest ? Math.max(0, Date.parse(newest) - now.getTime()) : 0;
    const reading: ClockReading = { ok: behindMs <= CLOCK_TOLERANCE_MS, checkedAt: now.toISOString(), newestAuditEvent: newest ?? null, behindMs };
    if (!reading.ok) {
      this.log?.error(
        { clock: reading },
        `CLOCK IS WRONG: system time ${reading.checkedAt} is earlier than the newest audit event (${newest}); ` +
          'certificates and audit timestamps issued now will be wrong: fix NTP / the VM clock',
      );
    }
    this.last = reading;
    return reading;
  }

  /** For /healthz: the last reading (failing while the clock is behind). */
  health(): HealthResult {
    const r = this.last ?? this.check();
    return { ok: r.ok, details: { ...r } };
  }
}
