// The audit section of appliance.config.yaml (src/audit, docs/audit-bundle.md).
export interface AuditConfig {
  treeHeadSchedule: string;
  alarmRetrySeconds: number;
  retentionYears: number;
  retentionSchedule: string;
}

export const auditSection = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Tamper-evident audit log: signed Merkle tree heads over every event (docs/audit-bundle.md).',
  properties: {
    treeHeadSchedule: {
      type: 'string',
      default: '0 * * * *',
      description:
        'When to sign a tree head (node-cron expression, local time). Each run first re-reads every stored event and checks it against the previous signed head; a mismatch raises the alarm (error log, failing /healthz, audit.tree.inconsistent event).',
    },
    alarmRetrySeconds: {
      type: 'integer',
      minimum: 1,
      default: 30,
      description: 'While the store cannot be written, how often to retry recording the audit.tree.inconsistent event.',
    },
    retentionYears: {
      type: 'integer',
      minimum: 1,
      maximum: 100,
      default: 6,
      description:
        'Keep every event at least this many years (HIPAA 45 CFR 164.316(b)(2)(i): six). Older event bodies are removed only once a verified export holds them (wardctl audit export, or wardctl audit verify FILE --record); their leaf hashes stay, so the tree and later bundles still verify. Nothing is pruned otherwise.',
    },
    retentionSchedule: {
      type: 'string',
      default: '29 2 * * *',
      description: 'When the audit-retention job runs (node-cron expression, local time): it checks the store, then prunes what is due and exported.',
    },
  },
} as const;
