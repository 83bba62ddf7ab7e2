// Hostile and broken input at the check-in and command endpoints: wrong identity, revoked or
// foreign certificates, tampered signatures, malformed, huge and unknown messages. Each gets a
// clear 4xx with JSON {error, reason}, never a 500, and identity failures leave an audit event.
import t from 'tap';
import crypto from 'node:crypto';
import { buildPlistBuffer } from '../../src/apple/plist';
import { signMdmMessage } from '../../src/apple/cms';
import { startAppleWard, type AppleHarness } from './harness';
import { fixture } from './fixture';
import { makeLeaf, makeRoot } from './openssl';
import { identityFromFiles, typicalAnswer, type SimulatedDevice } from './simulator';

// Enrollments run scepclient and openssl: slow when the machine is busy.
t.setTimeout(240_000);

let h: AppleHarness;
let a: SimulatedDevice;
let b: SimulatedDevice;
t.before(async () => {
  h = await startAppleWard();
  a = await h.enroll();
  b = await h.enroll();
  await a.session(typicalAnswer(a));
  await b.session(typicalAnswer(b));
});
t.teardown(() => h?.stop());

const refusals = () =>
  h.ward.db.sqlite
    .prepare("SELECT line FROM audit_events WHERE action = 'apple.device.auth_refused' ORDER BY seq")
    .pluck()
    .all()
    .map((l) => JSON.parse(l as string));

function json(body: Buffer): { error: string; reason: string } {
  return JSON.parse(body.toString());
}

t.test('a certificate Ward did not issue is refused (401) and audited', async (t) => {
  const foreignRoot = makeRoot(h.dir, 'foreign-root');
  const foreign = makeLeaf(h.dir, foreignRoot, 'foreign-device');
  const before = refusals().length;
  const original = a.identity;
  a.use(identityFromFiles(foreign.keyPath, foreign.certPath));
  try {
    const r = await a.idle();
    t.equal(r.status, 401);
    t.match(json(r.answer.body), { error: 'unauthorized', reason: 'device certificate is unknown' });
    const auth = await a.authenticate();
    t.equal(auth.status, 401, 'cannot even Authenticate with it');
  } finally {
    a.use(original);
  }
  const after = refusals();
  t.equal(after.length, before + 2);
  t.match(after.at(-1), { outcome: 'failure', target: { id: a.udid }, actor: { type: 'device', id: a.udid } });
});

t.test("another enrolled device's certificate is refused for this enrollment", async (t) => {
  const original = a.identity;
  a.use(b.identity);
  try {
    const r = await a.idle();
    t.equal(r.status, 401);
    t.equal(json(r.answer.body).reason, 'certificate is not the one bound to this enrollment');
    // Nor can B's certificate re-Authenticate as A: it is bound to B.
    const auth = await a.authenticate();
    t.equal(auth.status, 401);
    t.equal(json(auth.body).reason, 'certificate is bound to another enrollment');
  } finally {
    a.use(original);
  }
  t.equal(h.apple.service.device(a.udid)?.certificateSerial, a.identity.serial, 'binding unchanged');
  t.ok(refusals().some((e) => e.details.certificateSerial === b.identity.serial));
});

t.test('no identity at all, and a tampered Mdm-Signature', async (t) => {
  const body = fixture('result-idle', { UDID: a.udid });
  a.auth = 'none';
  try {
    const r = await a.reportRaw(body);
    t.equal(r.status, 401);
    t.match(json(r.body).reason, /no device identity/);
    // Signature over a different body: the digest check fails.
    const other = fixture('result-idle', { UDID: b.udid });
    const sig = signMdmMessage(other, { key: a.identity.key, certificate: a.identity.certDer });
    const tampered = await a.reportRaw(body, { 'Mdm-Signature': sig });
    t.equal(tampered.status, 401);
    t.match(json(tampered.body).reason, /Mdm-Signature refused: messageDigest does not match the body/);
    const garbage = await a.reportRaw(body, { 'Mdm-Signature': 'bm90IGEgc2lnbmF0dXJl' });
    t.equal(garbage.status, 401);
    t.match(json(garbage.body).reason, /Mdm-Signature refused/);
  } finally {
    a.auth = 'mdm-signature';
  }
  t.equal((await a.idle()).status, 200, 'the device still works with a good signature');
});

t.test('TLS client certificate and Mdm-Signature signer must agree', async (t) => {
  const original = a.identity;
  a.use(a.identity, 'tls');
  try {
    // TLS as A, signature by B.
    const body = fixture('result-idle', { UDID: a.udid });
    const sig = signMdmMessage(body, { key: b.identity.key, certificate: b.identity.certDer });
    const r = await a.reportRaw(body, { 'Mdm-Signature': sig });
    t.equal(r.status, 401);
    t.match(json(r.body).reason, /differ/);
  } finally {
    a.use(original, 'mdm-signature');
  }
});

t.test('a revoked certificate is refused at once', async (t) => {
  const c = await h.enroll();
  await c.session(typicalAnswer(c));
  t.equal((await c.idle()).status, 200);
  h.ward.ca.revoke(c.identity.serial, 'keyCompromise', { actor: { type: 'cli', id: 'test' } });
  const r = await c.idle();
  t.equal(r.status, 401);
  t.equal(json(r.answer.body).reason, 'device certificate is revoked');
  t.ok(refusals().some((e) => e.details.certificateSerial === c.identity.serial && e.reason === 'device certificate is revoked'));
});

t.test('malformed, huge, unknown and mistyped messages get a 4xx with a reason', async (t) => {
  const cases: Array<[string, () => Promise<{ status: number; body: Buffer }>, number, string | RegExp]> = [
    ['not a plist', () => a.checkinRaw(Buffer.from('{"MessageType":"Authenticate"}')), 400, 'mdm_malformed_plist'],
    ['truncated plist', () => a.checkinRaw(fixture('checkin-tokenupdate', a.vars).subarray(0, 300)), 400, 'mdm_malformed_plist'],
    ['entity expansion attempt', () => a.checkinRaw(Buffer.from('<!DOCTYPE plist [<!ENTITY x "y">]><plist><dict/></plist>')), 400, 'mdm_malformed_plist'],
    ['unknown MessageType', () => a.checkinRaw(buildPlistBuffer({ MessageType: 'Reboot', UDID: a.udid })), 400, 'mdm_unknown_message_type'],
    ['missing MessageType', () => a.checkinRaw(buildPlistBuffer({ UDID: a.udid })), 400, 'mdm_missing_key'],
    ['no UDID or EnrollmentID', () => a.checkinRaw(buildPlistBuffer({ MessageType: 'CheckOut', Topic: 'x' })), 400, 'mdm_no_enrollment_id'],
    ['TokenUpdate with Token as string', () => a.checkinRaw(buildPlistBuffer({ MessageType: 'TokenUpdate', UDID: a.udid, Topic: 'x', PushMagic: 'm', Token: 'abc' })), 400, 'mdm_bad_value'],
    ['unknown Status', () => a.reportRaw(buildPlistBuffer({ Status: 'Finished', UDID: a.udid, CommandUUID: 'x' })), 400, 'mdm_bad_value'],
    ['huge check-in (300 KiB)', () => a.checkinRaw(buildPlistBuffer({ MessageType: 'CheckOut', UDID: a.udid, Pad: 'x'.repeat(300 * 1024) })), 413, 'payload_too_large'],
    ['huge report (5 MiB)', () => a.reportRaw(buildPlistBuffer({ Status: 'Idle', UDID: a.udid, Pad: 'x'.repeat(5 * 1024 * 1024) })), 413, 'payload_too_large'],
    ['deeply nested', () => a.reportRaw(Buffer.from(`<plist>${'<array>'.repeat(100)}${'</array>'.repeat(100)}</plist>`)), 400, 'mdm_malformed_plist'],
    ['wrong content type', () => a.put(String(a.profile.mdm.CheckInURL), fixture('checkin-checkout', a.vars), 'application/json'), 415, 'unsupported_media_type'],
  ];
  for (const [name, send, status, error] of cases) {
    const r = await send();
    t.equal(r.status, status, `${name}: status`);
    const body = json(r.body);
    t.match(body.error, error, `${name}: error code`);
    t.type(body.reason, 'string', `${name}: reason`);
  }
  t.equal(h.apple.service.device(a.udid)?.status, 'enrolled', 'none of that changed the enrollment');
  t.equal((await a.idle()).status, 200);
});

t.test('a message for an enrollment that never authenticated is refused', async (t) => {
  const body = fixture('checkin-tokenupdate', { ...a.vars, UDID: 'NEVER-SEEN-UDID' });
  const r = await a.checkinRaw(body);
  t.equal(r.status, 401);
  t.match(json(r.body).reason, /certificate is not the one bound|unknown enrollment/);
});

t.test('random garbage bodies never produce a 500', async (t) => {
  let fivexx = 0;
  for (let i = 0; i < 40; i++) {
    const body = crypto.randomBytes(64 + i * 37);
    const r = i % 2 ? await a.checkinRaw(body) : await a.reportRaw(body);
    if (r.status >= 500) fivexx++;
  }
  t.equal(fivexx, 0);
});
