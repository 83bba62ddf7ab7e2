// Config section `apple`: Apple MDM (enrollment profiles, check-in, command queue, APNs push).
// The schema is the documentation (`wardctl config schema`).

export const appleSection = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Apple MDM: enrollment profiles, check-in and command endpoints, APNs wake-up pushes.',
  properties: {
    enabled: { type: 'boolean', default: true, description: 'Serve /mdm/* on the HTTPS listener.' },
    profileIdentifier: {
      type: 'string',
      pattern: '^[A-Za-z0-9.-]+$',
      default: 'org.ward.mdm.enroll',
      description: 'PayloadIdentifier of the enrollment profile (payloads get .root, .scep, .mdm appended). Keep it stable: a device replaces a profile with the same identifier.',
    },
    escrowKeyFile: {
      type: 'string',
      default: '',
      description:
        'AES-256 key (32 random bytes, base64) that encrypts secrets devices escrow with Ward (UnlockToken, Bootstrap Token) and the APNs push key in the database. Created 0600 on first use. Empty: <pki.dir>/apple-escrow.key. Back it up with the CA passphrase.',
    },
    enrollment: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        tokenTtlHours: { type: 'integer', minimum: 1, default: 168, description: 'Default lifetime of an enrollment token (wardctl apple token create).' },
        challengeTtlMinutes: { type: 'integer', minimum: 1, default: 60, description: 'Lifetime of the one-time SCEP challenge placed in each profile.' },
        defaultGroup: { type: 'string', minLength: 1, default: 'default', description: 'Group (policy) of profiles made without an explicit one.' },
        subjectOrganizationalUnit: { type: 'string', default: 'Apple devices', description: 'OU of the device identity subject the SCEP payload requests.' },
        caFingerprint: {
          enum: ['root-sha1', 'none'],
          default: 'root-sha1',
          description: "CAFingerprint of the SCEP payload: SHA-1 of Ward's root, which the device compares with the CA certificates GetCACert returns before it trusts the plain-HTTP SCEP exchange ('none' leaves the check out).",
        },
      },
    },
    mdm: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        signMessage: { type: 'boolean', default: true, description: 'Ask devices to sign every request (Mdm-Signature header) besides or instead of TLS client authentication.' },
        accessRights: { type: 'integer', minimum: 1, maximum: 8191, default: 8191, description: 'AccessRights bitmask of the MDM payload (8191: everything).' },
        checkinBodyBytes: { type: 'integer', minimum: 4096, default: 262144, description: 'Largest check-in body accepted (413 beyond).' },
        reportBodyBytes: { type: 'integer', minimum: 65536, default: 4194304, description: 'Largest command report body accepted (InstalledApplicationList results can be large).' },
        initialCommands: {
          type: 'array',
          items: { enum: ['DeviceInformation', 'SecurityInfo', 'ProfileList', 'InstalledApplicationList'] },
          default: ['DeviceInformation', 'SecurityInfo'],
          description: 'Commands queued for every newly enrolled device (inventory and compliance state).',
        },
        maxNotNowRetries: { type: 'integer', minimum: 1, default: 100, description: 'A command answered NotNow this many times is given up (status expired).' },
      },
    },
    apns: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Send APNs wake-up pushes. When false, queued commands wait for the next check-in.' },
        url: { type: 'string', pattern: '^https://', default: 'https://api.push.apple.com', description: 'APNs HTTP/2 endpoint.' },
        proxy: { type: 'string', pattern: '^https?://', description: 'HTTP CONNECT proxy for the push connection, e.g. http://proxy.hospital.local:3128.' },
        caFile: { type: 'string', description: 'Extra CA certificates (PEM) trusted for the APNs endpoint (a TLS-inspecting proxy, or tests).' },
        maxAttempts: { type: 'integer', minimum: 1, maximum: 20, default: 5, description: 'Attempts per push (retries on 429/5xx and network errors).' },
        backoffMs: { type: 'integer', minimum: 1, default: 1000, description: 'First retry delay; doubles per attempt.' },
        maxBackoffMs: { type: 'integer', minimum: 1, default: 60000, description: 'Longest retry delay.' },
      },
    },
  },
} as const;

export interface AppleConfig {
  enabled: boolean;
  profileIdentifier: string;
  escrowKeyFile: string;
  enrollment: {
    tokenTtlHours: number;
    challengeTtlMinutes: number;
    defaultGroup: string;
    subjectOrganizationalUnit: string;
    caFingerprint: 'root-sha1' | 'none';
  };
  mdm: {
    signMessage: boolean;
    accessRights: number;
    checkinBodyBytes: number;
    reportBodyBytes: number;
    initialCommands: Array<'DeviceInformation' | 'SecurityInfo' | 'ProfileList' | 'InstalledApplicationList'>;
    maxNotNowRetries: number;
  };
  apns: { enabled: boolean; url: string; proxy?: string; caFile?: string; maxAttempts: number; backoffMs: number; maxBackoffMs: number };
}
