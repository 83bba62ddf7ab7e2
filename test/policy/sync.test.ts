// The compliance sync at fleet size: keyset pages of devices, a turn of the event loop between
// batches (requests are answered while it runs), one sync at a time, and NAC look-ups that find a
// device by a point look-up instead of a sync.
import fs from 'node:fs';
import t, { type Test } from 'tap';
import { AppleMdm } from '../../src/apple';
import { AppleStore } from '../../src/apple/store';
import { AuditLog, type AuditContext } from '../../src/audit';
import { openDatabase, type WardDb } from '../../src/db';
import { ComplianceService, PolicyService, appleFactsSource } from '../../src/policy';
import { loadTestConfig, request, startTestWard, writeTestConfig, type TestWard } from '../support/ward';

const ctx: AuditContext = { actor: { type: 'cli', id: 'sync-test' }, source: 'local', requestId: null };
const NOW = new Date('2026-11-20T12:00:00Z');
const HOUR = 3_600_000;

const udid = (i: number) => `00008120-${i.toString(16).toUpperCase().padStart(16, '0')}`;
const wifiMac = (i: number) => `02:00:${i.toString(16).padStart(8, '0').match(/../g)!.join(':')}`;

/**
 * Apple devices `from`..`from+count-1` as their check-ins leave them in the Apple store: a mix that
 * is compliant, in grace (not encrypted, old OS) and non-compliant (not seen for 10 days).
 */
function seedApple(db: WardDb, from: number, count: number, now = NOW): void {
  const store = new AppleStore(db);
  db.write(() => {
    for (let i = from; i < from + count; i++) {
      const id = udid(i);
      const at = new Date(now.getTime() - (i % 13 === 0 ? 240 : 1) * HOUR).toISOString();
      store.upsertAuthenticated({
        id, enrollmentType: 'device', groupName: 'icu-phones', profileId: null, certSerial: (0x10000 + i).toString(16), topic: 'com.apple.mgmt.test', at,
        inventory: { productName: i % 3 ? 'iPhone15,2' : 'iPad13,1', osVersion: i % 5 ? '18.1' : '16.0' },
      });
      store.updateFacts(id, { encrypted: i % 7 !== 0, passcodePresent: true, passcodeCompliant: true, facts: { wifiMac: wifiMac(i) } });
    }
  });
}

function phonePolicy(policies: PolicyService): void {
  policies.createFromTemplate('phone', 'hipaa-clinician-corporate-phone', ctx);
  policies.assign('phone', 'role', 'clinician-phone', ctx);
  policies.setGroup('icu-phones', { unit: 'ICU', role: 'clinician-phone' }, ctx);
}

function fleet(t: Test, count: number, syncBatch: number) {
  const { file, doc, dir } = writeTestConfig();
  const cfg = loadTestConfig(file, doc);
  const db = openDatabase(cfg.database.file);
  const audit = new AuditLog(db);
  t.teardown(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const policies = new PolicyService({ db, audit, clock: () => NOW });
  phonePolicy(policies);
  seedApple(db, 0, count);
  // The compliance source reads the Apple service only (no CA operation happens here).
  const apple = new AppleMdm({ cfg, db, audit, ca: undefined as never });
  const compliance = new ComplianceService({ db, audit, policies, clock: () => NOW, syncBatch });
  compliance.addSource(appleFactsSource(apple.service, policies));
  // Devices known by push only (no source has them): judged by the clock at each sync.
  for (const id of ['pushed-a', 'pushed-b', 'pushed-c']) compliance.report({ deviceId: id, platform: 'android', factsVersion: 1, lastSeenAt: new Date(NOW.getTime() - (id === 'pushed-b' ? 400 : 1) * HOUR).toISOString() });
  const stored = () => ({
    devices: db.sqlite.prepare('SELECT device_id, platform, group_name, facts_version, status, evaluation FROM policy_devices ORDER BY device_id').all(),
    keys: db.sqlite.prepare('SELECT kind, value, device_id FROM policy_device_keys ORDER BY kind, value').all(),
  });
  return { db, compliance, stored };
}

t.test('a sync in pages of 500 judges 1,234 devices exactly as one batch does', async (t) => {
  const paged = fleet(t, 1234, 500);
  const whole = fleet(t, 1234, 100_000);
  const a = await paged.compliance.sync();
  const b = await whole.compliance.sync();
  t.same(a, b, 'the same counts');
  t.equal(a.devices, 1237, 'every Apple device once, and the three known by push only');
  t.equal(paged.compliance.syncProgress().batches, 4, 'three pages of Apple devices (500, 500, 234) and one of push-only devices');
  t.equal(whole.compliance.syncProgress().batches, 2);
  const pagedRows = paged.stored();
  t.same(pagedRows, whole.stored(), 'the same facts, verdicts, evaluations and look-up keys for every device');
  t.equal(pagedRows.devices.length, 1237);
  t.equal(pagedRows.keys.length, 2 * 1234, 'a certificate serial and a Wi-Fi MAC per Apple device');
  const statuses = new Set(pagedRows.devices.map((d) => (d as { status: string }).status));
  t.same([...statuses].sort(), ['compliant', 'grace', 'noncompliant'], 'the fleet has every verdict, so the comparison means something');
  t.same(await paged.compliance.sync(), { devices: 1237, changed: 0 }, 'a second sync changes nothing');
});

t.test('one sync at a time: a second call joins the one in flight', async (t) => {
  const { compliance } = fleet(t, 600, 100);
  const first = compliance.sync();
  const second = compliance.sync();
  t.equal(second, first, 'the same run');
  t.equal(compliance.syncProgress().runs, 1);
  t.same(await second, { devices: 603, changed: 600 });
  t.same(compliance.syncProgress(), { runs: 1, batches: 7, running: false });
  await compliance.sync();
  t.equal(compliance.syncProgress().runs, 2, 'a call after it ended starts a new one');
});

/** What this test uses of the admin surface main.ts mounts (src/admin). */
interface AdminLike {
  tokens: { create(input: { name: string; role: string }, c: AuditContext): { token: string } };
}

t.test('the daemon answers while it syncs a large fleet, and the NAC look-up never syncs', async (t) => {
  const ward = (await startTestWard({ admin: { password: { scryptCost: 10 } } })) as TestWard & { admin: AdminLike };
  t.teardown(() => ward.stop());
  phonePolicy(ward.policy);
  const size = 20_000;
  seedApple(ward.db, 0, size, new Date());

  // Requests during the sync: each answered while it still runs, with batches written in between.
  const health = () => request(`${ward.httpsUrl}/healthz`, { agent: ward.agent() });
  const sync = ward.compliance.sync();
  const answeredAt: number[] = [];
  let done = false;
  void sync.finally(() => (done = true));
  while (!done) {
    const a = await health();
    t.ok([200, 503].includes(a.status), `answered (${a.status})`);
    const progress = ward.compliance.syncProgress();
    if (progress.running) answeredAt.push(progress.batches);
  }
  const result = await sync;
  t.ok(result.devices >= size, `${result.devices} devices judged`);
  const batches = ward.compliance.syncProgress().batches;
  t.ok(batches >= size / 500, `${batches} batches`);
  t.ok(answeredAt.length >= 1, `${answeredAt.length} requests answered while the sync ran (at batches ${answeredAt.slice(0, 5).join(', ')}...)`);
  t.ok(answeredAt[0] < batches, 'the first answer came before the last batch');
  t.equal(ward.db.sqlite.prepare("SELECT count(*) FROM policy_devices WHERE status = 'unknown'").pluck().get(), 0, 'every device judged');

  // NAC: an unknown MAC is answered known: false without a sync; a device enrolled since the last
  // sync is found by its Wi-Fi MAC and certificate serial through point look-ups, still without one.
  const runs = ward.compliance.syncProgress().runs;
  const nac = ward.admin.tokens.create({ name: 'radius', role: 'nac' }, ctx);
  const ask = (key: string) => request(`${ward.httpsUrl}/api/v1/compliance/${encodeURIComponent(key)}`, { agent: ward.agent(), headers: { authorization: `Bearer ${nac.token}` } });
  for (const visitor of ['66:55:44:33:22:11', '66-55-44-33-22-12', 'ffffffff']) {
    const a = await ask(visitor);
    t.equal(a.status, 200);
    t.match(a.json(), { known: false, compliant: false, status: 'unknown' }, `${visitor}: unknown`);
  }
  seedApple(ward.db, size, 1, new Date());
  const byMac = (await ask(wifiMac(size).toUpperCase().replace(/:/g, '-'))).json();
  t.match(byMac, { known: true, matchedBy: 'mac', deviceId: udid(size) }, 'the new device by its Wi-Fi MAC (any spelling)');
  seedApple(ward.db, size + 1, 1, new Date());
  const bySerial = (await ask(`serial:${(0x10000 + size + 1).toString(16).toUpperCase()}`)).json();
  t.match(bySerial, { known: true, matchedBy: 'certificate', deviceId: udid(size + 1) }, 'another by its certificate serial');
  t.equal(ward.compliance.syncProgress().runs, runs, 'no look-up ran a sync');
});
