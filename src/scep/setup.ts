// Builds the ScepService from the appliance config (the daemon and wardctl both do).
import fs from 'node:fs';
import type { AuditLog } from '../audit';
import { ConfigError, resolveConfigPath, type WardConfig } from '../config';
import type { ScepConfig } from '../config/sections/scep';
import type { WardDb } from '../db';
import type { CertificateAuthority } from '../pki';
import { ScepService } from './service';

export function scepConfigOf(cfg: WardConfig): ScepConfig {
  return cfg.scep as ScepConfig;
}

// The static challenge, when scep.challenges.staticChallengeFile names one: a secret, so the file
// must not be readable by group or others, and it is only ever held as a hash.
function readStaticChallenge(cfg: WardConfig, file: string): string {
  const full = resolveConfigPath(cfg, file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(full);
  } catch {
    throw new ConfigError(`scep.challenges.staticChallengeFile: cannot read ${full}`);
  }
  if ((stat.mode & 0o077) !== 0) throw new ConfigError(`scep.challenges.staticChallengeFile: ${full} must not be readable by group or others (chmod 600)`);
  const challenge = fs.readFileSync(full, 'utf8').trim();
  if (challenge.length < 16) throw new ConfigError(`scep.challenges.staticChallengeFile: the challenge in ${full} must be at least 16 characters`);
  return challenge;
}

export function createScepService(cfg: WardConfig, db: WardDb, audit: AuditLog, ca: CertificateAuthority): ScepService {
  const config = scepConfigOf(cfg);
  const staticFile = config.challenges.staticChallengeFile;
  return new ScepService(db, audit, ca, config, staticFile ? readStaticChallenge(cfg, staticFile) : undefined);
}
