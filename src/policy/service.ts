// The policy catalogue: versioned policies, enrollment groups, assignments by scope, the effective
// policy of a device, and publishing changes to the platforms. Every change runs in one
// transaction with its audit event (details carry an RFC 6902 diff), and bumps the generation the
// daemon watches, so a change made by wardctl in another process reaches devices too.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import { SYSTEM_ACTOR, type AuditContext, type AuditLog } from '../audit';
import type { WardDb } from '../db';
import { compileAndroid, type AndroidCompiled } from './android';
import { compileApple, type AppleCompileContext, type AppleCompiled } from './apple';
import type { Platform } from './compliance';
import { explainSettings } from './explain';
import { diffJson, type JsonPatchOp } from './patch';
import { SCOPES, resolvePolicy, type EffectivePolicy, type PolicyLayer, type Scope } from './resolve';
import { PolicyValidationError, policyProblems, type PolicySettings } from './schema';
import { PolicyStore, type AssignmentRow, type GroupRow, type PolicyRow } from './store';
import { TEMPLATES, template as findTemplate } from './templates';

export type PolicyErrorCode = 'not-found' | 'bad-request' | 'conflict';

export class PolicyError extends Error {
  override name = 'PolicyError';
  constructor(
    readonly code: PolicyErrorCode,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

export const POLICY_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,127}$/;

export interface PolicyView {
  name: string;
  description: string;
  version: number;
  mode: string | null;
  template: string | null;
  createdAt: string;
  updatedAt: string;
  assignments: Array<{ scope: Scope; target: string }>;
}

export interface PolicyDetail extends PolicyView {
  /** The version shown (the current one unless asked). */
  shownVersion: number;
  settings: PolicySettings;
}

export interface PolicyHistoryEntry {
  version: number;
  createdAt: string;
  createdBy: string;
  /** RFC 6902 patch from the previous version (from {} for version 1). */
  changes: JsonPatchOp[];
}

/** One effective policy, compiled lazily for each platform. */
export interface CompiledPolicy {
  hash: string;
  effective: EffectivePolicy;
  /** workProfile: the device is enrolled as an Android work profile whatever the policy's mode. */
  android(opts?: { workProfile?: boolean }): AndroidCompiled;
  apple(ctx: AppleCompileContext): AppleCompiled;
}

/**
 * How a policy change reaches devices; each platform implements it (Apple: InstallProfile queued
 * and an APNs push; Android: the ETag changes and held polls are woken). Called after the change
 * committed, once per distinct new effective policy. Returning marks the devices published;
 * throwing leaves them for the next attempt.
 */
export interface PolicyPublisher {
  readonly platforms: readonly Platform[];
  /** May name devices it could not reach yet ({ failed }): only those are tried again. */
  onPolicyChanged(deviceIds: string[], compiled: CompiledPolicy): PublishReply | Promise<PublishReply>;
}

export type PublishReply = void | { failed: string[] };

export interface PolicyTarget {
  deviceId?: string;
  /** The enrollment group; looked up from the device's last report when absent. */
  group?: string;
}

export interface PolicyDeps {
  db: WardDb;
  audit: AuditLog;
  log?: Logger;
  clock?: () => Date;
}

function compiledOf(effective: EffectivePolicy): CompiledPolicy {
  const android = new Map<boolean, AndroidCompiled>();
  return {
    hash: effective.hash,
    effective,
    android(opts = {}) {
      const workProfile = opts.workProfile ?? effective.settings.mode === 'byod';
      let c = android.get(workProfile);
      if (!c) {
        const forced = workProfile && effective.settings.mode !== 'byod' ? { ...effective, settings: { ...effective.settings, mode: 'byod' as const } } : effective;
        c = compileAndroid(forced);
        if (forced !== effective) c.notApplied.unshift({ setting: 'mode', reason: `the device is enrolled as a work profile, so the ${effective.settings.mode ?? 'unset'} mode compiles as byod` });
        android.set(workProfile, c);
      }
      return c;
    },
    apple: (ctx) => compileApple(effective, ctx),
  };
}

export class PolicyService {
  readonly store: PolicyStore;
  private readonly publishers: PolicyPublisher[] = [];
  private cacheGeneration = -1;
  private readonly effectiveCache = new Map<string, EffectivePolicy>();
  private deviceTargets = new Set<string>();
  private publishing?: Promise<PublishOutcome>;

  constructor(private readonly deps: PolicyDeps) {
    this.store = new PolicyStore(deps.db);
  }

  private now(): string {
    return (this.deps.clock?.() ?? new Date()).toISOString();
  }

  // ---------------------------------------------------------------- policies

  templates() {
    return TEMPLATES;
  }

  private view(p: PolicyRow, settings: PolicySettings): PolicyView {
    return {
      name: p.name,
      description: p.description,
      version: p.currentVersion,
      mode: settings.mode ?? null,
      template: p.template,
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
      assignments: this.store.assignmentsOf(p.name).map((a) => ({ scope: a.scope, target: a.target })),
    };
  }

  policies(): PolicyView[] {
    return this.store.policies().map((p) => this.view(p, this.store.version(p.name, p.currentVersion)!.settings));
  }

  policy(name: string, version?: number): PolicyDetail | undefined {
    const p = this.store.policy(name);
    if (!p) return undefined;
    const v = this.store.version(name, version ?? p.currentVersion);
    if (!v) return undefined;
    const current = version === undefined || version === p.currentVersion ? v : this.store.version(name, p.currentVersion)!;
    return { ...this.view(p, current.settings), shownVersion: v.version, settings: v.settings };
  }

  history(name: string): PolicyHistoryEntry[] {
    if (!this.store.policy(name)) throw new PolicyError('not-found', `no policy ${name}`);
    let prev: PolicySettings = {};
    return this.store.versions(name).map((v) => {
      const entry = { version: v.version, createdAt: v.createdAt, createdBy: `${v.createdBy}`, changes: diffJson(prev, v.settings) };
      prev = v.settings;
      return entry;
    });
  }

  private checked(settings: unknown): PolicySettings {
    const problems = policyProblems(settings);
    if (problems.length) throw new PolicyError('bad-request', new PolicyValidationError(problems).message, problems);
    return structuredClone(settings) as PolicySettings;
  }

  create(name: string, input: { settings: unknown; description?: string; template?: string }, ctx: AuditContext): PolicyDetail {
    if (!POLICY_NAME.test(name)) throw new PolicyError('bad-request', `policy name ${JSON.stringify(name)}: lowercase letters, digits, . _ - (at most 64)`);
    const settings = this.checked(input.settings);
    const at = this.now();
    const by = `${ctx.actor.type}:${ctx.actor.id}`;
    this.deps.db.write(() => {
      if (this.store.policy(name)) throw new PolicyError('conflict', `policy ${name} already exists`);
      this.store.insertPolicy({ name, description: input.description ?? '', currentVersion: 1, template: input.template ?? null, createdAt: at, createdBy: by, updatedAt: at });
      this.store.insertVersion({ name, version: 1, settings, createdAt: at, createdBy: by });
      this.store.bumpGeneration();
      this.deps.audit.record({
        ...ctx,
        action: 'policy.policy.created',
        target: { type: 'policy', id: name },
        details: { name, version: 1, template: input.template ?? null, changes: diffJson({}, settings) },
      });
    });
    return this.policy(name)!;
  }

  createFromTemplate(name: string, templateName: string, ctx: AuditContext, description?: string): PolicyDetail {
    const t = findTemplate(templateName);
    if (!t) throw new PolicyError('not-found', `no template ${templateName} (templates: ${TEMPLATES.map((x) => x.name).join(', ')})`);
    return this.create(name, { settings: t.settings, description: description ?? `${t.title}: ${t.description}`, template: t.name }, ctx);
  }

  /** Stores a new version (the settings replace the previous ones whole). */
  update(name: string, input: { settings?: unknown; description?: string }, ctx: AuditContext): PolicyDetail {
    const settings = input.settings === undefined ? undefined : this.checked(input.settings);
    const at = this.now();
    const by = `${ctx.actor.type}:${ctx.actor.id}`;
    this.deps.db.write(() => {
      const p = this.store.policy(name);
      if (!p) throw new PolicyError('not-found', `no policy ${name}`);
      const before = this.store.version(name, p.currentVersion)!.settings;
      const after = settings ?? before;
      const changes = diffJson(before, after);
      const description = input.description ?? p.description;
      if (changes.length === 0 && description === p.description) throw new PolicyError('conflict', `policy ${name} is unchanged (version ${p.currentVersion})`);
      const version = changes.length ? p.currentVersion + 1 : p.currentVersion;
      if (changes.length) this.store.insertVersion({ name, version, settings: after, createdAt: at, createdBy: by });
      this.store.updatePolicy({ name, description, currentVersion: version, updatedAt: at });
      this.store.bumpGeneration();
      this.deps.audit.record({
        ...ctx,
        action: 'policy.policy.updated',
        target: { type: 'policy', id: name },
        details: { name, version, previousVersion: p.currentVersion, changes, descriptionChanged: description !== p.description },
      });
    });
    return this.policy(name)!;
  }

  // ---------------------------------------------------------------- groups

  groups(): GroupRow[] {
    return this.store.groups();
  }

  group(name: string): GroupRow | undefined {
    return this.store.group(name);
  }

  /** Places an enrollment group in the hospital's structure (unit, ward, device role). */
  setGroup(name: string, attrs: { unit?: string | null; ward?: string | null; role?: string | null }, ctx: AuditContext): GroupRow {
    if (!GROUP_NAME.test(name)) throw new PolicyError('bad-request', `group name ${JSON.stringify(name)}: letters, digits, space . _ : / - (at most 128)`);
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== undefined && v !== null && !GROUP_NAME.test(v)) throw new PolicyError('bad-request', `${k} ${JSON.stringify(v)}: letters, digits, space . _ : / - (at most 128)`);
    }
    const at = this.now();
    return this.deps.db.write(() => {
      const before = this.store.group(name);
      const row: GroupRow = {
        name,
        unit: attrs.unit === undefined ? (before?.unit ?? null) : attrs.unit,
        ward: attrs.ward === undefined ? (before?.ward ?? null) : attrs.ward,
        role: attrs.role === undefined ? (before?.role ?? null) : attrs.role,
        updatedAt: at,
        updatedBy: `${ctx.actor.type}:${ctx.actor.id}`,
      };
      const pick = (g?: GroupRow) => (g ? { unit: g.unit, ward: g.ward, role: g.role } : null);
      this.store.upsertGroup(row);
      this.store.bumpGeneration();
      this.deps.audit.record({ ...ctx, action: 'policy.group.set', target: { type: 'policy_group', id: name }, details: { name, before: pick(before), after: pick(row) } });
      return row;
    });
  }

  removeGroup(name: string, ctx: AuditContext): void {
    this.deps.db.write(() => {
      const before = this.store.group(name);
      if (!before || !this.store.deleteGroup(name)) throw new PolicyError('not-found', `no group ${name}`);
      this.store.bumpGeneration();
      this.deps.audit.record({ ...ctx, action: 'policy.group.removed', target: { type: 'policy_group', id: name }, details: { name, before: { unit: before.unit, ward: before.ward, role: before.role } } });
    });
  }

  // ---------------------------------------------------------------- assignments

  assignments(): AssignmentRow[] {
    return this.store.assignments();
  }

  assign(policyName: string, scope: Scope, target: string, ctx: AuditContext): AssignmentRow {
    if (!SCOPES.includes(scope)) throw new PolicyError('bad-request', `scope must be one of ${SCOPES.join(', ')}`);
    const t = scope === 'default' ? '' : target;
    if (scope !== 'default' && !GROUP_NAME.test(t)) throw new PolicyError('bad-request', `${scope} ${JSON.stringify(target)}: letters, digits, space . _ : / - (at most 128)`);
    return this.deps.db.write(() => {
      if (!this.store.policy(policyName)) throw new PolicyError('not-found', `no policy ${policyName}`);
      const previous = this.store.assignment(scope, t);
      if (previous?.policyName === policyName) throw new PolicyError('conflict', `policy ${policyName} is already assigned to ${scope}${t ? ` ${t}` : ''}`);
      const row: AssignmentRow = { scope, target: t, policyName, assignedAt: this.now(), assignedBy: `${ctx.actor.type}:${ctx.actor.id}` };
      this.store.upsertAssignment(row);
      this.store.bumpGeneration();
      this.deps.audit.record({
        ...ctx,
        action: 'policy.assignment.set',
        target: { type: 'policy', id: policyName },
        details: { scope, target: t, policy: policyName, previous: previous?.policyName ?? null },
      });
      return row;
    });
  }

  unassign(scope: Scope, target: string, ctx: AuditContext): void {
    const t = scope === 'default' ? '' : target;
    this.deps.db.write(() => {
      const previous = this.store.assignment(scope, t);
      if (!previous || !this.store.deleteAssignment(scope, t)) throw new PolicyError('not-found', `nothing is assigned to ${scope}${t ? ` ${t}` : ''}`);
      this.store.bumpGeneration();
      this.deps.audit.record({ ...ctx, action: 'policy.assignment.removed', target: { type: 'policy', id: previous.policyName }, details: { scope, target: t, policy: previous.policyName } });
    });
  }

  /**
   * Makes `refs` exactly the places `policyName` is assigned (one transaction, one audit event per
   * assignment added or removed). A ref taken by another policy moves to this one.
   */
  setAssignments(policyName: string, refs: Array<{ scope: Scope; target: string }>, ctx: AuditContext): AssignmentRow[] {
    for (const r of refs) {
      if (!SCOPES.includes(r.scope)) throw new PolicyError('bad-request', `scope must be one of ${SCOPES.join(', ')}`);
      if (r.scope !== 'default' && !GROUP_NAME.test(r.target)) throw new PolicyError('bad-request', `${r.scope} ${JSON.stringify(r.target)}: letters, digits, space . _ : / - (at most 128)`);
    }
    const wanted = new Map(refs.map((r) => [`${r.scope}\u0000${r.scope === 'default' ? '' : r.target}`, { scope: r.scope, target: r.scope === 'default' ? '' : r.target }]));
    return this.deps.db.write(() => {
      if (!this.store.policy(policyName)) throw new PolicyError('not-found', `no policy ${policyName}`);
      for (const a of this.store.assignmentsOf(policyName)) {
        if (!wanted.has(`${a.scope}\u0000${a.target}`)) this.unassign(a.scope, a.target, ctx);
      }
      for (const r of wanted.values()) {
        if (this.store.assignment(r.scope, r.target)?.policyName !== policyName) this.assign(policyName, r.scope, r.target, ctx);
      }
      return this.store.assignmentsOf(policyName);
    });
  }

  // ---------------------------------------------------------------- effective policy

  private refreshCache(): void {
    const g = this.store.generation();
    if (g === this.cacheGeneration) return;
    this.cacheGeneration = g;
    this.effectiveCache.clear();
    this.deviceTargets = new Set(this.store.assignments().filter((a) => a.scope === 'device').map((a) => a.target));
  }

  /** The generation of the catalogue (bumped by every change, in any process). */
  generation(): number {
    return this.store.generation();
  }

  /** The policy layers that apply to a device or an enrollment group, least specific first. */
  layersFor(target: PolicyTarget): PolicyLayer[] {
    const group = target.group ?? (target.deviceId ? (this.store.device(target.deviceId)?.groupName ?? undefined) : undefined);
    const g = group ? this.store.group(group) : undefined;
    const wanted: Array<[Scope, string | null | undefined]> = [
      ['default', ''],
      ['unit', g?.unit],
      ['ward', g?.ward],
      ['role', g?.role],
      ['device', target.deviceId],
    ];
    const layers: PolicyLayer[] = [];
    for (const [scope, t] of wanted) {
      if (t === undefined || t === null) continue;
      const a = this.store.assignment(scope, t);
      if (!a) continue;
      const p = this.store.policy(a.policyName)!;
      layers.push({ scope, target: t, policy: p.name, version: p.currentVersion, settings: this.store.version(p.name, p.currentVersion)!.settings });
    }
    return layers;
  }

  /** The effective policy (cached per catalogue generation). */
  effectiveFor(target: PolicyTarget): EffectivePolicy {
    this.refreshCache();
    const group = target.group ?? (target.deviceId ? (this.store.device(target.deviceId)?.groupName ?? '') : '');
    const own = target.deviceId && this.deviceTargets.has(target.deviceId) ? target.deviceId : '';
    const key = `${group}\u0000${own}`;
    let e = this.effectiveCache.get(key);
    if (!e) {
      e = resolvePolicy(this.layersFor({ deviceId: own || undefined, group: group || undefined }));
      this.effectiveCache.set(key, e);
    }
    return e;
  }

  compiledFor(target: PolicyTarget): CompiledPolicy {
    return compiledOf(this.effectiveFor(target));
  }

  /** Compiles given layers (one policy on its own: `wardctl policy compile --policy NAME`). */
  compiledForLayers(layers: PolicyLayer[]): CompiledPolicy {
    return compiledOf(resolvePolicy(layers));
  }

  /** The mapping `wardctl policy explain` prints, for a stored policy. */
  explain(name: string, version?: number) {
    const p = this.policy(name, version);
    if (!p) throw new PolicyError('not-found', `no policy ${name}${version ? ` version ${version}` : ''}`);
    return { policy: p, explanation: explainSettings(p.settings) };
  }

  // ---------------------------------------------------------------- publishing

  addPublisher(p: PolicyPublisher): void {
    this.publishers.push(p);
  }

  /**
   * Hands every known device whose effective policy differs from the one it was last given to its
   * platform's publisher, grouped by policy. Runs after each change in this process, and on a
   * schedule (changes made by wardctl, failed hand-overs). One run at a time.
   */
  publishPending(): Promise<PublishOutcome> {
    this.publishing ??= this.runPublish().finally(() => {
      this.publishing = undefined;
    });
    return this.publishing;
  }

  /** publishPending() for callers that do not wait: failures are logged, never thrown. */
  publishSoon(): void {
    this.publishPending().catch((e) => this.deps.log?.error({ err: e }, 'policy: publishing failed'));
  }

  private async runPublish(): Promise<PublishOutcome> {
    const outcome: PublishOutcome = { devices: 0, policies: 0, failed: 0 };
    if (this.publishers.length === 0) return outcome;
    const due = new Map<string, { compiled: CompiledPolicy; byPlatform: Map<Platform, string[]> }>();
    // A page of devices at a time, the event loop running between pages (check-ins go on meanwhile).
    for (let after = ''; ; ) {
      const page = this.store.publishStatesAfter(after, PUBLISH_PAGE);
      for (const d of page) {
        const e = this.effectiveFor({ deviceId: d.deviceId, group: d.groupName ?? undefined });
        if (d.publishedPolicy === e.hash) continue;
        let entry = due.get(e.hash);
        if (!entry) due.set(e.hash, (entry = { compiled: compiledOf(e), byPlatform: new Map() }));
        const platform = d.platform as Platform;
        const ids = entry.byPlatform.get(platform);
        if (ids) ids.push(d.deviceId);
        else entry.byPlatform.set(platform, [d.deviceId]);
      }
      if (page.length < PUBLISH_PAGE) break;
      after = page[page.length - 1].deviceId;
      await nextTurn();
    }
    for (const [hash, { compiled, byPlatform }] of due) {
      let published = false;
      for (const publisher of this.publishers) {
        const ids = publisher.platforms.flatMap((p) => byPlatform.get(p) ?? []);
        if (ids.length === 0) continue;
        let reached = ids;
        try {
          const reply = await publisher.onPolicyChanged(ids, compiled);
          if (reply && reply.failed.length) {
            const failed = new Set(reply.failed);
            reached = ids.filter((id) => !failed.has(id));
            outcome.failed += ids.length - reached.length;
          }
        } catch (e) {
          outcome.failed += ids.length;
          this.deps.log?.error({ err: e, policy: hash, devices: ids.length }, 'policy: publishing failed; retried on the next run');
          continue;
        }
        if (reached.length === 0) continue;
        const done = reached;
        this.deps.db.write(() => {
          for (const id of done) this.store.markPublished(id, hash);
          this.deps.audit.record({
            actor: SYSTEM_ACTOR,
            action: 'policy.policy.published',
            target: { type: 'effective_policy', id: hash },
            details: { hash, platforms: [...publisher.platforms], devices: done.length, deviceIds: done.slice(0, 100), layers: compiled.effective.layers.map((l) => `${l.scope}:${l.target}=${l.policy}@${l.version}`) },
          });
        });
        outcome.devices += done.length;
        published = true;
      }
      if (published) outcome.policies++;
    }
    return outcome;
  }
}

/** Devices the publisher reads and resolves between turns of the event loop. */
const PUBLISH_PAGE = 1000;

export interface PublishOutcome {
  devices: number;
  policies: number;
  failed: number;
}
