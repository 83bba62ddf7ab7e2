// The role x route table: every route of src/admin/routes.ts, called by every role, once with a
// console session (cookie + CSRF token) and once with an API token. Expected: the route's success
// status when the table allows it, 403 otherwise, and every 403 an admin.access.denied audit event
// carrying the caller and source address. Success bodies are checked against the schema the
// OpenAPI document publishes; no answer ever carries a secret issued earlier.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ROLES, ROUTES, type Role, type RouteSpec, allowed, mountAdmin, totp } from '../../src/admin';
import { Router } from '../../src/http';
import { bodySchema } from '../../src/admin/pipeline';
import { aaptPackage, apksign, keytool, manifestXml } from '../android/apk-builder';
import { tempDir, wardctlAsync } from '../support/ward';
import {
  ADMIN_CTX, type Credential, type Person, attachMissing, call, createPerson, eventsOf, memoryDomains, opensslCsr, signIn,
  startAdminWard, testOutput, tokenCredential, uniqueName,
} from './support';

// Real servers (and for some, real processes) on a shared two-core machine.
t.setTimeout(180_000);

t.test('every role x every route x both credential kinds', async (t) => {
  const ward = await startAdminWard({ wipe: { requireSecondAdmin: true } });
  t.teardown(() => ward.stop());
  const doubles = memoryDomains(ward);
  const standIns = attachMissing(ward, doubles.all);
  t.comment(`stand-ins attached for: ${standIns.join(', ') || 'none'}; real: ${ward.admin.attached().filter((d) => !standIns.includes(d === 'devices' ? 'fleets' : d)).join(', ')}`);
  t.equal(ward.admin.served().length, ROUTES.length, 'with every domain attached, every route of the table is served');

  if (!standIns.includes('androidEnrollment')) {
    // Ward's own Android domain: a QR code needs an imported DPC (an APK built by aapt, signed by apksigner).
    const dir = tempDir();
    const apk = apksign(aaptPackage(dir, 'dpc', manifestXml()), path.join(dir, 'dpc.apk'), keytool(dir, 'dpc', 'EC'), { v1: true, v2: true, v3: true });
    ward.android.importApk(fs.readFileSync(apk), { role: 'dpc', receiver: '.AdminReceiver' }, ADMIN_CTX);
  }
  const fleet = doubles.apple;
  const device = fleet.add({ name: 'Ward 4B nurse station iPad' });
  // Its facts, as the Apple domain would report them: the compliance domain's HIPAA report needs them.
  ward.compliance.report({ deviceId: device.id, platform: 'ipados', factsVersion: 1, lastSeenAt: new Date().toISOString(), enrolled: true, osVersion: '17.5' });
  const secrets: string[] = [];
  const people = {} as Record<Role, Person>;
  const sessions = {} as Record<Role, Credential>;
  const tokens = {} as Record<Role, Credential>;
  for (const role of ROLES) {
    people[role] = await createPerson(ward, role);
    sessions[role] = await signIn(ward, people[role]);
    tokens[role] = tokenCredential(ward, role);
    secrets.push(people[role].secret.toString('hex'), tokens[role].headers.authorization.slice(7));
  }
  const csr = opensslCsr(tempDir(), 'matrix-device');
  const freshSerial = () => ward.ca.issue({ csr, profile: 'device' }, ADMIN_CTX).serial;
  const bundle = await call(ward, tokens.admin, 'POST', '/audit/bundle', {});
  t.equal(bundle.status, 200, 'a bundle to upload to /audit/verify');

  let policyList = (await call(ward, tokens.admin, 'GET', '/policies')).json().policies as { id: string }[];
  if (policyList.length === 0) {
    // The real policy domain starts empty: one policy from a HIPAA template, made the way an admin would.
    const made = await wardctlAsync(['policy', 'create', 'matrix-policy', '--template', 'hipaa-clinician-corporate-phone', '--config', ward.file]);
    t.equal(made.status, 0, `wardctl policy create: ${made.stderr}`);
    policyList = (await call(ward, tokens.admin, 'GET', '/policies')).json().policies;
  }
  t.ok(policyList.length > 0, 'a policy to read and assign');
  const policyId = policyList[0].id;
  const freshPersonSession = async (role: Role) => {
    const p = await createPerson(ward, role);
    return { p, c: await signIn(ward, p) };
  };
  const pendingWipe = async () => {
    const d = fleet.add({ name: uniqueName('Wipe target ') });
    const r = await ward.admin.devices.requestWipe(d.id, { mode: 'full', reason: 'lost in the car park' }, { ...ADMIN_CTX, actor: { type: 'admin', id: 'someone-else' } });
    if (r.status !== 'pending') throw new Error('expected a pending wipe request');
    return r.wipeRequest.id;
  };

  type Example = { path?: string; body?: unknown; as?: Credential | null };
  const examples: Record<string, (c: Credential) => Example | Promise<Example>> = {
    openapi: () => ({}),
    'session.create': async (c) => {
      const p = await createPerson(ward, c.role);
      return { as: null, body: { username: p.username, password: p.password, code: totp(p.secret) } };
    },
    'session.read': () => ({}),
    'session.delete': async (c) => (c.kind === 'session' ? { as: (await freshPersonSession(c.role)).c } : {}),
    'session.password': async (c) => {
      if (c.kind !== 'session') return { body: { current: 'whatever it is', password: 'a new long password 3' } };
      const { p, c: own } = await freshPersonSession(c.role);
      return { as: own, body: { current: p.password, password: 'a new long password 3' } };
    },
    dashboard: () => ({}),
    'users.list': () => ({}),
    'users.create': () => ({ body: { username: uniqueName('new'), role: 'auditor', password: 'a fine long password 1' } }),
    'users.read': () => ({ path: `/users/${people.admin.username}` }),
    'users.update': async () => ({ path: `/users/${(await createPerson(ward, 'auditor')).username}`, body: { role: 'operator' } }),
    'users.password': async () => ({ path: `/users/${(await createPerson(ward, 'auditor')).username}/password`, body: { password: 'another long password 2' } }),
    'users.totp': async () => ({ path: `/users/${(await createPerson(ward, 'auditor')).username}/totp` }),
    'users.unlock': async () => ({ path: `/users/${(await createPerson(ward, 'auditor')).username}/unlock` }),
    'tokens.list': () => ({}),
    'tokens.create': () => ({ body: { name: uniqueName('radius '), role: 'nac', days: 30 } }),
    'tokens.revoke': () => ({ path: `/tokens/${tokenCredential(ward, 'nac').id}` }),
    'certificates.list': () => ({ path: '/certificates?limit=5' }),
    'certificates.read': () => ({ path: `/certificates/${freshSerial()}` }),
    'certificates.revoke': () => ({ path: `/certificates/${freshSerial()}/revoke`, body: { reason: 'keyCompromise' } }),
    'enrollment.read': () => ({}),
    'enrollment.challenge': () => ({ body: { ttlMinutes: 30 } }),
    'enrollment.apple': () => ({ body: { singleUse: true } }),
    'enrollment.android': () => ({ body: { mode: 'fullyManaged' } }),
    'devices.list': () => ({ path: '/devices?q=ward&limit=10' }),
    'devices.read': () => ({ path: `/devices/${device.id}` }),
    'devices.commands': () => ({ path: `/devices/${device.id}/commands` }),
    'devices.hipaaReport': () => ({ path: `/devices/${device.id}/hipaa-report` }),
    'devices.history': () => ({ path: `/devices/${device.id}/history?limit=5` }),
    'devices.lock': () => ({ path: `/devices/${device.id}/lock`, body: { message: 'Please call the 4B desk', phoneNumber: '+1 555 0100' } }),
    'devices.restart': () => ({ path: `/devices/${device.id}/restart` }),
    'devices.refresh': () => ({ path: `/devices/${device.id}/refresh` }),
    'devices.wipe': () => ({ path: `/devices/${fleet.add({ name: uniqueName('Stolen ') }).id}/wipe`, body: { mode: 'full', reason: 'stolen from ward 4B' } }),
    'wipes.list': () => ({}),
    'wipes.approve': async () => ({ path: `/wipe-requests/${await pendingWipe()}/approve` }),
    'wipes.reject': async () => ({ path: `/wipe-requests/${await pendingWipe()}/reject`, body: { reason: 'found it' } }),
    'compliance.summary': () => ({}),
    'compliance.lookup': () => ({ path: `/compliance/${device.id}` }),
    'policies.list': () => ({}),
    'policies.read': () => ({ path: `/policies/${policyId}` }),
    'policies.assign': () => ({ path: `/policies/${policyId}/assignments`, body: { groups: ['ward:4B', 'unit:ICU'] } }),
    'audit.events': () => ({ path: '/audit/events?limit=5' }),
    'audit.export': () => ({ body: {} }),
    'audit.verify': () => ({ body: bundle.body }),
  };
  t.same(ROUTES.filter((r) => !examples[r.id]).map((r) => r.id), [], 'the test has an example request for every route in the table');

  const table: string[] = [];
  for (const route of ROUTES) {
    for (const role of ROLES) {
      for (const cred of [sessions[role], tokens[role]]) {
        const ex = await examples[route.id](cred);
        const who = ex.as === undefined ? cred : ex.as ?? undefined;
        const answer = await call(ward, who, route.method, ex.path ?? route.path, ex.body);
        const expect = allowed(route, role, cred.kind) ? route.ok.status : 403;
        const label = `${route.method} ${route.path} as ${role} (${cred.kind})`;
        if (answer.status !== expect) t.fail(`${label}: ${answer.status}, expected ${expect}: ${answer.body.toString().slice(0, 300)}`);
        else t.pass(`${label} -> ${expect}`);
        table.push(`${route.id.padEnd(22)} ${role.padEnd(9)} ${cred.kind.padEnd(8)} ${answer.status}`);
        if (expect === 403 && answer.status === 403) {
          const denied = eventsOf(ward, answer.requestId).filter((e) => e.action === 'admin.access.denied');
          t.equal(denied.length, 1, `${label}: an admin.access.denied event`);
          const actorId = who!.kind === 'session' ? who!.name : `token:${(who as Credential & { id: string }).id}`;
          t.same(denied[0]?.actor, { type: 'admin', id: actorId }, `${label}: the event names who asked`);
          t.equal(denied[0]?.source, '127.0.0.1', `${label}: the event has the source address`);
          t.equal(denied[0]?.details.route, route.id);
        }
        if (cred.kind === 'token' && who === cred && route.roles !== 'public') {
          const used = eventsOf(ward, answer.requestId).filter((e) => e.action === 'admin.token.used');
          t.equal(used.length, 1, `${label}: an admin.token.used event`);
          t.equal(used[0]?.details.status, answer.status, `${label}: the token.used event records the answer`);
        }
        if (answer.status === expect && expect !== 403 && route.ok.schema) {
          const validate = bodySchema(route.ok.schema);
          if (!validate(answer.json())) t.fail(`${label}: answer does not match schema ${route.ok.schema}: ${JSON.stringify(validate.errors)}`);
        }
        if (route.id === 'audit.verify' && answer.status === 200) t.equal(answer.json().ok, true, `${label}: the uploaded bundle verifies against this Ward's root`);
        if (route.id === 'enrollment.challenge' && answer.status === 201) secrets.push(answer.json().challenge);
        if (route.id === 'tokens.create' && answer.status === 201) secrets.push(answer.json().token);
        if (route.id === 'users.create' && answer.status === 201) secrets.push(answer.json().otpauthUri);
        if (route.method === 'GET' && answer.status === 200) {
          const text = answer.body.toString();
          const leaked = secrets.filter((s) => text.includes(s));
          if (leaked.length) t.fail(`${label}: a GET answer carries an issued secret`);
        }
      }
    }
  }
  fs.mkdirSync(testOutput, { recursive: true });
  fs.writeFileSync(`${testOutput}/admin-role-route-table.txt`, table.join('\n') + '\n');
  const lines = ward.db.sqlite.prepare('SELECT line FROM audit_events').pluck().all() as string[];
  const inAudit = secrets.filter((s) => lines.some((l) => l.includes(s)));
  t.same(inAudit, [], 'no issued secret (token, challenge, TOTP secret) is in any audit event');
});

t.test('a route outside the table does not exist; the API refuses without credentials', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  for (const r of ROUTES.filter((x) => x.roles !== 'public' && ward.admin.served().includes(x))) {
    const a = await call(ward, undefined, r.method, r.path.replace(/:[a-zA-Z]+/g, 'x1'));
    if (a.status !== 401) t.fail(`${r.method} ${r.path} without credentials: ${a.status}`);
  }
  t.pass('every served non-public route answers 401 without credentials');
  const unknown = await call(ward, undefined, 'GET', '/keys/issuing');
  t.equal(unknown.status, 404, 'no route serves private keys');
  const bare = mountAdmin(new Router(), { cfg: ward.cfg, db: ward.db, audit: ward.audit, ca: ward.ca, health: ward.health });
  t.same(bare.served().filter((r: RouteSpec) => r.needs).map((r) => r.id), [], 'with no domain attached, none of their routes is served');
  const missing = ROUTES.find((r) => r.needs && !r.needs.every((n) => ward.admin.attached().includes(n)));
  if (missing) {
    t.equal((await call(ward, tokenCredential(ward, 'admin'), missing.method, missing.path.replace(/:[a-zA-Z]+/g, 'x1'))).status, 404, `${missing.id}: its domain is not attached here, so 404 (no fake)`);
  }
});
