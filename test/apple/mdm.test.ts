// End to end through the real endpoints: a simulated device downloads a profile, enrolls with
// scepclient against Ward's /scep, checks in, takes commands and answers them; Ward pushes to a
// local APNs stand-in.
import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { buildPlist, parsePlistDict, type PlistDict } from '../../src/apple/plist';
import { fixture } from './fixture';
import { request, waitFor } from '../support/ward';
import { startAppleWard, TOPIC, type AppleHarness } from './harness';
import { installProfile, typicalAnswer } from './simulator';

// Enrollments run scepclient and openssl: slow when the machine is busy.
t.setTimeout(240_000);

let h: AppleHarness;
t.before(async () => {
  h = await startAppleWard();
});
t.teardown(() => h?.stop());

const cli = { actor: { type: 'cli' as const, id: 'test' } };
const events = (action: string) =>
  h.ward.db.sqlite.prepare('SELECT line FROM audit_events WHERE action = ? ORDER BY seq').pluck().all(action).map((l) => JSON.parse(l as string));
const plistutilReads = (bytes: Buffer, name: string) => {
  const file = path.join(h.dir, `${name}.plist`);
  fs.writeFileSync(file, bytes);
  const r = spawnSync('plistutil', ['-i', file, '-o', `${file}.bin`, '-f', 'bin'], { encoding: 'utf8' });
  return r.status === 0 && !/ERROR/.test(r.stderr) && fs.existsSync(`${file}.bin`);
};

t.test('enrollment profile over HTTPS: signed, one-time, bound to a group', async (t) => {
  const token = await h.apple.service.createToken({ group: 'icu', oneTime: true }, cli);
  t.match(token.url, /^https:\/\/.+\/mdm\/enroll\?token=[A-Za-z0-9_-]+$/);
  const res = await request(token.url, { agent: h.ward.agent() });
  t.equal(res.status, 200);
  t.equal(res.headers['content-type'], 'application/x-apple-aspen-config');
  const profile = await installProfile(res.body, h.caFile, h.dir); // openssl cms -verify inside
  t.equal(profile.mdm.Topic, TOPIC, 'Topic is the push certificate UID');
  t.match(String(profile.mdm.ServerURL), /^https:\/\/.+\/mdm\/command$/);
  t.match(String(profile.mdm.CheckInURL), /^https:\/\/.+\/mdm\/checkin\?profile=[0-9a-f-]{36}$/);
  t.equal(profile.mdm.SignMessage, true);
  t.equal(profile.mdm.AccessRights, 8191);
  t.equal(profile.mdm.CheckOutWhenRemoved, true);
  t.match(String(profile.scep.URL), /^http:\/\/.+\/scep$/);
  t.match(String(profile.scep.Challenge), /^[0-9a-f]{32}$/, 'a fresh SCEP challenge');
  t.equal(profile.scep.Keysize, 2048);
  t.equal(profile.scep['Key Usage'], 5);
  t.ok((profile.scep.CAFingerprint as Buffer).equals(crypto.createHash('sha1').update(h.ward.ca.root.der).digest()), 'CAFingerprint pins the root');
  t.ok(profile.root.equals(h.ward.ca.root.der), 'Ward root in com.apple.security.root');
  t.ok(plistutilReads(profile.content, 'profile'), 'plistutil reads the profile Ward signed');

  const again = await request(token.url, { agent: h.ward.agent() });
  t.equal(again.status, 410, 'a one-time token is used up');
  t.match(again.json(), { error: 'gone' });
  const unknown = await request(`${h.ward.httpsUrl}/mdm/enroll?token=${'x'.repeat(32)}`, { agent: h.ward.agent() });
  t.equal(unknown.status, 404);
  t.equal((await request(`${h.ward.httpsUrl}/mdm/enroll`, { agent: h.ward.agent() })).status, 400);
  const revoked = await h.apple.service.createToken({ group: 'icu' }, cli);
  await h.apple.service.revokeToken(revoked.id, cli);
  t.equal((await request(revoked.url, { agent: h.ward.agent() })).status, 410, 'revoked token');
  t.ok(events('apple.profile.refused').length >= 3, 'refusals are audited');
  const issued = events('apple.profile.issued').find((e) => e.details.tokenId === token.id);
  t.equal(issued?.details.group, 'icu');
  t.notOk(JSON.stringify(events('apple.enrollment_token.created')).includes(token.token), 'the token itself is never in the audit log');
});

t.test('a device enrolls through SCEP, checks in, and its inventory lands in the device record', async (t) => {
  h.apns.reset();
  const d = await h.enroll({ group: 'icu' });
  let view = h.apple.service.device(d.udid)!;
  t.equal(view.status, 'enrolled');
  t.equal(view.group, 'icu', 'group comes from the profile the device installed');
  t.equal(view.certificateSerial, d.identity.serial, 'the SCEP-issued certificate is bound');
  t.equal(view.unlockTokenEscrowed, true);
  t.equal(view.pushable, true);
  t.equal(h.ward.ca.certificate(d.identity.serial)?.profile, 'device', 'identity issued by Ward over SCEP');
  // First enrollment queues inventory and security queries and wakes the device.
  await h.apns.waitFor(1);
  const push = h.apns.requests[0];
  t.equal(push.path, `/3/device/${d.pushToken.toString('hex')}`);
  t.same(JSON.parse(push.body), { mdm: d.pushMagic });
  t.equal(push.headers['apns-topic'], TOPIC);

  const seen = await d.session(typicalAnswer(d, true));
  t.same(seen.map((c) => (c.Command as PlistDict).RequestType), ['DeviceInformation', 'SecurityInfo']);
  for (const c of seen) t.ok(plistutilReads(Buffer.from(buildPlist(c)), `cmd-${c.CommandUUID}`), 'plistutil reads the command');
  view = h.apple.service.device(d.udid)!;
  t.equal(view.osVersion, '18.1');
  t.equal(view.productName, 'iPhone15,2');
  t.equal(view.serialNumber, d.serialNumber);
  t.equal(view.model, 'MQ6J3ZD/A');
  t.equal(view.encrypted, true);
  t.equal(view.passcodePresent, true);
  t.equal(view.passcodeCompliant, true);
  t.equal(view.commands.every((c) => c.status === 'acknowledged'), true);
  t.ok(view.lastSeenAt === null || typeof view.lastSeenAt === 'string');
  // Escrowed UnlockToken is sealed in the database, not stored as sent.
  const raw = h.ward.db.sqlite.prepare('SELECT unlock_token FROM apple_devices WHERE id = ?').pluck().get(d.udid) as Buffer;
  t.notOk(raw.includes(d.unlockToken.subarray(0, 16)), 'UnlockToken sealed at rest');
});

t.test('the queue: FIFO, every status, NotNow retried without spinning, ClearPasscode carries the UnlockToken', async (t) => {
  const d = await h.enroll();
  await d.session(typicalAnswer(d));
  const svc = h.apple.service;
  const lock = await svc.queueCommand(d.udid, 'DeviceLock', { Message: 'Return to ICU', PhoneNumber: '+1 555 0100' }, cli);
  const install = await svc.queueCommand(d.udid, 'InstallProfile', { Payload: Buffer.from('<plist><dict/></plist>').toString('base64') }, cli);
  const clear = await svc.queueCommand(d.udid, 'ClearPasscode', {}, cli);
  const bad = await svc.queueCommand(d.udid, 'RestartDevice', {}, cli);

  // Session 1: DeviceLock -> NotNow; the next poll moves on (no spinning on the NotNow'd command).
  let r = await d.idle();
  t.equal(r.command?.CommandUUID, lock.uuid, 'oldest first');
  t.same((r.command!.Command as PlistDict).Message, 'Return to ICU');
  r = await d.report('notnow', { CommandUUID: lock.uuid });
  t.equal(r.command?.CommandUUID, install.uuid, 'after NotNow the next command, not the same one');
  r = await d.report('error', { CommandUUID: install.uuid });
  t.equal(r.command?.CommandUUID, clear.uuid);
  const clearCmd = r.command!.Command as PlistDict;
  t.ok((clearCmd.UnlockToken as Buffer).equals(d.unlockToken), 'ClearPasscode carries the escrowed UnlockToken');
  r = await d.report('acknowledged', { CommandUUID: clear.uuid });
  t.equal(r.command?.CommandUUID, bad.uuid);
  r = await d.report('commandformaterror', { CommandUUID: bad.uuid });
  t.equal(r.command, undefined, 'only the NotNow command is left: empty 200 within the session');
  t.equal(r.answer.body.length, 0);

  // Session 2 (Idle): the NotNow command comes back once.
  r = await d.idle();
  t.equal(r.command?.CommandUUID, lock.uuid, 'NotNow retried at the next session');
  r = await d.report('acknowledged', { CommandUUID: lock.uuid });
  t.equal(r.command, undefined);

  const byUuid = (u: string) => svc.command(u)!;
  t.equal(byUuid(lock.uuid).status, 'acknowledged');
  t.equal(byUuid(lock.uuid).notNowCount, 1);
  t.equal(byUuid(install.uuid).status, 'error');
  t.match(byUuid(install.uuid).errorChain, [{ ErrorCode: 4001, ErrorDomain: 'MCProfileErrorDomain' }, { ErrorCode: 2003 }], 'ErrorChain stored');
  t.equal(byUuid(clear.uuid).status, 'acknowledged');
  t.equal(byUuid(bad.uuid).status, 'command-format-error');
  t.match(byUuid(bad.uuid).errorChain, [{ ErrorCode: 12021 }]);
  t.ok(events('apple.command.failed').some((e) => e.target.id === install.uuid && e.outcome === 'failure'));
  t.ok(events('apple.command.not_now').some((e) => e.target.id === lock.uuid));
  // A repeated answer changes nothing.
  await d.report('error', { CommandUUID: clear.uuid });
  t.equal(byUuid(clear.uuid).status, 'acknowledged');
});

t.test('one device never reads or answers another device\'s commands', async (t) => {
  const a = await h.enroll();
  const b = await h.enroll();
  await a.session(typicalAnswer(a));
  await b.session(typicalAnswer(b));
  const cmd = await h.apple.service.queueCommand(a.udid, 'EraseDevice', { PIN: '123456' }, cli);
  const r = await b.idle();
  t.equal(r.command, undefined, 'B polls and gets nothing of A\'s');
  // B answers A's command UUID: ignored, and recorded as refused.
  const forged = await b.report('acknowledged', { CommandUUID: cmd.uuid });
  t.equal(forged.status, 200);
  t.equal(h.apple.service.command(cmd.uuid)!.status, 'queued', 'A\'s command untouched');
  t.ok(events('apple.command.report_refused').some((e) => e.target.id === cmd.uuid && e.actor.id === b.udid));
  // B claiming to be A (A's UDID in the body, B's certificate): 401.
  const asA = await b.reportRaw(fixture('result-idle', { UDID: a.udid }));
  t.equal(asA.status, 401);
  t.match(JSON.parse(asA.body.toString()), { error: 'unauthorized', reason: 'certificate is not the one bound to this enrollment' });
  const r2 = await a.idle();
  t.equal(r2.command?.CommandUUID, cmd.uuid, 'A still gets its command');
});

t.test('TLS client certificate instead of Mdm-Signature', async (t) => {
  const d = await h.enroll({ auth: 'tls' });
  t.equal(h.apple.service.device(d.udid)?.status, 'enrolled');
  const seen = await d.session(typicalAnswer(d));
  t.equal(seen.length, 2);
  t.ok(events('apple.device.authenticated').some((e) => e.target.id === d.udid && e.details.via === 'tls'));
});

t.test('bootstrap token escrow, UserAuthenticate, Declarative Management, user channel, CheckOut', async (t) => {
  const d = await h.enroll();
  await d.session(typicalAnswer(d));
  const bootstrap = crypto.randomBytes(64);
  t.equal((await d.checkin('setbootstraptoken', { BootstrapToken: bootstrap })).status, 200);
  const stored = h.ward.db.sqlite.prepare('SELECT bootstrap_token FROM apple_devices WHERE id = ?').pluck().get(d.udid) as Buffer;
  t.notOk(stored.includes(bootstrap.subarray(0, 16)), 'Bootstrap Token sealed at rest');
  const got = await d.checkin('getbootstraptoken');
  t.equal(got.status, 200);
  t.ok((parsePlistDict(got.body).BootstrapToken as Buffer).equals(bootstrap), 'GetBootstrapToken returns it');
  t.ok(plistutilReads(got.body, 'getbootstraptoken'), 'plistutil reads the GetBootstrapToken answer');
  t.ok(events('apple.bootstrap_token.retrieved').some((e) => e.target.id === d.udid));

  const ua = await d.checkin('userauthenticate', { UserID: '6A1B0C0D-2222-4333-8444-555566667777' });
  t.equal(ua.status, 410, 'UserAuthenticate declined with 410 (Ward does not manage network users)');

  const dm = await d.checkin('declarativemanagement');
  t.equal(dm.status, 200);
  t.match(JSON.parse(dm.body.toString()), { SyncTokens: { DeclarationsToken: String } });
  const body = (endpoint: string) =>
    Buffer.from(buildPlist({ MessageType: 'DeclarativeManagement', Endpoint: endpoint, UDID: d.udid }));
  t.equal((await d.checkinRaw(body('declaration-items'))).status, 200);
  t.equal((await d.checkinRaw(body('declaration/configuration/abc'))).status, 404);
  t.equal((await d.checkinRaw(body('nonsense'))).status, 400);

  // A macOS user channel: its own queue, pushed with its own token.
  const userId = '7A1B0C0D-2222-4333-8444-555566667777';
  const userToken = crypto.randomBytes(32);
  t.equal((await d.checkin('tokenupdate-user', { UserID: userId, Token: userToken, PushMagic: 'USER-MAGIC' })).status, 200);
  h.apns.reset();
  const cmd = await h.apple.service.queueCommand(d.udid, 'ProfileList', {}, cli, { user: userId });
  t.match(await cmd.push, { status: 'sent' });
  t.equal(h.apns.requests[0].path, `/3/device/${userToken.toString('hex')}`, 'pushed on the user channel token');
  const deviceIdle = await d.idle();
  t.equal(deviceIdle.command, undefined, 'not on the device channel');
  const userIdle = await d.reportRaw(
    Buffer.from(buildPlist({ Status: 'Idle', UDID: d.udid, UserID: userId, UserShortName: 'nurse' })),
  );
  t.equal(parsePlistDict(userIdle.body).CommandUUID, cmd.uuid, 'delivered on the user channel');

  t.equal((await d.checkin('checkout')).status, 200);
  t.equal(h.apple.service.device(d.udid)?.status, 'checked-out');
  await t.rejects(h.apple.service.queueCommand(d.udid, 'DeviceLock', {}, cli), { code: 'conflict' });
});

t.test('APNs: 410 Unregistered marks the token dead; later commands wait for the check-in', async (t) => {
  const d = await h.enroll();
  await d.session(typicalAnswer(d));
  h.apns.reset(() => ({ status: 410, reason: 'Unregistered' }));
  const cmd = await h.apple.service.queueCommand(d.udid, 'DeviceInformation', {}, cli);
  t.match(await cmd.push, { status: 'unregistered' });
  await waitFor(() => h.apple.service.device(d.udid)?.pushable === false, 5000, 'token marked dead');
  t.ok(events('apple.push.token_unregistered').some((e) => e.target.id === d.udid));
  h.apns.reset();
  const next = await h.apple.service.queueCommand(d.udid, 'SecurityInfo', {}, cli);
  t.match(await next.push, { status: 'no-token' }, 'no push to a dead token');
  t.equal(h.apns.requests.length, 0);
  // The device checks in by itself and gets both commands; a new TokenUpdate revives the token.
  const seen = await d.session(typicalAnswer(d));
  t.same(seen.map((c) => c.CommandUUID), [cmd.uuid, next.uuid]);
  await d.tokenUpdate();
  t.equal(h.apple.service.device(d.udid)?.pushable, true);
});

t.test('InstallApplication of an in-house app: Ward serves the manifest and the .ipa', async (t) => {
  const d = await h.enroll();
  await d.session(typicalAnswer(d));
  const ipaFile = path.join(h.dir, 'charting.ipa');
  const ipa = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), crypto.randomBytes(5000)]);
  fs.writeFileSync(ipaFile, ipa);
  const app = await h.apple.service.addApp({ file: ipaFile, bundleId: 'org.example.charting', version: '4.2', title: 'Bedside Charting' }, cli);
  await t.rejects(h.apple.service.addApp({ file: ipaFile, bundleId: 'org.example.charting', version: '4.2' }, cli), { code: 'conflict' });
  const notIpa = path.join(h.dir, 'not.ipa');
  fs.writeFileSync(notIpa, 'hello');
  await t.rejects(h.apple.service.addApp({ file: notIpa, bundleId: 'org.example.x', version: '1' }, cli), { code: 'bad-request' });

  const cmd = await h.apple.service.queueCommand(d.udid, 'InstallApplication', { App: app.id, ManagementFlags: 1 }, cli);
  const r = await d.idle();
  t.equal(r.command?.CommandUUID, cmd.uuid);
  const body = r.command!.Command as PlistDict;
  t.equal(body.ManifestURL, app.manifestUrl);
  t.notOk('App' in body, 'the catalog id is not sent to the device');
  // The device fetches the manifest, then the package it names.
  const manifestUrl = new URL(String(body.ManifestURL));
  const manifest = await request(`${h.ward.httpsUrl}${manifestUrl.pathname}`, { agent: h.ward.agent() });
  t.equal(manifest.status, 200);
  t.ok(plistutilReads(manifest.body, 'manifest'), 'plistutil reads the manifest');
  const item = (parsePlistDict(manifest.body).items as PlistDict[])[0];
  t.same(item.metadata, { 'bundle-identifier': 'org.example.charting', 'bundle-version': '4.2', kind: 'software', title: 'Bedside Charting' });
  const asset = (item.assets as PlistDict[])[0];
  t.equal(asset.kind, 'software-package');
  const pkg = await request(`${h.ward.httpsUrl}${new URL(String(asset.url)).pathname}`, { agent: h.ward.agent() });
  t.equal(pkg.status, 200);
  t.ok(pkg.body.equals(ipa), 'the .ipa as added');
  t.ok((asset.sha256s as Buffer[])[0].equals(crypto.createHash('sha256').update(ipa).digest()), 'manifest hash matches');
  t.equal((await request(`${h.ward.httpsUrl}/mdm/apps/app-0000000000000000/manifest.plist`, { agent: h.ward.agent() })).status, 404);
  await d.report('acknowledged', { CommandUUID: cmd.uuid });
  await t.rejects(h.apple.service.queueCommand(d.udid, 'InstallApplication', { App: 'app-0000000000000000' }, cli), { code: 'not-found' });
});

t.test('/healthz shows the push certificate topic and expiry', async (t) => {
  const res = await request(`${h.ward.httpsUrl}/healthz`, { agent: h.ward.agent() });
  const apple = res.json().checks.apple;
  t.equal(apple.ok, true);
  t.equal(apple.details.pushCertificate.topic, TOPIC);
  t.match(apple.details.pushCertificate.notAfter, /^\d{4}-\d\d-\d\dT/);
  t.ok(apple.details.pushCertificate.daysLeft > 0);
  t.equal(apple.details.apns, 'enabled');
});
