// Reads the audit section of the config (schema: src/config/sections/audit.ts).
import cron from 'node-cron';
import { ConfigError, type WardConfig } from '../config';
import type { AuditConfig } from '../config/sections/audit';

export type { AuditConfig } from '../config/sections/audit';

export function auditConfigOf(cfg: WardConfig): AuditConfig {
  const section = (cfg.audit ?? {}) as Partial<AuditConfig>;
  const out: AuditConfig = {
    treeHeadSchedule: section.treeHeadSchedule ?? '0 * * * *',
    alarmRetrySeconds: section.alarmRetrySeconds ?? 30,
    retentionYears: section.retentionYears ?? 6,
    retentionSchedule: section.retentionSchedule ?? '29 2 * * *',
  };
  for (const key of ['treeHeadSchedule', 'retentionSchedule'] as const) {
    if (!cron.validate(out[key])) throw new ConfigError(`${cfg.file}: audit.${key}: ${JSON.stringify(out[key])} is not a cron expression`);
  }
  return out;
}
