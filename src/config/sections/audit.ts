// The audit section of appliance.config.yaml (src/audit, docs/audit-bundle.md).
export interface AuditConfig {
  treeHeadSchedule: string;
  alarmRetrySeconds: number;
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
  },
} as const;
