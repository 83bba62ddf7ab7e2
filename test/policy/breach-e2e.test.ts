// Policy reaching real (simulated) devices through Ward's own Apple and Android services, wired by
// main.ts, with Ward's clock moved forward instead of waiting:
//  - a Shared iPad gets the signed policy profile (openssl cms -verify, plistutil) with the per-app
//    VPN, then a Settings command carrying the EHR's managed configuration, the VPNUUID attribute
//    and the Shared iPad settings; at the policy's shift change it gets LogOutUser;
//  - devices reporting non-compliant facts are quarantined (the NAC answer over HTTPS with a nac
//    token says so) and, once the passcode grace period is over, locked: DeviceLock queued and
//    pushed to the iPad, LOCK through the Android agent's poll; each action is an audit event;
//  - fixed devices are released.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parsePlistDict, type PlistDict } from '../../src/apple/plist';
import { TEMPLATES, type PolicySettings } from '../../src/policy';
import { AgentSimulator } from '../android/agent-simulator';
import { startAppleWard, type AppleHarness } from '../apple/harness';
import { typicalAnswer, type SimulatedDevice } from '../apple/simulator';
import { request, tool, waitFor } from '../support/ward';

t.setTimeout(240_000);

const ctx = { actor: { type: 'cli' as const, id: 'e2e' }, source: 'local', requestId: null };
const MINUTE = 60_000;
let offset = 0;
const clock = () => new Date(Date.now() + offset);

let h: AppleHarness;
t.before(async () => {
  // The scheduled evaluation is pushed far away: the test says when compliance runs.
  h = await startAppleWard({ policy: { timeZone: 'UTC', complianceSchedule: '0 0 1 1 *', publishSchedule: '0 0 1 1 *', factsRefreshSeconds: 0 }, admin: { password: { scryptCost: 10 } } }, { clock });
});
t.teardown(() => h?.stop());

interface Delivered {
  command: PlistDict;
  raw: Buffer;
}

/** One device session (Idle, then every command answered), keeping each command's bytes. */
async function session(d: SimulatedDevice, passcode: boolean): Promise<Delivered[]> {
  const answer = typicalAnswer(d, passcode);
  const got: Delivered[] = [];
  let r = await d.idle();
  while (r.command) {
    got.push({ command: r.command, raw: r.answer.body });
    if (got.length > 50) throw new Error('the server keeps sending commands');
    const a = answer(r.command);
    r = await d.report(a.name, { CommandUUID: String(r.command.CommandUUID), ...(a.vars ?? {}) });
  }
  return got;
}

const typeOf = (c: Delivered) => String((c.command.Command as PlistDict).RequestType);

/** plistutil (libplist) parses the bytes; we read its XML back. */
function viaPlistutil(bytes: Buffer, name: string): PlistDict {
  const input = path.join(h.dir, `${name}.plist`);
  const output = path.join(h.dir, `${name}.libplist.plist`);
  fs.writeFileSync(input, bytes);
  const r = tool('plistutil', ['-i', input, '-o', output, '-f', 'xml']);
  if (r.status !== 0 || !fs.existsSync(output)) throw new Error(`plistutil refused ${name}: ${r.stderr}`);
  return parsePlistDict(fs.readFileSync(output));
}

function auditEvents(prefix: string, deviceId?: string): Array<{ seq: number; action: string; outcome: string; reason: string | null; details: Record<string, unknown>; target: { id: string } | null }> {
  const rows = h.ward.db.sqlite.prepare('SELECT seq, line FROM audit_events WHERE action LIKE ? ORDER BY seq').all(`${prefix}%`) as Array<{ seq: number; line: string }>;
  return rows.map((r) => ({ seq: r.seq, ...JSON.parse(r.line) })).filter((e) => !deviceId || e.target?.id === deviceId);
}

/** GET /api/v1/compliance/{key} over HTTPS with a fresh `nac` API token, as the NAC asks. */
function nacClient(name: string) {
  const nac = h.ward.admin.tokens.create({ name, role: 'nac' }, ctx);
  return (key: string, headers: Record<string, string> = {}) =>
    request(`${h.ward.httpsUrl}/api/v1/compliance/${encodeURIComponent(key)}`, { agent: h.ward.agent(), headers: { authorization: `Bearer ${nac.token}`, ...headers } });
}

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

t.test('shared iPad and clinician phone: policy delivered, shift change, quarantine and lock on breach, NAC answers', async (t) => {
  const ward = h.ward;
  const tpl = (name: string) => structuredClone(TEMPLATES.find((x) => x.name === name)!.settings);

  // Shared nursing tablets of ward 4B: the template, a per-app VPN for the EHR, a shift change a few
  // minutes from now, and a lock once the passcode has been missing for an hour.
  const shiftAt = Math.floor((Date.now() + 10 * MINUTE) / MINUTE) * MINUTE;
  const tablet: PolicySettings = tpl('hipaa-shared-nursing-tablet');
  tablet.vpn = { name: 'EHR VPN', server: 'vpn.hospital.internal', remoteIdentifier: 'vpn.hospital.internal', apps: [tablet.apps!.allow![0]] };
  tablet.sharedDevice!.shiftChanges = [hhmm(shiftAt)];
  tablet.compliance = { onBreach: 'quarantine', onBreachByRule: { passcode: 'lock' }, graceHours: { passcode: 1, encryption: 1 } };
  ward.policy.create('nursing-tablets', { settings: tablet }, ctx);
  ward.policy.assign('nursing-tablets', 'role', 'shared-tablet', ctx);
  ward.policy.setGroup('ward-4b-tablets', { ward: '4B', role: 'shared-tablet' }, ctx);

  // Clinician phones: quarantined at once for storage not encrypted, locked after an hour without a passcode.
  const phone = tpl('hipaa-clinician-corporate-phone');
  phone.compliance = { onBreach: 'quarantine', onBreachByRule: { passcode: 'lock' }, graceHours: { passcode: 1, encryption: 0 } };
  ward.policy.create('icu-phones', { settings: phone }, ctx);
  ward.policy.assign('icu-phones', 'unit', 'ICU', ctx);
  ward.policy.setGroup('icu-phones', { unit: 'ICU' }, ctx);

  // ---- devices enroll and report: the iPad without a passcode, the phone unencrypted
  const ipad = await h.enroll({ group: 'ward-4b-tablets', sharedIpad: true });
  const first = await session(ipad, false);
  t.same(first.map(typeOf), ['DeviceInformation', 'SecurityInfo']);
  const { token } = ward.android.createToken({ policyGroup: 'icu-phones', maxDevices: 1 }, ctx);
  const android = new AgentSimulator({ serverUrl: ward.httpsUrl, enrollmentToken: token, caSha256: ward.ca.rootFingerprint(), servername: 'localhost' });
  t.teardown(() => android.close());
  t.equal((await android.enroll()).status, 201);
  t.equal(android.policyEtag, `"${ward.policy.effectiveFor({ group: 'icu-phones' }).hash}"`, 'the agent got the ICU phone policy');
  t.equal((await android.reportStatus({ encryption: 'inactive', passcodeSufficient: false })).status, 200);

  await ward.compliance.sync();
  await ward.compliance.settled();
  t.equal(ward.compliance.evaluate(ipad.udid)!.status, 'grace', 'the iPad is within its grace periods');
  t.same(ward.compliance.standingActions(ipad.udid), []);
  t.same(ward.compliance.standingActions(android.deviceId!).map((a) => a.action), ['quarantine'], 'the phone is quarantined at once');
  t.same(ward.android.commandsOf(android.deviceId!), [], 'quarantine does not lock');

  // ---- the NAC asks over HTTPS with a nac token
  const ask = nacClient('radius');
  const phoneAnswer = await ask(android.deviceId!);
  t.equal(phoneAnswer.status, 200);
  t.match(phoneAnswer.json(), { matchedBy: 'device', compliant: false, quarantine: true, status: 'noncompliant', reasons: ['storage not encrypted', /^passcode does not meet the policy \(grace until /] });
  const ipadAnswer = await ask(ipad.identity.serial.toUpperCase());
  t.match(ipadAnswer.json(), { matchedBy: 'certificate', deviceId: ipad.udid, compliant: true, quarantine: false, status: 'grace' });
  const validUntil = Date.parse(ipadAnswer.json().validUntil);
  t.ok(validUntil > clock().getTime() + 59 * MINUTE && validUntil <= clock().getTime() + 60 * MINUTE, 'valid until the passcode grace ends');

  // ---- the policy reaches the iPad: InstallProfile (signed, VPN inside), then Settings
  const published = await ward.policy.publishPending();
  t.equal(published.failed, 0);
  const delivered = await session(ipad, false);
  t.same(delivered.map(typeOf), ['InstallProfile', 'Settings']);

  const installed = viaPlistutil(delivered[0].raw, 'install-profile').Command as PlistDict;
  const signedPath = path.join(h.dir, 'policy.mobileconfig');
  fs.writeFileSync(signedPath, installed.Payload as Buffer);
  const xmlPath = path.join(h.dir, 'policy.plist');
  const verified = tool('openssl', ['cms', '-verify', '-inform', 'DER', '-in', signedPath, '-CAfile', h.caFile, '-purpose', 'any', '-out', xmlPath]);
  t.equal(verified.status, 0, `openssl cms -verify: ${verified.stderr}`);
  const profile = viaPlistutil(fs.readFileSync(xmlPath), 'policy-profile');
  const payloads = profile.PayloadContent as PlistDict[];
  const byType = (type: string) => payloads.find((p) => p.PayloadType === type);
  t.equal(profile.PayloadIdentifier, 'org.ward.policy');
  t.notOk(byType('com.apple.mobiledevice.passwordpolicy'), 'Shared iPad: no passcode payload');
  const vpn = byType('com.apple.vpn.managed.applayer')!;
  const identity = byType('com.apple.security.scep')!;
  t.match(vpn, { VPNType: 'IKEv2', IKEv2: { AuthenticationMethod: 'Certificate', PayloadCertificateUUID: identity.PayloadUUID, LocalIdentifier: `ward-network-${ipad.udid}` } });
  t.match(vpn.VPNUUID, /^[0-9A-F-]{36}$/);

  const settings = viaPlistutil(delivered[1].raw, 'settings').Command as PlistDict;
  t.same(settings.Settings, [
    { Item: 'ApplicationAttributes', Identifier: 'org.example.ehr', Attributes: { VPNUUID: vpn.VPNUUID } },
    { Item: 'ApplicationConfiguration', Identifier: 'org.example.ehr', Configuration: { fhirBaseUrl: 'https://fhir.hospital.internal/R4', sharedDevice: true } },
    { Item: 'SharedDeviceConfiguration', UserSessionTimeout: 900, TemporarySessionOnly: false, PasscodePolicy: { AutoLockTime: 120, PasscodeLockGracePeriod: 0 } },
  ], 'managed app configuration, per-app VPN attribute and Shared iPad settings, as libplist reads them');

  // An in-house EHR installed later carries the same configuration and VPN from the start.
  const ipa = path.join(h.dir, 'ehr.ipa');
  fs.writeFileSync(ipa, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(64)]));
  const app = await h.apple.service.addApp({ file: ipa, bundleId: 'org.example.ehr', version: '31.0' }, ctx);
  await h.apple.service.queueCommand(ipad.udid, 'InstallApplication', { App: app.id, ManagementFlags: 1 }, ctx);
  const install = await session(ipad, false);
  const installApp = viaPlistutil(install[0].raw, 'install-app').Command as PlistDict;
  t.equal(installApp.RequestType, 'InstallApplication');
  t.same(installApp.Configuration, { fhirBaseUrl: 'https://fhir.hospital.internal/R4', sharedDevice: true });
  t.same(installApp.Attributes, { VPNUUID: vpn.VPNUUID });

  // ---- shift change: the signed-in nurse is logged out of the Shared iPad; the phone is left alone
  t.same((await ward.policy.compiledFor({ group: 'ward-4b-tablets' })).android().document.sharedDevice?.sessionEndTimes, [hhmm(shiftAt)], 'Android agents end the session at the same time');
  offset = shiftAt - Date.now() + 30_000;
  await ward.shifts.run();
  const shift = await session(ipad, false);
  t.same(shift.map(typeOf), ['LogOutUser']);
  t.same(viaPlistutil(shift[0].raw, 'logout').Command, { RequestType: 'LogOutUser' });
  t.same((await ward.shifts.run()).devices, 0, 'once per shift change');
  t.notOk(ward.android.commandsOf(android.deviceId!).length, 'no session command for the phone');

  // ---- an hour later: the passcode grace is over, both devices are locked
  offset += 61 * MINUTE;
  const pushesBefore = h.apns.requests.length;
  await ward.compliance.sync();
  await ward.compliance.settled();

  const lockEvents = auditEvents('policy.compliance.lock_queued');
  t.same(lockEvents.map((e) => e.target!.id).sort(), [android.deviceId!, ipad.udid].sort());
  const ipadLock = lockEvents.find((e) => e.target!.id === ipad.udid)!;
  t.match(ipadLock.details, { platform: 'ipados', breachAction: 'lock', status: 'noncompliant' });
  const queuedLock = auditEvents('apple.command.queued').find((e) => e.target!.id === ipadLock.details.commandId)!;
  t.match(queuedLock.details, { requestType: 'DeviceLock' }, 'the DeviceLock command and its own audit event');
  t.same(auditEvents('policy.compliance.quarantined', ipad.udid).length, 1, 'lock includes quarantine');
  await h.apns.waitFor(pushesBefore + 1);
  t.equal(h.apns.requests.at(-1)!.path, `/3/device/${ipad.pushToken.toString('hex')}`, 'the iPad was woken by a push');
  const locked = await session(ipad, false);
  t.same(locked.map(typeOf), ['DeviceLock']);
  const lockCommand = viaPlistutil(locked[0].raw, 'device-lock');
  t.equal(lockCommand.CommandUUID, ipadLock.details.commandId);
  t.match((lockCommand.Command as PlistDict).Message, /no longer meets its security policy \(passcode not set; /);

  const androidLock = lockEvents.find((e) => e.target!.id === android.deviceId)!;
  const received = await android.syncOnce(0);
  t.same(received.map((c) => [c.id, c.type]), [[androidLock.details.commandId, 'LOCK']]);
  t.equal(android.locked, 1, 'the agent locked the phone');

  const lockedAnswer = await ask(ipad.udid);
  t.match(lockedAnswer.json(), { compliant: false, quarantine: true, status: 'noncompliant', reasons: [/^passcode not set/] });
  await ward.compliance.sync();
  await ward.compliance.settled();
  t.equal(auditEvents('policy.compliance.lock_queued').length, 2, 'locked once per breach');

  // ---- the phone is fixed: released, the NAC lets it on again
  t.equal((await android.reportStatus({ encryption: 'active_per_user', passcodeSufficient: true })).status, 200);
  const fixed = await ask(android.deviceId!);
  t.match(fixed.json(), { compliant: true, quarantine: false, status: 'compliant', reasons: [] });
  const released = auditEvents('policy.compliance.released', android.deviceId);
  t.same((released[0].details.actions as Array<{ action: string }>).map((a) => a.action), ['lock', 'quarantine']);
});

t.test('the NAC answer is cacheable: max-age never past validUntil, ETag and 304, unknown keys not cached', async (t) => {
  const ward = h.ward;
  const ask = nacClient('radius-2');
  const d = await h.enroll({ group: 'ward-4b-tablets', sharedIpad: true });
  await session(d, false);
  await ward.compliance.sync();
  // Grace ends in an hour, but the configured cache (admin.nacCacheSeconds, 30 s) is shorter.
  const mac = String(h.apple.service.device(d.udid)!.facts.wifiMac);
  const byMac = await ask(`mac:${mac.toUpperCase().replace(/:/g, '-')}`);
  t.equal(byMac.status, 200);
  t.match(byMac.json(), { matchedBy: 'mac', deviceId: d.udid }, 'the Wi-Fi MAC from DeviceInformation names the device');
  const byId = await ask(d.udid);
  t.equal(byId.headers['cache-control'], 'private, max-age=30');
  const etag = String(byId.headers.etag);
  t.match(etag, /^"[A-Za-z0-9_-]{27}"$/);
  const again = await ask(d.udid, { 'if-none-match': etag });
  t.equal(again.status, 304, 'unchanged: 304');
  t.equal(again.body.length, 0);
  t.equal(again.headers.etag, etag);
  t.equal((await ask(d.udid, { 'if-none-match': '"other"' })).status, 200);

  // Half a minute before the grace period ends, the answer may be cached for at most that long.
  const validUntil = Date.parse(byId.json().validUntil);
  offset = validUntil - Date.now() - 20_000;
  const late = await ask(d.udid);
  const maxAge = Number(/max-age=(\d+)/.exec(String(late.headers['cache-control']))![1]);
  t.ok(maxAge <= 20 && maxAge >= 18, `max-age ${maxAge} stops at validUntil`);

  const unknown = await ask('00:00:5e:00:53:01');
  t.match(unknown.json(), { known: false, matchedBy: null, compliant: false, quarantine: false, status: 'unknown', validUntil: null });
  t.equal(unknown.headers['cache-control'], 'no-store');
});

t.test('a policy change reaches devices: the Android agent\'s held poll wakes with the new ETag, the iPad gets InstallProfile and a push', async (t) => {
  const ward = h.ward;
  const { token } = ward.android.createToken({ policyGroup: 'icu-phones', maxDevices: 1 }, ctx);
  const agent = new AgentSimulator({ serverUrl: ward.httpsUrl, enrollmentToken: token, caSha256: ward.ca.rootFingerprint(), servername: 'localhost' });
  t.teardown(() => agent.close());
  t.equal((await agent.enroll()).status, 201);
  t.equal((await agent.reportStatus()).status, 200);
  const ipad = await h.enroll({ group: 'icu-phones' });
  await session(ipad, true);
  await ward.compliance.sync();
  await ward.policy.publishPending();
  await session(ipad, true);
  const before = agent.policyEtag;

  // The agent holds a 20 s poll; the policy changes meanwhile.
  const started = Date.now();
  const held = agent.pollCommands(20);
  await waitFor(() => ward.android.health().details.heldPolls === 1, 10_000, 'the poll is held');
  const pushes = h.apns.requests.length;
  const settings = structuredClone(ward.policy.policy('icu-phones')!.settings);
  settings.passcode!.minLength = 8;
  ward.policy.update('icu-phones', { settings }, ctx);
  const outcome = await ward.policy.publishPending();
  t.match(outcome, { failed: 0 });
  const answer = await held;
  const hash = ward.policy.effectiveFor({ group: 'icu-phones' }).hash;
  t.equal(answer.status, 200);
  t.equal(answer.body.policyEtag, `"${hash}"`, 'the poll answers with the new ETag');
  t.ok(Date.now() - started < 15_000, 'woken, not timed out');
  t.not(answer.body.policyEtag, before);
  const fetched = await agent.fetchPolicy();
  t.equal(fetched.status, 200);
  t.match(fetched.body.policy, { policyId: hash, passwordPolicy: { minimumLength: 8 } });

  await h.apns.waitFor(pushes + 1);
  t.ok(h.apns.requests.slice(pushes).some((r) => r.path === `/3/device/${ipad.pushToken.toString('hex')}`), 'the iPad was pushed');
  const got = await session(ipad, true);
  t.same(got.map(typeOf), ['InstallProfile', 'Settings']);
  const published = auditEvents('policy.policy.published').at(-1)!;
  t.equal(published.details.hash, hash);
});
