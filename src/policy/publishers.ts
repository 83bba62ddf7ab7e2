// The platforms' side of policy (structural types: main.ts passes the Apple and Android services in).
// Publishing: Android's policy ETag changes and held command polls are woken
// (AndroidService.policyChanged); Apple devices get the signed profile with InstallProfile (which
// pushes), then a Settings command for what profiles cannot carry (managed app configuration,
// per-app VPN attributes, Shared iPad settings). Breach: Apple DeviceLock / Android LOCK. Shift
// change: Apple LogOutUser.
import type { Logger } from 'pino';
import { SYSTEM_ACTOR, type AuditContext } from '../audit';
import { mobileconfig, type AppleCompileContext, type ProfileEncoder } from './apple';
import type { ComplianceResult, Platform } from './compliance';
import { LockRefused, type BreachResponder } from './lookup';
import type { CompiledPolicy, PolicyPublisher } from './service';
import type { SessionEnder } from './shifts';

const APPLE_PLATFORMS: readonly Platform[] = ['ios', 'ipados', 'macos'];

/** The platforms' refusals that will not change by retrying (device gone, unenrolled, bad request). */
const PERMANENT = new Set(['not-found', 'conflict', 'bad-request', 'invalid-parameters']);

function permanent(e: unknown): boolean {
  const code = (e as { code?: unknown; reason?: unknown })?.code ?? (e as { reason?: unknown })?.reason;
  return typeof code === 'string' && PERMANENT.has(code);
}

/** What a device's lock screen says after a breach (policy.breachLockMessage). */
function lockMessage(template: string, result: ComplianceResult): string {
  return template.replace('{reason}', result.reasons[0]?.replace(/ \(grace until .*\)$/, '') ?? 'policy breach').slice(0, 200);
}

export function androidPublisher(android: { policyChanged(deviceIds?: string[]): number }): PolicyPublisher {
  return {
    platforms: ['android'],
    onPolicyChanged(deviceIds) {
      android.policyChanged(deviceIds);
    },
  };
}

/** Android LOCK through the agent channel (queued, audited, the held poll woken). */
export function androidBreachResponder(
  android: { queueCommand(deviceId: string, type: string, params: unknown, ctx: AuditContext): { id: string } },
  opts: { message: string },
): BreachResponder {
  return {
    platforms: ['android'],
    lock(device, result, ctx) {
      try {
        return { commandId: android.queueCommand(device.id, 'LOCK', { message: lockMessage(opts.message, result) }, ctx).id };
      } catch (e) {
        throw permanent(e) ? new LockRefused((e as Error).message) : e;
      }
    },
  };
}

/** AppleMdmService.queueCommand: validates, stores, audits and pushes. */
type AppleQueue = (deviceId: string, type: string, params: unknown, ctx: AuditContext) => Promise<{ uuid: string; push?: Promise<unknown> }>;

async function queueApple(queue: AppleQueue, deviceId: string, type: string, params: unknown, ctx: AuditContext): Promise<{ commandId: string }> {
  const q = await queue(deviceId, type, params, ctx);
  // The push is best effort: the device fetches the command at its next check-in anyway.
  void q.push?.catch(() => undefined);
  return { commandId: q.uuid };
}

/**
 * Apple DeviceLock (mdm/commands/device.lock.yaml) for iPhone and iPad. A Mac locks only with a
 * 6-digit Find My PIN Ward would have to keep: Macs are not locked (quarantine still holds them).
 */
export function appleBreachResponder(deps: { queueCommand: AppleQueue; message: string }): BreachResponder {
  return {
    platforms: ['ios', 'ipados'],
    async lock(device, result, ctx) {
      try {
        return await queueApple(deps.queueCommand, device.id, 'DeviceLock', { Message: lockMessage(deps.message, result) }, ctx);
      } catch (e) {
        throw permanent(e) ? new LockRefused((e as Error).message) : e;
      }
    },
  };
}

/** Apple LogOutUser on a Shared iPad at shift change (mdm/commands/user.logout.yaml). */
export function appleSessionEnder(deps: { queueCommand: AppleQueue }): SessionEnder {
  return {
    platforms: ['ipados'],
    logOut: (deviceId, ctx) => queueApple(deps.queueCommand, deviceId, 'LogOutUser', {}, ctx),
  };
}

export interface ApplePublisherDeps {
  queueCommand: AppleQueue;
  encoder: ProfileEncoder;
  /** Per device: organization, platform, enrollment kind, supervision, identity; undefined skips the device (gone or checked out). */
  deviceContext(deviceId: string, compiled: CompiledPolicy): AppleCompileContext | undefined;
  log?: Logger;
}

/**
 * Devices whose commands are queued at once: their InstallProfile rows share the Apple store's group
 * commit, one transaction a burst. One device at a time paid the commit window (2 ms) and its own
 * transaction each: 2,000 devices took 7.6 s, 1.7 s in bursts. Compiling and signing a burst holds
 * the event loop about 1 ms a device.
 */
const PUBLISH_BURST = 32;

export function applePublisher(deps: ApplePublisherDeps): PolicyPublisher {
  return {
    platforms: APPLE_PLATFORMS,
    async onPolicyChanged(deviceIds, compiled) {
      const failed: string[] = [];
      const ctx: AuditContext = { actor: SYSTEM_ACTOR, source: null, requestId: null };
      const publish = async (id: string) => {
        const dctx = deps.deviceContext(id, compiled);
        if (!dctx) return;
        try {
          const apple = compiled.apple(dctx);
          const bytes = mobileconfig(apple, deps.encoder);
          await queueApple(deps.queueCommand, id, 'InstallProfile', { Payload: bytes.toString('base64') }, ctx);
          // After the profile: ApplicationAttributes name the VPN payload it carries.
          if (apple.settings.length) await queueApple(deps.queueCommand, id, 'Settings', { Settings: apple.settings }, ctx);
        } catch (e) {
          failed.push(id);
          deps.log?.error({ err: (e as Error).message, deviceId: id }, 'policy: the policy could not be queued for an Apple device');
        }
      };
      // Each device's own commands stay in order (InstallProfile, then Settings); devices of a burst interleave.
      for (let i = 0; i < deviceIds.length; i += PUBLISH_BURST) await Promise.all(deviceIds.slice(i, i + PUBLISH_BURST).map(publish));
      return { failed };
    },
  };
}
