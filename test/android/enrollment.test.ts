// Enrollment tokens (one-time, device limit, expiry, revocation, mode) and the agent API's answer to
// malformed and hostile input: always a 4xx JSON answer with `next`, never a 500, never "unenrolled".
import crypto from 'node:crypto';
import t from 'tap';
import { startTestWard, waitFor, type TestWard } from '../support/ward';
import { AgentSimulator, buildCsr } from './agent-simulator';

// Real peers (aapt, apksigner, wardctl processes) on a shared two-core machine: more than tap's 30 s default.
t.setTimeout(240_000);

const CLI = { actor: { type: 'cli' as const, id: 'test' }, source: 'local', requestId: null };
let ward: TestWard;

t.before(async () => {
  ward = await startTestWard({ limits: { bodyBytes: 65536 } });
});
t.teardown(() => ward?.stop());

function sim(token: string, managementMode: 'device_owner' | 'profile_owner' = 'device_owner'): AgentSimulator {
  return new AgentSimulator({ serverUrl: ward.httpsUrl, enrollmentToken: token, caSha256: ward.ca.rootFingerprint(), servername: 'localhost', managementMode });
}

function refusals(): { reason: string; target: { id: string } | null; details: Record<string, unknown> }[] {
  return (ward.db.sqlite.prepare("SELECT line FROM audit_events WHERE action = 'android.device.enrollment_refused' ORDER BY seq").pluck().all() as string[]).map((l) => JSON.parse(l));
}

t.test('one-time token: a second device is refused; the same installation retrying is not a second device', async (t) => {
  const { token, record } = ward.android.createToken({ maxDevices: 1 }, CLI);
  const a = sim(token);
  t.equal((await a.enroll()).status, 201);
  const firstId = a.deviceId;
  // The enroll answer was lost: the agent enrolls again with its installation id.
  const again = await a.enroll();
  t.equal(again.status, 201);
  t.equal(a.deviceId, firstId, 'same device');
  t.equal(ward.android.tokens().find((x) => x.id === record.id)!.devices, 1, 'token used once');
  t.equal((await a.reportStatus()).status, 200);

  const b = sim(token);
  const refused = await b.enroll();
  t.equal(refused.status, 403);
  t.equal(refused.body.error, 'enrollment_refused');
  t.match(refused.body.reason, /used up \(1 of 1 devices\)/);
  t.equal(refused.next.action, 'reauthenticate');
  const audit = refusals().pop()!;
  t.equal(audit.target!.id, record.id, 'the refusal is audited against the token id');
  t.notOk(JSON.stringify(audit).includes(token), 'never the token itself');
  a.close();
  b.close();
});

t.test('device limit, expiry, revocation and mode are enforced', async (t) => {
  const two = ward.android.createToken({ maxDevices: 2, policyGroup: 'icu-tablets' }, CLI);
  const s1 = sim(two.token);
  const s2 = sim(two.token);
  const s3 = sim(two.token);
  t.equal((await s1.enroll()).status, 201);
  t.equal((await s2.enroll()).status, 201);
  t.equal((await s3.enroll()).status, 403);
  t.equal(ward.android.device(s1.deviceId!)!.policyGroup, 'icu-tablets', 'bound to the token policy group');

  const expiring = ward.android.createToken({}, CLI);
  // Test set-up only: move the expiry into the past.
  ward.db.sqlite.prepare('UPDATE android_enrollment_tokens SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), expiring.record.id);
  const late = await sim(expiring.token).enroll();
  t.equal(late.status, 403);
  t.match(late.body.reason, /expired/);

  const revoked = ward.android.createToken({}, CLI);
  ward.android.revokeToken(revoked.record.id, CLI);
  t.throws(() => ward.android.revokeToken(revoked.record.id, CLI), /already revoked/);
  t.match((await sim(revoked.token).enroll()).body.reason, /revoked/);

  const byod = ward.android.createToken({ mode: 'work_profile' }, CLI);
  const wrongMode = await sim(byod.token, 'device_owner').enroll();
  t.equal(wrongMode.status, 403);
  t.match(wrongMode.body.reason, /work_profile \(profile_owner\), the agent runs as device_owner/);
  const right = sim(byod.token, 'profile_owner');
  t.equal((await right.enroll()).status, 201);
  t.equal(ward.android.device(right.deviceId!)!.mode, 'work_profile');

  t.equal((await sim('wet_not-a-real-token').enroll()).body.reason, 'unknown enrollment token');
  t.throws(() => ward.android.createToken({ maxDevices: 0 }, CLI), /whole number/);
  t.throws(() => ward.android.createToken({ policyGroup: 'bad group!' }, CLI), /policy group/);
  for (const s of [s1, s2, s3, right]) s.close();
});

t.test('malformed enroll requests get a 4xx JSON answer with next', async (t) => {
  const { token } = ward.android.createToken({ maxDevices: null }, CLI);
  const probe = sim(token);
  await probe.pinCa();
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const goodCsr = buildCsr(key, 'probe');
  const facts = probe.facts();
  const raw = async (body: string | Buffer, type = 'application/json') => {
    const r = await fetchRaw(probe, '/enroll', body, type);
    t.ok(r.status >= 400 && r.status < 500, `4xx for ${String(body).slice(0, 40)}: ${r.status}`);
    t.ok(r.json && r.json.next && r.json.error, 'JSON with error and next');
    t.not(r.json?.next?.action, 'unenrolled');
    return r;
  };
  t.equal((await raw('{not json')).json.error, 'invalid_json');
  t.equal((await raw('{}', 'text/plain')).status, 415);
  t.equal((await raw(JSON.stringify({ token, csr: goodCsr }))).json.reason, '(body): missing "facts"');
  t.match((await raw(JSON.stringify({ token, csr: goodCsr, facts: { ...facts, sdkInt: 'x' } }))).json.reason, /sdkInt/);
  t.match((await raw(JSON.stringify({ token, csr: goodCsr, facts, admin: true }))).json.reason, /unknown property "admin"/);
  t.equal((await raw(JSON.stringify({ token, csr: 'not a csr', facts }))).json.error, 'invalid_csr');
  // A CSR whose signature does not match its key.
  const forged = goodCsr.replace(/.{8}\n-----END/, 'AAAAAAAA\n-----END');
  t.equal((await raw(JSON.stringify({ token, csr: forged, facts }))).json.error, 'invalid_csr');
  t.equal((await raw(JSON.stringify({ token, csr: goodCsr, facts, pad: 'x'.repeat(70_000) }))).status, 413);
  probe.close();
});

t.test('mutated agent requests never produce a 500', async (t) => {
  const { token } = ward.android.createToken({ maxDevices: null }, CLI);
  const device = sim(token);
  await device.enroll();
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const seeds: [string, unknown][] = [
    ['/enroll', { token, csr: buildCsr(key, 'fuzz'), facts: device.facts() }],
    ['/status', device.statusReport()],
    ['/security-logs', { events: [{ id: 1, timeMillis: Date.now(), tag: 210002, tagName: 'TAG_X', level: 'info', data: ['a', 1] }] }],
    ['/commands/00000000-0000-0000-0000-000000000000/result', { status: 'done', output: { a: 1 } }],
  ];
  let s = 0x9e3779b9;
  const rand = (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const weird = [null, -1, 1e308, '', 'x'.repeat(5000), [], {}, true, '\u0000', { $ref: '#' }, 2 ** 53 + 1];
  const mutate = (v: unknown, depth = 0): unknown => {
    if (v && typeof v === 'object' && depth < 4) {
      const copy: Record<string, unknown> | unknown[] = Array.isArray(v) ? [...v] : { ...(v as Record<string, unknown>) };
      const keys = Object.keys(copy);
      if (keys.length && rand(3) > 0) {
        const k = keys[rand(keys.length)];
        (copy as Record<string, unknown>)[k] = rand(2) ? mutate((copy as Record<string, unknown>)[k], depth + 1) : weird[rand(weird.length)];
      } else if (!Array.isArray(copy)) delete copy[keys[rand(Math.max(1, keys.length))]];
      return copy;
    }
    return weird[rand(weird.length)];
  };
  const statuses = new Map<number, number>();
  for (let i = 0; i < 300; i++) {
    const [path, seed] = seeds[i % seeds.length];
    let body = JSON.stringify(mutate(seed));
    if (rand(5) === 0) body = body.slice(0, rand(body.length + 1));
    const r = await fetchRaw(device, path, body, 'application/json');
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status >= 500 || !r.json?.next || r.json.next.action === 'unenrolled') {
      t.fail(`iteration ${i} ${path}: ${r.status} ${JSON.stringify(r.json)} for ${body.slice(0, 200)}`);
      break;
    }
  }
  t.notOk([...statuses.keys()].some((k) => k >= 500), `statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.equal(device.state, 'enrolled');
  device.close();
});

/** POSTs raw bytes through the simulator's connection (its client certificate once enrolled). */
async function fetchRaw(s: AgentSimulator, path: string, body: string | Buffer, type: string): Promise<{ status: number; json: any }> {
  const r = await s.rawCall('POST', path, Buffer.from(body), type);
  return { status: r.status, json: r.body };
}

t.test('a poll held while Ward shuts down is answered retry_later, not dropped', async (t) => {
  const { token } = ward.android.createToken({}, CLI);
  const device = sim(token);
  await device.enroll();
  const poll = device.pollCommands(20);
  await waitFor(() => ward.android.waiters.size === 1, 5000, 'the held poll');
  const stopping = ward.stop();
  const answer = await poll;
  device.close();
  await stopping;
  t.equal(answer.status, 200);
  t.equal(answer.next.action, 'retry_later');
  t.equal(device.state, 'enrolled');
});
