// The platform-neutral policy model, written once as a JSON Schema: ajv validates every policy with
// it, it is the documentation (`description`), it goes into the OpenAPI document, and two vendor
// extensions (allowed in OpenAPI Schema Objects) drive the rest of the domain:
//   x-safeguards  the 45 CFR 164.3xx safeguards a setting serves (explain, HIPAA report)
//   x-merge       how assignments at several scopes combine (docs/policy.md, "Precedence"):
//                 specific   the most specific policy that sets it wins
//                 max / min  the strictest value wins (higher / lower is stricter; enums: later is stricter)
//                 maxVersion the highest version wins
//                 or / and   booleans: true wins (requirements) / false wins (permissions)
//                 union      lists: every entry of every scope applies (blocklists)
import Ajv, { type ErrorObject } from 'ajv';
import { isSafeguardId } from './safeguards';

export const DEVICE_MODES = ['corporate', 'sharedClinicalTablet', 'kiosk', 'byod'] as const;
export type DeviceMode = (typeof DEVICE_MODES)[number];

/** Weakest first: `max` merges pick the later one. */
export const PASSCODE_COMPLEXITIES = ['numeric', 'numericComplex', 'alphanumeric', 'complex'] as const;
export type PasscodeComplexity = (typeof PASSCODE_COMPLEXITIES)[number];

export const BREACH_ACTIONS = ['mark', 'quarantine', 'lock'] as const;
export type BreachAction = (typeof BREACH_ACTIONS)[number];

export const COMPLIANCE_RULES = ['passcode', 'encryption', 'osVersion', 'securityPatch', 'blockedApps', 'policyApplied', 'kiosk'] as const;
export type GracedRule = (typeof COMPLIANCE_RULES)[number];
/** Every rule a device is judged by: the graced ones, plus enrollment and the offline limit (no grace). */
export const BREACH_RULES = ['enrolled', 'lastSeen', ...COMPLIANCE_RULES] as const;
export type BreachRule = (typeof BREACH_RULES)[number];

export type MergeRule = 'specific' | 'max' | 'min' | 'maxVersion' | 'or' | 'and' | 'union';

export interface AppRef {
  name: string;
  /** iOS/iPadOS/macOS bundle identifier. */
  apple?: string;
  /** Android package name. */
  android?: string;
}

export type ManagedConfigValue = string | number | boolean | string[];

export interface ManagedAppConfig {
  app: AppRef;
  config: Record<string, ManagedConfigValue>;
}

export interface WifiNetwork {
  ssid: string;
  hidden?: boolean;
  autoJoin?: boolean;
  security: 'wpa2Enterprise' | 'wpa3Enterprise';
  /** RADIUS server certificate names the device accepts (TLSTrustedServerNames / domainSuffixMatch). */
  trustedServerNames: string[];
}

export interface PerAppVpn {
  name: string;
  /** IKEv2 server address. */
  server: string;
  remoteIdentifier: string;
  apps: AppRef[];
  /** Android: the VPN client app that Ward makes the always-on VPN (DevicePolicyManager.setAlwaysOnVpnPackage). */
  androidClient?: string;
  /** Android: block traffic outside the VPN (lockdown) for the routed apps. */
  lockdown?: boolean;
}

export interface KioskSettings {
  app: AppRef;
  /** false keeps the screen awake while the kiosk app runs (Apple DisableAutoLock). */
  autoLock?: boolean;
  /** Android lock task features left on (DevicePolicyManager.LOCK_TASK_FEATURE_*). */
  androidLockTaskFeatures?: Array<'SYSTEM_INFO' | 'NOTIFICATIONS' | 'HOME' | 'OVERVIEW' | 'GLOBAL_ACTIONS' | 'KEYGUARD'>;
}

export interface SharedDeviceSettings {
  sessionTimeoutMinutes?: number;
  temporarySessionOnly?: boolean;
  clearDataOnLogout?: boolean;
  /** Android: packages whose data is cleared at the end of each session (all managed apps if absent). */
  clearPackages?: string[];
  /** Local times (HH:MM) of shift change: the signed-in user is logged out (Apple LogOutUser; Android ends the session). */
  shiftChanges?: string[];
}

export interface ComplianceSettings {
  maxOfflineHours?: number;
  graceHours?: Partial<Record<GracedRule, number>>;
  onBreach?: BreachAction;
  /** Per rule, overriding onBreach for that rule. */
  onBreachByRule?: Partial<Record<BreachRule, BreachAction>>;
}

export interface PolicySettings {
  mode?: DeviceMode;
  passcode?: {
    required?: boolean;
    minLength?: number;
    complexity?: PasscodeComplexity;
    maxInactivityMinutes?: number;
    maxFailedAttempts?: number;
    historyCount?: number;
    maxAgeDays?: number;
  };
  encryption?: { required?: boolean };
  os?: {
    minVersion?: { ios?: string; ipados?: string; macos?: string; android?: string };
    maxSecurityPatchAgeDays?: number;
    updates?: { type: 'automatic' | 'windowed' | 'postpone'; windowStartMinute?: number; windowEndMinute?: number };
  };
  restrictions?: {
    camera?: boolean;
    screenCapture?: boolean;
    usbFileTransfer?: boolean;
    unknownSources?: boolean;
    cloudBackup?: boolean;
    managedDataSharing?: boolean;
  };
  apps?: { allow?: AppRef[]; block?: AppRef[] };
  managedAppConfig?: ManagedAppConfig[];
  wifi?: WifiNetwork[];
  vpn?: PerAppVpn;
  kiosk?: KioskSettings;
  sharedDevice?: SharedDeviceSettings;
  auditing?: { deviceSecurityLog?: boolean; inventoryIntervalHours?: number };
  compliance?: ComplianceSettings;
}

// ---- schema builders ----

const APPLE_BUNDLE_ID = '^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$';
const ANDROID_PACKAGE = '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)+$';
const VERSION = '^[0-9]{1,4}(\\.[0-9]{1,4}){0,3}$';
const CLOCK_TIME = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

type Schema = Record<string, unknown>;

function leaf(merge: MergeRule, safeguards: string[], schema: Schema): Schema {
  return { ...schema, 'x-merge': merge, 'x-safeguards': safeguards };
}

function section(description: string, properties: Record<string, Schema>, extra: Schema = {}): Schema {
  return { type: 'object', description, additionalProperties: false, properties, ...extra };
}

const appRef: Schema = {
  type: 'object',
  description: 'An app, named once for both platforms; give the identifier of each platform it runs on.',
  additionalProperties: false,
  required: ['name'],
  anyOf: [{ required: ['apple'] }, { required: ['android'] }],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, description: 'Display name.' },
    apple: { type: 'string', maxLength: 255, pattern: APPLE_BUNDLE_ID, description: 'Bundle identifier (iOS, iPadOS, macOS).' },
    android: { type: 'string', maxLength: 255, pattern: ANDROID_PACKAGE, description: 'Android package name.' },
  },
};

const appList = (description: string): Schema => ({ type: 'array', maxItems: 500, items: appRef, description });

const hours = (max: number, description: string): Schema => ({ type: 'integer', minimum: 0, maximum: max, description });

// Safeguard ids used below, named once.
const MALWARE = '164.308(a)(5)(ii)(B)';
const PASSWORD_MGMT = '164.308(a)(5)(ii)(D)';
const INCIDENT = '164.308(a)(6)(ii)';
const BUSINESS_ASSOCIATE = '164.308(b)(1)';
const WORKSTATION_USE = '164.310(b)';
const WORKSTATION_SECURITY = '164.310(c)';
const DEVICE_MEDIA = '164.310(d)(1)';
const MEDIA_REUSE = '164.310(d)(2)(ii)';
const ACCOUNTABILITY = '164.310(d)(2)(iii)';
const ACCESS_CONTROL = '164.312(a)(1)';
const UNIQUE_USER = '164.312(a)(2)(i)';
const AUTO_LOGOFF = '164.312(a)(2)(iii)';
const ENCRYPTION = '164.312(a)(2)(iv)';
const AUDIT = '164.312(b)';
const INTEGRITY = '164.312(c)(1)';
const AUTHENTICATION = '164.312(d)';
const TRANSMISSION = '164.312(e)(1)';
const TRANSMISSION_ENCRYPTION = '164.312(e)(2)(ii)';

export const policySettingsSchema: Schema = {
  $id: 'https://ward.invalid/schemas/policy-settings.json',
  title: 'Ward device policy',
  type: 'object',
  additionalProperties: false,
  description:
    'Platform-neutral device settings. Every section is optional: a policy assigned to a ward or a device role sets only what it changes, and the precedence rule (docs/policy.md) combines them.',
  properties: {
    mode: leaf('specific', [ACCESS_CONTROL, WORKSTATION_USE], {
      enum: [...DEVICE_MODES],
      description:
        'corporate: fully managed hospital device. sharedClinicalTablet: Apple Shared iPad with log-out at shift change / Android dedicated device that clears app data between sessions. ' +
        'kiosk: one app only (Apple Single App Mode, Android lock task). byod: personal device; only managed data is touched (Apple User Enrollment, Android work profile) and selective wipe is the only wipe.',
    }),
    passcode: section('Screen lock.', {
      required: leaf('or', [ACCESS_CONTROL, AUTHENTICATION], { type: 'boolean', description: 'A passcode must be set.' }),
      minLength: leaf('max', [PASSWORD_MGMT, AUTHENTICATION], { type: 'integer', minimum: 4, maximum: 16, description: 'Fewest characters.' }),
      complexity: leaf('max', [PASSWORD_MGMT, AUTHENTICATION], {
        enum: [...PASSCODE_COMPLEXITIES],
        description: 'numeric: any PIN. numericComplex: no repeating or sequential digits. alphanumeric: letters and digits. complex: also a symbol.',
      }),
      maxInactivityMinutes: leaf('min', [AUTO_LOGOFF], {
        type: 'integer',
        minimum: 1,
        maximum: 60,
        description: 'Idle minutes before the screen locks (Apple allows at most 15; a larger value compiles to 15).',
      }),
      maxFailedAttempts: leaf('min', [ACCESS_CONTROL, DEVICE_MEDIA], {
        type: 'integer',
        minimum: 2,
        maximum: 30,
        description: 'Failed unlock attempts before the managed data is wiped (the whole device for corporate modes, the work data for BYOD). Apple allows at most 11.',
      }),
      historyCount: leaf('max', [PASSWORD_MGMT], { type: 'integer', minimum: 1, maximum: 50, description: 'A new passcode must differ from this many previous ones.' }),
      maxAgeDays: leaf('min', [PASSWORD_MGMT], { type: 'integer', minimum: 1, maximum: 730, description: 'Days before the passcode must be changed.' }),
    }),
    encryption: section('Data at rest.', {
      required: leaf('or', [ENCRYPTION, DEVICE_MEDIA], {
        type: 'boolean',
        description: 'Storage must be encrypted (iOS Data Protection, FileVault, Android file-based encryption); checked from what the device reports.',
      }),
    }),
    os: section('Operating system currency.', {
      minVersion: leaf('maxVersion', [INTEGRITY, MALWARE], {
        type: 'object',
        additionalProperties: false,
        description: 'Lowest OS version accepted, per platform.',
        properties: {
          ios: { type: 'string', pattern: VERSION },
          ipados: { type: 'string', pattern: VERSION },
          macos: { type: 'string', pattern: VERSION },
          android: { type: 'string', pattern: VERSION },
        },
      }),
      maxSecurityPatchAgeDays: leaf('min', [INTEGRITY, MALWARE], {
        type: 'integer',
        minimum: 1,
        maximum: 730,
        description: 'Android: oldest security patch level accepted, in days.',
      }),
      updates: leaf('specific', [MALWARE], {
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        description: 'When updates install (Android SystemUpdatePolicy; Apple: postpone delays updates by 30 days on supervised devices).',
        properties: {
          type: { enum: ['automatic', 'windowed', 'postpone'] },
          windowStartMinute: { type: 'integer', minimum: 0, maximum: 1439, description: 'windowed: minutes after local midnight.' },
          windowEndMinute: { type: 'integer', minimum: 0, maximum: 1439 },
        },
      }),
    }),
    restrictions: section('What the device lets users do. true = allowed.', {
      camera: leaf('specific', [WORKSTATION_USE], {
        type: 'boolean',
        description: 'Camera use (wound photography through the EHR app is a clinical use, so a ward can allow what its unit blocks).',
      }),
      screenCapture: leaf('and', [ACCESS_CONTROL, WORKSTATION_USE], { type: 'boolean', description: 'Screenshots and screen recording.' }),
      usbFileTransfer: leaf('and', [DEVICE_MEDIA], { type: 'boolean', description: 'Copying files over USB (MTP, Files app USB drives, pairing with a computer).' }),
      unknownSources: leaf('and', [MALWARE, INTEGRITY], { type: 'boolean', description: 'Installing apps from outside the managed catalogue (Android unknown sources, Apple enterprise app trust).' }),
      cloudBackup: leaf('and', [BUSINESS_ASSOCIATE, DEVICE_MEDIA], {
        type: 'boolean',
        description: 'Backing managed data up to the consumer cloud (iCloud, Google), a party without a business associate agreement.',
      }),
      managedDataSharing: leaf('and', [ACCESS_CONTROL, DEVICE_MEDIA], { type: 'boolean', description: 'Opening managed (work) documents in unmanaged (personal) apps.' }),
    }),
    apps: section('App allowlist and blocklist.', {
      allow: leaf('specific', [MALWARE, INTEGRITY, WORKSTATION_USE], appList('Only these apps (and the system apps) may run. Needs supervision on Apple devices.')),
      block: leaf('union', [MALWARE, INTEGRITY], appList('These apps may not run; every blocklist of every scope applies.')),
    }),
    managedAppConfig: leaf('specific', [TRANSMISSION, INTEGRITY], {
      type: 'array',
      maxItems: 100,
      description: 'Managed app configuration (Apple ApplicationConfiguration, Android application restrictions), e.g. the EHR client\'s FHIR server URL. Readable on the device: never a secret.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['app', 'config'],
        properties: {
          app: appRef,
          config: {
            type: 'object',
            maxProperties: 100,
            additionalProperties: {
              anyOf: [
                { type: 'string', maxLength: 4096 },
                { type: 'number' },
                { type: 'boolean' },
                { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 4096 } },
              ],
            },
          },
        },
      },
    }),
    wifi: leaf('specific', [TRANSMISSION, TRANSMISSION_ENCRYPTION, AUTHENTICATION], {
      type: 'array',
      maxItems: 10,
      description: '802.1X networks joined with EAP-TLS, the client credential being the device\'s Ward identity certificate (no shared passwords).',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['ssid', 'security', 'trustedServerNames'],
        properties: {
          ssid: { type: 'string', minLength: 1, maxLength: 32 },
          hidden: { type: 'boolean' },
          autoJoin: { type: 'boolean' },
          security: { enum: ['wpa2Enterprise', 'wpa3Enterprise'] },
          trustedServerNames: {
            type: 'array',
            minItems: 1,
            maxItems: 10,
            items: { type: 'string', minLength: 1, maxLength: 253 },
            description: 'Names on the RADIUS server certificate (issued by Ward\'s CA, which the device trusts).',
          },
        },
      },
    }),
    vpn: leaf('specific', [TRANSMISSION, TRANSMISSION_ENCRYPTION], {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'server', 'remoteIdentifier', 'apps'],
      description: 'Per-app VPN (IKEv2, certificate authentication with the device identity) for the listed apps, where the platform supports it.',
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 100 },
        server: { type: 'string', minLength: 1, maxLength: 253 },
        remoteIdentifier: { type: 'string', minLength: 1, maxLength: 253 },
        apps: { ...appList('Apps whose traffic goes through the VPN.'), minItems: 1 },
        androidClient: { type: 'string', pattern: ANDROID_PACKAGE, description: 'Android VPN client package (always-on VPN).' },
        lockdown: { type: 'boolean', description: 'Android: no traffic outside the VPN.' },
      },
    }),
    kiosk: leaf('specific', [WORKSTATION_USE, WORKSTATION_SECURITY, ACCESS_CONTROL], {
      type: 'object',
      additionalProperties: false,
      required: ['app'],
      description: 'kiosk mode: the one app the device runs (Apple Single App Mode, Android lock task).',
      properties: {
        app: appRef,
        autoLock: { type: 'boolean', description: 'false: the screen stays on.' },
        androidLockTaskFeatures: {
          type: 'array',
          uniqueItems: true,
          items: { enum: ['SYSTEM_INFO', 'NOTIFICATIONS', 'HOME', 'OVERVIEW', 'GLOBAL_ACTIONS', 'KEYGUARD'] },
        },
      },
    }),
    sharedDevice: section('sharedClinicalTablet mode: sessions on a device many people use.', {
      sessionTimeoutMinutes: leaf('min', [AUTO_LOGOFF, UNIQUE_USER], {
        type: 'integer',
        minimum: 1,
        maximum: 720,
        description: 'Idle minutes before the user is logged out (Apple UserSessionTimeout; Android ends the session).',
      }),
      temporarySessionOnly: leaf('specific', [UNIQUE_USER], {
        type: 'boolean',
        description: 'Apple: guest sessions only, no personal sign-in. Leave false where unique user identification is needed.',
      }),
      clearDataOnLogout: leaf('or', [MEDIA_REUSE, ACCESS_CONTROL], { type: 'boolean', description: 'Clear app data when a session ends, so the next user never sees the previous one\'s data.' }),
      clearPackages: leaf('specific', [MEDIA_REUSE], {
        type: 'array',
        maxItems: 200,
        items: { type: 'string', pattern: ANDROID_PACKAGE },
        description: 'Android: packages cleared at the end of a session (default: every managed app).',
      }),
      shiftChanges: leaf('union', [AUTO_LOGOFF, UNIQUE_USER], {
        type: 'array',
        maxItems: 24,
        uniqueItems: true,
        items: { type: 'string', pattern: CLOCK_TIME },
        description:
          'Local times (HH:MM, 24-hour) of shift change: whoever is signed in is logged out, so the next shift signs in as themselves. Apple: Ward sends LogOutUser to each Shared iPad (policy.timeZone); Android: the agent ends the session at these times (device time). Every scope\'s times apply.',
      }),
    }),
    auditing: section('What the device tells Ward.', {
      deviceSecurityLog: leaf('or', [AUDIT], { type: 'boolean', description: 'Android: upload the device security log (DevicePolicyManager security logging) into Ward\'s audit log.' }),
      inventoryIntervalHours: leaf('min', [AUDIT, ACCOUNTABILITY], { type: 'integer', minimum: 1, maximum: 168, description: 'Hours between inventory and security reports.' }),
    }),
    compliance: section('How compliance is judged.', {
      maxOfflineHours: leaf('min', [ACCOUNTABILITY, AUDIT], { type: 'integer', minimum: 1, maximum: 8760, description: 'A device not seen for longer is non-compliant (lost, stolen or switched off).' }),
      graceHours: section(
        'Hours a failing rule may stay failing before the device is non-compliant (default: docs/policy.md).',
        Object.fromEntries(COMPLIANCE_RULES.map((r) => [r, leaf('min', [INCIDENT], hours(2160, `Grace for the ${r} rule.`))])),
      ),
      onBreach: leaf('specific', [INCIDENT], {
        enum: [...BREACH_ACTIONS],
        description:
          'What happens once a rule fails past its grace period. mark: record and alert. quarantine: also tell the NAC to quarantine the device. lock: also lock the device (Apple DeviceLock, Android LOCK), once per breach. Each includes the one before. A kiosk is never locked (a patient may be using it): lock acts as quarantine there.',
      }),
      onBreachByRule: leaf('specific', [INCIDENT], {
        type: 'object',
        additionalProperties: false,
        description: 'The breach action per rule, overriding onBreach for that rule (e.g. lock for a blocked app, quarantine for an old OS). The strongest action of the failing rules applies.',
        properties: Object.fromEntries(BREACH_RULES.map((r) => [r, { enum: [...BREACH_ACTIONS] }])),
      }),
    }),
  },
};

// ---- validation ----

export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  ajv.addKeyword({ keyword: 'x-merge', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-safeguards', schemaType: 'array' });
  return ajv;
}

const ajv = createAjv();
const validateSettings = ajv.compile<PolicySettings>(policySettingsSchema);

// Managed configuration reaches the device in clear (and the audit log, in diffs): no secrets.
const SECRET_NAME = /(passw|secret|token|private|passphrase|apikey|api_key|credential)/i;

function errorText(e: ErrorObject): string {
  const where = e.instancePath || '/';
  if (e.keyword === 'additionalProperties') return `${where}: unknown setting ${JSON.stringify(e.params.additionalProperty)}`;
  if (e.keyword === 'enum') return `${where}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
  return `${where}: ${e.message}`;
}

export class PolicyValidationError extends Error {
  override name = 'PolicyValidationError';
  constructor(readonly problems: string[]) {
    super(`invalid policy: ${problems.join('; ')}`);
  }
}

/** Every problem of a policy document, or [] when it is valid. */
export function policyProblems(settings: unknown): string[] {
  if (!validateSettings(settings)) {
    // anyOf failures repeat each branch's error; keep them readable and unique.
    return [...new Set((validateSettings.errors ?? []).filter((e) => e.keyword !== 'if').map(errorText))];
  }
  const s = settings as PolicySettings;
  const problems: string[] = [];
  if (s.mode === 'kiosk' && !s.kiosk) problems.push('/kiosk: mode kiosk needs kiosk.app, the one app the device runs');
  if (s.kiosk && s.mode !== undefined && s.mode !== 'kiosk') problems.push(`/kiosk: only for mode kiosk (this policy sets mode ${s.mode})`);
  if (s.sharedDevice && s.mode !== undefined && s.mode !== 'sharedClinicalTablet') problems.push(`/sharedDevice: only for mode sharedClinicalTablet (this policy sets mode ${s.mode})`);
  const lockRules = Object.entries(s.compliance?.onBreachByRule ?? {}).filter(([, a]) => a === 'lock').map(([r]) => r);
  if (s.mode === 'kiosk' && (s.compliance?.onBreach === 'lock' || lockRules.length)) {
    problems.push(`/compliance: lock is not for mode kiosk (a patient may be using it); use quarantine${lockRules.length ? ` (onBreachByRule: ${lockRules.join(', ')})` : ''}`);
  }
  const u = s.os?.updates;
  if (u?.type === 'windowed' && (u.windowStartMinute === undefined || u.windowEndMinute === undefined)) {
    problems.push('/os/updates: windowed needs windowStartMinute and windowEndMinute');
  }
  (s.managedAppConfig ?? []).forEach((m, i) => {
    for (const key of Object.keys(m.config)) {
      if (SECRET_NAME.test(key)) problems.push(`/managedAppConfig/${i}/config/${key}: managed configuration is readable on the device; never put a secret in it`);
    }
  });
  return problems;
}

/** Returns the settings typed, or throws PolicyValidationError listing every problem. */
export function validatePolicySettings(settings: unknown): PolicySettings {
  const problems = policyProblems(settings);
  if (problems.length) throw new PolicyValidationError(problems);
  return settings as PolicySettings;
}

// ---- walking the schema ----

export interface SettingSpec {
  /** Dotted path: `passcode.minLength`. */
  path: string;
  keys: string[];
  merge: MergeRule;
  safeguards: string[];
  description: string;
  schema: Schema;
}

function collectSpecs(schema: Schema, keys: string[], out: SettingSpec[]): void {
  const merge = schema['x-merge'] as MergeRule | undefined;
  if (merge) {
    const safeguards = (schema['x-safeguards'] as string[]) ?? [];
    for (const id of safeguards) if (!isSafeguardId(id)) throw new Error(`policy schema: ${keys.join('.')} names unknown safeguard ${id}`);
    out.push({ path: keys.join('.'), keys, merge, safeguards, description: String(schema.description ?? ''), schema });
    return;
  }
  const props = schema.properties as Record<string, Schema> | undefined;
  if (!props) throw new Error(`policy schema: ${keys.join('.') || '(root)'} has neither x-merge nor properties`);
  for (const [k, v] of Object.entries(props)) collectSpecs(v, [...keys, k], out);
}

/** Every setting of the model, in schema order (the unit of merging and of explain). */
export const SETTING_SPECS: readonly SettingSpec[] = (() => {
  const out: SettingSpec[] = [];
  collectSpecs(policySettingsSchema, [], out);
  return out;
})();

const SPEC_BY_PATH = new Map(SETTING_SPECS.map((s) => [s.path, s]));

export function settingSpec(path: string): SettingSpec | undefined {
  return SPEC_BY_PATH.get(path);
}

export function getAt(obj: unknown, keys: readonly string[]): unknown {
  let cur = obj;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export function setAt(obj: Record<string, unknown>, keys: readonly string[], value: unknown): void {
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof cur[k] !== 'object' || cur[k] === null) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}
