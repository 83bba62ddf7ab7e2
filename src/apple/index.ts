// Public face of the Apple MDM domain. main.ts builds an AppleMdm and mounts its routes; wardctl
// builds one on the same database for `wardctl apple ...` and `wardctl device ...`.
import path from 'node:path';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit';
import type { WardConfig } from '../config';
import type { AppleConfig } from '../config/sections/apple';
import type { WardDb } from '../db';
import type { HealthResult, Router } from '../http';
import { IdentityChecker, withCertAuth, type IssuedCertificateChecker } from './certauth';
import { Escrow } from './escrow';
import { PushService } from './push';
import { mountAppleRoutes as mountRoutes } from './routes';
import { AppleMdmService, type ChallengeSource, type CheckinService, type ProfileAuthority } from './service';
import { AppleStore } from './store';

export { AppleError, type AppView, type ChallengeSource, type CheckinService, type CommandView, type DeviceView, type MdmRequest } from './service';
export { COMMAND_TYPES, COMMAND_SCHEMAS, CommandFormatError, commandRequest, type CommandType } from './commands';
export { MdmAuthError } from './certauth';
export { MdmProtocolError } from './messages';
export { parsePlist, buildPlist, PlistError, type PlistValue } from './plist';
export { signCms, verifyMdmSignature, CmsError } from './cms';
export type { WakeResult } from './push';
export type { AppleConfig } from '../config/sections/apple';

export interface AppleDeps {
  cfg: WardConfig;
  db: WardDb;
  audit: AuditLog;
  ca: IssuedCertificateChecker & ProfileAuthority;
  /** The SCEP domain's challenge issuance (ScepService); needed to hand out profiles. */
  challenges?: ChallengeSource;
  log?: Logger;
}

export class AppleMdm {
  readonly config: AppleConfig;
  readonly store: AppleStore;
  readonly escrow: Escrow;
  readonly push: PushService;
  readonly service: AppleMdmService;
  /** The service behind cert-auth: what the check-in and command endpoints call. */
  readonly checkin: CheckinService;

  constructor(deps: AppleDeps) {
    const cfg = deps.cfg;
    this.config = cfg.apple as AppleConfig;
    this.store = new AppleStore(deps.db);
    this.escrow = Escrow.open(this.config.escrowKeyFile || path.join(cfg.pki.dir, 'apple-escrow.key'));
    this.push = new PushService(this.config.apns, this.store, this.escrow, deps.audit, deps.log);
    this.service = new AppleMdmService(this.config, this.store, deps.audit, this.escrow, this.push);
    this.service.authority = deps.ca;
    this.service.challenges = deps.challenges;
    this.service.organization = cfg.organization;
    this.service.dataDir = cfg.dataDir;
    // Read at call time: with port 0 the real ports are known only after the listeners start.
    this.service.urls = () => ({ https: cfg.https.publicUrl!, http: cfg.http.publicUrl! });
    const identities = new IdentityChecker(deps.ca);
    // A revocation recorded in this process reaches cert-auth at once (forgetting is rollback-safe).
    deps.audit.onAppend(({ event }) => {
      if (event.action === 'pki.certificate.revoked' && event.target) identities.forget(event.target.id);
    });
    this.checkin = withCertAuth(this.service, { store: this.store, audit: deps.audit, identities });
  }

  /** /healthz: push certificate topic and expiry, APNs on/off, device count. */
  health(): HealthResult {
    const cert = this.service.pushCertificate();
    const now = Date.now();
    const daysLeft = cert ? Math.floor((Date.parse(cert.notAfter) - now) / 86_400_000) : null;
    return {
      ok: cert ? daysLeft! >= 0 : true,
      details: {
        pushCertificate: cert ? { topic: cert.topic, notAfter: cert.notAfter, daysLeft, serial: cert.serial } : null,
        apns: this.push.enabled ? 'enabled' : 'disabled',
        devices: this.store.countDevices(),
      },
    };
  }

  /** Writes the last-seen times noted in memory (a scheduled job and shutdown call this). */
  flushLastSeen(): number {
    return this.store.flushSeen();
  }

  async close(): Promise<void> {
    this.flushLastSeen();
    await this.push.close();
  }
}

/** Mounts /mdm/enroll, /mdm/checkin and /mdm/command on the HTTPS listener's router. */
export function mountAppleRoutes(router: Router, mdm: AppleMdm): void {
  if (!mdm.config.enabled) return;
  mountRoutes(router, mdm.service, mdm.checkin, mdm.config);
}
