// The policy domain's SQL (migrations/0006_policy.sql): prepared better-sqlite3 statements, since
// the NAC look-up is a hot path. Callers wrap writes in db.write together with their audit event.
import type { Statement } from 'better-sqlite3';
import type { WardDb } from '../db';
import type { Scope } from './resolve';
import type { PolicySettings } from './schema';

export interface PolicyRow {
  name: string;
  description: string;
  currentVersion: number;
  template: string | null;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
}

export interface PolicyVersionRow {
  name: string;
  version: number;
  settings: PolicySettings;
  createdAt: string;
  createdBy: string;
}

export interface GroupRow {
  name: string;
  unit: string | null;
  ward: string | null;
  role: string | null;
  updatedAt: string;
  updatedBy: string;
}

export interface AssignmentRow {
  scope: Scope;
  target: string;
  policyName: string;
  assignedAt: string;
  assignedBy: string;
}

export type StoredStatus = 'unknown' | 'compliant' | 'grace' | 'noncompliant';

export interface DeviceRow {
  deviceId: string;
  platform: string;
  groupName: string | null;
  facts: string;
  factsVersion: string;
  reportedAt: string;
  status: StoredStatus;
  statusSince: string;
  evaluation: string | null;
  publishedPolicy: string | null;
}

export type StandingAction = 'quarantine' | 'lock';

export interface BreachActionRow {
  deviceId: string;
  action: StandingAction;
  takenAt: string;
  commandId: string | null;
  note: string | null;
}

type Row = Record<string, unknown>;

const policyOf = (r: Row): PolicyRow => ({
  name: r.name as string,
  description: r.description as string,
  currentVersion: r.current_version as number,
  template: (r.template as string | null) ?? null,
  createdAt: r.created_at as string,
  createdBy: r.created_by as string,
  updatedAt: r.updated_at as string,
});

const versionOf = (r: Row): PolicyVersionRow => ({
  name: r.policy_name as string,
  version: r.version as number,
  settings: JSON.parse(r.settings as string) as PolicySettings,
  createdAt: r.created_at as string,
  createdBy: r.created_by as string,
});

const groupOf = (r: Row): GroupRow => ({
  name: r.name as string,
  unit: (r.unit as string | null) ?? null,
  ward: (r.ward as string | null) ?? null,
  role: (r.role as string | null) ?? null,
  updatedAt: r.updated_at as string,
  updatedBy: r.updated_by as string,
});

const assignmentOf = (r: Row): AssignmentRow => ({
  scope: r.scope as Scope,
  target: r.target as string,
  policyName: r.policy_name as string,
  assignedAt: r.assigned_at as string,
  assignedBy: r.assigned_by as string,
});

const deviceOf = (r: Row): DeviceRow => ({
  deviceId: r.device_id as string,
  platform: r.platform as string,
  groupName: (r.group_name as string | null) ?? null,
  facts: r.facts as string,
  factsVersion: r.facts_version as string,
  reportedAt: r.reported_at as string,
  status: r.status as StoredStatus,
  statusSince: r.status_since as string,
  evaluation: (r.evaluation as string | null) ?? null,
  publishedPolicy: (r.published_policy as string | null) ?? null,
});

export class PolicyStore {
  private readonly s: Record<string, Statement>;

  constructor(readonly db: WardDb) {
    const p = (sql: string) => db.sqlite.prepare(sql);
    this.s = {
      policy: p('SELECT * FROM policies WHERE name = ?'),
      policies: p('SELECT * FROM policies ORDER BY name'),
      insertPolicy: p(`INSERT INTO policies (name, description, current_version, template, created_at, created_by, updated_at)
        VALUES (@name, @description, @currentVersion, @template, @createdAt, @createdBy, @updatedAt)`),
      updatePolicy: p('UPDATE policies SET description = @description, current_version = @currentVersion, updated_at = @updatedAt WHERE name = @name'),
      version: p('SELECT * FROM policy_versions WHERE policy_name = ? AND version = ?'),
      versions: p('SELECT * FROM policy_versions WHERE policy_name = CAST(? AS TEXT) ORDER BY version'),
      insertVersion: p(`INSERT INTO policy_versions (policy_name, version, settings, created_at, created_by)
        VALUES (@name, @version, @settings, @createdAt, @createdBy)`),
      group: p('SELECT * FROM policy_groups WHERE name = ?'),
      groups: p('SELECT * FROM policy_groups ORDER BY name'),
      upsertGroup: p(`INSERT INTO policy_groups (name, unit, ward, role, updated_at, updated_by) VALUES (@name, @unit, @ward, @role, @updatedAt, @updatedBy)
        ON CONFLICT (name) DO UPDATE SET unit = excluded.unit, ward = excluded.ward, role = excluded.role, updated_at = excluded.updated_at, updated_by = excluded.updated_by`),
      deleteGroup: p('DELETE FROM policy_groups WHERE name = ?'),
      assignment: p('SELECT * FROM policy_assignments WHERE scope = ? AND target = ?'),
      assignments: p('SELECT * FROM policy_assignments ORDER BY scope, target'),
      assignmentsOf: p('SELECT * FROM policy_assignments WHERE policy_name = CAST(? AS TEXT) ORDER BY scope, target'),
      upsertAssignment: p(`INSERT INTO policy_assignments (scope, target, policy_name, assigned_at, assigned_by) VALUES (@scope, @target, @policyName, @assignedAt, @assignedBy)
        ON CONFLICT (scope, target) DO UPDATE SET policy_name = excluded.policy_name, assigned_at = excluded.assigned_at, assigned_by = excluded.assigned_by`),
      deleteAssignment: p('DELETE FROM policy_assignments WHERE scope = ? AND target = ?'),
      generation: p('SELECT generation FROM policy_generation WHERE id = 1').pluck(),
      bump: p('UPDATE policy_generation SET generation = generation + 1 WHERE id = 1'),
      device: p('SELECT * FROM policy_devices WHERE device_id = ?'),
      devices: p('SELECT * FROM policy_devices ORDER BY device_id'),
      deviceIdsAfter: p('SELECT device_id FROM policy_devices WHERE device_id > CAST(? AS TEXT) ORDER BY device_id LIMIT CAST(? AS INTEGER)').pluck(),
      publishStatesAfter: p('SELECT device_id, platform, group_name, published_policy FROM policy_devices WHERE device_id > CAST(? AS TEXT) ORDER BY device_id LIMIT CAST(? AS INTEGER)'),
      insertDevice: p(`INSERT INTO policy_devices (device_id, platform, group_name, facts, facts_version, reported_at, status, status_since, evaluation, published_policy)
        VALUES (@deviceId, @platform, @groupName, @facts, @factsVersion, @reportedAt, @status, @statusSince, @evaluation, @publishedPolicy)`),
      updateFacts: p('UPDATE policy_devices SET platform = @platform, group_name = @groupName, facts = @facts, facts_version = @factsVersion, reported_at = @reportedAt WHERE device_id = @deviceId'),
      updateVerdict: p('UPDATE policy_devices SET status = @status, status_since = @statusSince, evaluation = @evaluation WHERE device_id = @deviceId'),
      markPublished: p('UPDATE policy_devices SET published_policy = ? WHERE device_id = ?'),
      keyDevice: p('SELECT device_id FROM policy_device_keys WHERE kind = ? AND value = ?').pluck(),
      keysOf: p('SELECT kind, value FROM policy_device_keys WHERE device_id = CAST(? AS TEXT) ORDER BY kind, value'),
      upsertKey: p(`INSERT INTO policy_device_keys (kind, value, device_id) VALUES (?, ?, ?)
        ON CONFLICT (kind, value) DO UPDATE SET device_id = excluded.device_id`),
      statusCounts: p('SELECT status, count(*) AS n FROM policy_devices GROUP BY status'),
      evaluations: p("SELECT evaluation FROM policy_devices WHERE status IN ('noncompliant', 'grace') AND evaluation IS NOT NULL").pluck(),
      breachActions: p('SELECT device_id AS deviceId, action, taken_at AS takenAt, command_id AS commandId, note FROM policy_breach_actions WHERE device_id = CAST(? AS TEXT) ORDER BY action'),
      insertBreachAction: p('INSERT INTO policy_breach_actions (device_id, action, taken_at, command_id, note) VALUES (@deviceId, @action, @takenAt, @commandId, @note)'),
      deleteBreachAction: p('DELETE FROM policy_breach_actions WHERE device_id = ? AND action = ?'),
      unlocked: p(`SELECT d.device_id, d.platform, d.evaluation FROM policy_devices d
        WHERE d.status = 'noncompliant' AND d.evaluation IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM policy_breach_actions b WHERE b.device_id = d.device_id AND b.action = 'lock')`),
    };
  }

  // ---- policies ----

  policy(name: string): PolicyRow | undefined {
    const r = this.s.policy.get(name) as Row | undefined;
    return r && policyOf(r);
  }

  policies(): PolicyRow[] {
    return (this.s.policies.all() as Row[]).map(policyOf);
  }

  insertPolicy(row: PolicyRow): void {
    this.s.insertPolicy.run(row);
  }

  updatePolicy(row: Pick<PolicyRow, 'name' | 'description' | 'currentVersion' | 'updatedAt'>): void {
    this.s.updatePolicy.run(row);
  }

  version(name: string, version: number): PolicyVersionRow | undefined {
    const r = this.s.version.get(name, version) as Row | undefined;
    return r && versionOf(r);
  }

  versions(name: string): PolicyVersionRow[] {
    return (this.s.versions.all(name) as Row[]).map(versionOf);
  }

  insertVersion(row: PolicyVersionRow): void {
    this.s.insertVersion.run({ ...row, settings: JSON.stringify(row.settings) });
  }

  // ---- groups and assignments ----

  group(name: string): GroupRow | undefined {
    const r = this.s.group.get(name) as Row | undefined;
    return r && groupOf(r);
  }

  groups(): GroupRow[] {
    return (this.s.groups.all() as Row[]).map(groupOf);
  }

  upsertGroup(row: GroupRow): void {
    this.s.upsertGroup.run(row);
  }

  deleteGroup(name: string): boolean {
    return this.s.deleteGroup.run(name).changes > 0;
  }

  assignment(scope: Scope, target: string): AssignmentRow | undefined {
    const r = this.s.assignment.get(scope, target) as Row | undefined;
    return r && assignmentOf(r);
  }

  assignments(): AssignmentRow[] {
    return (this.s.assignments.all() as Row[]).map(assignmentOf);
  }

  assignmentsOf(policyName: string): AssignmentRow[] {
    return (this.s.assignmentsOf.all(policyName) as Row[]).map(assignmentOf);
  }

  upsertAssignment(row: AssignmentRow): void {
    this.s.upsertAssignment.run(row);
  }

  deleteAssignment(scope: Scope, target: string): boolean {
    return this.s.deleteAssignment.run(scope, target).changes > 0;
  }

  generation(): number {
    return this.s.generation.get() as number;
  }

  bumpGeneration(): void {
    this.s.bump.run();
  }

  // ---- devices ----

  device(id: string): DeviceRow | undefined {
    const r = this.s.device.get(id) as Row | undefined;
    return r && deviceOf(r);
  }

  devices(): DeviceRow[] {
    return (this.s.devices.all() as Row[]).map(deviceOf);
  }

  /** What publishing needs of every device, without the facts. */
  publishStates(): Array<Pick<DeviceRow, 'deviceId' | 'platform' | 'groupName' | 'publishedPolicy'>> {
    return this.publishStatesAfter('', -1); // LIMIT -1: no limit (SQLite)
  }

  /** Publish states in device id order after `after` (keyset paging, so the publisher can yield between pages). */
  publishStatesAfter(after: string, limit: number): Array<Pick<DeviceRow, 'deviceId' | 'platform' | 'groupName' | 'publishedPolicy'>> {
    return (this.s.publishStatesAfter.all(after, limit) as Row[]).map((r) => ({
      deviceId: r.device_id as string,
      platform: r.platform as string,
      groupName: (r.group_name as string | null) ?? null,
      publishedPolicy: (r.published_policy as string | null) ?? null,
    }));
  }

  /** Device ids in order after `after` (keyset paging). */
  deviceIdsAfter(after: string, limit: number): string[] {
    return this.s.deviceIdsAfter.all(after, limit) as string[];
  }

  insertDevice(row: DeviceRow): void {
    this.s.insertDevice.run(row);
  }

  updateFacts(row: Pick<DeviceRow, 'deviceId' | 'platform' | 'groupName' | 'facts' | 'factsVersion' | 'reportedAt'>): void {
    this.s.updateFacts.run(row);
  }

  updateVerdict(row: Pick<DeviceRow, 'deviceId' | 'status' | 'statusSince' | 'evaluation'>): void {
    this.s.updateVerdict.run(row);
  }

  markPublished(deviceId: string, hash: string): void {
    this.s.markPublished.run(hash, deviceId);
  }

  deviceByKey(kind: 'certificate' | 'mac', value: string): string | undefined {
    return this.s.keyDevice.get(kind, value) as string | undefined;
  }

  keysOf(deviceId: string): Array<{ kind: 'certificate' | 'mac'; value: string }> {
    return this.s.keysOf.all(deviceId) as Array<{ kind: 'certificate' | 'mac'; value: string }>;
  }

  upsertKey(kind: 'certificate' | 'mac', value: string, deviceId: string): void {
    this.s.upsertKey.run(kind, value, deviceId);
  }

  statusCounts(): Record<StoredStatus, number> {
    const out: Record<StoredStatus, number> = { unknown: 0, compliant: 0, grace: 0, noncompliant: 0 };
    for (const r of this.s.statusCounts.all() as Array<{ status: StoredStatus; n: number }>) out[r.status] = r.n;
    return out;
  }

  // ---- breach actions in force ----

  breachActions(deviceId: string): BreachActionRow[] {
    return this.s.breachActions.all(deviceId) as BreachActionRow[];
  }

  insertBreachAction(row: BreachActionRow): void {
    this.s.insertBreachAction.run(row);
  }

  deleteBreachAction(deviceId: string, action: StandingAction): boolean {
    return this.s.deleteBreachAction.run(deviceId, action).changes > 0;
  }

  /** Non-compliant devices not locked for this breach yet, with their last evaluation (JSON). */
  notLocked(): Array<{ deviceId: string; platform: string; evaluation: string }> {
    return (this.s.unlocked.all() as Row[]).map((r) => ({ deviceId: r.device_id as string, platform: r.platform as string, evaluation: r.evaluation as string }));
  }

  /** Evaluations (JSON) of devices that are failing something: for the commonest reasons. */
  failingEvaluations(): string[] {
    return this.s.evaluations.all() as string[];
  }
}
