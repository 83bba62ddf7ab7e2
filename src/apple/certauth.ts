// Device identity for every MDM request (NanoMDM's certauth, our own code): the request must carry
// a certificate Ward's CA issued and has not revoked, by TLS client authentication or by the
// Mdm-Signature header (Apple: SignMessage). At Authenticate that certificate is bound to the
// enrollment; afterwards every message for the enrollment must carry the same one. Anything else
// is answered 401 and leaves an audit event.
import crypto from 'node:crypto';
import type { AuditLog } from '../audit';
import type { CertificateStatus } from '../pki';
import type { CheckinReply, CheckinService, MdmRequest } from './service';
import type {
  Authenticate,
  CheckOut,
  CommandReport,
  DeclarativeManagement,
  GetBootstrapToken,
  SetBootstrapToken,
  TokenUpdate,
  UserAuthenticate,
} from './messages';
import type { AppleStore } from './store';

export class MdmAuthError extends Error {
  override readonly name = 'MdmAuthError';
  readonly httpStatus = 401;
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** What pki tells about a presented certificate (CertificateAuthority satisfies this). */
export interface IssuedCertificateChecker {
  verifyIssued(der: Buffer): { status: CertificateStatus; record?: { serial: string; revokedAt: string | null } | undefined; notBefore?: Date; notAfter?: Date };
  revokedAt(serial: string): string | null | undefined;
  /** Grows with every revocation (each one issues a CRL in its transaction): the newest CRL number. */
  revocationEpoch(): number;
}

interface Verdict {
  serial: string;
  notBefore: number;
  notAfter: number;
  /** The revocation epoch at which this certificate was last seen unrevoked. */
  epoch: number;
}

// The revocation epoch (newest CRL number) is re-read at most this often. Revocations made in this
// process (admin API, tests) take effect at once through forget(); one made by wardctl in another
// process within this delay.
const REVOCATION_RECHECK_MS = 1000;

/**
 * ca.verifyIssued with a cache: the signature and validity of a device certificate are checked
 * once; its revocation is re-read only when the revocation epoch has moved since (one small query a
 * second for all devices, not one per check-in), and at once after forget().
 */
export class IdentityChecker {
  private readonly verdicts = new Map<string, Verdict>();
  private readonly bySerial = new Map<string, string>();
  private epoch = { value: -1, readAt: -Infinity };

  constructor(private readonly ca: IssuedCertificateChecker) {}

  private revocationEpoch(now: number): number {
    if (now - this.epoch.readAt >= REVOCATION_RECHECK_MS || now < this.epoch.readAt) {
      this.epoch = { value: this.ca.revocationEpoch(), readAt: now };
    }
    return this.epoch.value;
  }

  /** Drops what is cached about a certificate (called when pki records its revocation). */
  forget(serial: string): void {
    const key = this.bySerial.get(serial);
    if (key) this.verdicts.delete(key);
    this.bySerial.delete(serial);
  }

  check(der: Buffer, now = Date.now()): { status: CertificateStatus; serial?: string } {
    const key = crypto.hash('sha256', der, 'base64');
    const epoch = this.revocationEpoch(now);
    let v = this.verdicts.get(key);
    if (!v) {
      const r = this.ca.verifyIssued(der);
      if (r.status !== 'valid' || !r.record || !r.notBefore || !r.notAfter) return { status: r.status, serial: r.record?.serial };
      v = { serial: r.record.serial, notBefore: r.notBefore.getTime(), notAfter: r.notAfter.getTime(), epoch };
      if (this.verdicts.size >= 50_000) {
        this.verdicts.clear();
        this.bySerial.clear();
      }
      this.verdicts.set(key, v);
      this.bySerial.set(v.serial, key);
      return { status: 'valid', serial: v.serial };
    }
    if (now < v.notBefore) return { status: 'not-yet-valid', serial: v.serial };
    if (now > v.notAfter) return { status: 'expired', serial: v.serial };
    if (v.epoch !== epoch) {
      if (this.ca.revokedAt(v.serial)) {
        this.forget(v.serial);
        return { status: 'revoked', serial: v.serial };
      }
      v.epoch = epoch;
    }
    return { status: 'valid', serial: v.serial };
  }
}

/** Wraps a CheckinService so that only the bound device identity reaches it. */
export function withCertAuth(inner: CheckinService, deps: { store: AppleStore; audit: AuditLog; identities: IdentityChecker }): CheckinService {
  const refuse = async (req: MdmRequest, what: string, reason: string, serial?: string): Promise<never> => {
    await deps.store.commit(() =>
      deps.audit.record({
        ...req.ctx,
        action: 'apple.device.auth_refused',
        target: { type: 'apple-enrollment', id: req.enrollment.id },
        outcome: 'failure',
        reason,
        details: { message: what, certificateSerial: serial ?? null, via: req.identity?.via ?? null },
      }),
    );
    throw new MdmAuthError(reason);
  };

  /** The presented certificate must be Ward-issued and good; returns its serial. */
  const presented = async (req: MdmRequest, what: string): Promise<string> => {
    if (req.identityError) return refuse(req, what, req.identityError);
    if (!req.identity) return refuse(req, what, 'no device identity (no TLS client certificate and no Mdm-Signature)');
    const verdict = deps.identities.check(req.identity.der);
    if (verdict.status !== 'valid') return refuse(req, what, `device certificate is ${verdict.status}`, verdict.serial);
    req.identity.serial = verdict.serial!;
    return verdict.serial!;
  };

  /** Every message but Authenticate: the enrollment exists and is bound to this certificate. */
  const bound = async (req: MdmRequest, what: string): Promise<void> => {
    const serial = await presented(req, what);
    const binding = deps.store.deviceBinding(req.enrollment.deviceId);
    if (!binding) return refuse(req, what, 'unknown enrollment (no Authenticate)', serial);
    if (binding.certSerial !== serial) return refuse(req, what, 'certificate is not the one bound to this enrollment', serial);
  };

  return {
    async authenticate(req: MdmRequest, msg: Authenticate) {
      const serial = await presented(req, 'Authenticate');
      // One identity, one device: a certificate bound to another enrollment cannot claim this one.
      const other = deps.store.deviceByCert(serial);
      if (other && other.id !== req.enrollment.deviceId) return refuse(req, 'Authenticate', `certificate is bound to another enrollment`, serial);
      if (req.enrollment.userId) return refuse(req, 'Authenticate', 'Authenticate on a user channel', serial);
      return inner.authenticate(req, msg);
    },
    async tokenUpdate(req: MdmRequest, msg: TokenUpdate) {
      await bound(req, 'TokenUpdate');
      return inner.tokenUpdate(req, msg);
    },
    async checkOut(req: MdmRequest, msg: CheckOut) {
      await bound(req, 'CheckOut');
      return inner.checkOut(req, msg);
    },
    async userAuthenticate(req: MdmRequest, msg: UserAuthenticate): Promise<CheckinReply> {
      await bound(req, 'UserAuthenticate');
      return inner.userAuthenticate(req, msg);
    },
    async setBootstrapToken(req: MdmRequest, msg: SetBootstrapToken) {
      await bound(req, 'SetBootstrapToken');
      return inner.setBootstrapToken(req, msg);
    },
    async getBootstrapToken(req: MdmRequest, msg: GetBootstrapToken) {
      await bound(req, 'GetBootstrapToken');
      return inner.getBootstrapToken(req, msg);
    },
    async declarativeManagement(req: MdmRequest, msg: DeclarativeManagement): Promise<CheckinReply> {
      await bound(req, 'DeclarativeManagement');
      return inner.declarativeManagement(req, msg);
    },
    async commandAndReportResults(req: MdmRequest, report: CommandReport) {
      await bound(req, `Status ${report.Status}`);
      return inner.commandAndReportResults(req, report);
    },
  };
}
