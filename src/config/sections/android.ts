// The `android:` section of appliance.config.yaml: device-owner provisioning (QR code contents, the
// hosted DPC APK, an optional PAC file) and the agent API (long poll, limits, default policy).

export interface AndroidConfig {
  /** Absent: <dataDir>/android. */
  storeDir?: string;
  longPollSeconds: number;
  maxHeldPolls: number;
  crossProcessWakeMs: number;
  securityLogBatchMax: number;
  provisioning: {
    signatureChecksum: boolean;
    packageChecksum: boolean;
    locale?: string;
    timeZone?: string;
    leaveAllSystemAppsEnabled: boolean;
    wifi?: { ssid: string; securityType: 'NONE' | 'WPA' | 'WEP' | 'EAP'; password?: string; hidden: boolean };
    pac: { enabled: boolean; script?: string; file?: string };
  };
  tokens: { defaultExpiryHours: number; defaultPolicyGroup: string; defaultMode: 'fully_managed' | 'work_profile' };
  defaultPolicy: Record<string, unknown>;
}

export const androidSection = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Android device-owner provisioning and the agent API (docs/android-agent-protocol.md).',
  properties: {
    storeDir: { type: 'string', minLength: 1, description: 'Where imported APKs (the DPC agent, clinical apps) are kept, as <sha256>.apk. Relative to this file; default <dataDir>/android. Created 0700.' },
    longPollSeconds: { type: 'integer', minimum: 1, maximum: 300, default: 30, description: 'Longest time a command poll is held open waiting for a command (agents may ask for less).' },
    maxHeldPolls: { type: 'integer', minimum: 1, maximum: 1000000, default: 10000, description: 'Most command polls held at once; past it, polls are answered at once with retry_later. Bounds memory: about 110 KB of RSS per held poll, TLS connection included (bench/android.ts).' },
    crossProcessWakeMs: { type: 'integer', minimum: 100, maximum: 60000, default: 1000, description: 'How often the daemon looks for commands queued by another process (wardctl) to wake the held poll.' },
    securityLogBatchMax: { type: 'integer', minimum: 1, maximum: 500, default: 500, description: 'Most security-log events accepted in one upload.' },
    provisioning: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'What goes into the provisioning QR code.',
      properties: {
        signatureChecksum: { type: 'boolean', default: true, description: 'Pin the DPC by the SHA-256 of its signing certificate (survives APK updates).' },
        packageChecksum: { type: 'boolean', default: false, description: 'Also pin the exact APK file (the QR code must be re-made after each DPC import).' },
        locale: { type: 'string', pattern: '^[a-z]{2,3}(_[A-Z]{2})?$', description: 'Device locale, e.g. en_US.' },
        timeZone: { type: 'string', minLength: 1, description: 'IANA time zone, e.g. America/Chicago.' },
        leaveAllSystemAppsEnabled: { type: 'boolean', default: false, description: 'Keep every preinstalled system app enabled (false: Android disables the non-essential ones).' },
        wifi: {
          type: 'object',
          additionalProperties: false,
          required: ['ssid'],
          description: 'The Wi-Fi network the device joins during setup to download the DPC from Ward.',
          properties: {
            ssid: { type: 'string', minLength: 1, maxLength: 32 },
            securityType: { enum: ['NONE', 'WPA', 'WEP', 'EAP'], default: 'WPA' },
            password: { type: 'string', minLength: 1, description: 'Pre-shared key. It is printed in the QR code: use a provisioning-only network.' },
            hidden: { type: 'boolean', default: false },
          },
        },
        pac: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'A PAC file served at /android/proxy.pac and named in the QR code (Wi-Fi only): devices with Google services are known to stall after the scan on a network without internet.',
          properties: {
            enabled: { type: 'boolean', default: false },
            script: { type: 'string', minLength: 1, description: 'PAC script text. Default: every URL DIRECT.' },
            file: { type: 'string', minLength: 1, description: 'File holding the PAC script (relative to this file); wins over script.' },
          },
        },
      },
    },
    tokens: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        defaultExpiryHours: { type: 'integer', minimum: 1, maximum: 8760, default: 168, description: 'Lifetime of a new enrollment token when none is given.' },
        defaultPolicyGroup: { type: 'string', minLength: 1, default: 'default', description: 'Policy group of a new enrollment token when none is given.' },
        defaultMode: { enum: ['fully_managed', 'work_profile'], default: 'fully_managed', description: 'fully_managed: corporate device owner; work_profile: BYOD profile owner.' },
      },
    },
    defaultPolicy: {
      type: 'object',
      default: {},
      description: 'Policy document sent to agents until the policy module assigns one by group.',
    },
  },
} as const;
