// The enrollment interfaces of domains.ts over what src/apple and src/android already offer (their
// enrollment tokens), typed by shape so the admin surface does not depend on either module.
import type { AuditContext } from '../audit';
import type { AndroidEnrollment, AppleEnrollment } from './domains';
import { AdminError } from './errors';

/** AppleMdmService.createToken: a token bound to a group, one-time or expiring, and its /mdm/enroll link. */
export interface AppleTokenSource {
  createToken(opts: { group?: string; oneTime?: boolean; ttlHours?: number }, ctx: AuditContext): Promise<{ url: string; expiresAt: string }>;
}

export function appleEnrollmentOf(source: AppleTokenSource): AppleEnrollment {
  return {
    async enrollmentLink(o, ctx) {
      const t = await source.createToken({ group: o.group, oneTime: o.singleUse, ttlHours: o.ttlMinutes === undefined ? undefined : o.ttlMinutes / 60 }, ctx);
      return { url: t.url, expiresAt: t.expiresAt };
    },
  };
}

/** AndroidService: enrollment tokens, the QR payload for one, and the DPC it points at. */
export interface AndroidTokenSource {
  currentDpc(): { componentName: string | null } | undefined;
  createToken(
    opts: { mode?: 'fully_managed' | 'work_profile'; policyGroup?: string; maxDevices?: number | null; expiresInHours?: number; label?: string },
    ctx: AuditContext,
  ): { token: string; record: { expiresAt: string } };
  provisioningPayload(token: string): Record<string, unknown>;
}

export function androidEnrollmentOf(source: AndroidTokenSource, qrPng: (payload: Record<string, unknown>) => Promise<Buffer>): AndroidEnrollment {
  return {
    async provisioning(o, ctx) {
      // Checked first: a token for a QR code that cannot work would only be a stray credential.
      if (!source.currentDpc()?.componentName) {
        throw new AdminError('conflict', 'no_dpc', 'no DPC APK has been imported yet (wardctl android dpc import APK --receiver .AdminReceiver)');
      }
      const { token, record } = source.createToken(
        {
          mode: o.mode === 'workProfile' ? 'work_profile' : 'fully_managed',
          policyGroup: o.group,
          maxDevices: o.maxDevices,
          // Android tokens live whole hours (1 to 8760).
          expiresInHours: o.ttlMinutes === undefined ? undefined : Math.max(1, Math.ceil(o.ttlMinutes / 60)),
          label: 'admin console',
        },
        ctx,
      );
      const payload = source.provisioningPayload(token);
      return { payload, png: await qrPng(payload), expiresAt: record.expiresAt };
    },
  };
}
