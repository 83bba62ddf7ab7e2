// Config section `admin`: accounts, sessions, API tokens and the two-person rule of the admin API and
// console (/api/v1 and /console on the HTTPS listener). The schema is the documentation.

export const adminSection = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'The admin API (/api/v1) and web console (/console) on the HTTPS listener: who may sign in, for how long, and what needs a second person.',
  properties: {
    password: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Local account passwords, hashed with scrypt (RFC 7914), a fresh 16-byte salt per hash; the parameters are kept in each hash, so raising the cost later still verifies old hashes (they are re-hashed at the next sign-in).',
      properties: {
        minLength: { type: 'integer', minimum: 8, maximum: 128, default: 12, description: 'Shortest password accepted (NIST SP 800-63B: length, not composition rules).' },
        scryptCost: {
          type: 'integer',
          minimum: 10,
          maximum: 20,
          default: 17,
          description: 'log2 of the scrypt CPU/memory cost N (r=8, p=1). 17 is the OWASP recommendation (128 MiB, about 0.3 s a sign-in on two cores); lower only for tests.',
        },
      },
    },
    lockout: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Account lockout after repeated failed sign-ins (wrong password or wrong/reused code).',
      properties: {
        maxFailures: { type: 'integer', minimum: 1, maximum: 100, default: 5, description: 'Consecutive failures that lock the account.' },
        minutes: { type: 'integer', minimum: 1, maximum: 10080, default: 15, description: 'How long a locked account stays locked (`wardctl user unlock` ends it early).' },
      },
    },
    session: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Console sessions: an HttpOnly, Secure, SameSite=Strict cookie; state changes also need the CSRF token of the session.',
      properties: {
        idleMinutes: { type: 'integer', minimum: 1, maximum: 480, default: 15, description: 'Automatic logoff (45 CFR 164.312(a)(2)(iii)) after this long without a request.' },
        maxHours: { type: 'integer', minimum: 1, maximum: 72, default: 12, description: 'A session ends this long after sign-in however active it is (one shift).' },
      },
    },
    tokens: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'API tokens for scripts (`Authorization: Bearer`): shown once, stored as SHA-256, with a role and an expiry.',
      properties: {
        defaultDays: { type: 'integer', minimum: 1, maximum: 3650, default: 90, description: 'Lifetime of a token when none is asked for.' },
        maxDays: { type: 'integer', minimum: 1, maximum: 3650, default: 365, description: 'Longest lifetime a token may be given.' },
      },
    },
    wipe: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Remote wipe. A wipe always needs a written reason.',
      properties: {
        requireSecondAdmin: {
          type: 'boolean',
          default: false,
          description: 'Two-person rule: a full wipe is only queued once a second admin (a person signed in, not the requester, not an API token) approves it.',
        },
        approvalMinutes: { type: 'integer', minimum: 1, maximum: 10080, default: 60, description: 'A wipe request not approved within this time expires.' },
      },
    },
    totp: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The second factor: TOTP (RFC 6238: HMAC-SHA-1, 30-second steps, 6 digits, one step of clock drift either way, a used step never accepted twice).',
      properties: {
        issuer: { type: 'string', minLength: 1, maxLength: 64, description: 'Issuer shown by authenticator apps. Default: "Ward <hostname>".' },
        keyFile: {
          type: 'string',
          description: 'File (0600, 32 random bytes, created on first use) whose key encrypts the TOTP secrets in the database (AES-256-GCM): a copy of the database alone does not yield them. Back it up with the CA material. Default: <pki.dir>/admin-totp.key.',
        },
      },
    },
    nacCacheSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 3600,
      default: 30,
      description: 'Cache-Control max-age of the NAC compliance answer (GET /api/v1/compliance/{key}); 0 disables caching.',
    },
    auditUploadBytes: {
      type: 'integer',
      minimum: 1048576,
      default: 268435456,
      description: 'Largest audit bundle accepted by POST /api/v1/audit/verify.',
    },
  },
} as const;

export interface AdminConfig {
  password: { minLength: number; scryptCost: number };
  lockout: { maxFailures: number; minutes: number };
  session: { idleMinutes: number; maxHours: number };
  tokens: { defaultDays: number; maxDays: number };
  wipe: { requireSecondAdmin: boolean; approvalMinutes: number };
  totp: { issuer?: string; keyFile?: string };
  nacCacheSeconds: number;
  auditUploadBytes: number;
}
