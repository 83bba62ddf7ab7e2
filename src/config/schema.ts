// The JSON Schema of appliance.config.yaml. It is the configuration's documentation: every key has a
// description and, where one makes sense, a default (ajv fills defaults in at load).
import { sectionSchemas } from './sections';

const listener = (port: number, what: string) => ({
  type: 'object',
  additionalProperties: false,
  description: `The ${what} listener.`,
  properties: {
    host: { type: 'string', default: '127.0.0.1', description: 'Address to bind (0.0.0.0 for every interface).' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: port, description: 'TCP port (0 picks a free one; tests use it).' },
    publicUrl: {
      type: 'string',
      pattern: '^https?://[^/]+$',
      description: 'Base URL devices use to reach this listener (no trailing slash). Default: scheme://hostname:port.',
    },
  },
  default: {},
});

const integer = (minimum: number, dflt: number, description: string) => ({ type: 'integer', minimum, default: dflt, description }) as const;

export const coreSchema = {
  hostname: {
    type: 'string',
    minLength: 1,
    default: 'localhost',
    description: 'DNS name devices use to reach Ward; goes into the HTTPS server certificate (SAN) and every URL Ward hands out.',
  },
  organization: { type: 'string', minLength: 1, default: 'Ward Hospital', description: 'Organization name in certificate subjects and profiles.' },
  dataDir: { type: 'string', default: './var', description: 'State directory (database). Relative to this file. Created 0700.' },
  database: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      file: { type: 'string', description: 'SQLite database file. Default: <dataDir>/ward.db.' },
      busyTimeoutMs: {
        type: 'integer', minimum: 0, default: 5000,
        description: 'How long a writer waits for a lock another process holds (a long wardctl write, a sqlite3 shell) before answering 503 with Retry-After. The wait holds up every request, so after one gives up, the next writers do not wait until one gets through.',
      },
    },
  },
  http: listener(8080, 'plain-HTTP (SCEP, /ca.pem, /crl, the Android DPC APK, /healthz)'),
  https: listener(8443, 'HTTPS (Apple MDM, Android agent API, admin API and console, /healthz)'),
  limits: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      bodyBytes: integer(1024, 1048576, 'Largest request body accepted (413 beyond).'),
      requestTimeoutMs: integer(1000, 30000, 'Time allowed to send a whole request, headers and body (slow uploads are cut off with 408). Not the time Ward takes to answer: held Android command polls are not affected.'),
      headersTimeoutMs: integer(1000, 10000, 'Time allowed for the TLS handshake and for the request headers, counted from the connection (slowloris, idle sockets: 408, then closed).'),
      keepAliveTimeoutMs: integer(1000, 5000, 'An idle keep-alive connection is closed after this long without a new request.'),
      maxConnections: integer(1, 20000, "Most open connections per listener; beyond it new connections are dropped. Held Android polls count (one per device). Keep both listeners together under the unit's LimitNOFILE (65536)."),
      connectionsPerAddress: integer(0, 1000, 'Most open connections from one client address, both listeners together (0: no cap); one host cannot take every connection. Raise it above the number of devices that reach Ward through one NAT or proxy address.'),
    },
  },
  logging: {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', description: 'pino log level.' },
    },
  },
  pki: {
    type: 'object',
    additionalProperties: false,
    default: {},
    description: "Ward's certificate authority.",
    properties: {
      dir: { type: 'string', default: './certs', description: 'CA material (certificates, encrypted PKCS#8 keys). Relative to this file. Created 0700, files 0600.' },
      passphrase: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Where the passphrase that encrypts every private key at rest comes from. A systemd credential wins over a file.',
        properties: {
          file: { type: 'string', default: './certs/ca-passphrase', description: 'File holding the passphrase (0600). On the very first start, if it does not exist, Ward creates it with 32 random bytes.' },
          credential: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', description: 'Name of a systemd credential (LoadCredential=) read from $CREDENTIALS_DIRECTORY.' },
        },
      },
      rootKeyAlgorithm: { enum: ['rsa-3072', 'ecdsa-p256'], default: 'rsa-3072', description: 'Key of the root CA.' },
      issuingKeyAlgorithm: { enum: ['rsa-3072', 'rsa-2048', 'ecdsa-p256'], default: 'rsa-3072', description: 'Key of the issuing CA that signs device, server and service certificates.' },
      validityDays: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Certificate lifetimes, per certificate profile.',
        properties: {
          root: { type: 'integer', minimum: 1, default: 7300 },
          issuing: { type: 'integer', minimum: 1, default: 3650 },
          device: { type: 'integer', minimum: 1, default: 365 },
          server: { type: 'integer', minimum: 1, default: 397 },
          adminClient: { type: 'integer', minimum: 1, default: 365 },
          auditSigner: { type: 'integer', minimum: 1, default: 1095 },
          scepRa: { type: 'integer', minimum: 1, default: 730 },
          profileSigner: { type: 'integer', minimum: 1, default: 730 },
        },
      },
      crl: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          validityHours: { type: 'integer', minimum: 1, default: 168, description: 'CRL nextUpdate - thisUpdate.' },
          reissueBeforeHours: { type: 'integer', minimum: 0, default: 48, description: 'Re-issue the CRL this long before nextUpdate.' },
        },
      },
    },
  },
} as const;

export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Ward appliance configuration (appliance.config.yaml)',
  type: 'object',
  additionalProperties: false,
  properties: { ...coreSchema, ...sectionSchemas },
};
