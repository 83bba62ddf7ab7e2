import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import YAML from 'yaml';
import { configSchema } from './schema';

export interface ListenerConfig {
  host: string;
  port: number;
  publicUrl?: string;
}

export interface WardConfig {
  /** Absolute path of the file this came from, and its folder (relative paths resolve against it). */
  file: string;
  configDir: string;
  hostname: string;
  organization: string;
  dataDir: string;
  database: { file: string; busyTimeoutMs: number };
  http: ListenerConfig;
  https: ListenerConfig;
  limits: { bodyBytes: number; requestTimeoutMs: number; headersTimeoutMs: number; keepAliveTimeoutMs: number; maxConnections: number; connectionsPerAddress: number };
  logging: { level: string };
  pki: {
    dir: string;
    passphrase: { file: string; credential?: string };
    rootKeyAlgorithm: 'rsa-3072' | 'ecdsa-p256';
    issuingKeyAlgorithm: 'rsa-3072' | 'rsa-2048' | 'ecdsa-p256';
    validityDays: Record<
      'root' | 'issuing' | 'device' | 'server' | 'adminClient' | 'auditSigner' | 'scepRa' | 'profileSigner',
      number
    >;
    crl: { validityHours: number; reissueBeforeHours: number };
  };
  /** Domain sections (scep, apple, android, audit, ...), each typed and documented by its own domain. */
  [section: string]: unknown;
}

/** A configuration problem: the daemon and wardctl print `message` alone and exit with status 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function describe(err: ErrorObject): string {
  const key = err.instancePath.replace(/^\//, '').replace(/\//g, '.');
  switch (err.keyword) {
    case 'additionalProperties': {
      const extra = (err.params as { additionalProperty: string }).additionalProperty;
      return `${key ? key + '.' : ''}${extra}: unknown key`;
    }
    case 'required': {
      const missing = (err.params as { missingProperty: string }).missingProperty;
      return `${key ? key + '.' : ''}${missing}: required key is missing`;
    }
    case 'enum': {
      const allowed = (err.params as { allowedValues: unknown[] }).allowedValues;
      return `${key || '(top level)'}: must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    default:
      return `${key || '(top level)'}: ${err.message ?? 'is invalid'}`;
  }
}

const ajv = new Ajv({ useDefaults: true, allErrors: false, strict: true, strictTuples: false });
const validate = ajv.compile(configSchema);

/** Validates a parsed document (defaults filled in) and resolves relative paths against configDir. */
export function configFromObject(doc: unknown, file: string): WardConfig {
  const configDir = path.dirname(path.resolve(file));
  const data = (doc ?? {}) as Record<string, unknown>;
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`config ${file}: (top level): must be a mapping of keys`);
  }
  if (!validate(data)) {
    throw new ConfigError(`config ${file}: ${describe(validate.errors![0])}`);
  }
  const cfg = data as unknown as WardConfig;
  const abs = (p: string) => path.resolve(configDir, p);
  cfg.file = path.resolve(file);
  cfg.configDir = configDir;
  cfg.dataDir = abs(cfg.dataDir);
  cfg.database.file = cfg.database.file ? abs(cfg.database.file) : path.join(cfg.dataDir, 'ward.db');
  cfg.pki.dir = abs(cfg.pki.dir);
  cfg.pki.passphrase.file = abs(cfg.pki.passphrase.file);
  const port = (l: ListenerConfig, scheme: string, standard: number) =>
    l.publicUrl ?? `${scheme}://${cfg.hostname}${l.port === standard ? '' : ':' + l.port}`;
  cfg.http.publicUrl = port(cfg.http, 'http', 80);
  cfg.https.publicUrl = port(cfg.https, 'https', 443);
  return cfg;
}

export function loadConfig(file: string): WardConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`config ${file}: cannot read file (${code === 'ENOENT' ? 'no such file' : code})`);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line;
    throw new ConfigError(`config ${file}: YAML error${line ? ` at line ${line}` : ''}: ${e.message.split('\n')[0]}`);
  }
  return configFromObject(doc.toJS(), file);
}

/** Where the config comes from: --config FILE (anywhere in argv), else WARD_CONFIG, else the default. */
export function configPathFromArgs(argv: string[], fallback = 'appliance.config.yaml'): string {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config' && argv[i + 1]) return argv[i + 1];
    if (argv[i].startsWith('--config=')) return argv[i].slice('--config='.length);
  }
  return process.env.WARD_CONFIG || fallback;
}

/** Re-resolves a domain section's relative path the same way the core paths are. */
export function resolveConfigPath(cfg: WardConfig, p: string): string {
  return path.resolve(cfg.configDir, p);
}
