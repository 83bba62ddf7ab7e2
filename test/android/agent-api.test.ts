// The agent API end to end over real TLS with client certificates: the reference simulator enrolls,
// reports, receives a LOCK and a selective WIPE and answers them; a revoked certificate is refused;
// one device cannot see or answer another's commands; passing failures never read as "unenrolled".
import crypto from 'node:crypto';
import Database from 'better-sqlite3';
import t from 'tap';
import { ADMIN_EXTRA, PROVISIONING_EXTRA } from '../../src/android';
import { startTestWard, waitFor, type TestWard } from '../support/ward';
import { AgentSimulator } from './agent-simulator';

// Real peers (aapt, apksigner, wardctl processes) on a shared two-core machine: more than tap's 30 s default.
t.setTimeout(240_000);

const CLI = { actor: { type: 'cli' as const, id: 'test' }, source: 'local', requestId: null };

let ward: TestWard;

t.before(async () => {
  ward = await startTestWard({ android: { longPollSeconds: 20, maxHeldPolls: 3, defaultPolicy: { passcode: { minLength: 6 } } } });
});
t.teardown(() => ward?.stop());

function simulator(mode: 'fully_managed' | 'work_profile' = 'fully_managed', opts: { maxDevices?: number | null } = {}): AgentSimulator {
  const { token } = ward.android.createToken({ mode, maxDevices: opts.maxDevices ?? 1 }, CLI);
  return new AgentSimulator({
    serverUrl: ward.httpsUrl,
    enrollmentToken: token,
    caSha256: ward.ca.rootFingerprint(),
    servername: 'localhost',
    managementMode: mode === 'fully_managed' ? 'device_owner' : 'profile_owner',
  });
}

function auditActions(deviceId: string): string[] {
  return (ward.db.sqlite.prepare("SELECT action FROM audit_events WHERE target_id = ? OR (actor_type = 'device' AND actor_id = ?) ORDER BY seq").pluck().all(deviceId, deviceId) as string[]);
}

t.test('the QR admin extras carry what the agent needs to pin and enroll', async (t) => {
  const { token } = ward.android.createToken({}, CLI);
  // No DPC imported in this Ward: the payload is refused with a clear reason.
  t.throws(() => ward.android.provisioningPayload(token), /no DPC APK has been imported/);
  t.equal(ADMIN_EXTRA.CA_SHA256, 'ward.ca_sha256');
  t.equal(PROVISIONING_EXTRA.ADMIN_EXTRAS_BUNDLE, 'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE');
});

t.test('the simulator pins the CA, enrolls, reports status and fetches policy with an ETag', async (t) => {
  const sim = simulator();
  const wrongPin = new AgentSimulator({ ...sim.opts, caSha256: '0'.repeat(64) });
  await t.rejects(wrongPin.pinCa(), /CA pin mismatch/, 'a wrong pin is refused before anything is sent');

  const enrolled = await sim.enroll();
  t.equal(enrolled.status, 201);
  t.same(enrolled.next, { action: 'continue' });
  t.equal(enrolled.headers['ward-next'], 'continue');
  t.ok(sim.deviceId && /^[0-9a-f-]{36}$/.test(sim.deviceId));
  t.same(sim.policy, { passcode: { minLength: 6 } });
  const cert = new crypto.X509Certificate(sim.certificatePem!);
  t.match(cert.subject, new RegExp(`CN=${sim.deviceId}`));
  t.ok(cert.checkIssued(ward.ca.issuing.cert), 'identity certificate from Ward issuing CA');
  t.equal(ward.ca.verifyIssued(cert.raw).status, 'valid');

  const status = await sim.reportStatus();
  t.equal(status.status, 200);
  t.equal(status.body.pendingCommands, 0);
  t.equal(status.body.policyEtag, sim.policyEtag);
  const stored = ward.android.device(sim.deviceId!)!;
  t.equal((stored.status as { encryption: string }).encryption, 'active_per_user');
  t.equal(stored.mode, 'fully_managed');

  const again = await sim.fetchPolicy();
  t.equal(again.status, 304, 'unchanged policy: 304');
  t.equal(again.headers['ward-next'], 'continue', 'the 304 carries the directive in its header');

  // A second report with the same facts is telemetry, not a new audit event; a changed patch level is.
  const before = auditActions(sim.deviceId!).filter((a) => a === 'android.device.status_changed').length;
  await sim.reportStatus({ battery: { level: 50 } });
  t.equal(auditActions(sim.deviceId!).filter((a) => a === 'android.device.status_changed').length, before);
  await sim.reportStatus({ securityPatch: '2026-11-05', installedApps: [{ packageName: 'org.example.wardagent', versionCode: 43 }] });
  const last = ward.db.sqlite.prepare("SELECT line FROM audit_events WHERE action = 'android.device.status_changed' ORDER BY seq DESC LIMIT 1").pluck().get() as string;
  const details = JSON.parse(last).details;
  t.same(details.changes.securityPatch, { from: '2026-10-05', to: '2026-11-05' });
  t.same(details.apps.removed, ['org.hospital.ehr']);
  t.same(details.apps.updated, ['org.example.wardagent@43']);
  t.ok(auditActions(sim.deviceId!).includes('android.device.enrolled'));
  sim.close();
});

t.test('LOCK: a held poll wakes at once when the command is queued; the agent answers', async (t) => {
  const sim = simulator();
  await sim.enroll();
  const started = Date.now();
  const poll = sim.pollCommands(20);
  await waitFor(() => ward.android.waiters.size > 0, 5000, 'the poll to be held');
  const cmd = ward.android.queueCommand(sim.deviceId!, 'LOCK', { message: 'Shift change' }, CLI);
  const answer = await poll;
  t.ok(Date.now() - started < 10_000, `woken well before the 20 s hold (${Date.now() - started} ms)`);
  t.equal(answer.status, 200);
  t.same(answer.body.commands.map((c) => [c.id, c.type, c.payload]), [[cmd.id, 'LOCK', { message: 'Shift change' }]]);
  t.equal(ward.android.commandsOf(sim.deviceId!)[0].status, 'sent');

  // The simulator's loop carries it out and answers done.
  const done = await sim.sendResult(cmd.id, 'done', { output: { lockedAt: new Date().toISOString() } });
  t.equal(done.status, 200);
  t.equal(ward.android.commandsOf(sim.deviceId!)[0].status, 'done');
  const again = await sim.sendResult(cmd.id, 'done');
  t.equal(again.status, 200, 'a repeated final answer is accepted (retry after a lost answer)');
  t.equal((await sim.sendResult(cmd.id, 'failed')).status, 409, 'a contradicting answer is refused');
  const actions = auditActions(sim.deviceId!);
  for (const a of ['android.command.queued', 'android.command.sent', 'android.command.completed']) t.ok(actions.includes(a), a);
  t.equal((await sim.pollCommands(0)).body.commands.length, 0, 'nothing left to deliver');
  sim.close();
});

t.test('selective WIPE of a work-profile device: acknowledged, then the device is unenrolled', async (t) => {
  const sim = simulator('work_profile');
  t.equal((await sim.enroll()).status, 201);
  t.throws(() => ward.android.queueCommand(sim.deviceId!, 'WIPE', { scope: 'full' }, CLI), /only be wiped selectively/);
  t.throws(() => ward.android.queueCommand(sim.deviceId!, 'REBOOT', {}, CLI), /fully managed/);
  const wipe = ward.android.queueCommand(sim.deviceId!, 'WIPE', { reason: 'phone lost' }, CLI);
  t.equal(wipe.payload.scope, 'work_profile', 'the scope follows the enrollment mode');

  const got = await sim.syncOnce(5);
  t.same(got.map((c) => c.type), ['WIPE']);
  t.equal(sim.wiped, 'work_profile', 'the agent removed only the work profile');
  t.equal(ward.android.commandsOf(sim.deviceId!)[0].status, 'acknowledged');
  const device = ward.android.device(sim.deviceId!)!;
  t.equal(device.state, 'unenrolled');
  t.match(device.unenrollReason, /work profile removed/);
  t.equal(ward.ca.certificate(device.certSerial)!.revokedAt !== null, true, 'its certificate is revoked');

  const after = await sim.reportStatus();
  t.equal(after.status, 403);
  t.equal(after.body.error, 'unenrolled');
  t.equal(after.next.action, 'unenrolled');
  t.equal(sim.state, 'unenrolled', 'only now does the agent stop');
  t.ok(auditActions(sim.deviceId!).includes('android.device.wiped'));
  sim.close();
});

t.test('full WIPE of a fully managed device', async (t) => {
  const sim = simulator();
  await sim.enroll();
  const wipe = ward.android.queueCommand(sim.deviceId!, 'WIPE', {}, CLI);
  t.equal(wipe.payload.scope, 'full');
  await sim.syncOnce(5);
  t.equal(sim.wiped, 'full');
  t.equal(ward.android.device(sim.deviceId!)!.state, 'unenrolled');
  sim.close();
});

t.test('a revoked device certificate is refused, and that is not "unenrolled"', async (t) => {
  const sim = simulator();
  await sim.enroll();
  t.equal((await sim.reportStatus()).status, 200);
  const serial = ward.android.device(sim.deviceId!)!.certSerial;
  ward.ca.revoke(serial, 'keyCompromise', CLI);
  const refused = await sim.reportStatus();
  t.equal(refused.status, 403);
  t.equal(refused.body.error, 'certificate_revoked');
  t.equal(refused.next.action, 'reauthenticate');
  t.equal(sim.state, 'enrolled', 'the agent keeps its enrollment');
  const poll = await sim.pollCommands(0);
  t.equal(poll.status, 403, 'every call is refused, the command poll too');
  sim.close();
});

t.test("one device cannot read or answer another's commands", async (t) => {
  const a = simulator();
  const b = simulator();
  await a.enroll();
  await b.enroll();
  const cmd = ward.android.queueCommand(a.deviceId!, 'LOCK', {}, CLI);
  t.same((await b.pollCommands(0)).body.commands, [], "B sees none of A's commands");
  const forged = await b.sendResult(cmd.id, 'done');
  t.equal(forged.status, 404);
  t.equal(forged.body.error, 'command_not_found');
  t.equal(forged.next.action, 'continue');
  t.equal(ward.android.commandsOf(a.deviceId!)[0].status, 'queued', "A's command is untouched");
  t.equal((await a.pollCommands(0)).body.commands[0].id, cmd.id);
  a.close();
  b.close();
});

t.test('passing failures say retry_later or reauthenticate, never unenrolled', async (t) => {
  const sim = simulator();
  await sim.enroll();

  // Another connection holds the write lock: the busy database is a 503 with retry_later.
  const blocker = new Database(ward.cfg.database.file);
  blocker.pragma('busy_timeout = 0');
  ward.db.sqlite.pragma('busy_timeout = 50');
  blocker.prepare('BEGIN IMMEDIATE').run();
  try {
    const busy = await sim.reportStatus();
    t.equal(busy.status, 503);
    t.equal(busy.next.action, 'retry_later');
    t.ok(Number(busy.headers['retry-after']) > 0, 'Retry-After header');
  } finally {
    blocker.prepare('ROLLBACK').run();
    blocker.close();
    ward.db.sqlite.pragma(`busy_timeout = ${ward.cfg.database.busyTimeoutMs}`);
  }
  t.equal(sim.state, 'enrolled');

  // No client certificate: reauthenticate.
  const anonymous = new AgentSimulator({ ...sim.opts });
  await anonymous.pinCa();
  const noCert = await anonymous.call('POST', '/status', sim.statusReport());
  t.equal(noCert.status, 401);
  t.equal(noCert.next.action, 'reauthenticate');

  // Unknown path, malformed JSON, schema violations: carry on (an agent bug, not an enrollment problem).
  const unknown = await sim.call('GET', '/nope');
  t.equal(unknown.status, 404);
  t.equal(unknown.next.action, 'continue');
  const invalid = await sim.reportStatus({ encryption: 'maybe' });
  t.equal(invalid.status, 400);
  t.match(invalid.body.reason, /encryption/);
  t.equal(invalid.next.action, 'continue');
  t.equal(sim.state, 'enrolled');
  anonymous.close();
  sim.close();
});

t.test('held polls are capped: past maxHeldPolls the answer is retry_later at once', async (t) => {
  const sims = [simulator(), simulator(), simulator(), simulator()];
  for (const s of sims) await s.enroll();
  const held = sims.slice(0, 3).map((s) => s.pollCommands(20));
  const firstGone = held[0].catch((e: Error) => e);
  await waitFor(() => ward.android.waiters.size === 3, 5000, 'three held polls');
  const fourth = await sims[3].pollCommands(20);
  t.equal(fourth.status, 200);
  t.equal(fourth.next.action, 'retry_later');
  t.ok((fourth.next.retryAfterSeconds ?? 0) >= 5);
  // A client that goes away frees its slot.
  sims[0].close();
  await waitFor(() => ward.android.waiters.size === 2, 5000, 'the closed poll to be released');
  t.equal(ward.android.policyChanged(), 2, 'a policy change wakes every held poll');
  for (const h of held.slice(1)) t.equal((await h).status, 200);
  t.match(await firstGone, { code: 'ECONNRESET' }, 'the closed poll ended on the client side');
  for (const s of sims) s.close();
});

t.test('security log batches become audit events of the device; retries are not duplicated', async (t) => {
  const sim = simulator();
  await sim.enroll();
  const base = Date.now() - 60_000;
  const events = [
    { id: 10, timeMillis: base, tag: 210002, tagName: 'TAG_KEYGUARD_DISMISS_AUTH_ATTEMPT', level: 'info', data: [0, 1] },
    { id: 11, timeMillis: base + 5, tag: 210003, tagName: 'TAG_KEYGUARD_SECURED', level: 'info', data: [] },
    { id: 12, timeMillis: base + 9, tag: 210029, tagName: 'TAG_OS_STARTUP', level: 'error', data: ['orange', 'enforcing'] },
  ];
  const first = await sim.uploadSecurityLogs(events);
  t.same([first.status, first.body.accepted, first.body.duplicates], [200, 3, 0]);
  const retry = await sim.uploadSecurityLogs(events);
  t.same([retry.body.accepted, retry.body.duplicates], [0, 3], 'a retried batch adds nothing');
  // After a reboot SecurityEvent ids start again, later in time: kept.
  const afterReboot = await sim.uploadSecurityLogs([{ id: 1, timeMillis: base + 30_000, tag: 210029, tagName: 'TAG_OS_STARTUP', level: 'info' }]);
  t.equal(afterReboot.body.accepted, 1);
  const rows = ward.db.sqlite.prepare("SELECT line FROM audit_events WHERE action = 'android.device.security_event' AND actor_id = ? ORDER BY seq").pluck().all(sim.deviceId!) as string[];
  t.equal(rows.length, 4);
  const e = JSON.parse(rows[2]);
  t.same(e.actor, { type: 'device', id: sim.deviceId });
  t.same(e.target, { type: 'android_device', id: sim.deviceId });
  t.equal(e.outcome, 'failure');
  t.same(e.details.data, ['orange', 'enforcing']);
  t.equal(e.details.time, new Date(base + 9).toISOString());
  const tooMany = await sim.uploadSecurityLogs(Array.from({ length: 501 }, (_, i) => ({ id: 100 + i, timeMillis: base + 40_000 + i, tag: 1 })));
  t.equal(tooMany.status, 400);
  t.equal(tooMany.next.action, 'continue');
  sim.close();
});

t.test('renewal: the old certificate works until the device uses the new one', async (t) => {
  const sim = simulator();
  await sim.enroll();
  const oldPem = sim.certificatePem!;
  const oldSerial = ward.android.device(sim.deviceId!)!.certSerial;
  const renewed = await sim.renew();
  t.equal(renewed.status, 201);
  t.not(sim.certificatePem, oldPem);
  // Pretend the renew answer was lost: the old certificate still gets in.
  const lost = new AgentSimulator({ ...sim.opts });
  Object.assign(lost, { caChainPem: sim.caChainPem, certificatePem: oldPem });
  (lost as unknown as { key: crypto.KeyObject }).key = (sim as unknown as { key: crypto.KeyObject }).key;
  t.equal((await lost.reportStatus()).status, 200, 'old certificate accepted while the new one is unused');
  t.equal((await sim.reportStatus()).status, 200, 'new certificate accepted');
  t.ok(ward.ca.certificate(oldSerial)!.revokedAt, 'using the new one retired the old one');
  const late = await lost.reportStatus();
  t.equal(late.status, 403);
  t.equal(late.next.action, 'reauthenticate');
  lost.close();
  sim.close();
});
