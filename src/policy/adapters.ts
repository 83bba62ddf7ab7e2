// What the Apple and Android domains know about a device, turned into DeviceFacts, and the policy
// source the Android agent API serves. The input types are structural (the fields read, nothing
// more), so this folder imports nothing from src/apple or src/android; main.ts passes their
// services in.
import crypto from 'node:crypto';
import { canonicalJson } from '../audit';
import { DEFAULT_PROFILE_IDENTIFIER, nameBasedUuid, scepIdentityPayload, type AppleCompileContext } from './apple';
import type { DeviceFacts, Platform } from './compliance';
import type { DeviceFactsSource } from './lookup';
import type { CompiledPolicy, PolicyService } from './service';

type Json = Record<string, unknown>;

function withVersion(f: Omit<DeviceFacts, 'factsVersion'>): DeviceFacts {
  const clean = JSON.parse(JSON.stringify(f)) as Omit<DeviceFacts, 'factsVersion'>;
  return { ...clean, factsVersion: crypto.createHash('sha1').update(canonicalJson(clean)).digest('hex') };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

// ---- Apple ----

/** The fields of the Apple domain's DeviceView that compliance reads. */
export interface AppleDeviceLike {
  id: string;
  status: string;
  group: string;
  certificateSerial: string;
  osVersion: string | null;
  productName: string | null;
  model: string | null;
  encrypted: boolean | null;
  passcodePresent: boolean | null;
  passcodeCompliant: boolean | null;
  facts: Json;
  authenticatedAt: string;
  lastSeenAt: string | null;
}

function applePlatform(d: AppleDeviceLike): Exclude<Platform, 'android'> {
  const name = d.productName ?? d.model ?? '';
  if (/^iPad/i.test(name)) return 'ipados';
  if (/^(Mac|iMac|VirtualMac)/i.test(name)) return 'macos';
  return 'ios';
}

/**
 * Facts of an Apple device. The applied policy is known when ProfileList shows Ward's policy
 * profile: its PayloadUUID names the policy version it was compiled from (compileApple).
 */
export function appleDeviceFacts(d: AppleDeviceLike, expectedPolicy?: { hash: string; identifier?: string }): DeviceFacts {
  const profiles = Array.isArray(d.facts.profiles) ? (d.facts.profiles as Json[]) : undefined;
  const apps = Array.isArray(d.facts.apps) ? (d.facts.apps as Json[]).flatMap((a) => (str(a.identifier) ? [a.identifier as string] : [])) : undefined;
  let appliedPolicy: string | undefined;
  if (profiles && expectedPolicy) {
    const identifier = expectedPolicy.identifier ?? DEFAULT_PROFILE_IDENTIFIER;
    const ours = profiles.find((p) => p.identifier === identifier);
    if (ours) {
      const expectedUuid = nameBasedUuid(`${identifier}/${expectedPolicy.hash}/profile`);
      appliedPolicy = String(ours.uuid ?? '').toUpperCase() === expectedUuid ? expectedPolicy.hash : `other:${String(ours.uuid ?? '')}`;
    }
  }
  const mac = str(d.facts.wifiMac);
  return withVersion({
    deviceId: d.id,
    platform: applePlatform(d),
    group: d.group,
    lastSeenAt: d.lastSeenAt ?? d.authenticatedAt,
    enrolled: d.status !== 'checked-out',
    osVersion: d.osVersion ?? undefined,
    passcodePresent: d.passcodePresent ?? undefined,
    passcodeCompliant: d.passcodeCompliant ?? undefined,
    encrypted: d.encrypted ?? undefined,
    installedApps: apps,
    sharedIpad: d.facts.isMultiUser === true ? true : undefined,
    appliedPolicy,
    certificateSerials: [d.certificateSerial],
    macAddresses: mac ? [mac] : undefined,
  });
}

/** The network identity (SCEP payload UUID and certificate common name) a device's policy profile carries. */
function networkIdentity(identifier: string, deviceId: string): { payloadUuid: string; localIdentifier: string } {
  return { payloadUuid: nameBasedUuid(`${identifier}/identity/${deviceId}`), localIdentifier: `ward-network-${deviceId}` };
}

/**
 * How to compile for one Apple device (ApplePublisherDeps.deviceContext): its platform, User
 * Enrollment or Shared iPad, supervision, and, when the policy has Wi-Fi or a VPN, a SCEP identity
 * payload with a fresh one-time challenge bound to its common name (newChallenge) so EAP-TLS has a credential in the same
 * profile. undefined for a device that checked out.
 */
export function appleDeviceContext(
  d: AppleDeviceLike & { enrollmentType: string },
  compiled: CompiledPolicy,
  opts: { organization: string; identifier?: string; rootCertificate?: Uint8Array; scepUrl?: string; newChallenge?: (commonName: string) => string },
): AppleCompileContext | undefined {
  if (d.status === 'checked-out') return undefined;
  const identifier = opts.identifier ?? DEFAULT_PROFILE_IDENTIFIER;
  const enrollment = /^user-enrollment/.test(d.enrollmentType) ? 'userEnrollment' : d.facts.isMultiUser === true ? 'sharedIpad' : 'device';
  const s = compiled.effective.settings;
  let identity: AppleCompileContext['identity'];
  if (((s.wifi?.length ?? 0) > 0 || s.vpn) && opts.newChallenge && opts.scepUrl) {
    const { payloadUuid, localIdentifier: cn } = networkIdentity(identifier, d.id);
    identity = {
      payloadUuid,
      localIdentifier: cn,
      scepPayload: scepIdentityPayload({ identifier, payloadUuid, url: opts.scepUrl, challenge: opts.newChallenge(cn), subject: [['O', opts.organization], ['CN', cn]], name: opts.organization }),
    };
  }
  return {
    organization: opts.organization,
    identifier,
    platform: applePlatform(d),
    enrollment,
    supervised: typeof d.facts.isSupervised === 'boolean' ? d.facts.isSupervised : undefined,
    identity,
    rootCertificate: opts.rootCertificate,
  };
}

/**
 * The managed configuration and attributes (per-app VPN) a device's policy gives one app: what
 * InstallApplication carries (AppleMdmService.appSettings). identity: whether the device's policy
 * profile carries the network identity (policy.wifiIdentity), without which it has no VPN.
 */
export function appleAppSettings(
  d: AppleDeviceLike & { enrollmentType: string },
  compiled: CompiledPolicy,
  bundleId: string,
  opts: { organization: string; identifier?: string; identity: boolean },
): { Configuration?: Record<string, unknown>; Attributes?: Record<string, unknown> } | undefined {
  const dctx = appleDeviceContext(d, compiled, { organization: opts.organization, identifier: opts.identifier });
  if (!dctx) return undefined;
  if (opts.identity) dctx.identity = networkIdentity(dctx.identifier!, d.id);
  const items = compiled.apple(dctx).settings.filter((i) => i.Identifier === bundleId);
  const configuration = items.find((i) => i.Item === 'ApplicationConfiguration')?.Configuration as Record<string, unknown> | undefined;
  const attributes = items.find((i) => i.Item === 'ApplicationAttributes')?.Attributes as Record<string, unknown> | undefined;
  if (!configuration && !attributes) return undefined;
  return { ...(configuration && { Configuration: configuration }), ...(attributes && { Attributes: attributes }) };
}

/** A DeviceFactsSource over the Apple domain's service (devicesAfter, device, deviceByKey). */
export function appleFactsSource(
  apple: {
    devicesAfter(after: string, limit: number): AppleDeviceLike[];
    device(id: string): AppleDeviceLike | undefined;
    deviceByKey(kind: 'certificate' | 'mac', value: string): AppleDeviceLike | undefined;
  },
  policies: PolicyService,
  opts: { identifier?: string } = {},
): DeviceFactsSource {
  const expected = (d: AppleDeviceLike) => ({ hash: policies.effectiveFor({ deviceId: d.id, group: d.group }).hash, identifier: opts.identifier });
  const factsOf = (d: AppleDeviceLike | undefined) => (d ? appleDeviceFacts(d, expected(d)) : undefined);
  return {
    name: 'apple',
    facts: (id) => factsOf(apple.device(id)),
    page: (after, limit) => apple.devicesAfter(after, limit).map((d) => appleDeviceFacts(d, expected(d))),
    find: (kind, value) => factsOf(apple.deviceByKey(kind, value)),
  };
}

// ---- Android ----

/** The fields of the Android domain's DeviceRecord that compliance reads. */
export interface AndroidDeviceLike {
  id: string;
  mode: string;
  policyGroup: string;
  state: string;
  certSerial: string;
  previousCertSerial: string | null;
  facts: Json;
  status: Json | null;
  lastSeenAt: string;
}

// DevicePolicyManager.getStorageEncryptionStatus(): ACTIVE_DEFAULT_KEY means the key is not bound
// to the user's credential, so data at rest is not protected by the screen lock: not counted.
const ENCRYPTED = new Set(['active', 'active_per_user']);

export function androidDeviceFacts(d: AndroidDeviceLike): DeviceFacts {
  const st = d.status ?? {};
  const apps = Array.isArray(st.installedApps) ? (st.installedApps as Json[]).flatMap((a) => (str(a.packageName) ? [a.packageName as string] : [])) : undefined;
  const lockTask = st.lockTask && typeof st.lockTask === 'object' ? (st.lockTask as Json) : undefined;
  const etag = str(st.policyEtag);
  const sufficient = bool(st.passcodeSufficient);
  return withVersion({
    deviceId: d.id,
    platform: 'android',
    group: d.policyGroup,
    lastSeenAt: d.lastSeenAt,
    enrolled: d.state === 'active',
    osVersion: str(st.androidVersion) ?? str(d.facts.androidVersion),
    securityPatchLevel: str(st.securityPatch) ?? str(d.facts.securityPatch),
    // isActivePasswordSufficient() true implies a screen lock is set; false says nothing about presence.
    passcodePresent: sufficient ? true : undefined,
    passcodeCompliant: sufficient,
    encrypted: typeof st.encryption === 'string' ? ENCRYPTED.has(st.encryption) : undefined,
    installedApps: apps,
    kioskActive: lockTask ? bool(lockTask.active) : undefined,
    appliedPolicy: etag ? etag.replace(/^W\//, '').replace(/^"|"$/g, '') : undefined,
    certificateSerials: [d.certSerial, ...(d.previousCertSerial ? [d.previousCertSerial] : [])],
  });
}

/** A DeviceFactsSource over the Android domain's service (devicesAfter, device, deviceByCertificate). */
export function androidFactsSource(android: {
  devicesAfter(after: string, limit: number): AndroidDeviceLike[];
  device(id: string): AndroidDeviceLike | undefined;
  deviceByCertificate(serial: string): AndroidDeviceLike | undefined;
}): DeviceFactsSource {
  return {
    name: 'android',
    facts(id) {
      const d = android.device(id);
      return d ? androidDeviceFacts(d) : undefined;
    },
    page: (after, limit) => android.devicesAfter(after, limit).map(androidDeviceFacts),
    find(kind, value) {
      // The agent reports no MAC: Android devices are found by id or certificate only.
      const d = kind === 'certificate' ? android.deviceByCertificate(value) : undefined;
      return d ? androidDeviceFacts(d) : undefined;
    },
  };
}

/**
 * The Android agent API's policy source (AndroidService.setPolicySource): the compiled policy of
 * the device's effective policy; the ETag is the policy hash, which the agent reports back as
 * applied. With no policy assigned at all, the fallback (android.defaultPolicy) is served.
 */
export function androidPolicySource(
  policies: PolicyService,
  fallback?: { policyFor(device: { id: string; policyGroup: string; mode: string }): { document: Record<string, unknown>; etag: string } },
) {
  return {
    policyFor(device: { id: string; policyGroup: string; mode: string }): { document: Record<string, unknown>; etag: string } {
      const compiled = policies.compiledFor({ deviceId: device.id, group: device.policyGroup });
      if (compiled.effective.layers.length === 0 && fallback) return fallback.policyFor(device);
      const { document } = compiled.android({ workProfile: device.mode === 'work_profile' });
      return { document: document as unknown as Record<string, unknown>, etag: `"${compiled.hash}"` };
    },
  };
}
