// The Android agent's policy document: what the agent (device owner, or profile owner of a work
// profile) applies through DevicePolicyManager and UserManager. The schema is defined here, checked
// with ajv, served by the agent API (docs/android-agent-protocol.md) and documented in
// docs/policy.md. Field names mirror the AOSP APIs the agent calls (developer.android.com,
// android.app.admin.DevicePolicyManager, android.os.UserManager, android.app.admin.SystemUpdatePolicy).
import type { NotApplied } from './apple';
import type { EffectivePolicy } from './resolve';
import { createAjv, type AppRef, type PasscodeComplexity } from './schema';

/** UserManager.DISALLOW_* values the compiler emits (the strings are the constants' values). */
export const USER_RESTRICTIONS = [
  'no_install_unknown_sources',
  'no_install_unknown_sources_globally',
  'no_usb_file_transfer',
  'no_physical_media',
  'no_debugging_features',
  'no_cross_profile_copy_paste',
  'no_sharing_into_profile',
  'no_safe_boot',
  'no_factory_reset',
  'no_add_user',
  'no_config_credentials',
  'no_install_apps',
] as const;
export type UserRestriction = (typeof USER_RESTRICTIONS)[number];

export const PASSWORD_QUALITIES = ['UNSPECIFIED', 'SOMETHING', 'NUMERIC', 'NUMERIC_COMPLEX', 'ALPHABETIC', 'ALPHANUMERIC', 'COMPLEX'] as const;
export const PASSWORD_COMPLEXITIES = ['NONE', 'LOW', 'MEDIUM', 'HIGH'] as const;
export const LOCK_TASK_FEATURES = ['SYSTEM_INFO', 'NOTIFICATIONS', 'HOME', 'OVERVIEW', 'GLOBAL_ACTIONS', 'KEYGUARD'] as const;

export interface AndroidPolicy {
  schemaVersion: 1;
  /** The effective policy hash: the agent reports it back as the applied policy (ETag). */
  policyId: string;
  managementMode: 'device_owner' | 'profile_owner';
  deviceMode: 'fully_managed' | 'dedicated' | 'kiosk' | 'work_profile';
  passwordPolicy?: {
    /** device: the device owner's own policy; parent: the device screen lock set by a work profile's
     * owner through DevicePolicyManager.getParentProfileInstance(). */
    scope: 'device' | 'parent';
    quality: PasswordQuality;
    /** setRequiredPasswordComplexity (API 31+); the agent uses quality below that. */
    requiredComplexity: PasswordComplexity;
    minimumLength?: number;
    minimumSymbols?: number;
    maximumFailedPasswordsForWipe?: number;
    passwordHistoryLength?: number;
    passwordExpirationTimeoutMs?: number;
  };
  maximumTimeToLockMs?: number;
  storageEncryptionRequired: boolean;
  cameraDisabled?: boolean;
  screenCaptureDisabled?: boolean;
  userRestrictions: UserRestriction[];
  backupServiceEnabled?: boolean;
  securityLoggingEnabled?: boolean;
  applications?: { allowedPackages?: string[]; blockedPackages?: string[] };
  managedConfigurations?: Array<{ packageName: string; restrictions: Record<string, string | number | boolean | string[]> }>;
  lockTask?: { packages: string[]; features: Array<(typeof LOCK_TASK_FEATURES)[number]>; homePackage: string; keepScreenOn: boolean };
  sharedDevice?: { sessionIdleTimeoutMs?: number; clearAppDataOnSessionEnd: boolean; clearPackages?: string[]; sessionEndTimes?: string[] };
  systemUpdatePolicy?: { type: 'AUTOMATIC' | 'WINDOWED' | 'POSTPONE'; windowStartMinutes?: number; windowEndMinutes?: number };
  wifiNetworks?: Array<{
    ssid: string;
    hidden: boolean;
    autoConnect: boolean;
    security: 'WPA2_EAP' | 'WPA3_EAP';
    eap: { method: 'TLS'; clientCertificate: 'ward-identity'; caCertificate: 'ward-root'; domainSuffixMatch: string[] };
  }>;
  alwaysOnVpn?: { packageName: string; lockdown: boolean; routedPackages: string[] };
  workProfile?: { crossProfileCopyPasteDisabled: boolean; crossProfileContactsSearchDisabled: boolean; wipeScope: 'work_profile' };
  reportIntervalHours?: number;
  compliance: { minimumAndroidVersion?: string; maxSecurityPatchAgeDays?: number; maxOfflineHours?: number };
}

const PACKAGE = { type: 'string', maxLength: 255, pattern: '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)+$' };
const packages = { type: 'array', maxItems: 500, uniqueItems: true, items: PACKAGE };
const obj = (properties: Record<string, unknown>, required: string[] = [], description?: string) => ({
  type: 'object',
  additionalProperties: false,
  ...(description ? { description } : {}),
  properties,
  required,
});
const posInt = (max: number, description?: string) => ({ type: 'integer', minimum: 0, maximum: max, ...(description ? { description } : {}) });

export const androidPolicySchema = {
  $id: 'https://ward.invalid/schemas/android-policy.json',
  title: 'Ward Android agent policy',
  ...obj(
    {
      schemaVersion: { const: 1 },
      policyId: { type: 'string', pattern: '^[0-9a-f]{32}$', description: 'Effective policy hash; the agent reports it as applied (policyEtag).' },
      managementMode: { enum: ['device_owner', 'profile_owner'] },
      deviceMode: { enum: ['fully_managed', 'dedicated', 'kiosk', 'work_profile'] },
      passwordPolicy: obj(
        {
          scope: { enum: ['device', 'parent'], description: 'parent: DevicePolicyManager.getParentProfileInstance() (the device lock of a work-profile device).' },
          quality: { enum: [...PASSWORD_QUALITIES], description: 'setPasswordQuality (DevicePolicyManager.PASSWORD_QUALITY_*), for API < 31.' },
          requiredComplexity: { enum: [...PASSWORD_COMPLEXITIES], description: 'setRequiredPasswordComplexity (PASSWORD_COMPLEXITY_*), API 31+.' },
          minimumLength: posInt(16, 'setPasswordMinimumLength'),
          minimumSymbols: posInt(16, 'setPasswordMinimumSymbols'),
          maximumFailedPasswordsForWipe: posInt(100, 'setMaximumFailedPasswordsForWipe (a work profile wipes only itself)'),
          passwordHistoryLength: posInt(50, 'setPasswordHistoryLength'),
          passwordExpirationTimeoutMs: posInt(730 * 86_400_000, 'setPasswordExpirationTimeout'),
        },
        ['scope', 'quality', 'requiredComplexity'],
      ),
      maximumTimeToLockMs: posInt(24 * 3_600_000, 'setMaximumTimeToLock'),
      storageEncryptionRequired: { type: 'boolean', description: 'Checked from getStorageEncryptionStatus(); Android 10+ encrypts by default.' },
      cameraDisabled: { type: 'boolean', description: 'setCameraDisabled' },
      screenCaptureDisabled: { type: 'boolean', description: 'setScreenCaptureDisabled' },
      userRestrictions: { type: 'array', uniqueItems: true, items: { enum: [...USER_RESTRICTIONS] }, description: 'addUserRestriction(UserManager.DISALLOW_*); every other restriction the agent set is cleared.' },
      backupServiceEnabled: { type: 'boolean', description: 'setBackupServiceEnabled' },
      securityLoggingEnabled: { type: 'boolean', description: 'setSecurityLoggingEnabled; the agent uploads the batches to Ward.' },
      applications: obj(
        {
          allowedPackages: { ...packages, description: 'When present, user apps not listed (and not system apps) are hidden (setApplicationHidden).' },
          blockedPackages: { ...packages, description: 'Suspended (setPackagesSuspended) or hidden.' },
        },
      ),
      managedConfigurations: {
        type: 'array',
        maxItems: 100,
        description: 'setApplicationRestrictions(admin, packageName, bundle).',
        items: obj(
          {
            packageName: PACKAGE,
            restrictions: {
              type: 'object',
              maxProperties: 100,
              additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'array', items: { type: 'string' } }] },
            },
          },
          ['packageName', 'restrictions'],
        ),
      },
      lockTask: obj(
        {
          packages: { ...packages, minItems: 1, description: 'setLockTaskPackages' },
          features: { type: 'array', uniqueItems: true, items: { enum: [...LOCK_TASK_FEATURES] }, description: 'setLockTaskFeatures (LOCK_TASK_FEATURE_*); empty: none.' },
          homePackage: { ...PACKAGE, description: 'addPersistentPreferredActivity for CATEGORY_HOME, then startLockTask.' },
          keepScreenOn: { type: 'boolean', description: 'setGlobalSetting(STAY_ON_WHILE_PLUGGED_IN) / FLAG_KEEP_SCREEN_ON in the kiosk app.' },
        },
        ['packages', 'features', 'homePackage', 'keepScreenOn'],
      ),
      sharedDevice: obj(
        {
          sessionIdleTimeoutMs: posInt(720 * 60_000),
          clearAppDataOnSessionEnd: { type: 'boolean', description: 'clearApplicationUserData for each package at session end (API 28+).' },
          clearPackages: { ...packages, description: 'Absent: every managed app.' },
          sessionEndTimes: {
            type: 'array',
            maxItems: 24,
            uniqueItems: true,
            items: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' },
            description: 'Shift changes: local device times (HH:MM) at which the agent ends the session (and clears app data when asked), whoever is signed in.',
          },
        },
        ['clearAppDataOnSessionEnd'],
      ),
      systemUpdatePolicy: obj(
        {
          type: { enum: ['AUTOMATIC', 'WINDOWED', 'POSTPONE'], description: 'SystemUpdatePolicy.createAutomaticInstallPolicy / createWindowedInstallPolicy / createPostponeInstallPolicy' },
          windowStartMinutes: posInt(1439),
          windowEndMinutes: posInt(1439),
        },
        ['type'],
      ),
      wifiNetworks: {
        type: 'array',
        maxItems: 10,
        items: obj(
          {
            ssid: { type: 'string', minLength: 1, maxLength: 32 },
            hidden: { type: 'boolean' },
            autoConnect: { type: 'boolean' },
            security: { enum: ['WPA2_EAP', 'WPA3_EAP'] },
            eap: obj(
              {
                method: { const: 'TLS' },
                clientCertificate: { const: 'ward-identity', description: 'KeyChain alias of the device identity the agent enrolled with.' },
                caCertificate: { const: 'ward-root', description: 'Ward\'s root CA, installed by the agent (installCaCert).' },
                domainSuffixMatch: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 253 }, description: 'WifiEnterpriseConfig.setDomainSuffixMatch' },
              },
              ['method', 'clientCertificate', 'caCertificate', 'domainSuffixMatch'],
            ),
          },
          ['ssid', 'hidden', 'autoConnect', 'security', 'eap'],
        ),
      },
      alwaysOnVpn: obj(
        {
          packageName: PACKAGE,
          lockdown: { type: 'boolean' },
          routedPackages: { ...packages, description: 'The VPN client routes only these apps (its own managed configuration).' },
        },
        ['packageName', 'lockdown', 'routedPackages'],
        'setAlwaysOnVpnPackage(admin, packageName, lockdown)',
      ),
      workProfile: obj(
        {
          crossProfileCopyPasteDisabled: { type: 'boolean' },
          crossProfileContactsSearchDisabled: { type: 'boolean', description: 'setCrossProfileContactsSearchDisabled' },
          wipeScope: { const: 'work_profile', description: 'A WIPE removes the work profile only (selective wipe).' },
        },
        ['crossProfileCopyPasteDisabled', 'crossProfileContactsSearchDisabled', 'wipeScope'],
      ),
      reportIntervalHours: { type: 'integer', minimum: 1, maximum: 168 },
      compliance: obj({
        minimumAndroidVersion: { type: 'string', pattern: '^[0-9]{1,4}(\\.[0-9]{1,4}){0,3}$' },
        maxSecurityPatchAgeDays: { type: 'integer', minimum: 1 },
        maxOfflineHours: { type: 'integer', minimum: 1 },
      }, [], 'What Ward checks; the agent may show it to the user.'),
    },
    ['schemaVersion', 'policyId', 'managementMode', 'deviceMode', 'storageEncryptionRequired', 'userRestrictions', 'compliance'],
  ),
};

const ajv = createAjv();
const validateAndroid = ajv.compile<AndroidPolicy>(androidPolicySchema);

/** ajv's errors for a document, or [] when it is a valid Android policy. */
export function androidPolicyProblems(doc: unknown): string[] {
  if (validateAndroid(doc)) return [];
  return (validateAndroid.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message}`);
}

type PasswordQuality = (typeof PASSWORD_QUALITIES)[number];
type PasswordComplexity = (typeof PASSWORD_COMPLEXITIES)[number];

const COMPLEXITY: Record<PasscodeComplexity, { quality: PasswordQuality; required: PasswordComplexity }> = {
  // PASSWORD_COMPLEXITY_MEDIUM: PIN without repeating/ordered sequences of length >= 4;
  // HIGH: such a PIN of length >= 8 or an alphabetic password of length >= 6 (DevicePolicyManager docs).
  numeric: { quality: 'NUMERIC', required: 'LOW' },
  numericComplex: { quality: 'NUMERIC_COMPLEX', required: 'MEDIUM' },
  alphanumeric: { quality: 'ALPHANUMERIC', required: 'HIGH' },
  complex: { quality: 'COMPLEX', required: 'HIGH' },
};

const pkgs = (apps: AppRef[] | undefined): string[] => [...new Set((apps ?? []).flatMap((a) => (a.android ? [a.android] : [])))];

export interface AndroidCompiled {
  document: AndroidPolicy;
  notApplied: NotApplied[];
}

/** The Android agent policy for an effective policy (pure). */
export function compileAndroid(policy: EffectivePolicy): AndroidCompiled {
  const s = policy.settings;
  const byod = s.mode === 'byod';
  const notApplied: NotApplied[] = [];
  const skip = (setting: string, reason: string) => notApplied.push({ setting, reason });
  const deviceMode: AndroidPolicy['deviceMode'] = byod ? 'work_profile' : s.mode === 'kiosk' ? 'kiosk' : s.mode === 'sharedClinicalTablet' ? 'dedicated' : 'fully_managed';
  const doc: AndroidPolicy = {
    schemaVersion: 1,
    policyId: policy.hash,
    managementMode: byod ? 'profile_owner' : 'device_owner',
    deviceMode,
    storageEncryptionRequired: s.encryption?.required ?? false,
    userRestrictions: [],
    compliance: {},
  };
  const restrictions = new Set<UserRestriction>();

  const pc = s.passcode;
  if (pc && (pc.required !== undefined || pc.minLength !== undefined || pc.complexity !== undefined || pc.maxFailedAttempts !== undefined || pc.historyCount !== undefined || pc.maxAgeDays !== undefined)) {
    const c = pc.complexity ? COMPLEXITY[pc.complexity] : pc.required ? { quality: 'SOMETHING' as const, required: 'LOW' as const } : { quality: 'UNSPECIFIED' as const, required: 'NONE' as const };
    doc.passwordPolicy = {
      scope: byod ? 'parent' : 'device',
      quality: c.quality,
      requiredComplexity: c.required,
      minimumLength: pc.minLength,
      minimumSymbols: pc.complexity === 'complex' ? 1 : undefined,
      maximumFailedPasswordsForWipe: pc.maxFailedAttempts,
      passwordHistoryLength: pc.historyCount,
      passwordExpirationTimeoutMs: pc.maxAgeDays === undefined ? undefined : pc.maxAgeDays * 86_400_000,
    };
  }
  if (pc?.maxInactivityMinutes !== undefined) doc.maximumTimeToLockMs = pc.maxInactivityMinutes * 60_000;

  const r = s.restrictions ?? {};
  if (r.camera !== undefined) doc.cameraDisabled = !r.camera;
  if (r.screenCapture !== undefined) doc.screenCaptureDisabled = !r.screenCapture;
  if (r.unknownSources === false) {
    restrictions.add('no_install_unknown_sources');
    if (!byod) restrictions.add('no_install_unknown_sources_globally');
  }
  if (r.usbFileTransfer === false) {
    if (byod) skip('restrictions.usbFileTransfer', 'a work profile on a personal device cannot block USB file transfer (device-owner restriction); work data is not reachable over MTP');
    else {
      restrictions.add('no_usb_file_transfer');
      restrictions.add('no_physical_media');
      restrictions.add('no_debugging_features');
    }
  }
  if (r.cloudBackup === false) doc.backupServiceEnabled = false;
  if (r.managedDataSharing === false) {
    if (byod) {
      restrictions.add('no_cross_profile_copy_paste');
      restrictions.add('no_sharing_into_profile');
    }
  }
  if (!byod && s.mode !== undefined) {
    // A hospital-owned device stays enrolled: no factory reset or safe boot from the device itself.
    restrictions.add('no_factory_reset');
    restrictions.add('no_safe_boot');
    restrictions.add('no_add_user');
  }

  const allowed = pkgs(s.apps?.allow);
  const blocked = pkgs(s.apps?.block);
  if (allowed.length || blocked.length) {
    doc.applications = {};
    if (allowed.length) doc.applications.allowedPackages = [...new Set([...allowed, ...(s.kiosk?.app.android ? [s.kiosk.app.android] : [])])];
    if (blocked.length) doc.applications.blockedPackages = blocked;
  }

  const configs = (s.managedAppConfig ?? []).filter((m) => m.app.android);
  if (configs.length) doc.managedConfigurations = configs.map((m) => ({ packageName: m.app.android!, restrictions: { ...m.config } }));

  if (s.mode === 'kiosk' && s.kiosk) {
    const pkg = s.kiosk.app.android;
    if (!pkg) skip('kiosk', `${s.kiosk.app.name} has no Android package`);
    else doc.lockTask = { packages: [pkg], features: [...(s.kiosk.androidLockTaskFeatures ?? [])], homePackage: pkg, keepScreenOn: s.kiosk.autoLock === false };
  }
  if (s.mode === 'sharedClinicalTablet' && s.sharedDevice) {
    const sd = s.sharedDevice;
    doc.sharedDevice = {
      sessionIdleTimeoutMs: sd.sessionTimeoutMinutes === undefined ? undefined : sd.sessionTimeoutMinutes * 60_000,
      clearAppDataOnSessionEnd: sd.clearDataOnLogout ?? false,
      clearPackages: sd.clearPackages,
      sessionEndTimes: sd.shiftChanges,
    };
    if (sd.temporarySessionOnly !== undefined) skip('sharedDevice.temporarySessionOnly', 'Apple Shared iPad only; an Android dedicated device always runs sessions of the agent\'s own sign-in');
  }

  const u = s.os?.updates;
  if (u) {
    if (byod) skip('os.updates', 'a work profile cannot set the system update policy of a personal device');
    else doc.systemUpdatePolicy = u.type === 'windowed' ? { type: 'WINDOWED', windowStartMinutes: u.windowStartMinute, windowEndMinutes: u.windowEndMinute } : { type: u.type === 'automatic' ? 'AUTOMATIC' : 'POSTPONE' };
  }

  if (s.wifi?.length) {
    doc.wifiNetworks = s.wifi.map((w) => ({
      ssid: w.ssid,
      hidden: w.hidden ?? false,
      autoConnect: w.autoJoin ?? true,
      security: w.security === 'wpa3Enterprise' ? 'WPA3_EAP' : 'WPA2_EAP',
      eap: { method: 'TLS', clientCertificate: 'ward-identity', caCertificate: 'ward-root', domainSuffixMatch: [...w.trustedServerNames] },
    }));
  }

  if (s.vpn) {
    const routed = pkgs(s.vpn.apps);
    if (!s.vpn.androidClient) skip('vpn', 'Android needs a VPN client app (vpn.androidClient) to make the always-on VPN');
    else if (routed.length === 0) skip('vpn', 'none of the VPN apps has an Android package');
    else doc.alwaysOnVpn = { packageName: s.vpn.androidClient, lockdown: s.vpn.lockdown ?? false, routedPackages: routed };
  }

  if (byod) {
    doc.workProfile = {
      crossProfileCopyPasteDisabled: r.managedDataSharing === false,
      crossProfileContactsSearchDisabled: r.managedDataSharing === false,
      wipeScope: 'work_profile',
    };
  }
  if (s.auditing?.deviceSecurityLog !== undefined) {
    if (byod && s.auditing.deviceSecurityLog) skip('auditing.deviceSecurityLog', 'security logging of a personal device is for the device owner only (a work profile logs nothing)');
    else doc.securityLoggingEnabled = s.auditing.deviceSecurityLog;
  }
  if (s.auditing?.inventoryIntervalHours !== undefined) doc.reportIntervalHours = s.auditing.inventoryIntervalHours;

  if (s.os?.minVersion?.android) doc.compliance.minimumAndroidVersion = s.os.minVersion.android;
  if (s.os?.maxSecurityPatchAgeDays !== undefined) doc.compliance.maxSecurityPatchAgeDays = s.os.maxSecurityPatchAgeDays;
  if (s.compliance?.maxOfflineHours !== undefined) doc.compliance.maxOfflineHours = s.compliance.maxOfflineHours;

  doc.userRestrictions = USER_RESTRICTIONS.filter((x) => restrictions.has(x));
  return { document: JSON.parse(JSON.stringify(doc)) as AndroidPolicy, notApplied };
}
