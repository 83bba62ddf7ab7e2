// Shared by the admin tests: a Ward with quick scrypt, people who sign in with real TOTP codes,
// requests as a session (cookie + CSRF) or as a bearer token, and in-memory stand-ins for the
// domains that are attached through admin.attach() (test doubles of the interfaces, never in src/).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type AuditContext, type AuditLog } from '../../src/audit';
import {
  type AdminDomains, type AdminSurface, type AppleEnrollment, type AndroidEnrollment, type AuditBundles, type AuditEventReader, type EnrollmentChallenges, type ComplianceLookup,
  type DeviceAction, type DeviceCommandView, type DeviceDetail, type DeviceFleet, type DeviceQuery, type PolicyCatalog, type Role,
  DeviceActionRefused, base32Decode, totp,
} from '../../src/admin';
import { type ConfigDoc, type HttpAnswer, type TestWard, repoRoot, request, startTestWard, tempDir, tool } from '../support/ward';

export const testOutput = path.join(repoRoot, 'test-output');

export async function startAdminWard(admin: ConfigDoc = {}, more: ConfigDoc = {}): Promise<TestWard & { admin: AdminSurface }> {
  const ward = await startTestWard({ admin: { password: { scryptCost: 10 }, ...admin }, ...more });
  return ward as TestWard & { admin: AdminSurface };
}

export function secretOf(otpauthUri: string): Buffer {
  return base32Decode(new URL(otpauthUri).searchParams.get('secret')!);
}

export interface Person {
  username: string;
  role: Role;
  password: string;
  secret: Buffer;
}

let counter = 0;
export function uniqueName(prefix: string): string {
  return `${prefix}${++counter}${crypto.randomBytes(2).toString('hex')}`;
}

export const ADMIN_CTX: AuditContext = { actor: { type: 'cli', id: 'test' }, source: 'local', requestId: null };

export async function createPerson(ward: { admin: AdminSurface }, role: Role, username = uniqueName(role)): Promise<Person> {
  const password = `correct horse ${crypto.randomBytes(6).toString('hex')}`;
  const created = await ward.admin.accounts.create({ username, role, password }, ADMIN_CTX);
  return { username: created.user.username, role, password, secret: secretOf(created.otpauthUri) };
}

export interface Credential {
  kind: 'session' | 'token';
  role: Role;
  headers: Record<string, string>;
  csrf?: string;
  name: string;
}

export function setCookieOf(a: HttpAnswer): string[] {
  const h = a.headers['set-cookie'];
  return Array.isArray(h) ? h : h ? [h] : [];
}

/** Signs in through the API with the current TOTP code; answers a session credential. */
export async function signIn(ward: TestWard, p: Person, code = totp(p.secret)): Promise<Credential> {
  const a = await request(`${ward.httpsUrl}/api/v1/session`, {
    method: 'POST', agent: ward.agent(), headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: p.username, password: p.password, code }),
  });
  if (a.status !== 201) throw new Error(`sign-in of ${p.username} answered ${a.status}: ${a.body}`);
  const cookie = setCookieOf(a)[0].split(';')[0];
  const body = a.json();
  return { kind: 'session', role: p.role, headers: { cookie }, csrf: body.csrfToken, name: p.username };
}

export function tokenCredential(ward: { admin: AdminSurface }, role: Role, name = uniqueName(`${role}-script`)): Credential & { id: string } {
  const t = ward.admin.tokens.create({ name, role }, ADMIN_CTX);
  return { kind: 'token', role, headers: { authorization: `Bearer ${t.token}` }, name, id: t.id };
}

/** A request as `who`: JSON body, CSRF header for a session's state change, a fresh request id. */
export function call(
  ward: TestWard,
  who: Credential | undefined,
  method: string,
  apiPath: string,
  body?: unknown,
  extra: Record<string, string> = {},
): Promise<HttpAnswer & { requestId: string }> {
  const requestId = `test-${crypto.randomBytes(8).toString('hex')}`;
  const headers: Record<string, string> = { 'x-request-id': requestId, ...(who?.headers ?? {}) };
  if (who?.kind === 'session' && method !== 'GET' && who.csrf) headers['x-csrf-token'] = who.csrf;
  let payload: string | Buffer | undefined;
  if (Buffer.isBuffer(body)) {
    headers['content-type'] = 'application/x-tar';
    payload = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  Object.assign(headers, extra);
  return request(`${ward.httpsUrl}/api/v1${apiPath}`, { method, headers, body: payload, agent: ward.agent() }).then((a) => Object.assign(a, { requestId }));
}

/** The audit events recorded for one request id (parsed canonical lines). */
export function eventsOf(ward: TestWard, requestId: string): any[] {
  return (ward.db.sqlite.prepare('SELECT line FROM audit_events WHERE line LIKE ? ORDER BY seq').pluck().all(`%"requestId":"${requestId}"%`) as string[]).map((l) => JSON.parse(l));
}

export function eventsNamed(ward: TestWard, action: string): any[] {
  return (ward.db.sqlite.prepare('SELECT line FROM audit_events WHERE action = ? ORDER BY seq').pluck().all(action) as string[]).map((l) => JSON.parse(l));
}

/** Enrolls a device through Ward's own Android service (as its agent would): answers the device id. */
export function enrollAndroid(ward: TestWard, facts: { model: string; serialNumber: string }): string {
  const dir = tempDir();
  const key = path.join(dir, 'agent.key');
  const csr = path.join(dir, 'agent.csr');
  const r = tool('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', '/CN=android-agent', '-out', csr]);
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  const { token } = ward.android.createToken({ mode: 'fully_managed' }, ADMIN_CTX);
  return ward.android.enroll({
    token, csr: fs.readFileSync(csr, 'utf8'),
    facts: { installationId: `inst-${facts.serialNumber}`, manufacturer: 'Google', androidVersion: '14', sdkInt: 34, managementMode: 'device_owner', ...facts },
  }, { source: '127.0.0.1', requestId: null }).deviceId;
}

/** A CSR made by openssl (an EC key: quick), for certificates the tests revoke. */
export function opensslCsr(dir: string, cn: string): Buffer {
  const key = path.join(dir, `${cn}.key`);
  const csr = path.join(dir, `${cn}.csr`);
  const r = tool('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/CN=${cn}/O=Test Hospital`, '-out', csr, '-outform', 'DER']);
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return fs.readFileSync(csr);
}

// ---- stand-ins for the other domains (the interfaces of src/admin/domains.ts)

interface StoredDevice extends DeviceDetail {
  commands: DeviceCommandView[];
}

/** An in-memory fleet: devices, a FIFO of commands, an audit event a queued command. */
export class MemoryFleet implements DeviceFleet {
  readonly devices = new Map<string, StoredDevice>();
  private seq = 0;
  private count = 0;

  constructor(
    readonly platform: 'apple' | 'android',
    private readonly audit: AuditLog,
  ) {}

  add(partial: Partial<DeviceDetail> & { name: string }): DeviceDetail {
    // Digits only in ids and serials: a search in a test matches the names it means to.
    const n = ++this.count;
    const id = partial.id ?? `${this.platform}-${String(n).padStart(6, '0')}`;
    const d: StoredDevice = {
      id, platform: this.platform, model: this.platform === 'apple' ? 'iPad (10th generation)' : 'Pixel 8', osVersion: this.platform === 'apple' ? '17.5' : '14',
      serialNumber: `SN${String(n).padStart(8, '0')}`, mode: 'corporate', enrolledAt: new Date(Date.now() - 86_400_000).toISOString(),
      lastSeenAt: new Date().toISOString(), compliant: true, facts: { battery: 0.8 }, compliance: { compliant: true, reasons: [], evaluatedAt: new Date().toISOString() },
      wipeModes: ['full'], certificates: [], commands: [], ...partial,
    };
    this.devices.set(id, d);
    return d;
  }

  list(q: DeviceQuery) {
    const needle = q.q?.toLowerCase();
    const all = [...this.devices.values()]
      .filter((d) => !needle || [d.name, d.serialNumber, d.model, d.id].some((v) => v?.toLowerCase().includes(needle)))
      .filter((d) => q.compliant === undefined || d.compliant === q.compliant)
      .sort((a, b) => (q.sort === 'lastSeen' && a.lastSeenAt !== b.lastSeenAt ? ((a.lastSeenAt ?? '') < (b.lastSeenAt ?? '') ? 1 : -1) : 0)
        || a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }) || (a.id < b.id ? -1 : 1));
    return {
      devices: all.slice(q.offset, q.offset + q.limit).map(({ facts: _f, compliance: _c, wipeModes: _w, certificates: _x, commands: _m, ...s }) => s),
      total: all.length,
    };
  }

  device(id: string): DeviceDetail | undefined {
    const d = this.devices.get(id);
    if (!d) return undefined;
    const { commands: _c, ...detail } = d;
    return detail;
  }

  commands(id: string, opts: { limit: number }): DeviceCommandView[] {
    return [...(this.devices.get(id)?.commands ?? [])].reverse().slice(0, opts.limit);
  }

  queue(id: string, action: DeviceAction, ctx: AuditContext): DeviceCommandView {
    const d = this.devices.get(id);
    if (!d) throw new DeviceActionRefused(404, 'no_such_device', `no device ${id}`);
    const type = this.platform === 'apple'
      ? { lock: 'DeviceLock', wipe: 'EraseDevice', restart: 'RestartDevice', refresh: 'DeviceInformation' }[action.kind]
      : { lock: 'LOCK', wipe: 'WIPE', restart: 'REBOOT', refresh: 'STATUS' }[action.kind];
    const c: DeviceCommandView = {
      id: `cmd-${++this.seq}`, deviceId: id, type, status: 'queued', queuedAt: new Date().toISOString(), updatedAt: null,
      requestedBy: `${ctx.actor.type}:${ctx.actor.id}`, result: null,
    };
    d.commands.push(c);
    this.audit.record({ ...ctx, action: 'test.command.queued', target: { type: 'device', id }, details: { command: c.id, type } });
    return c;
  }
}

export function memoryDomains(ward: TestWard & { admin: AdminSurface }) {
  const apple = new MemoryFleet('apple', ward.audit);
  const android = new MemoryFleet('android', ward.audit);
  const deviceOf = (key: string) => [...apple.devices.values(), ...android.devices.values()].find((x) => x.id === key || x.certificates.includes(key));
  const compliance: ComplianceLookup = {
    lookup: (key) => {
      const d = deviceOf(key);
      return d && { deviceId: d.id, compliant: d.compliant === true, reasons: d.compliance?.reasons ?? [], evaluatedAt: d.compliance?.evaluatedAt ?? null };
    },
    // No safeguard catalogue here: the real report comes from src/policy whenever main.ts attaches it.
    hipaaReport: (id) => {
      const d = deviceOf(id);
      return d && {
        deviceId: d.id, platform: d.platform === 'apple' ? 'ipados' : 'android', generatedAt: d.compliance?.evaluatedAt ?? new Date().toISOString(),
        status: d.compliant === false ? 'noncompliant' : 'compliant', policy: { hash: 'stand-in', layers: [] }, safeguards: [],
      };
    },
    hipaaReportText: (r) => `HIPAA report for ${r.deviceId} (${r.platform}): ${r.status}\n`,
    summary: () => {
      const all = [...apple.devices.values(), ...android.devices.values()];
      const compliant = all.filter((d) => d.compliant === true).length;
      const nonCompliant = all.filter((d) => d.compliant === false).length;
      return { total: all.length, compliant, nonCompliant, unknown: all.length - compliant - nonCompliant, reasons: [] };
    },
  };
  const policy = { id: 'clinician-phone', name: 'Clinician corporate phone', version: 3, mode: 'corporate', platforms: ['apple', 'android'] as ('apple' | 'android')[], updatedAt: new Date().toISOString(), groups: ['4B'] };
  const policies: PolicyCatalog = {
    list: () => [policy],
    get: (id) => (id === policy.id ? { ...policy, settings: { passcode: { minLength: 6 } }, safeguards: { '164.312(a)(2)(iii)': ['passcode.maxInactivity'] } } : undefined),
    assign: (id, groups, ctx) => {
      if (id !== policy.id) throw new DeviceActionRefused(404, 'not_found', `no policy ${id}`);
      ward.audit.record({ ...ctx, action: 'test.policy.assigned', target: { type: 'policy', id }, details: { groups } });
      return { ...policy, groups };
    },
  };
  const appleEnrollment: AppleEnrollment = {
    enrollmentLink: (o) => ({ url: `${ward.cfg.https.publicUrl}/mdm/enroll?token=${crypto.randomBytes(8).toString('hex')}`, expiresAt: new Date(Date.now() + (o.ttlMinutes ?? 60) * 60_000).toISOString() }),
  };
  const androidEnrollment: AndroidEnrollment = {
    provisioning: async () => {
      const QRCode = (await import('qrcode')).default;
      const payload = { 'android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME': 'org.example.dpc/.AdminReceiver' };
      return { payload, png: await QRCode.toBuffer(JSON.stringify(payload)), expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
    },
  };
  const auditEvents: AuditEventReader = {
    events: (f) => {
      const rows = ward.db.sqlite.prepare('SELECT line FROM audit_events ORDER BY seq DESC LIMIT ?').pluck().all(f.limit * 20) as string[];
      return rows.map((l) => JSON.parse(l)).filter((e) => !f.target || (e.target?.type === f.target.type && e.target?.id === f.target.id)).slice(0, f.limit);
    },
  };
  // Used only where main.ts has not attached the real SCEP challenges or audit bundles.
  const challenges: EnrollmentChallenges = {
    issue: (o) => ({ id: `ch-${crypto.randomBytes(5).toString('hex')}`, challenge: crypto.randomBytes(16).toString('hex'), expiresAt: new Date(Date.now() + (o.ttlMinutes ?? 60) * 60_000).toISOString() }),
  };
  const issuedBundles = new Set<string>();
  const auditBundles: AuditBundles = {
    exportBundle: async () => {
      const bundle = Buffer.concat([Buffer.from('stand-in bundle '), crypto.randomBytes(32)]);
      issuedBundles.add(bundle.toString('hex'));
      return { bundle, range: { start: 0, end: 0 } };
    },
    verifyBundle: (bytes) => ({ ok: issuedBundles.has(bytes.toString('hex')), failures: [], lines: 0 }),
  };
  const all: AdminDomains = { fleets: [apple, android], compliance, policies, appleEnrollment, androidEnrollment, auditEvents, challenges, auditBundles };
  return { apple, android, compliance, policies, all };
}

/**
 * Attaches the stand-ins for every domain main.ts has not attached (real ones stay). The in-memory
 * fleets are always added: fleets add up, so the tests' devices sit beside Ward's real (empty) ones.
 */
export function attachMissing(ward: TestWard & { admin: AdminSurface }, domains: AdminDomains): string[] {
  const have = new Set<string>(ward.admin.attached());
  const missing: AdminDomains = {};
  for (const [k, v] of Object.entries(domains)) {
    if (k === 'fleets' || !have.has(k)) (missing as Record<string, unknown>)[k] = v;
  }
  ward.admin.attach(missing);
  return Object.keys(missing);
}
