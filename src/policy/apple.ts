// Compiles an effective policy to an Apple configuration profile (payload dicts, pure) and the items
// of the Settings command that carry what profiles cannot (managed app configuration, per-app VPN
// attributes, Shared iPad settings). Keys follow apple/device-management: mdm/profiles/
// com.apple.mobiledevice.passwordpolicy, com.apple.applicationaccess, com.apple.wifi.managed,
// com.apple.security.root, com.apple.vpn.managed.applayer, com.apple.app.lock and
// mdm/commands/settings.yaml. Serializing and signing belong to the Apple domain's plist and CMS
// code; mobileconfig() takes them as arguments so this module imports nothing from it.
import crypto from 'node:crypto';
import type { EffectivePolicy } from './resolve';
import type { AppRef, PolicySettings } from './schema';

export type ProfileValue = string | number | boolean | Uint8Array | ProfileValue[] | ProfileDict;
export interface ProfileDict {
  [key: string]: ProfileValue | undefined;
}

export type ApplePlatform = 'ios' | 'ipados' | 'macos';
/** device: supervised or device-enrolled; userEnrollment: BYOD (managed Apple account, managed volume only); sharedIpad. */
export type AppleEnrollmentKind = 'device' | 'userEnrollment' | 'sharedIpad';

export interface AppleCompileContext {
  /** PayloadOrganization. */
  organization: string;
  /** PayloadIdentifier of the policy profile; the same for every version, so InstallProfile replaces it. */
  identifier?: string;
  platform?: ApplePlatform;
  /** Default from the mode: byod -> userEnrollment, sharedClinicalTablet -> sharedIpad, else device. */
  enrollment?: AppleEnrollmentKind;
  /** Default: true unless userEnrollment (hospital devices come through Apple Business Manager or Configurator). */
  supervised?: boolean;
  /**
   * The device's Ward identity, the client credential of EAP-TLS and the VPN. Apple resolves
   * PayloadCertificateUUID within the same profile only, so either pass scepPayload (a
   * com.apple.security.scep payload whose PayloadUUID is payloadUuid, embedded here) or merge the
   * compiled Wi-Fi/VPN payloads into the profile that holds the identity payload.
   */
  identity?: { payloadUuid: string; scepPayload?: ProfileDict; localIdentifier?: string };
  /** Ward's root CA (DER): the anchor for the RADIUS server certificate. */
  rootCertificate?: Uint8Array;
}

export interface NotApplied {
  setting: string;
  reason: string;
}

export interface AppleCompiled {
  identifier: string;
  /** PayloadUUID of the top-level profile: names this policy version on the device (ProfileList). */
  profileUuid: string;
  profile: ProfileDict;
  /** Items for the Settings command (mdm/commands/settings.yaml), sent after InstallProfile. */
  settings: ProfileDict[];
  /** Settings of the policy this device cannot be made to enforce, and why (compliance still checks). */
  notApplied: NotApplied[];
}

export const DEFAULT_PROFILE_IDENTIFIER = 'org.ward.policy';

// RFC 9562 section 5.5: name-based UUID (SHA-1), so the same policy version always compiles to the
// same payload UUIDs. Namespace: a fixed random UUID for Ward policy payloads.
const UUID_NAMESPACE = Buffer.from('5c0f4a52d4a74a3f9c1e2b7d8e9f0a61', 'hex');

export function nameBasedUuid(name: string): string {
  const h = crypto.createHash('sha1').update(UUID_NAMESPACE).update(name, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex').toUpperCase();
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function enrollmentFor(settings: PolicySettings): AppleEnrollmentKind {
  if (settings.mode === 'byod') return 'userEnrollment';
  if (settings.mode === 'sharedClinicalTablet') return 'sharedIpad';
  return 'device';
}

const bundleIds = (apps: AppRef[] | undefined): string[] => (apps ?? []).flatMap((a) => (a.apple ? [a.apple] : []));

/** The profile payloads and Settings items for one device (pure). */
export function compileApple(policy: EffectivePolicy, ctx: AppleCompileContext): AppleCompiled {
  const s = policy.settings;
  const platform = ctx.platform ?? 'ios';
  const enrollment = ctx.enrollment ?? enrollmentFor(s);
  const supervised = ctx.supervised ?? enrollment !== 'userEnrollment';
  const ios = platform !== 'macos';
  const identifier = ctx.identifier ?? DEFAULT_PROFILE_IDENTIFIER;
  const uuid = (kind: string) => nameBasedUuid(`${identifier}/${policy.hash}/${kind}`);
  const payloads: ProfileDict[] = [];
  const settings: ProfileDict[] = [];
  const notApplied: NotApplied[] = [];
  const skip = (setting: string, reason: string) => notApplied.push({ setting, reason });
  const payload = (type: string, kind: string, name: string, body: ProfileDict): ProfileDict => {
    const p: ProfileDict = { PayloadType: type, PayloadVersion: 1, PayloadIdentifier: `${identifier}.${kind}`, PayloadUUID: uuid(kind), PayloadDisplayName: name, ...body };
    payloads.push(p);
    return p;
  };

  // ---- passcode ----
  const pc = s.passcode;
  if (pc) {
    if (enrollment === 'userEnrollment') {
      for (const k of Object.keys(pc)) {
        skip(`passcode.${k}`, 'Apple User Enrollment ignores passcode policy keys (the enrollment itself requires a device passcode); compliance checks PasscodePresent');
      }
    } else if (enrollment === 'sharedIpad') {
      for (const k of Object.keys(pc)) {
        if (k === 'maxInactivityMinutes' || k === 'required') continue;
        skip(`passcode.${k}`, 'Shared iPad forbids the passcode payload; users\' passcodes are governed by their Managed Apple Accounts');
      }
    } else {
      // Apple's ranges: maxInactivity 1..15 minutes, maxFailedAttempts 2..11. A larger value in the
      // policy compiles to Apple's largest, which is stricter.
      const complexity = pc.complexity;
      payload('com.apple.mobiledevice.passwordpolicy', 'passcode', 'Passcode', {
        forcePIN: pc.required,
        minLength: pc.minLength,
        allowSimple: complexity === undefined ? undefined : complexity === 'numeric',
        requireAlphanumeric: complexity === 'alphanumeric' || complexity === 'complex' ? true : undefined,
        minComplexChars: complexity === 'complex' ? 1 : undefined,
        maxInactivity: pc.maxInactivityMinutes === undefined ? undefined : Math.min(pc.maxInactivityMinutes, 15),
        maxFailedAttempts: pc.maxFailedAttempts === undefined ? undefined : Math.min(pc.maxFailedAttempts, 11),
        pinHistory: pc.historyCount,
        maxPINAgeInDays: pc.maxAgeDays,
      });
    }
  }

  // ---- restrictions ----
  const r = s.restrictions ?? {};
  const restr: ProfileDict = {};
  const restrict = (setting: string, key: string, value: boolean, opts: { supervised?: boolean; userEnrollment?: boolean; macos?: boolean } = {}) => {
    if (enrollment === 'userEnrollment' && opts.userEnrollment === false) return skip(setting, `Apple User Enrollment does not allow ${key}`);
    if (!ios && !opts.macos) return skip(setting, `${key} is not available on macOS`);
    if (opts.supervised && !supervised && ios) return skip(setting, `${key} needs a supervised device`);
    restr[key] = value;
  };
  if (r.camera !== undefined) restrict('restrictions.camera', 'allowCamera', r.camera, { userEnrollment: false, macos: true });
  if (r.screenCapture !== undefined) restrict('restrictions.screenCapture', 'allowScreenShot', r.screenCapture, { macos: true });
  if (r.usbFileTransfer === false) {
    restrict('restrictions.usbFileTransfer', 'allowFilesUSBDriveAccess', false, { supervised: true, userEnrollment: false });
    restrict('restrictions.usbFileTransfer', 'allowHostPairing', false, { supervised: true, userEnrollment: false });
  }
  if (r.unknownSources === false) restrict('restrictions.unknownSources', 'allowEnterpriseAppTrust', false, { userEnrollment: false });
  if (r.cloudBackup === false) {
    restrict('restrictions.cloudBackup', 'allowCloudBackup', false, { userEnrollment: false });
    restrict('restrictions.cloudBackup', 'allowManagedAppsCloudSync', false);
    restrict('restrictions.cloudBackup', 'allowEnterpriseBookBackup', false);
  }
  if (r.managedDataSharing === false) restrict('restrictions.managedDataSharing', 'allowOpenFromManagedToUnmanaged', false);
  const allow = bundleIds(s.apps?.allow);
  const block = bundleIds(s.apps?.block);
  if (allow.length) {
    if (enrollment === 'userEnrollment') skip('apps.allow', 'Apple User Enrollment does not allow allowListedAppBundleIDs');
    else if (!ios) skip('apps.allow', 'allowListedAppBundleIDs is not available on macOS');
    else if (!supervised) skip('apps.allow', 'allowListedAppBundleIDs needs a supervised device');
    // The kiosk app must stay allowed, or Single App Mode would lock the device to a blocked app.
    else restr.allowListedAppBundleIDs = [...new Set([...allow, ...(s.kiosk?.app.apple ? [s.kiosk.app.apple] : [])])];
  }
  if (block.length) {
    if (enrollment === 'userEnrollment') skip('apps.block', 'Apple User Enrollment does not allow blockedAppBundleIDs');
    else if (!ios) skip('apps.block', 'blockedAppBundleIDs is not available on macOS');
    else if (!supervised) skip('apps.block', 'blockedAppBundleIDs needs a supervised device');
    else restr.blockedAppBundleIDs = block;
  }
  const updates = s.os?.updates;
  if (updates?.type === 'postpone') {
    if (supervised && ios) {
      restr.forceDelayedSoftwareUpdates = true;
      restr.enforcedSoftwareUpdateDelay = 30;
    } else skip('os.updates', 'delaying updates needs a supervised iPhone or iPad');
  } else if (updates?.type === 'windowed') {
    skip('os.updates', 'Apple profiles have no install window; OS currency is enforced by the minimum version rule');
  }
  if (Object.keys(restr).length) payload('com.apple.applicationaccess', 'restrictions', 'Restrictions', restr);

  // ---- identity, trust, Wi-Fi, VPN ----
  const needsIdentity = (s.wifi?.length ?? 0) > 0 || s.vpn !== undefined;
  let rootUuid: string | undefined;
  if (needsIdentity && ctx.identity?.scepPayload) {
    if (ctx.identity.scepPayload.PayloadUUID !== ctx.identity.payloadUuid) throw new Error('identity.scepPayload.PayloadUUID must equal identity.payloadUuid');
    payloads.push(ctx.identity.scepPayload);
  }
  if ((s.wifi?.length ?? 0) > 0 && ctx.rootCertificate) {
    rootUuid = payload('com.apple.security.root', 'root', `${ctx.organization} root certificate`, {
      PayloadCertificateFileName: 'ward-root.cer',
      PayloadContent: ctx.rootCertificate,
    }).PayloadUUID as string;
  }
  (s.wifi ?? []).forEach((w, i) => {
    if (!ctx.identity) return skip('wifi', `${w.ssid}: no device identity to authenticate with (EAP-TLS needs the SCEP identity payload)`);
    payload('com.apple.wifi.managed', `wifi.${i}`, `Wi-Fi ${w.ssid}`, {
      SSID_STR: w.ssid,
      HIDDEN_NETWORK: w.hidden ?? false,
      AutoJoin: w.autoJoin ?? true,
      EncryptionType: w.security === 'wpa3Enterprise' ? 'WPA3' : 'WPA2',
      PayloadCertificateUUID: ctx.identity.payloadUuid,
      EAPClientConfiguration: {
        AcceptEAPTypes: [13], // EAP-TLS (RFC 5216)
        TLSTrustedServerNames: w.trustedServerNames,
        PayloadCertificateAnchorUUID: rootUuid ? [rootUuid] : undefined,
        TLSMinimumVersion: '1.2',
      },
    });
  });
  if (s.vpn) {
    const v = s.vpn;
    const apps = bundleIds(v.apps);
    const localIdentifier = ctx.identity?.localIdentifier;
    if (!ios) skip('vpn', 'per-app VPN is compiled for iPhone and iPad only');
    else if (!ctx.identity || !localIdentifier) skip('vpn', 'no device identity (payload UUID and local identifier) to authenticate the VPN with');
    else if (apps.length === 0) skip('vpn', 'none of the VPN apps has an Apple bundle identifier');
    else {
      const vpnUuid = uuid('vpn.id');
      payload('com.apple.vpn.managed.applayer', 'vpn', v.name, {
        VPNUUID: vpnUuid,
        VPNType: 'IKEv2',
        UserDefinedName: v.name,
        IKEv2: {
          RemoteAddress: v.server,
          RemoteIdentifier: v.remoteIdentifier,
          LocalIdentifier: localIdentifier,
          AuthenticationMethod: 'Certificate',
          PayloadCertificateUUID: ctx.identity.payloadUuid,
          ExtendedAuthEnabled: false,
        },
      });
      // Apps join the VPN by the VPNUUID attribute (Settings ApplicationAttributes).
      for (const id of apps) settings.push({ Item: 'ApplicationAttributes', Identifier: id, Attributes: { VPNUUID: vpnUuid } });
    }
  }

  // ---- kiosk: Single App Mode ----
  if (s.mode === 'kiosk' && s.kiosk) {
    const id = s.kiosk.app.apple;
    if (!ios) skip('kiosk', 'Single App Mode is for iPhone and iPad');
    else if (!id) skip('kiosk', `${s.kiosk.app.name} has no Apple bundle identifier`);
    else if (!supervised) skip('kiosk', 'Single App Mode (com.apple.app.lock) needs a supervised device');
    else payload('com.apple.app.lock', 'applock', 'Single App Mode', { App: { Identifier: id, Options: { DisableAutoLock: s.kiosk.autoLock === false } } });
  }

  // ---- Settings command items ----
  for (const m of s.managedAppConfig ?? []) {
    if (!m.app.apple) continue;
    settings.push({ Item: 'ApplicationConfiguration', Identifier: m.app.apple, Configuration: { ...m.config } });
  }
  if (enrollment === 'sharedIpad') {
    const sd = s.sharedDevice ?? {};
    const item: ProfileDict = { Item: 'SharedDeviceConfiguration' };
    if (sd.sessionTimeoutMinutes !== undefined) item.UserSessionTimeout = sd.sessionTimeoutMinutes * 60;
    if (sd.temporarySessionOnly !== undefined) item.TemporarySessionOnly = sd.temporarySessionOnly;
    if (sd.temporarySessionOnly && sd.sessionTimeoutMinutes !== undefined) item.TemporarySessionTimeout = sd.sessionTimeoutMinutes * 60;
    if (pc?.maxInactivityMinutes !== undefined) {
      // AutoLockTime is in seconds, at least 120 (settings.yaml).
      item.PasscodePolicy = { AutoLockTime: Math.max(120, pc.maxInactivityMinutes * 60), PasscodeLockGracePeriod: 0 };
    }
    if (Object.keys(item).length > 1) settings.push(item);
    if (sd.clearDataOnLogout && !sd.temporarySessionOnly) {
      skip('sharedDevice.clearDataOnLogout', 'Shared iPad keeps each user\'s data in that user\'s own volume, unreadable by the next user; it is deleted at log-out only for temporary sessions');
    }
  } else if (s.sharedDevice) {
    skip('sharedDevice', 'Shared iPad settings apply only to an iPad enrolled as a Shared iPad');
  }

  // ---- what profiles do not carry ----
  if (s.encryption?.required && !ios) skip('encryption.required', 'Ward does not compile a FileVault payload; compliance checks FileVault (FDE_Enabled)');
  if (s.auditing?.deviceSecurityLog) skip('auditing.deviceSecurityLog', 'Apple devices have no security log upload; Ward\'s audit log records every MDM command and result');

  const profileUuid = uuid('profile');
  const names = [...new Set(policy.layers.map((l) => l.policy))].join(', ');
  const profile: ProfileDict = {
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: identifier,
    PayloadUUID: profileUuid,
    PayloadDisplayName: `${ctx.organization} device policy`,
    PayloadDescription: `Ward policy ${names || '(none)'}, version ${policy.hash}.`,
    PayloadOrganization: ctx.organization,
    PayloadRemovalDisallowed: enrollment !== 'userEnrollment',
    PayloadContent: payloads,
  };
  return { identifier, profileUuid, profile, settings, notApplied };
}

/** How the Apple domain turns a dict into bytes and signs them (its plist serializer and CMS signer). */
export interface ProfileEncoder {
  serialize(profile: ProfileDict): Buffer | string;
  /** CMS SignedData over the bytes (content embedded). */
  sign(content: Buffer): Buffer;
}

/** The signed .mobileconfig (DER CMS SignedData holding the XML plist). */
export function mobileconfig(compiled: AppleCompiled, encoder: ProfileEncoder): Buffer {
  const xml = encoder.serialize(compiled.profile);
  return encoder.sign(Buffer.isBuffer(xml) ? xml : Buffer.from(xml, 'utf8'));
}

/**
 * A com.apple.security.scep payload (apple/device-management com.apple.security.scep.yaml) that
 * gives the policy profile its own Ward identity for EAP-TLS and the VPN, when the identity of the
 * enrollment profile cannot be referenced (PayloadCertificateUUID resolves within one profile).
 */
export function scepIdentityPayload(input: {
  identifier: string;
  payloadUuid: string;
  url: string;
  challenge: string;
  subject: Array<[string, string]>;
  name?: string;
  keySize?: 2048 | 4096;
}): ProfileDict {
  return {
    PayloadType: 'com.apple.security.scep',
    PayloadVersion: 1,
    PayloadIdentifier: `${input.identifier}.identity`,
    PayloadUUID: input.payloadUuid,
    PayloadDisplayName: 'Network identity',
    PayloadContent: {
      URL: input.url,
      Name: input.name,
      Subject: input.subject.map(([type, value]) => [[type, value]]),
      Challenge: input.challenge,
      Keysize: input.keySize ?? 2048,
      'Key Type': 'RSA',
      'Key Usage': 5, // signing | encryption: EAP-TLS and IKEv2 sign with it
    },
  };
}
