// Certificate expiry warnings: the CA certificates do not renew themselves, and service identities
// (the HTTPS server certificate first) renew 30 days ahead, so one still near its end means renewal
// failed. Checked at start and daily; visible in /healthz.
import type { Logger } from 'pino';
import type { HealthResult } from '../http';

const DAY_MS = 86_400_000;

export interface WatchedCertificate {
  /** Read each time (a renewed certificate replaces the old one); undefined: none configured. */
  notAfter: () => Date | string | undefined;
  /** Warn (log + /healthz details) when fewer days than this remain. */
  warnDays: number;
}

export interface ExpiryState {
  notAfter: string;
  daysLeft: number;
  status: 'ok' | 'warning' | 'expired';
}

export class CertificateExpiry {
  private readonly watched = new Map<string, WatchedCertificate>();

  constructor(
    private readonly log?: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Adds a certificate to watch (the APNs push certificate registers here too). */
  watch(name: string, w: WatchedCertificate): void {
    this.watched.set(name, w);
  }

  private states(): Record<string, ExpiryState> {
    const now = this.now().getTime();
    const out: Record<string, ExpiryState> = {};
    for (const [name, w] of this.watched) {
      const at = w.notAfter();
      if (at === undefined) continue;
      const notAfter = new Date(at);
      const daysLeft = Math.floor((notAfter.getTime() - now) / DAY_MS);
      const status = notAfter.getTime() <= now ? 'expired' : daysLeft < w.warnDays ? 'warning' : 'ok';
      out[name] = { notAfter: notAfter.toISOString(), daysLeft, status };
    }
    return out;
  }

  /** The scheduled job: logs a warning per certificate near its end, an error per expired one. */
  check(): Record<string, ExpiryState> {
    const out = this.states();
    for (const [name, s] of Object.entries(out)) {
      if (s.status === 'expired') this.log?.error({ certificate: name, notAfter: s.notAfter }, `certificate ${name} has EXPIRED`);
      else if (s.status === 'warning') this.log?.warn({ certificate: name, notAfter: s.notAfter, daysLeft: s.daysLeft }, `certificate ${name} expires in ${s.daysLeft} days`);
    }
    return out;
  }

  /** Fails only for an expired certificate; warnings are details a monitor can alert on. */
  health(): HealthResult {
    const states = this.states();
    const warnings = Object.entries(states).filter(([, s]) => s.status !== 'ok').map(([n, s]) => `${n}: ${s.status} (${s.notAfter})`);
    return { ok: Object.values(states).every((s) => s.status !== 'expired'), details: { certificates: states, warnings } };
  }
}
