// Provisioning as an operator does it, with real processes and real peers: `wardctl android dpc import`
// on APKs built by aapt and signed by apksigner, `wardctl android qr --json/--png` decoded by zbarimg,
// the DPC served on plain HTTP matching the QR checksums, then the simulator enrolling from the QR's
// admin extras, a command queued by wardctl waking its held poll, and unenrollment.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { ADMIN_EXTRA, PROVISIONING_EXTRA as EXTRA } from '../../src/android';
import { request, startTestWard, tempDir, toolAsync, waitFor, wardctlAsync, type TestWard } from '../support/ward';
import { AgentSimulator } from './agent-simulator';
import { aaptPackage, apksign, apksignerVerify, buildApkSet, manifestXml, type ApkSet } from './apk-builder';

// Real peers (aapt, apksigner, wardctl processes) on a shared two-core machine: more than tap's 30 s default.
t.setTimeout(240_000);

const dir = tempDir();
let set: ApkSet;
let ward: TestWard;

t.before(async () => {
  set = buildApkSet(dir);
  ward = await startTestWard({
    android: {
      crossProcessWakeMs: 200,
      longPollSeconds: 20,
      provisioning: {
        packageChecksum: true,
        wifi: { ssid: 'WARD-PROV', password: 'provisioning-only' },
        pac: { enabled: true },
        locale: 'en_US',
        timeZone: 'America/Chicago',
      },
    },
  });
  // wardctl runs in its own process and reads the file: give it the URLs devices use (ports were 0).
  const doc = YAML.parse(fs.readFileSync(ward.file, 'utf8'));
  doc.http.publicUrl = ward.cfg.http.publicUrl;
  doc.https.publicUrl = ward.cfg.https.publicUrl;
  fs.writeFileSync(ward.file, YAML.stringify(doc));
});
t.teardown(async () => {
  await ward?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const ctl = (...args: string[]) => wardctlAsync(['--config', ward.file, 'android', ...args]);
const loopback = (u: string) => u.replace('//localhost:', '//127.0.0.1:');

t.test('dpc import refuses unsigned and broken APKs with a clear line', async (t) => {
  const unsigned = await ctl('dpc', 'import', set.unsigned, '--receiver', '.AdminReceiver');
  t.equal(unsigned.status, 1);
  t.match(unsigned.stderr, /APK refused \(unsigned\): APK is not signed/);
  const cut = path.join(dir, 'cut.apk');
  fs.writeFileSync(cut, fs.readFileSync(set.v2v3).subarray(0, 3000));
  const truncated = await ctl('dpc', 'import', cut, '--receiver', '.AdminReceiver');
  t.equal(truncated.status, 1);
  t.match(truncated.stderr, /APK refused \(not-a-zip\)/);
  const usage = await ctl('dpc', 'import', set.v2v3);
  t.equal(usage.status, 2, '--receiver is required');
  t.equal((await request(`${ward.httpUrl}/android/dpc.apk`)).status, 404, 'nothing served yet');
});

t.test('an agent without the Android 12 activities is imported with warnings', async (t) => {
  const r = await ctl('dpc', 'import', set.noAndroid12, '--receiver', '.AdminReceiver');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /warning: no activity handles android\.app\.action\.GET_PROVISIONING_MODE: Android 12 and later show "Can't set up device"/);
  t.match(r.stdout, /warning: no activity handles android\.app\.action\.ADMIN_POLICY_COMPLIANCE/);
  const wrong = await ctl('dpc', 'import', set.v2v3, '--receiver', '.NotThere');
  t.match(wrong.stdout, /warning: the APK declares no receiver org\.example\.wardagent\.NotThere/);
});

let qrJson: string;

t.test('the complete agent: import, QR as JSON and PNG, served APK matching the checksums', async (t) => {
  const r = await ctl('dpc', 'import', set.v2v3, '--receiver', '.AdminReceiver');
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stdout, /warning/);
  const apksigner = apksignerVerify(set.v2v3);
  t.match(r.stdout, new RegExp(`certificate sha256 ${apksigner.certSha256[0]}`), 'the cert digest apksigner prints');

  const created = await ctl('token', 'create', '--one-time', '--label', 'ward 4B tablet', '--json');
  t.equal(created.status, 0, created.stderr);
  const token = JSON.parse(created.stdout);
  t.match(token.token, /^wet_[A-Za-z0-9_-]{32}$/);
  t.notOk('tokenHash' in token);

  const unknown = await ctl('qr', '--json', '--token', 'wet_not-a-token');
  t.equal(unknown.status, 1);
  t.match(unknown.stderr, /unknown enrollment token/);
  const json = await ctl('qr', '--json', '--token', token.token);
  t.equal(json.status, 0, json.stderr);
  qrJson = json.stdout.trim();
  const payload = JSON.parse(qrJson);
  const png = path.join(dir, 'qr.png');
  t.equal((await ctl('qr', '--png', png, '--token', token.token)).status, 0);
  const decoded = await toolAsync('zbarimg', ['--raw', '-q', '-Sdisable', '-Sqrcode.enable', png]);
  t.equal(decoded.stdout.replace(/\n$/, ''), qrJson, 'zbarimg reads the same JSON from the PNG');

  t.equal(payload[EXTRA.COMPONENT_NAME], 'org.example.wardagent/.AdminReceiver');
  t.equal(Buffer.from(payload[EXTRA.SIGNATURE_CHECKSUM], 'base64url').toString('hex'), apksigner.certSha256[0]);
  const served = await request(loopback(payload[EXTRA.DOWNLOAD_LOCATION]));
  t.equal(served.status, 200);
  t.equal(served.headers['content-type'], 'application/vnd.android.package-archive');
  const servedSha = crypto.createHash('sha256').update(served.body).digest();
  t.equal(payload[EXTRA.PACKAGE_CHECKSUM], servedSha.toString('base64').replace(/\+/g, '-').replace(/\//g, '_'), 'served APK = QR package checksum');
  t.ok(served.body.equals(fs.readFileSync(set.v2v3)), 'the imported file, byte for byte');
  const cached = await request(loopback(payload[EXTRA.DOWNLOAD_LOCATION]), { headers: { 'If-None-Match': String(served.headers.etag) } });
  t.equal(cached.status, 304);

  t.equal(payload[EXTRA.WIFI_SSID], '"WARD-PROV"');
  t.equal(payload[EXTRA.WIFI_SECURITY_TYPE], 'WPA');
  const pac = await request(loopback(payload[EXTRA.WIFI_PAC_URL]));
  t.equal(pac.status, 200);
  t.equal(pac.headers['content-type'], 'application/x-ns-proxy-autoconfig');
  t.match(pac.body.toString(), /function FindProxyForURL/);
  const extras = payload[EXTRA.ADMIN_EXTRAS_BUNDLE];
  t.equal(extras[ADMIN_EXTRA.SERVER_URL], ward.cfg.https.publicUrl);
  t.equal(extras[ADMIN_EXTRA.CA_SHA256], ward.ca.rootFingerprint());
  t.equal(extras[ADMIN_EXTRA.ENROLLMENT_MODE], 'fully_managed');

  // The token secret never reaches the audit trail or the token table.
  const lines = ward.db.sqlite.prepare('SELECT line FROM audit_events').pluck().all() as string[];
  t.notOk(lines.some((l) => l.includes(token.token)), 'no audit line carries the token');
  const rows = JSON.stringify(ward.db.sqlite.prepare('SELECT * FROM android_enrollment_tokens').all());
  t.notOk(rows.includes(token.token), 'the token table keeps only its hash');
  t.ok(rows.includes(crypto.createHash('sha256').update(token.token).digest('hex')));
});

t.test('the simulator enrolls from the QR, a wardctl command wakes its poll, unenroll stops it', async (t) => {
  const extras = JSON.parse(qrJson)[EXTRA.ADMIN_EXTRAS_BUNDLE];
  const sim = new AgentSimulator({
    serverUrl: loopback(extras[ADMIN_EXTRA.SERVER_URL]),
    enrollmentToken: extras[ADMIN_EXTRA.ENROLLMENT_TOKEN],
    caSha256: extras[ADMIN_EXTRA.CA_SHA256],
    servername: 'localhost',
  });
  t.equal((await sim.enroll()).status, 201);
  const listed = await ctl('devices', '--json');
  t.same(JSON.parse(listed.stdout).map((d: { id: string }) => d.id), [sim.deviceId]);

  const poll = sim.pollCommands(20);
  await waitFor(() => ward.android.waiters.size === 1, 5000, 'the held poll');
  const started = Date.now();
  const queued = await ctl('command', sim.deviceId!, 'lock', '--json', '{"message":"Call the ward desk"}');
  t.equal(queued.status, 0, queued.stderr);
  const answer = await poll;
  t.ok(Date.now() - started < 10_000, `woken by another process's command (${Date.now() - started} ms)`);
  t.same(answer.body.commands.map((c) => c.type), ['LOCK']);
  await sim.sendResult(answer.body.commands[0].id, 'done');
  const history = JSON.parse((await ctl('commands', sim.deviceId!, '--json')).stdout);
  t.equal(history[0].status, 'done');

  const bad = await ctl('command', sim.deviceId!, 'WIPE', '--json', '{"scope":"everything"}');
  t.equal(bad.status, 2);
  t.match(bad.stderr, /scope/);

  t.equal((await ctl('unenroll', sim.deviceId!, '--reason', 'returned to vendor')).status, 0);
  const after = await sim.pollCommands(0);
  t.equal(after.status, 403);
  t.equal(after.next.action, 'unenrolled');
  t.match(after.body.reason, /returned to vendor/);
  t.equal(sim.state, 'unenrolled');
  // The one-time token is spent.
  const second = new AgentSimulator({ ...sim.opts });
  const refused = await second.enroll();
  t.equal(refused.status, 403);
  t.equal(refused.next.action, 'reauthenticate');
  sim.close();
  second.close();
});

t.test('INSTALL_APP names a Ward-hosted app the device downloads with its certificate and checks', async (t) => {
  const ehr = apksign(aaptPackage(dir, 'ehr', manifestXml({ packageName: 'org.hospital.ehr', versionCode: 3100 })), path.join(dir, 'ehr.apk'), set.rsaKeystore, { v1: true, v2: true, v3: false });
  const imported = await ctl('app', 'import', ehr);
  t.equal(imported.status, 0, imported.stderr);
  const { token } = ward.android.createToken({}, { actor: { type: 'cli', id: 'test' }, source: null, requestId: null });
  const sim = new AgentSimulator({ serverUrl: ward.httpsUrl, enrollmentToken: token, caSha256: ward.ca.rootFingerprint(), servername: 'localhost' });
  await sim.enroll();
  t.equal((await ctl('command', sim.deviceId!, 'INSTALL_APP', '--json', '{"packageName":"org.hospital.missing"}')).status, 1, 'an app Ward does not host');
  t.equal((await ctl('command', sim.deviceId!, 'INSTALL_APP', '--json', '{"packageName":"org.hospital.ehr"}')).status, 0);
  const cmd = (await sim.pollCommands(0)).body.commands[0];
  t.equal(cmd.type, 'INSTALL_APP');
  t.same(
    { ...cmd.payload, url: undefined },
    { packageName: 'org.hospital.ehr', versionCode: 3100, sha256: crypto.createHash('sha256').update(fs.readFileSync(ehr)).digest('hex'), size: fs.statSync(ehr).size, url: undefined, signingCertSha256: apksignerVerify(ehr).certSha256[0] },
  );
  const download = await sim.downloadApp(cmd.payload);
  t.equal(download.status, 200);
  t.ok(download.sha256Ok, 'the downloaded APK matches the SHA-256 in the command');
  const stranger = new AgentSimulator({ ...sim.opts });
  await stranger.pinCa();
  t.equal((await stranger.downloadApp(cmd.payload)).status, 401, 'no device certificate, no app');
  const traversal = await sim.call('GET', '/apps/..%2f..%2fward.db');
  t.equal(traversal.status, 404);
  sim.close();
  stranger.close();
});

t.test('the real daemon check: wardctl qr needs an imported DPC', async (t) => {
  const empty = await startTestWard();
  t.teardown(() => empty.stop());
  const r = await wardctlAsync(['--config', empty.file, 'android', 'qr', '--json']);
  t.equal(r.status, 1);
  t.match(r.stderr, /no DPC APK has been imported yet/);
});
