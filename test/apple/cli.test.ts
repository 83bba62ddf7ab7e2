// wardctl apple ... and wardctl device ... as real processes against a running Ward's database.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { toolAsync, wardctlAsync, request, waitFor } from '../support/ward';
import { startAppleWard, TOPIC, type AppleHarness } from './harness';
import { makeLeaf } from './openssl';
import { typicalAnswer } from './simulator';
import type { PlistDict } from '../../src/apple/plist';

// Each wardctl run is a fresh process that opens the CA: slow when the machine is busy.
t.setTimeout(300_000);

let h: AppleHarness;
t.before(async () => {
  h = await startAppleWard();
});
t.teardown(() => h?.stop());

const ctl = (...args: string[]) => wardctlAsync(['--config', h.ward.file, ...args]);

t.test('push-cert import: PEM pair and PKCS#12; show prints topic and expiry', async (t) => {
  const other = makeLeaf(h.dir, h.apnsRoot, 'push-2', 'rsa:2048', ['extendedKeyUsage=clientAuth'], `/UID=${TOPIC}/CN=APSP:second`);
  let r = await ctl('apple', 'push-cert', 'import', other.certPath, other.keyPath);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`topic\\s+${TOPIC.replace(/\./g, '\\.')}`));
  r = await ctl('apple', 'push-cert', 'show', '--json');
  t.equal(r.status, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).serial, other.serial, 'the newest import is in use');

  const p12 = path.join(h.dir, 'push.p12');
  const pass = path.join(h.dir, 'p12-pass');
  fs.writeFileSync(pass, 'hospital-secret\n');
  const exp = await toolAsync('openssl', ['pkcs12', '-export', '-in', h.pushCert.certPath, '-inkey', h.pushCert.keyPath, '-out', p12, '-passout', 'pass:hospital-secret']);
  t.equal(exp.status, 0, exp.stderr);
  r = await ctl('apple', 'push-cert', 'import', p12, '--passphrase-file', pass);
  t.equal(r.status, 0, r.stderr);
  t.equal(h.apple.service.pushCertificate()?.sha256, require('node:crypto').createHash('sha256').update(h.pushCert.certDer).digest('hex'));

  fs.writeFileSync(pass, 'wrong\n');
  r = await ctl('apple', 'push-cert', 'import', p12, '--passphrase-file', pass);
  t.equal(r.status, 2, 'wrong PKCS#12 passphrase');
  t.match(r.stderr, /PKCS#12/);
  r = await ctl('apple', 'push-cert', 'import', h.pushCert.certPath, other.keyPath);
  t.equal(r.status, 2, 'key of another certificate');
  t.match(r.stderr, /does not belong/);
  const noUid = makeLeaf(h.dir, h.apnsRoot, 'not-push');
  r = await ctl('apple', 'push-cert', 'import', noUid.certPath, noUid.keyPath);
  t.equal(r.status, 2);
  t.match(r.stderr, /no UID/);
});

t.test('apple profile --out writes a signed profile openssl accepts', async (t) => {
  const out = path.join(h.dir, 'manual.mobileconfig');
  const r = await ctl('apple', 'profile', '--out', out, '--group', 'configurator');
  t.equal(r.status, 0, r.stderr);
  const v = await toolAsync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', out, '-CAfile', h.caFile, '-purpose', 'any']);
  t.equal(v.status, 0, v.stderr);
  t.match(v.stdout, /com\.apple\.mdm/);
  t.match(v.stdout, /com\.apple\.security\.scep/);
  t.equal((await ctl('apple', 'profile')).status, 2, 'usage error without --out');
});

t.test('apple token create/list/revoke', async (t) => {
  let r = await ctl('apple', 'token', 'create', '--group', 'ward-4', '--one-time', '--ttl', '2');
  t.equal(r.status, 0, r.stderr);
  const url = r.stdout.trim();
  t.match(url, /^https:\/\/localhost(:\d+)?\/mdm\/enroll\?token=[A-Za-z0-9_-]+$/);
  // The test config listens on port 0, so the URL's port is the config's, not the bound one.
  const res = await request(`${h.ward.httpsUrl}${new URL(url).pathname}${new URL(url).search}`, { agent: h.ward.agent() });
  t.equal(res.status, 200);
  r = await ctl('apple', 'token', 'list');
  t.match(r.stdout, /used\s+group=ward-4\s+one-time\s+uses=1/);
  r = await ctl('apple', 'token', 'create', '--json');
  const { id } = JSON.parse(r.stdout);
  t.equal((await ctl('apple', 'token', 'revoke', id)).status, 0);
  t.equal((await ctl('apple', 'token', 'revoke', id)).status, 1, 'already revoked');
  t.equal((await ctl('apple', 'token', 'frobnicate')).status, 2);
});

t.test('device list, show, command', async (t) => {
  const d = await h.enroll({ group: 'ed' });
  await d.session(typicalAnswer(d));
  let r = await ctl('device', 'list', '--json');
  t.equal(r.status, 0, r.stderr);
  const listed = JSON.parse(r.stdout).find((x: { id: string }) => x.id === d.udid);
  t.match(listed, { status: 'enrolled', group: 'ed', osVersion: '18.1', encrypted: true, passcodePresent: true });
  t.notOk(r.stdout.includes(d.pushMagic), 'no push secrets in the listing');
  r = await ctl('device', 'list');
  t.match(r.stdout, new RegExp(`${d.udid}\\s+enrolled`));
  r = await ctl('device', 'show', d.udid, '--json');
  t.equal(r.status, 0);
  const shown = JSON.parse(r.stdout);
  t.equal(shown.serialNumber, d.serialNumber);
  t.equal(shown.commands.length, 2);

  h.apns.reset();
  r = await ctl('device', 'command', d.udid, 'DeviceLock', '--json', '{"Message":"Call the ED desk","PhoneNumber":"+1 555 0100"}');
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /queued DeviceLock [0-9a-f-]{36}; push: sent/);
  t.equal(h.apns.requests.length, 1, 'wardctl woke the device');
  const seen = await d.session();
  t.equal((seen[0].Command as PlistDict).Message, 'Call the ED desk');

  t.equal((await ctl('device', 'command', d.udid, 'Reboot')).status, 2, 'unknown command type');
  r = await ctl('device', 'command', d.udid, 'DeviceLock', '--json', '{"Foo":1}');
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown parameter "Foo"/);
  t.equal((await ctl('device', 'command', d.udid, 'DeviceLock', '--json', '{')).status, 2, 'bad JSON');
  r = await ctl('device', 'show', 'NO-SUCH-DEVICE');
  t.equal(r.status, 1);
  t.match(r.stderr, /no Apple device/);
  t.equal((await ctl('device', 'command', 'NO-SUCH-DEVICE', 'DeviceLock')).status, 1);
});

t.test('a certificate revoked with wardctl (another process) is refused within a second', async (t) => {
  const d = await h.enroll();
  await d.session(typicalAnswer(d));
  t.equal((await d.idle()).status, 200);
  const r = await ctl('cert', 'revoke', d.identity.serial, '--reason', 'keyCompromise');
  t.equal(r.status, 0, r.stderr);
  const refused = await waitFor(async () => (await d.idle()).status === 401, 5000, 'revocation seen by cert-auth');
  t.ok(refused);
});
