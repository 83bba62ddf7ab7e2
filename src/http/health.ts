// /healthz on both listeners: runtime facts plus a check per domain (a failing check makes it 503).
export interface HealthResult {
  ok: boolean;
  details?: Record<string, unknown>;
}

export type HealthCheck = () => HealthResult;

export class Health {
  private readonly checks = new Map<string, HealthCheck>();

  /** Each domain registers what a monitoring system should see (alarms fail the check). */
  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  report(): { status: 'ok' | 'fail'; runtime: Record<string, string>; checks: Record<string, HealthResult> } {
    const checks: Record<string, HealthResult> = {};
    let ok = true;
    for (const [name, check] of this.checks) {
      try {
        checks[name] = check();
      } catch (e) {
        checks[name] = { ok: false, details: { error: (e as Error).message } };
      }
      ok &&= checks[name].ok;
    }
    return {
      status: ok ? 'ok' : 'fail',
      runtime: { node: process.version, openssl: process.versions.openssl, sqlite: sqliteVersion ?? 'unknown' },
      checks,
    };
  }
}

let sqliteVersion: string | undefined;
export function setSqliteVersion(v: string): void {
  sqliteVersion = v;
}
