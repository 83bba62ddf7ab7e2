// Config section `scep`: the SCEP server (RFC 8894) at /scep on the plain-HTTP listener.
// The schema is the documentation (`wardctl config schema`).

const duration = { type: 'string', pattern: '^[1-9][0-9]*[smhd]$' } as const;

export const scepSection = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'SCEP server (RFC 8894) at /scep on the plain-HTTP listener: device identity certificates for iPhones, iPads, Android agents and network gear.',
  properties: {
    enabled: { type: 'boolean', default: true, description: 'Serve /scep.' },
    challenges: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Enrollment challenge passwords (the PKCS#9 challengePassword of a PKCSReq).',
      properties: {
        defaultTtl: { ...duration, default: '1h', description: 'Lifetime of a one-time challenge when none is asked for (`wardctl scep challenge --ttl`): a number and s, m, h or d.' },
        maxTtl: { ...duration, default: '30d', description: 'Longest lifetime a one-time challenge may be given.' },
        staticChallengeFile: {
          type: 'string',
          default: '',
          description:
            'Empty (the default): only one-time challenges enroll. Otherwise a file (relative to this config, 0600) holding a static challenge that enrolls any number of devices besides the one-time ones; for network gear that cannot be given a fresh one. At least 16 characters.',
        },
      },
    },
    algorithms: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        strongOnly: {
          type: 'boolean',
          default: false,
          description:
            'Refuse requests enveloped with single DES or 3DES or signed with SHA-1 (badAlg), and stop advertising SHA-1 and DES3 in GetCACaps. Off by default: stock clients (scepclient 2.1.0) send DES-CBC with SHA-1, and a request envelope only protects a one-time challenge and a CSR. Every enrollment records its cipher and digest either way.',
        },
        legacyReplyCipher: {
          type: 'boolean',
          default: false,
          description: 'Envelope each CertRep with the cipher of its request (3DES, DES) instead of AES-256-CBC, for old clients that cannot read AES.',
        },
      },
    },
    approval: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mode: {
          enum: ['automatic', 'manual'],
          default: 'automatic',
          description:
            'manual: a PKCSReq with a valid challenge is answered PENDING and waits for `wardctl scep approve ID`; the client polls with GetCertInitial (or re-sends). RenewalReq signed by a valid Ward certificate is never held.',
        },
        pendingTtlHours: { type: 'integer', minimum: 1, default: 168, description: 'A pending request not approved within this time is refused when the client next polls.' },
      },
    },
    renewal: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        windowDays: {
          type: 'integer',
          minimum: 0,
          default: 14,
          description: 'A RenewalReq is accepted only within this many days before the signing certificate expires (earlier: badTime). 0: any time.',
        },
      },
    },
    duplicateSubject: {
      enum: ['allow', 'refuse', 'supersede'],
      default: 'allow',
      description:
        'A PKCSReq for a subject that already holds a live device certificate: allow (issue another), refuse (badRequest), or supersede (issue, then revoke the earlier ones with reason superseded).',
    },
    maxMessageBytes: { type: 'integer', minimum: 4096, maximum: 1048576, default: 65536, description: 'Largest PKIOperation message accepted (POST body or decoded GET message); 413 beyond.' },
  },
} as const;

export interface ScepConfig {
  enabled: boolean;
  challenges: { defaultTtl: string; maxTtl: string; staticChallengeFile: string };
  algorithms: { strongOnly: boolean; legacyReplyCipher: boolean };
  approval: { mode: 'automatic' | 'manual'; pendingTtlHours: number };
  renewal: { windowDays: number };
  duplicateSubject: 'allow' | 'refuse' | 'supersede';
  maxMessageBytes: number;
}
