// The NAC answer end to end: a Ward on loopback, the policy domain wired by main.ts, a device's
// facts reported, and GET /api/v1/compliance/{device id | certificate serial | MAC} asked over TLS
// with a `nac` API token (the admin surface owns /api/v1 and its roles).
import t from 'tap';
import { ComplianceService, PolicyService, androidPolicyProblems, type DeviceFacts } from '../../src/policy';
import fs from 'node:fs';
import path from 'node:path';
import { request, startTestWard, tool, type TestWard } from '../support/ward';

const ctx = { actor: { type: 'cli' as const, id: 'nac-test' }, source: 'local', requestId: null };

/** What this test uses of the admin surface main.ts mounts (src/admin). */
interface AdminLike {
  attached(): string[];
  tokens: { create(input: { name: string; role: string }, c: typeof ctx): { token: string } };
}

t.test('compliance look-up for the nac role', async (t) => {
  const ward = (await startTestWard({ admin: { password: { scryptCost: 10 } } })) as TestWard & { admin: AdminLike };
  t.teardown(() => ward.stop());
  t.ok(ward.admin.attached().includes('compliance'), 'main.ts attached the compliance look-up');
  t.ok(ward.admin.attached().includes('policies'), 'main.ts attached the policy catalogue');

  // The same database the daemon uses: a policy, a group, and a device reporting.
  const policies = new PolicyService({ db: ward.db, audit: ward.audit });
  const compliance = new ComplianceService({ db: ward.db, audit: ward.audit, policies });
  policies.createFromTemplate('phone', 'hipaa-clinician-corporate-phone', ctx);
  policies.assign('phone', 'role', 'clinician-phone', ctx);
  policies.setGroup('icu-phones', { unit: 'ICU', role: 'clinician-phone' }, ctx);
  const hash = policies.effectiveFor({ group: 'icu-phones' }).hash;
  // The device's identity certificate, issued by Ward's CA from a CSR openssl made.
  const csrPath = path.join(ward.dir, 'device.csr');
  const made = tool('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=and-42', '-keyout', path.join(ward.dir, 'device.key'), '-out', csrPath]);
  t.equal(made.status, 0, made.stderr);
  const cert = ward.ca.issue({ csr: fs.readFileSync(csrPath), profile: 'device' }, ctx);
  const facts: DeviceFacts = {
    deviceId: 'and-42', platform: 'android', group: 'icu-phones', factsVersion: 1, lastSeenAt: new Date().toISOString(),
    osVersion: '12', securityPatchLevel: new Date().toISOString().slice(0, 10), passcodePresent: false, passcodeCompliant: false, encrypted: true,
    appliedPolicy: hash, certificateSerials: [cert.serial], macAddresses: ['02:00:00:aa:bb:cc'],
  };
  compliance.report(facts);

  const nac = ward.admin.tokens.create({ name: 'radius', role: 'nac' }, ctx);
  const ask = (key: string, token = nac.token) =>
    request(`${ward.httpsUrl}/api/v1/compliance/${encodeURIComponent(key)}`, { agent: ward.agent(), headers: { authorization: `Bearer ${token}` } });

  const matched = { 'and-42': 'device', [cert.serial]: 'certificate', '02:00:00:AA:BB:CC': 'mac' };
  for (const [key, kind] of Object.entries(matched)) {
    const a = await ask(key);
    t.equal(a.status, 200, `${key}: ${a.body}`);
    const body = a.json();
    t.equal(body.deviceId, 'and-42');
    t.equal(body.known, true);
    t.equal(body.matchedBy, kind, `${key} matched by ${kind}`);
    t.equal(body.compliant, true, 'within the grace periods the device is still let on');
    t.equal(body.status, 'grace');
    t.equal(body.quarantine, false);
    t.equal(body.policy, hash, 'judged against the ICU phone policy');
    t.equal(body.reasons.length, 2);
    t.match(body.reasons[0], /^passcode not set; passcode does not meet the policy \(grace until \d{4}-\d\d-\d\dT/);
    t.match(body.reasons[1], /^OS 12 below 13 \(grace until /);
    // The passcode grace (24 h) ends first: the answer holds until then.
    t.equal(body.validUntil, /grace until (\S+)\)/.exec(body.reasons[0])![1]);
    t.equal(a.headers['cache-control'], 'private, max-age=30', 'admin.nacCacheSeconds, well before validUntil');
    t.match(a.headers.etag, /^"[A-Za-z0-9_-]{27}"$/);
  }
  // The answer's schema in the OpenAPI document lists every field the NAC reads.
  const spec = (await request(`${ward.httpsUrl}/api/v1/openapi.json`, { agent: ward.agent() })).json();
  t.same(Object.keys(spec.components.schemas.ComplianceAnswer.properties).sort(), ['compliant', 'deviceId', 'evaluatedAt', 'key', 'known', 'matchedBy', 'policy', 'quarantine', 'reasons', 'status', 'validUntil']);

  const unknown = await ask('00:00:00:00:00:01');
  t.equal(unknown.status, 200);
  t.same(unknown.json().known, false);
  t.same(unknown.json().compliant, false);

  // A certificate Ward did not issue names no compliant device.
  const foreign = compliance.report({ ...facts, deviceId: 'and-43', factsVersion: 1, certificateSerials: ['4f2a'], macAddresses: [] });
  t.equal(foreign.compliant, true);
  t.same((await ask('4f2a')).json().reasons[0], 'certificate 4f2a not issued by Ward');

  // The identity revoked: the serial answers "no" although the device's facts are fine.
  ward.ca.revoke(cert.serial, 'keyCompromise', ctx);
  const revoked = (await ask(cert.serial)).json();
  t.equal(revoked.compliant, false);
  t.equal(revoked.reasons[0], `certificate ${cert.serial} revoked`);

  // Device unenrolled: answered "no" at once (no grace).
  compliance.report({ ...facts, factsVersion: 2, enrolled: false });
  const gone = (await ask('and-42')).json();
  t.equal(gone.compliant, false);
  t.equal(gone.reasons[0], 'device unenrolled');

  // Without a token the admin surface refuses.
  const anonymous = await request(`${ward.httpsUrl}/api/v1/compliance/and-42`, { agent: ward.agent() });
  t.equal(anonymous.status, 401);

  // The Android agent API now serves the compiled policy of the device's group.
  const android = (ward as unknown as { android: { policy(d: { id: string; policyGroup: string; mode: string }): { document: unknown; etag: string } } }).android;
  const served = android.policy({ id: 'and-42', policyGroup: 'icu-phones', mode: 'fully_managed' });
  t.equal(served.etag, `"${hash}"`);
  t.same(androidPolicyProblems(served.document), []);

  // /healthz carries the policy domain's summary.
  const health = await request(`${ward.httpUrl}/healthz`);
  t.match(health.json().checks.policy, { ok: true, details: { compliance: { total: 2, nonCompliant: 1 } } });
});
