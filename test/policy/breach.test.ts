// Breach actions on a real database with a moving clock: the per-rule / per-policy action applies
// only once a rule fails past its grace period; quarantine is a stored state (with its audit event
// in the verdict's transaction) that the NAC answer reads; lock asks the device's platform once per
// breach, records the command, records a refusal once and retries a passing failure; everything is
// released when the device is compliant again. Platforms here are stand-ins; breach-e2e.test.ts
// drives the real Apple and Android services with simulated devices.
import fs from 'node:fs';
import t, { type Test } from 'tap';
import { AuditLog, type AuditContext } from '../../src/audit';
import { openDatabase, type WardDb } from '../../src/db';
import {
  ComplianceService, LockRefused, PolicyService, policyProblems, type BreachResponder, type ComplianceResult, type DeviceFacts, type Platform, type PolicySettings,
} from '../../src/policy';
import { loadTestConfig, writeTestConfig } from '../support/ward';

const ctx: AuditContext = { actor: { type: 'cli', id: 'tester' }, source: 'local', requestId: null };
const HOUR = 3_600_000;

interface Event {
  seq: number;
  action: string;
  outcome: string;
  reason: string | null;
  target: { type: string; id: string } | null;
  details: Record<string, unknown>;
}

function events(db: WardDb, prefix: string): Event[] {
  return (db.sqlite.prepare('SELECT seq, line FROM audit_events WHERE action LIKE ? ORDER BY seq').all(`${prefix}%`) as Array<{ seq: number; line: string }>).map((r) => ({ seq: r.seq, ...JSON.parse(r.line) }));
}

/** A platform stand-in: records every lock it is asked for, fails as told. */
function platform(platforms: Platform[], fail?: () => Error | undefined) {
  const locks: Array<{ id: string; platform: Platform; action: ComplianceResult['breachAction']; reasons: string[] }> = [];
  const responder: BreachResponder = {
    platforms,
    lock(device, result) {
      const e = fail?.();
      if (e) throw e;
      locks.push({ id: device.id, platform: device.platform, action: result.breachAction, reasons: result.reasons });
      return { commandId: `cmd-${locks.length}` };
    },
  };
  return { responder, locks };
}

function setup(t: Test, settings: PolicySettings, opts: { lockRetryMs?: number } = {}) {
  const { file, doc, dir } = writeTestConfig();
  const cfg = loadTestConfig(file, doc);
  const db = openDatabase(cfg.database.file);
  const audit = new AuditLog(db);
  const clock = { now: Date.parse('2026-03-10T12:00:00Z') };
  const policies = new PolicyService({ db, audit, clock: () => new Date(clock.now) });
  const compliance = new ComplianceService({ db, audit, policies, clock: () => new Date(clock.now), lockRetryMs: opts.lockRetryMs });
  policies.create('p', { settings }, ctx);
  policies.assign('p', 'default', '', ctx);
  t.teardown(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  let version = 0;
  const report = (f: Partial<DeviceFacts> & { deviceId: string; platform: Platform }) =>
    compliance.report({ factsVersion: ++version, lastSeenAt: new Date(clock.now).toISOString(), ...f } as DeviceFacts);
  return { db, audit, policies, compliance, clock, report };
}

const STRICT: PolicySettings = {
  passcode: { required: true },
  encryption: { required: true },
  compliance: { onBreach: 'quarantine', onBreachByRule: { passcode: 'lock' }, graceHours: { passcode: 2, encryption: 0 } },
};

t.test('per-rule and per-policy actions: quarantine at once, lock only after the passcode grace period, once per breach, released when compliant', async (t) => {
  const { db, compliance, clock, report } = setup(t, STRICT);
  const apple = platform(['ios', 'ipados']);
  compliance.addBreachResponder(apple.responder);

  // Encryption fails with no grace: quarantine (the policy's action), no lock.
  const r1 = report({ deviceId: 'i1', platform: 'ios', encrypted: false, passcodePresent: true, passcodeCompliant: true });
  await compliance.settled();
  t.equal(r1.status, 'noncompliant');
  t.equal(r1.breachAction, 'quarantine');
  t.same(compliance.standingActions('i1').map((a) => a.action), ['quarantine']);
  t.same(apple.locks, [], 'quarantine does not lock');
  t.match(compliance.lookup('i1'), { compliant: false, quarantine: true, status: 'noncompliant', matchedBy: 'device' });
  const q = events(db, 'policy.compliance.');
  t.same(q.map((e) => e.action), ['policy.compliance.changed', 'policy.compliance.quarantined']);
  t.equal(q[1].seq, q[0].seq + 1, 'the quarantine event follows the verdict change (one transaction)');
  t.match(q[1], { target: { type: 'device', id: 'i1' }, details: { breachAction: 'quarantine', reasons: ['storage not encrypted'] } });

  // The passcode goes too: within its 2 h grace the lock waits.
  clock.now += 30 * 60_000;
  const r2 = report({ deviceId: 'i1', platform: 'ios', encrypted: false, passcodePresent: false, passcodeCompliant: false });
  await compliance.settled();
  t.equal(r2.breachAction, 'quarantine', 'the passcode rule is still in grace');
  t.same(apple.locks, []);

  // Grace over: the clock alone turns the passcode rule, the scheduled sync locks.
  clock.now += 2 * HOUR;
  await compliance.sync();
  await compliance.settled();
  t.same(apple.locks.map((l) => [l.id, l.platform, l.action]), [['i1', 'ios', 'lock']]);
  t.match(apple.locks[0].reasons[0], /^passcode not set/);
  t.same(compliance.standingActions('i1').map((a) => [a.action, a.commandId]), [['lock', 'cmd-1'], ['quarantine', null]]);
  const queued = events(db, 'policy.compliance.lock_queued');
  t.equal(queued.length, 1);
  t.match(queued[0], { outcome: 'success', target: { id: 'i1' }, details: { platform: 'ios', commandId: 'cmd-1', breachAction: 'lock' } });

  // Once per breach: more syncs, evaluations and reports do not lock again.
  await compliance.sync();
  compliance.evaluate('i1');
  clock.now += 60_000;
  report({ deviceId: 'i1', platform: 'ios', encrypted: false, passcodePresent: false, passcodeCompliant: false, osVersion: '18.1' });
  await compliance.settled();
  t.equal(apple.locks.length, 1, 'locked once');

  // Fixed: every standing action is released, in the verdict's transaction.
  report({ deviceId: 'i1', platform: 'ios', encrypted: true, passcodePresent: true, passcodeCompliant: true });
  t.same(compliance.standingActions('i1'), []);
  t.match(compliance.lookup('i1'), { compliant: true, quarantine: false, status: 'compliant' });
  const released = events(db, 'policy.compliance.released');
  t.equal(released.length, 1);
  t.same((released[0].details.actions as Array<{ action: string }>).map((a) => a.action), ['lock', 'quarantine']);
  t.equal(released[0].seq, events(db, 'policy.compliance.changed').at(-1)!.seq + 1);

  // A new breach is a new lock.
  clock.now += 3 * HOUR;
  report({ deviceId: 'i1', platform: 'ios', encrypted: true, passcodePresent: false, passcodeCompliant: false });
  clock.now += 3 * HOUR;
  await compliance.sync();
  await compliance.settled();
  t.equal(apple.locks.length, 2);
});

t.test('the strongest action of the enforced rules applies; a kiosk is quarantined, never locked', async (t) => {
  const { compliance, report, policies } = setup(t, {
    passcode: { required: true },
    os: { minVersion: { ios: '18.0' } },
    compliance: { onBreach: 'mark', onBreachByRule: { osVersion: 'quarantine', passcode: 'lock' }, graceHours: { passcode: 0, osVersion: 0 } },
  });
  const apple = platform(['ios']);
  compliance.addBreachResponder(apple.responder);
  t.equal(report({ deviceId: 'a', platform: 'ios', osVersion: '17.2', passcodePresent: true, passcodeCompliant: true }).breachAction, 'quarantine');
  t.equal(report({ deviceId: 'b', platform: 'ios', osVersion: '18.1', passcodePresent: false }).breachAction, 'lock');
  t.equal(report({ deviceId: 'c', platform: 'ios', osVersion: '17.2', passcodePresent: false }).breachAction, 'lock');
  await compliance.settled();
  t.same(apple.locks.map((l) => l.id).sort(), ['b', 'c']);
  t.same(compliance.standingActions('b').map((a) => a.action), ['lock', 'quarantine'], 'lock includes quarantine');

  // The same rules for a kiosk: never locked (a patient may be using it).
  t.match(policyProblems({ mode: 'kiosk', kiosk: { app: { name: 'x', apple: 'org.x.app' } }, compliance: { onBreachByRule: { passcode: 'lock' } } }), [/lock is not for mode kiosk/]);
  policies.create('kiosk', { settings: { mode: 'kiosk', kiosk: { app: { name: 'Check-in', apple: 'org.example.checkin' } } } }, ctx);
  policies.assign('kiosk', 'device', 'k', ctx);
  t.equal(report({ deviceId: 'k', platform: 'ios', osVersion: '18.1', passcodePresent: false }).breachAction, 'quarantine');
  await compliance.settled();
  t.notOk(apple.locks.some((l) => l.id === 'k'));
  t.same(compliance.standingActions('k').map((a) => a.action), ['quarantine']);
});

t.test('a platform that cannot lock is recorded once; a passing failure is tried again later', async (t) => {
  const { db, compliance, report } = setup(t, { encryption: { required: true }, compliance: { onBreach: 'lock', graceHours: { encryption: 0 } } }, { lockRetryMs: 0 });
  let failNext = 1;
  const android = platform(['android'], () => (failNext-- > 0 ? new Error('database is locked') : undefined));
  const refusing = platform(['ipados'], () => new LockRefused('device i9 has checked out (unenrolled)'));
  compliance.addBreachResponder(android.responder);
  compliance.addBreachResponder(refusing.responder);

  // macOS: no platform locks Macs. One failure event, a standing row with the reason, no retry.
  report({ deviceId: 'mac', platform: 'macos', encrypted: false });
  report({ deviceId: 'i9', platform: 'ipados', encrypted: false });
  await compliance.settled();
  await compliance.sync();
  await compliance.settled();
  const failed = events(db, 'policy.compliance.lock_failed');
  t.same(failed.map((e) => [e.target!.id, e.outcome, e.reason, e.details.retried]).sort(), [
    ['i9', 'failure', 'device i9 has checked out (unenrolled)', false],
    ['mac', 'failure', 'Ward cannot lock macos devices', false],
  ]);
  t.match(compliance.standingActions('mac'), [{ action: 'lock', commandId: null, note: 'Ward cannot lock macos devices' }, { action: 'quarantine' }]);
  t.equal(compliance.lookup('mac')!.quarantine, true, 'still quarantined');

  // Android: the first attempt fails (passing), the next sync tries again and succeeds.
  report({ deviceId: 'and-1', platform: 'android', encrypted: false });
  await compliance.settled();
  t.same(android.locks, []);
  t.match(events(db, 'policy.compliance.lock_failed').at(-1), { target: { id: 'and-1' }, reason: 'database is locked', details: { retried: true } });
  t.notOk(compliance.standingActions('and-1').some((a) => a.action === 'lock'), 'nothing recorded as locked');
  await compliance.sync();
  await compliance.settled();
  t.same(android.locks.map((l) => l.id), ['and-1']);
  t.match(compliance.standingActions('and-1')[0], { action: 'lock', commandId: 'cmd-1' });
});

t.test('quarantine and its audit event are one transaction: if the event cannot be written, neither is the verdict', async (t) => {
  const { db, audit, compliance, report } = setup(t, { encryption: { required: true }, compliance: { onBreach: 'quarantine', graceHours: { encryption: 0 } } });
  report({ deviceId: 'x', platform: 'android', encrypted: true });
  const record = audit.record.bind(audit);
  audit.record = (input) => {
    if (input.action === 'policy.compliance.quarantined') throw new Error('disk full');
    return record(input);
  };
  t.throws(() => report({ deviceId: 'x', platform: 'android', encrypted: false }), /disk full/);
  audit.record = record;
  t.equal(db.sqlite.prepare('SELECT status FROM policy_devices WHERE device_id = ?').pluck().get('x'), 'compliant', 'verdict rolled back');
  t.same(compliance.standingActions('x'), []);
  t.equal(events(db, 'policy.compliance.changed').length, 1, 'only the first verdict was recorded');
});
