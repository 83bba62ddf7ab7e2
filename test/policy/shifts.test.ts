// Shift change: LogOutUser goes to each Shared iPad whose policy lists a shift-change time that fell
// since the previous run, in the hospital's time zone; never to other devices, never twice, never
// replayed after a restart. breach-e2e.test.ts shows the command reaching a simulated iPad.
import fs from 'node:fs';
import t from 'tap';
import { AuditLog, type AuditContext } from '../../src/audit';
import { ConfigError } from '../../src/config';
import { openDatabase } from '../../src/db';
import { ComplianceService, PolicyService, ShiftChanges, type DeviceFacts } from '../../src/policy';
import { loadTestConfig, startTestWard, writeTestConfig } from '../support/ward';

const ctx: AuditContext = { actor: { type: 'cli', id: 'tester' }, source: 'local', requestId: null };

t.test('log-outs at the shift-change times of each Shared iPad\'s policy, in the hospital\'s zone', async (t) => {
  const { file, doc, dir } = writeTestConfig();
  const db = openDatabase(loadTestConfig(file, doc).database.file);
  t.teardown(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const audit = new AuditLog(db);
  // 06:58 in Chicago (CST, UTC-6) on a winter morning.
  let now = Date.parse('2026-01-15T12:58:00Z');
  const clock = () => new Date(now);
  const policies = new PolicyService({ db, audit, clock });
  const compliance = new ComplianceService({ db, audit, policies, clock });
  policies.create('tablets', { settings: { mode: 'sharedClinicalTablet', sharedDevice: { shiftChanges: ['07:00', '19:00'] } } }, ctx);
  policies.create('night', { settings: { sharedDevice: { shiftChanges: ['23:00'] } } }, ctx);
  policies.create('phones', { settings: { mode: 'corporate' } }, ctx);
  policies.assign('tablets', 'role', 'shared', ctx);
  policies.assign('night', 'ward', '4B', ctx);
  policies.assign('phones', 'role', 'phone', ctx);
  policies.setGroup('4b-tablets', { ward: '4B', role: 'shared' }, ctx);
  policies.setGroup('icu-tablets', { role: 'shared' }, ctx);
  policies.setGroup('phones', { role: 'phone' }, ctx);
  const device = (deviceId: string, group: string, f: Partial<DeviceFacts>) =>
    compliance.report({ deviceId, group, platform: 'ipados', factsVersion: 1, lastSeenAt: clock().toISOString(), sharedIpad: true, ...f } as DeviceFacts);
  device('ipad-4b', '4b-tablets', {});
  device('ipad-icu', 'icu-tablets', {});
  device('ipad-personal', 'icu-tablets', { sharedIpad: undefined });
  device('ipad-gone', 'icu-tablets', { enrolled: false });
  device('phone', 'phones', { platform: 'ios' });
  device('ipad-corporate', 'phones', {});
  device('android-tablet', 'icu-tablets', { platform: 'android', sharedIpad: undefined });

  const shifts = new ShiftChanges({ policies, timeZone: 'America/Chicago', clock });
  const loggedOut: string[] = [];
  let fail = '';
  const ender = {
    platforms: ['ipados'] as const,
    logOut(id: string) {
      if (id === fail) throw new Error('device checked out');
      loggedOut.push(id);
      return { commandId: `c-${loggedOut.length}` };
    },
  };
  shifts.addSessionEnder(ender);
  t.equal(shifts.localTime(now), '06:58');

  now += 60_000;
  t.same(await shifts.run(), { times: [], devices: 0, failed: 0 }, '06:59: nothing due');
  now += 90_000; // 07:00:30
  t.same(await shifts.run(), { times: ['07:00'], devices: 2, failed: 0 });
  t.same(loggedOut.sort(), ['ipad-4b', 'ipad-icu'], 'Shared iPads of sharedClinicalTablet policies only');
  now += 10_000;
  t.same((await shifts.run()).devices, 0, 'the same shift change once');

  // A Ward that was down over 19:00 does not log the evening shift out hours late.
  now = Date.parse('2026-01-16T04:30:00Z'); // 22:30 local
  const restarted = new ShiftChanges({ policies, timeZone: 'America/Chicago', clock });
  restarted.addSessionEnder(ender);
  t.same(await restarted.run(), { times: [], devices: 0, failed: 0 });

  // 23:00: the night shift of ward 4B only (its ward policy adds the time); a failure is counted.
  fail = 'ipad-4b';
  now = Date.parse('2026-01-16T05:00:05Z');
  t.same(await restarted.run(), { times: ['23:00'], devices: 0, failed: 1 }, 'the 4B tablet was due, its log-out failed');
  loggedOut.length = 0;
  fail = '';
  now = Date.parse('2026-01-17T13:00:00Z'); // 07:00 a day later, a long gap: at most a day is looked at
  t.same(await restarted.run(), { times: ['07:00', '19:00', '23:00'], devices: 2, failed: 0 });
  t.same(loggedOut.sort(), ['ipad-4b', 'ipad-icu']);

  t.throws(() => new ShiftChanges({ policies, timeZone: 'Mars/Olympus_Mons' }), RangeError);
});

t.test('Ward refuses to start with an unknown policy.timeZone', async (t) => {
  await t.rejects(startTestWard({ policy: { timeZone: 'Mars/Olympus_Mons' } }), ConfigError);
  await t.rejects(startTestWard({ policy: { timeZone: 'Mars/Olympus_Mons' } }), /policy\.timeZone: "Mars\/Olympus_Mons" is not an IANA time zone/);
});
