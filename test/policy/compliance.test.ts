// Compliance from reported facts (pure): compliant and non-compliant fact sets with their exact
// reasons, grace periods per rule, and the per-device HIPAA report.
import t from 'tap';
import { TEMPLATES, evaluateCompliance, hipaaReport, resolvePolicy, type DeviceFacts, type PolicySettings } from '../../src/policy';

const NOW = new Date('2025-03-10T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();
const effective = (settings: PolicySettings) => resolvePolicy([{ scope: 'default', target: '', policy: 'p', version: 1, settings }]);
const corporate = effective(TEMPLATES.find((x) => x.name === 'hipaa-clinician-corporate-phone')!.settings);
const kiosk = effective(TEMPLATES.find((x) => x.name === 'hipaa-patient-checkin-kiosk')!.settings);

const goodIphone: DeviceFacts = {
  deviceId: 'iphone-1',
  platform: 'ios',
  factsVersion: 1,
  lastSeenAt: hoursAgo(1),
  enrolled: true,
  osVersion: '17.4.1',
  passcodePresent: true,
  passcodeCompliant: true,
  encrypted: true,
  installedApps: ['org.example.ehr'],
  appliedPolicy: corporate.hash,
  certificateSerials: ['1a2b'],
};

const goodAndroid: DeviceFacts = {
  deviceId: 'pixel-1',
  platform: 'android',
  factsVersion: 'a',
  lastSeenAt: hoursAgo(2),
  enrolled: true,
  osVersion: '14',
  securityPatchLevel: '2025-02-05',
  passcodeCompliant: true,
  passcodePresent: true,
  encrypted: true,
  appliedPolicy: corporate.hash,
};

t.test('devices reporting what the policy asks are compliant, with the evidence', async (t) => {
  for (const facts of [goodIphone, goodAndroid]) {
    const r = evaluateCompliance({ facts, policy: corporate, now: NOW });
    t.equal(r.status, 'compliant', facts.deviceId);
    t.equal(r.compliant, true);
    t.same(r.reasons, []);
    t.same(r.failingSince, {});
    t.equal(r.breachAction, undefined);
  }
  const r = evaluateCompliance({ facts: goodAndroid, policy: corporate, now: NOW });
  t.same(r.findings.map((f) => [f.rule, f.ok, f.text]), [
    ['lastSeen', true, 'seen 2 hours ago (limit 3 days)'],
    ['passcode', true, 'passcode set and meets the policy'],
    ['encryption', true, 'storage encrypted'],
    ['osVersion', true, 'OS 14 (minimum 13)'],
    ['securityPatch', true, 'security patch 2025-02-05 (33 days old, limit 90)'],
    ['policyApplied', true, `policy ${corporate.hash} applied`],
  ]);
  // The verdict can change by the clock alone when the device would pass its offline limit.
  t.equal(r.validUntil, new Date(Date.parse(goodAndroid.lastSeenAt) + 72 * 3_600_000).toISOString());
});

t.test('every reason, exactly, once the grace periods are over', async (t) => {
  const facts: DeviceFacts = {
    ...goodIphone,
    lastSeenAt: hoursAgo(3 * 24 + 5),
    osVersion: '16.1',
    passcodePresent: false,
    passcodeCompliant: false,
    encrypted: false,
    appliedPolicy: 'deadbeef',
  };
  const long = hoursAgo(30 * 24);
  const previous = { status: 'grace' as const, failingSince: { passcode: long, encryption: long, osVersion: long, policyApplied: long } };
  const r = evaluateCompliance({ facts, policy: corporate, previous, now: NOW });
  t.equal(r.status, 'noncompliant');
  t.equal(r.compliant, false);
  t.same(r.reasons, [
    'not seen for 3 days',
    'passcode not set; passcode does not meet the policy',
    'storage not encrypted',
    'OS 16.1 below 17.0',
    `policy ${corporate.hash} not applied yet (device reports deadbeef)`,
  ]);
  t.equal(r.breachAction, 'quarantine', 'the template quarantines on breach');
  t.equal(r.failingSince.passcode, long, 'failing since the first time it failed');
});

t.test('grace periods per rule: failing starts the clock, the verdict turns at its end', async (t) => {
  const facts: DeviceFacts = { ...goodAndroid, osVersion: '12', securityPatchLevel: '2024-09-01', passcodePresent: false, passcodeCompliant: false };
  // First sight: everything fails, nothing is enforced yet.
  const first = evaluateCompliance({ facts, policy: corporate, now: NOW });
  t.equal(first.status, 'grace');
  t.equal(first.compliant, true, 'still compliant within grace');
  t.same(first.reasons, [
    'passcode not set; passcode does not meet the policy (grace until 2025-03-11T12:00:00.000Z)',
    'OS 12 below 13 (grace until 2025-03-24T12:00:00.000Z)',
    'security patch 2024-09-01 is 190 days old (limit 90) (grace until 2025-03-24T12:00:00.000Z)',
  ]);
  t.equal(first.validUntil, '2025-03-11T12:00:00.000Z', 'the next change is the end of the passcode grace');

  // 25 hours later: the passcode grace (24 h default) is over, the OS grace (14 days) is not.
  const later = new Date(NOW.getTime() + 25 * 3_600_000);
  const second = evaluateCompliance({ facts: { ...facts, lastSeenAt: later.toISOString() }, policy: corporate, previous: first, now: later });
  t.equal(second.status, 'noncompliant');
  t.same(second.reasons[0], 'passcode not set; passcode does not meet the policy');
  t.match(second.reasons[1], /^OS 12 below 13 \(grace until/);
  t.same(second.findings.filter((f) => !f.ok).map((f) => [f.rule, f.enforced]), [['passcode', true], ['osVersion', false], ['securityPatch', false]]);

  // Fixed: the rule's clock resets.
  const fixed = evaluateCompliance({ facts: { ...facts, passcodePresent: true, passcodeCompliant: true, lastSeenAt: later.toISOString() }, policy: corporate, previous: second, now: later });
  t.equal(fixed.status, 'grace');
  t.notOk(fixed.failingSince.passcode);

  // A policy's own grace overrides the default (kiosk: 1 hour for lock task).
  const k: DeviceFacts = { ...goodAndroid, appliedPolicy: kiosk.hash, kioskActive: false };
  const k1 = evaluateCompliance({ facts: k, policy: kiosk, now: NOW });
  t.same(k1.reasons, ['lock task mode not active (grace until 2025-03-10T13:00:00.000Z)']);
  const k2 = evaluateCompliance({ facts: k, policy: kiosk, previous: k1, now: new Date(NOW.getTime() + 3_600_000) });
  t.same(k2.reasons, ['lock task mode not active']);
  t.equal(k2.status, 'noncompliant');

  // Rules without grace: unenrolled and offline count at once.
  const gone = evaluateCompliance({ facts: { ...goodIphone, enrolled: false }, policy: corporate, now: NOW });
  t.same(gone.reasons, ['device unenrolled']);
  t.equal(gone.status, 'noncompliant');
});

t.test('facts never reported count as failing (passcode, encryption, OS), others are shown as unknown', async (t) => {
  const r = evaluateCompliance({ facts: { deviceId: 'new', platform: 'ipados', factsVersion: 0, lastSeenAt: hoursAgo(0) }, policy: kiosk, now: NOW });
  t.same(r.findings.filter((f) => !f.ok).map((f) => f.text), ['passcode state not reported', 'encryption state not reported', 'OS version not reported']);
  t.same(r.findings.filter((f) => f.ok && f.rule === 'kiosk').map((f) => f.text), ['kiosk state not reported']);
  t.equal(r.status, 'grace');
  // An iPad is held to the iPadOS floor.
  const ipad = evaluateCompliance({ facts: { ...goodIphone, platform: 'ipados', osVersion: '16.7' }, policy: kiosk, now: NOW });
  t.ok(ipad.reasons.some((x) => x.startsWith('OS 16.7 below 17.0')));
  // A blocked app found on the device.
  const blocked = effective({ apps: { block: [{ name: 'Game', apple: 'com.game.app', android: 'com.game.app' }] } });
  const onBlocked = { ...goodAndroid, appliedPolicy: blocked.hash };
  const b = evaluateCompliance({ facts: { ...onBlocked, installedApps: ['org.example.ehr', 'com.game.app'] }, policy: blocked, now: NOW });
  t.same(b.reasons, ['blocked app com.game.app installed (grace until 2025-03-10T16:00:00.000Z)']);
  t.equal(evaluateCompliance({ facts: { ...onBlocked, installedApps: undefined }, policy: blocked, now: NOW }).status, 'compliant');
  // Never seen at all.
  t.same(evaluateCompliance({ facts: { ...onBlocked, lastSeenAt: 'never' }, policy: blocked, now: NOW }).reasons, ['never seen']);
});

t.test('HIPAA report: each safeguard with its settings and evidence', async (t) => {
  const facts: DeviceFacts = { ...goodIphone, encrypted: false };
  const previous = { status: 'grace' as const, failingSince: { encryption: hoursAgo(48) } };
  const result = evaluateCompliance({ facts, policy: corporate, previous, now: NOW });
  const report = hipaaReport(facts, corporate, result);
  const g = (id: string) => report.safeguards.find((x) => x.id === id)!;
  t.equal(report.status, 'noncompliant');
  t.equal(report.safeguards.length, 18, 'every safeguard of the catalogue');
  t.equal(g('164.312(a)(2)(iv)').status, 'not_met');
  t.same(g('164.312(a)(2)(iv)').settings, [{ path: 'encryption.required', value: true }]);
  t.ok(g('164.312(a)(2)(iv)').evidence.includes('FAILING: storage not encrypted'));
  t.equal(g('164.312(a)(2)(iii)').status, 'met', 'automatic logoff: the device applied the policy that sets it');
  t.ok(g('164.312(a)(2)(iii)').evidence.includes(`ok: policy ${corporate.hash} applied`));
  t.equal(g('164.312(d)').status, 'met');
  t.ok(g('164.312(d)').evidence.some((e) => e.includes('identity certificate (serial 1a2b)')));
  t.equal(g('164.312(a)(2)(i)').status, 'not_addressed', 'unique user identification: nothing in a corporate phone policy');
  // Without a confirmed policy, configured settings are only "configured".
  const unconfirmed = { ...goodIphone, appliedPolicy: undefined };
  const r2 = hipaaReport(unconfirmed, corporate, evaluateCompliance({ facts: unconfirmed, policy: corporate, now: NOW }));
  t.equal(r2.safeguards.find((x) => x.id === '164.312(a)(2)(iii)')!.status, 'configured');
});
