// Storage and services on a real database: versions kept, every change an audit event with its
// RFC 6902 diff, assignment precedence through groups, publishing to platforms, and compliance
// over time (verdict changes audited, NAC look-up by device id, certificate serial and MAC).
import fs from 'node:fs';
import t, { type Test } from 'tap';
import { AuditLog, SYSTEM_ACTOR, type AuditContext } from '../../src/audit';
import { openDatabase, type WardDb } from '../../src/db';
import {
  ComplianceService, PolicyError, PolicyService, TEMPLATES, androidDeviceFacts, androidFactsSource, androidPolicyProblems, androidPolicySource, appleDeviceFacts,
  applyJsonPatch, nameBasedUuid, policyCatalog, type CompiledPolicy, type DeviceFacts, type JsonPatchOp,
} from '../../src/policy';
import { loadTestConfig, writeTestConfig } from '../support/ward';

const ctx: AuditContext = { actor: { type: 'cli', id: 'tester' }, source: 'local', requestId: null };
const tpl = (name: string) => structuredClone(TEMPLATES.find((x) => x.name === name)!.settings);

function setup(t: Test, clock?: () => Date) {
  const { file, doc, dir } = writeTestConfig();
  const cfg = loadTestConfig(file, doc);
  const db = openDatabase(cfg.database.file);
  const audit = new AuditLog(db);
  const policies = new PolicyService({ db, audit, clock });
  t.teardown(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { db, audit, policies };
}

function events(db: WardDb, prefix: string): Array<{ action: string; actor: { type: string; id: string }; target: { type: string; id: string } | null; details: Record<string, unknown> }> {
  return (db.sqlite.prepare('SELECT line FROM audit_events WHERE action LIKE ? ORDER BY seq').pluck().all(`${prefix}%`) as string[]).map((l) => JSON.parse(l));
}

t.test('versions are kept and every change is audited with a diff that reproduces it', async (t) => {
  const { db, policies } = setup(t);
  const v1 = policies.createFromTemplate('phones', 'hipaa-clinician-corporate-phone', ctx);
  t.equal(v1.version, 1);
  t.equal(v1.template, 'hipaa-clinician-corporate-phone');
  const edited = tpl('hipaa-clinician-corporate-phone');
  edited.passcode!.minLength = 8;
  delete edited.vpn;
  edited.restrictions!.camera = false;
  const v2 = policies.update('phones', { settings: edited }, ctx);
  t.equal(v2.version, 2);
  t.same(policies.policy('phones', 1)!.settings, tpl('hipaa-clinician-corporate-phone'), 'version 1 is kept as it was');
  t.equal(policies.policy('phones', 1)!.version, 2, 'current version is named alongside');

  const ev = events(db, 'policy.policy.');
  t.same(ev.map((e) => e.action), ['policy.policy.created', 'policy.policy.updated']);
  t.same(ev[1].actor, { type: 'cli', id: 'tester' });
  t.same(ev[1].target, { type: 'policy', id: 'phones' });
  const changes = ev[1].details.changes as JsonPatchOp[];
  t.same(changes, [
    { op: 'remove', path: '/vpn' },
    { op: 'replace', path: '/passcode/minLength', value: 8 },
    { op: 'replace', path: '/restrictions/camera', value: false },
  ]);
  t.same(applyJsonPatch(tpl('hipaa-clinician-corporate-phone'), changes), edited, 'the audited diff turns v1 into v2');
  t.same(applyJsonPatch({}, ev[0].details.changes as JsonPatchOp[]), tpl('hipaa-clinician-corporate-phone'));
  t.same(policies.history('phones').map((h) => h.changes), [ev[0].details.changes, changes]);

  // Refusals: nothing is stored or audited.
  t.throws(() => policies.update('phones', { settings: edited }, ctx), { code: 'conflict', message: /unchanged/ });
  t.throws(() => policies.update('phones', { settings: { passcode: { minLength: 99 } } }, ctx), { code: 'bad-request', problems: ['/passcode/minLength: must be <= 16'] });
  t.throws(() => policies.create('phones', { settings: {} }, ctx), { code: 'conflict' });
  t.throws(() => policies.create('Bad Name', { settings: {} }, ctx), { code: 'bad-request' });
  t.throws(() => policies.update('ghost', { settings: {} }, ctx), { code: 'not-found' });
  t.throws(() => policies.createFromTemplate('x', 'no-such-template', ctx), PolicyError);
  t.equal(events(db, 'policy.policy.').length, 2);
  t.equal(policies.store.versions('phones').length, 2);
});

t.test('effective policy through groups: device > role > ward > unit > default, floors strictest', async (t) => {
  const { db, policies } = setup(t);
  policies.create('hospital', { settings: { passcode: { required: true, minLength: 6, maxInactivityMinutes: 10 }, restrictions: { camera: false } } }, ctx);
  policies.create('medicine', { settings: { passcode: { minLength: 4 }, os: { minVersion: { ios: '17.0' } } } }, ctx);
  policies.create('ward-4b', { settings: { restrictions: { camera: true }, passcode: { maxInactivityMinutes: 3 } } }, ctx);
  policies.create('nurse-tablet', { settings: { mode: 'sharedClinicalTablet', sharedDevice: { sessionTimeoutMinutes: 15 } } }, ctx);
  policies.create('one-device', { settings: { restrictions: { camera: false } } }, ctx);
  policies.assign('hospital', 'default', '', ctx);
  policies.assign('medicine', 'unit', 'Medicine', ctx);
  policies.assign('ward-4b', 'ward', '4B', ctx);
  policies.assign('nurse-tablet', 'role', 'nursing-tablet', ctx);
  policies.setGroup('4b-tablets', { unit: 'Medicine', ward: '4B', role: 'nursing-tablet' }, ctx);

  const g = policies.effectiveFor({ group: '4b-tablets' });
  t.same(g.layers.map((l) => `${l.scope}:${l.target}=${l.policy}`), ['default:=hospital', 'unit:Medicine=medicine', 'ward:4B=ward-4b', 'role:nursing-tablet=nurse-tablet']);
  t.same(g.settings.passcode, { required: true, minLength: 6, maxInactivityMinutes: 3 }, 'the unit cannot lower the hospital\'s minimum length; the ward tightens the lock');
  t.equal(g.settings.restrictions?.camera, true, 'the ward allows the camera');
  t.equal(g.settings.mode, 'sharedClinicalTablet');
  t.same(g.settings.os?.minVersion, { ios: '17.0' });

  // A device-specific policy beats its group's.
  policies.assign('one-device', 'device', 'ipad-7', ctx);
  const d = policies.effectiveFor({ deviceId: 'ipad-7', group: '4b-tablets' });
  t.equal(d.settings.restrictions?.camera, false);
  t.same(d.sources['restrictions.camera'].map((s) => s.scope), ['device']);
  t.not(d.hash, g.hash);
  t.equal(policies.effectiveFor({ deviceId: 'ipad-8', group: '4b-tablets' }).hash, g.hash, 'other devices of the group are untouched');

  // An unknown group gets the default only.
  t.same(policies.effectiveFor({ group: 'nobody-knows' }).layers.map((l) => l.policy), ['hospital']);

  // Changes show at once (the cache follows the generation).
  const before = policies.generation();
  policies.setGroup('4b-tablets', { role: null }, ctx);
  t.ok(policies.generation() > before);
  t.equal(policies.effectiveFor({ group: '4b-tablets' }).settings.mode, undefined);
  policies.unassign('ward', '4B', ctx);
  t.equal(policies.effectiveFor({ group: '4b-tablets' }).settings.restrictions?.camera, false);

  const actions = events(db, 'policy.').map((e) => e.action);
  t.same(actions.filter((a) => a.startsWith('policy.assignment')), ['policy.assignment.set', 'policy.assignment.set', 'policy.assignment.set', 'policy.assignment.set', 'policy.assignment.set', 'policy.assignment.removed']);
  t.same(events(db, 'policy.group.set')[1].details, { name: '4b-tablets', before: { unit: 'Medicine', ward: '4B', role: 'nursing-tablet' }, after: { unit: 'Medicine', ward: '4B', role: null } });
  t.throws(() => policies.assign('ghost', 'ward', '4B', ctx), { code: 'not-found' });
  t.throws(() => policies.assign('hospital', 'floor' as never, '4', ctx), { code: 'bad-request' });
  t.throws(() => policies.unassign('ward', '4B', ctx), { code: 'not-found' });
});

t.test('the admin catalogue: list, get with safeguards, assign by group strings', async (t) => {
  const { policies } = setup(t);
  policies.createFromTemplate('kiosk', 'hipaa-patient-checkin-kiosk', ctx);
  const catalog = policyCatalog(policies);
  const set = catalog.assign('kiosk', ['role:kiosk', 'ward:ED'], ctx);
  t.same(set.groups.sort(), ['role:kiosk', 'ward:ED']);
  t.same(catalog.assign('kiosk', ['role:kiosk'], ctx).groups, ['role:kiosk'], 'assign sets exactly the given groups');
  const got = catalog.get('kiosk')!;
  t.equal(got.mode, 'kiosk');
  t.same(got.platforms, ['apple', 'android']);
  t.same(got.safeguards['164.310(c)'], ['kiosk']);
  t.equal(catalog.get('none'), undefined);
  t.throws(() => catalog.assign('kiosk', ['floor:3'], ctx), { code: 'bad-request', message: /use default, unit:NAME/ });
  t.throws(() => catalog.assign('kiosk', ['nurses'], ctx), { code: 'bad-request' });
});

t.test('publishing: each platform gets its devices once per new effective policy; failures are retried', async (t) => {
  const { db, audit, policies } = setup(t);
  const compliance = new ComplianceService({ db, audit, policies });
  const now = new Date().toISOString();
  const facts = (deviceId: string, platform: DeviceFacts['platform'], group: string): DeviceFacts => ({ deviceId, platform, group, factsVersion: 1, lastSeenAt: now });
  compliance.report(facts('a1', 'android', 'phones'));
  compliance.report(facts('a2', 'android', 'tablets'));
  compliance.report(facts('i1', 'ios', 'phones'));

  const androidCalls: Array<{ ids: string[]; compiled: CompiledPolicy }> = [];
  const appleCalls: string[][] = [];
  let appleFails = true;
  policies.addPublisher({ platforms: ['android'], onPolicyChanged: (ids, compiled) => void androidCalls.push({ ids, compiled }) });
  policies.addPublisher({
    platforms: ['ios', 'ipados', 'macos'],
    onPolicyChanged(ids) {
      appleCalls.push(ids);
      return appleFails ? { failed: ids } : undefined;
    },
  });

  policies.createFromTemplate('phone', 'hipaa-clinician-corporate-phone', ctx);
  policies.createFromTemplate('tablet', 'hipaa-shared-nursing-tablet', ctx);
  policies.setGroup('phones', { role: 'phone' }, ctx);
  policies.setGroup('tablets', { role: 'tablet' }, ctx);
  policies.assign('phone', 'role', 'phone', ctx);
  policies.assign('tablet', 'role', 'tablet', ctx);

  const first = await policies.publishPending();
  t.same(first, { devices: 2, policies: 2, failed: 1 });
  t.same(androidCalls.map((c) => c.ids).sort(), [['a1'], ['a2']]);
  const phoneCall = androidCalls.find((c) => c.ids[0] === 'a1')!;
  t.equal(phoneCall.compiled.hash, policies.effectiveFor({ group: 'phones' }).hash);
  t.same(androidPolicyProblems(phoneCall.compiled.android().document), [], 'what Android gets is a valid agent policy');
  t.same(appleCalls, [['i1']]);

  // Nothing changed: only the failed Apple device is tried again.
  appleFails = false;
  const second = await policies.publishPending();
  t.same(second, { devices: 1, policies: 1, failed: 0 });
  t.same(appleCalls, [['i1'], ['i1']]);
  t.equal(androidCalls.length, 2);
  t.same(await policies.publishPending(), { devices: 0, policies: 0, failed: 0 });

  // A policy change reaches exactly the devices whose effective policy changed.
  const edited = tpl('hipaa-clinician-corporate-phone');
  edited.passcode!.maxInactivityMinutes = 2;
  policies.update('phone', { settings: edited }, ctx);
  await policies.publishPending();
  t.same(androidCalls.slice(2).map((c) => c.ids), [['a1']]);
  t.same(appleCalls.slice(2), [['i1']]);
  const published = events(db, 'policy.policy.published');
  t.equal(published.length, 5);
  t.same(published[published.length - 1].actor, SYSTEM_ACTOR);
  t.match(published[0].details, { devices: 1, platforms: ['android'] });
});

t.test('compliance over time: verdict changes audited once; NAC look-up by id, serial and MAC', async (t) => {
  let now = new Date('2025-03-10T12:00:00Z');
  const { db, audit, policies } = setup(t, () => now);
  const revoked = new Set<string>();
  const compliance = new ComplianceService({ db, audit, policies, clock: () => now, certificateStatus: (s) => (revoked.has(s) ? 'revoked' : 'valid') });
  policies.createFromTemplate('phone', 'hipaa-clinician-corporate-phone', ctx);
  policies.assign('phone', 'default', '', ctx);
  const hash = policies.effectiveFor({ group: 'any' }).hash;
  const facts: DeviceFacts = {
    deviceId: 'pixel-9',
    platform: 'android',
    group: 'any',
    factsVersion: 1,
    lastSeenAt: now.toISOString(),
    osVersion: '14',
    securityPatchLevel: '2025-02-01',
    passcodePresent: true,
    passcodeCompliant: true,
    encrypted: true,
    appliedPolicy: hash,
    certificateSerials: ['00:0A:BC:12'],
    macAddresses: ['3C-22-FB-01-02-0A'],
  };
  const r1 = compliance.report(facts);
  t.equal(r1.status, 'compliant');
  t.same(events(db, 'policy.compliance.').map((e) => e.details.to), ['compliant']);

  // The device stops encrypting: grace first, then non-compliant; each change one audit event.
  const r2 = compliance.report({ ...facts, factsVersion: 2, encrypted: false });
  t.equal(r2.status, 'grace');
  t.equal(compliance.report({ ...facts, factsVersion: 2, encrypted: false }).status, 'grace', 'same facts: no new event');
  now = new Date(now.getTime() + 25 * 3_600_000);
  const byId = compliance.lookup('pixel-9')!;
  t.same(byId, {
    key: 'pixel-9',
    matchedBy: 'device',
    deviceId: 'pixel-9',
    compliant: false,
    status: 'noncompliant',
    quarantine: true,
    reasons: ['storage not encrypted'],
    policy: hash,
    evaluatedAt: now.toISOString(),
    validUntil: byId.validUntil,
    secondsValid: (Date.parse(byId.validUntil!) - now.getTime()) / 1000,
  });
  t.ok(byId.secondsValid! > 0, 'seconds by the service\'s own clock');
  const changed = events(db, 'policy.compliance.changed');
  t.same(changed.map((e) => [e.details.from, e.details.to]), [['unknown', 'compliant'], ['compliant', 'grace'], ['grace', 'noncompliant']]);
  t.same(changed[2].target, { type: 'device', id: 'pixel-9' });
  t.same(changed[2].details.reasons, ['storage not encrypted']);
  t.equal(changed[2].details.breachAction, 'quarantine');

  // The same answer by certificate serial (any spelling) and by MAC (any spelling).
  for (const key of ['abc12', 'serial:0abc12', 'certificate:0A:BC:12', '3c:22:fb:01:02:0a', 'mac:3C22.FB01.020A', '3C-22-FB-01-02-0A']) {
    const a = compliance.lookup(key)!;
    t.equal(a?.deviceId, 'pixel-9', key);
    t.equal(a.compliant, false);
  }
  t.equal(compliance.lookup('abc12')!.matchedBy, 'certificate');
  t.equal(compliance.lookup('3c22fb01020a')!.matchedBy, 'mac');
  t.equal(compliance.lookup('nobody'), undefined);
  t.equal(compliance.lookup('ffff'), undefined);
  t.equal(compliance.lookup(''), undefined);
  t.equal(compliance.lookup('x'.repeat(300)), undefined);

  // Fixed: compliant again; a revoked identity certificate makes the serial answer "no".
  compliance.report({ ...facts, factsVersion: 3, lastSeenAt: now.toISOString() });
  t.equal(compliance.lookup('pixel-9')!.compliant, true);
  revoked.add('abc12');
  const bySerial = compliance.lookup('abc12')!;
  t.equal(bySerial.compliant, false);
  t.same(bySerial.reasons, ['certificate abc12 revoked']);
  t.equal(compliance.lookup('pixel-9')!.compliant, true, 'the device itself is still compliant');

  // Offline: the clock alone turns the verdict (re-evaluation job).
  now = new Date(now.getTime() + 4 * 24 * 3_600_000);
  const sync = await compliance.sync();
  t.same(sync, { devices: 1, changed: 1 });
  t.same(compliance.lookup('pixel-9')!.reasons, ['not seen for 4 days']);
  t.same(compliance.summary(), { total: 1, compliant: 0, nonCompliant: 1, unknown: 0, reasons: [{ reason: 'not seen within the offline limit', devices: 1 }] });

  const report = compliance.hipaaReport('pixel-9')!;
  t.equal(report.safeguards.find((g) => g.id === '164.310(d)(2)(iii)')!.status, 'not_met');
  t.throws(() => compliance.report({ ...facts, platform: 'blackberry' as never }), /facts.platform/);
  t.throws(() => compliance.report({ ...facts, deviceId: '' }), /deviceId/);
});

t.test('the devices-not-seen sweep flags a device once it passes its offline limit, and counts it', async (t) => {
  let now = new Date('2025-03-10T12:00:00Z');
  const { db, audit, policies } = setup(t, () => now);
  const compliance = new ComplianceService({ db, audit, policies, clock: () => now });
  policies.create('quiet', { settings: { compliance: { maxOfflineHours: 48 } } }, ctx);
  policies.assign('quiet', 'device', 'cart-phone', ctx);
  const seen = now.toISOString();
  compliance.report({ deviceId: 'ward-ipad', platform: 'ipados', factsVersion: 1, lastSeenAt: seen });
  compliance.report({ deviceId: 'cart-phone', platform: 'android', factsVersion: 1, lastSeenAt: seen });
  t.same(await compliance.notSeenSweep(), { devices: 2, changed: 0, notSeen: 0, defaultLimitDays: 7 }, 'both seen just now');

  now = new Date(now.getTime() + 3 * 24 * 3_600_000);
  t.same(await compliance.notSeenSweep(), { devices: 2, changed: 1, notSeen: 1, defaultLimitDays: 7 }, 'after 3 days: the 48-hour policy flags its device');
  now = new Date(now.getTime() + 5 * 24 * 3_600_000);
  t.same(await compliance.notSeenSweep(), { devices: 2, changed: 1, notSeen: 2, defaultLimitDays: 7 }, 'after 8 days: the default 7-day limit flags the other');
  const flagged = events(db, 'policy.compliance.changed').filter((e) => e.details.to === 'noncompliant');
  t.same(flagged.map((e) => [e.target?.id, e.details.reasons]), [['cart-phone', ['not seen for 3 days']], ['ward-ipad', ['not seen for 8 days']]], 'each flagging is an audit event with the reason');
  t.same(await compliance.notSeenSweep(), { devices: 2, changed: 0, notSeen: 2, defaultLimitDays: 7 }, 'a later run changes nothing');
});

t.test('adapters: Apple DeviceView and Android DeviceRecord become DeviceFacts; sources are synced', async (t) => {
  const { db, audit, policies } = setup(t);
  policies.createFromTemplate('phone', 'hipaa-clinician-corporate-phone', ctx);
  policies.assign('phone', 'default', '', ctx);
  const hash = policies.effectiveFor({ group: 'g' }).hash;

  const apple = appleDeviceFacts(
    {
      id: 'UDID-1', status: 'enrolled', group: 'g', certificateSerial: '7f', osVersion: '17.5', productName: 'iPad13,1', model: null,
      encrypted: true, passcodePresent: true, passcodeCompliant: false, authenticatedAt: '2025-03-01T00:00:00Z', lastSeenAt: '2025-03-10T00:00:00Z',
      facts: { wifiMac: 'aa:bb:cc:dd:ee:ff', apps: [{ identifier: 'org.example.ehr' }], profiles: [{ identifier: 'org.ward.policy', uuid: nameBasedUuid(`org.ward.policy/${hash}/profile`) }] },
    },
    { hash },
  );
  t.match(apple, {
    deviceId: 'UDID-1', platform: 'ipados', group: 'g', enrolled: true, osVersion: '17.5', passcodeCompliant: false, encrypted: true,
    installedApps: ['org.example.ehr'], appliedPolicy: hash, certificateSerials: ['7f'], macAddresses: ['aa:bb:cc:dd:ee:ff'],
  });
  t.match(apple.factsVersion, /^[0-9a-f]{40}$/);
  const checkedOut = appleDeviceFacts({
    id: 'UDID-2', status: 'checked-out', group: 'g', certificateSerial: '80', osVersion: null, productName: 'iPhone15,2', model: null,
    encrypted: null, passcodePresent: null, passcodeCompliant: null, authenticatedAt: '2025-03-01T00:00:00Z', lastSeenAt: null, facts: {},
  });
  t.match(checkedOut, { platform: 'ios', enrolled: false, lastSeenAt: '2025-03-01T00:00:00Z' });
  t.notOk('appliedPolicy' in checkedOut);

  const record = {
    id: 'and-1', mode: 'fully_managed', policyGroup: 'g', state: 'active', certSerial: '1f', previousCertSerial: '1e', lastSeenAt: new Date().toISOString(),
    facts: { androidVersion: '13', securityPatch: '2025-01-01' },
    status: {
      androidVersion: '14', securityPatch: new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10), encryption: 'active_per_user', passcodeSufficient: true, managementMode: 'device_owner',
      installedApps: [{ packageName: 'org.example.ehr', versionCode: 3 }], lockTask: { active: false }, policyEtag: `"${hash}"`,
    },
  };
  const android = androidDeviceFacts(record);
  t.match(android, {
    platform: 'android', osVersion: '14', securityPatchLevel: record.status.securityPatch, encrypted: true, passcodePresent: true, passcodeCompliant: true,
    installedApps: ['org.example.ehr'], kioskActive: false, appliedPolicy: hash, certificateSerials: ['1f', '1e'], enrolled: true,
  });
  t.equal(androidDeviceFacts({ ...record, status: { ...record.status, encryption: 'active_default_key' } }).encrypted, false);
  t.equal(androidDeviceFacts({ ...record, status: null }).osVersion, '13', 'facts from enrollment until the first status report');

  // The policy source Android serves, and a sync through the source.
  const source = androidPolicySource(policies);
  const served = source.policyFor({ id: 'and-1', policyGroup: 'g', mode: 'fully_managed' });
  t.equal(served.etag, `"${hash}"`);
  t.same(androidPolicyProblems(served.document), []);
  const wp = source.policyFor({ id: 'and-2', policyGroup: 'g', mode: 'work_profile' });
  t.equal(wp.document.managementMode, 'profile_owner', 'a work-profile enrollment gets a profile-owner policy');
  const compliance = new ComplianceService({ db, audit, policies });
  compliance.addSource(androidFactsSource({
    devicesAfter: (after) => [record].filter((r) => r.id > after),
    device: (id) => (id === record.id ? record : undefined),
    deviceByCertificate: (serial) => ([record.certSerial, record.previousCertSerial].includes(serial) ? record : undefined),
  }));
  t.same(await compliance.sync(), { devices: 1, changed: 1 });
  t.equal(compliance.lookup('1e')!.deviceId, 'and-1', 'the previous certificate still names the device');
  t.equal(compliance.lookup('and-1')!.status, 'compliant');
  // With no policy assigned at all, the Android domain's own default is served.
  const withFallback = androidPolicySource(policies, { policyFor: () => ({ document: { fallback: true }, etag: '"f"' }) });
  t.equal(withFallback.policyFor({ id: 'x', policyGroup: 'g', mode: 'fully_managed' }).etag, `"${hash}"`);
  policies.unassign('default', '', ctx);
  t.same(withFallback.policyFor({ id: 'x', policyGroup: 'g', mode: 'fully_managed' }), { document: { fallback: true }, etag: '"f"' });
});
