// Security (issue 10, "Hostile input"): the attacks a hospital network must not let through, each
// tried against a running Ward and shown to fail. Already proven by the domain tests, and not repeated:
// - Apple: test/apple/mdm.test.ts "one device never reads or answers another device's commands";
//   test/apple/negative.test.ts: a foreign certificate, another device's certificate and a revoked
//   one are refused with 401 and an apple.device.auth_refused event.
// - Android: test/android/agent-api.test.ts "one device cannot read or answer another's commands" and
//   "a revoked device certificate is refused" (403, reauthenticate, never unenrolled).
// - Admin roles: test/admin/roles.test.ts, every role x every route x both credential kinds: 403 and
//   an admin.access.denied event wherever the route table says no.
// - TLS: test/http/listeners.test.ts, TLS 1.2 and 1.3 accepted with Ward's chain.
// Added here: expired certificates (both platforms) and the Android refusal events; an Android agent
// naming another device; role escalation by changing one's own role, creating an admin, minting an
// admin token; path traversal on every route that serves a file or stored bytes; and TLS 1.0/1.1 and
// every non-AEAD or non-forward-secret TLS 1.2 suite refused, each proven offered by the same client
// to a control server first (the refusals in listeners.test.ts also hold against a client that
// offers nothing old, so they cannot fail on their own).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import t from 'tap';
import { TLS12_CIPHERS } from '../../src/http';
import { PolicyService } from '../../src/policy';
import { startAppleWard, type AppleHarness } from '../apple/harness';
import { identityFromFiles, typicalAnswer } from '../apple/simulator';
import { AgentSimulator } from '../android/agent-simulator';
import { aaptPackage, apksign, keytool, manifestXml } from '../android/apk-builder';
import { ADMIN_CTX, call, createPerson, eventsNamed, opensslCsr, signIn, tokenCredential } from '../admin/support';
import { repoRoot, tempDir, tool, toolAsync, waitFor, type TestWard } from '../support/ward';

t.setTimeout(300_000);

const CLI = { actor: { type: 'cli' as const, id: 'security-test' }, source: 'local', requestId: null };

let h: AppleHarness;
let ward: TestWard;
t.before(async () => {
  h = await startAppleWard({ admin: { password: { scryptCost: 10 } } });
  ward = h.ward;
});
t.teardown(() => h?.stop());

const events = (action: string) => eventsNamed(ward, action);

/** A device certificate Ward issued from an openssl key, valid for `seconds` only. */
function shortLivedDeviceCertificate(name: string, seconds: number) {
  const dir = tempDir('ward-sec-');
  const keyPath = path.join(dir, `${name}.key`);
  const csrPath = path.join(dir, `${name}.csr`);
  // RSA: the Apple simulator signs Mdm-Signatures with RSA device keys, as iOS does.
  const made = tool('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-subj', `/CN=${name}`, '-out', csrPath]);
  if (made.status !== 0) throw new Error(made.stderr);
  const issued = ward.ca.issue({ csr: fs.readFileSync(csrPath), profile: 'device', validityDays: seconds / 86_400 }, CLI);
  const certPath = path.join(dir, `${name}.pem`);
  fs.writeFileSync(certPath, issued.pem);
  return { keyPath, certPath, key: fs.readFileSync(keyPath), cert: issued.pem, serial: issued.serial, notAfter: issued.notAfter };
}

/** An agent API call over TLS with the given client certificate (no simulator state involved). */
function agentGet(apiPath: string, client: { key: Buffer | string; cert: string }): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: ward.ports.httpsPort, path: `/android/agent/v1${apiPath}`, servername: 'localhost', agent: ward.agent(client) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function simulator(policyGroup?: string): AgentSimulator {
  const { token } = ward.android.createToken({ maxDevices: 1, policyGroup }, CLI);
  return new AgentSimulator({ serverUrl: ward.httpsUrl, enrollmentToken: token, caSha256: ward.ca.rootFingerprint(), servername: 'localhost' });
}

t.test('an expired device certificate is refused, with an audit event, on both platforms', async (t) => {
  const device = await h.enroll();
  await device.session(typicalAnswer(device));
  const expired = shortLivedDeviceCertificate('expiring-device', 2);
  // Waiting on the condition the test is about: the certificate's notAfter has passed.
  await waitFor(() => Date.now() > expired.notAfter.getTime() + 1000, 15_000, 'the certificate to expire');

  const original = device.identity;
  device.use(identityFromFiles(expired.keyPath, expired.certPath));
  try {
    const r = await device.idle();
    t.equal(r.status, 401, 'Apple: 401');
    t.equal(JSON.parse(r.answer.body.toString()).reason, 'device certificate is expired');
  } finally {
    device.use(original);
  }
  t.ok(events('apple.device.auth_refused').some((e) => e.details.certificateSerial === expired.serial && e.reason === 'device certificate is expired'), 'apple.device.auth_refused names it');
  t.equal((await device.idle()).status, 200, 'the device with its own certificate still checks in');

  const android = await agentGet('/policy', expired);
  t.same([android.status, android.body.error, android.body.next.action], [401, 'certificate_expired', 'reauthenticate'], 'Android: 401, reauthenticate');
  t.ok(events('android.device.auth_refused').some((e) => e.details.certificateSerial === expired.serial && e.details.error === 'certificate_expired'), 'android.device.auth_refused names it');
});

t.test("a revoked Android certificate: 403 and an audit event on the device", async (t) => {
  const sim = simulator();
  t.teardown(() => sim.close());
  await sim.enroll();
  ward.ca.revoke(ward.android.device(sim.deviceId!)!.certSerial, 'keyCompromise', CLI);
  const r = await sim.reportStatus();
  t.same([r.status, r.body.error, r.next.action], [403, 'certificate_revoked', 'reauthenticate']);
  const refusal = events('android.device.auth_refused').find((e) => e.target?.id === sim.deviceId);
  t.ok(refusal, 'recorded against the device');
  t.equal(refusal?.reason, 'the client certificate was revoked');
  t.equal(refusal?.outcome, 'failure');
});

t.test('an Android agent reads only its own policy and commands, whatever the request names', async (t) => {
  // Two groups with different policies: the ICU group gets a HIPAA template, the other the default.
  const policies = new PolicyService({ db: ward.db, audit: ward.audit });
  policies.createFromTemplate('icu-phone', 'hipaa-clinician-corporate-phone', CLI);
  policies.assign('icu-phone', 'role', 'icu-clinician', CLI);
  policies.setGroup('icu', { role: 'icu-clinician' }, CLI);
  const a = simulator('icu');
  const b = simulator();
  t.teardown(() => (a.close(), b.close()));
  await a.enroll();
  await b.enroll();
  const own = async (s: AgentSimulator, query = '', headers: Record<string, string> = {}) => s.rawCall('GET', `/policy${query}`, undefined, 'application/json', { headers });
  const policyA = await own(a);
  const policyB = await own(b);
  t.not(policyA.body.policyEtag, policyB.body.policyEtag, 'the two devices have different policies (else this test proves nothing)');
  for (const [query, headers] of [
    [`?deviceId=${a.deviceId}`, {}],
    [`?device=${a.deviceId}&group=icu`, {}],
    ['', { 'X-Device-Id': a.deviceId!, 'X-Ward-Device': a.deviceId! }],
  ] as [string, Record<string, string>][]) {
    const r = await own(b, query, headers);
    t.equal(r.body.policyEtag, policyB.body.policyEtag, `B asking with ${query || JSON.stringify(headers)} still gets its own policy`);
  }
  const cmd = ward.android.queueCommand(a.deviceId!, 'LOCK', {}, CLI);
  const polled = await b.rawCall('GET', `/commands?wait=0&deviceId=${a.deviceId}`, undefined);
  t.same(polled.body.commands, [], "B's poll naming A returns none of A's commands");
  t.equal(ward.android.commandsOf(a.deviceId!)[0]!.id, cmd.id);
  t.equal(ward.android.commandsOf(a.deviceId!)[0]!.status, 'queued', "A's command was not delivered to B");
});

t.test('role escalation through the admin API fails and is audited', async (t) => {
  const admin = tokenCredential(ward, 'admin');
  const operator = await createPerson(ward, 'operator');
  const auditor = await createPerson(ward, 'auditor');
  const opToken = tokenCredential(ward, 'operator');
  const nacToken = tokenCredential(ward, 'nac');
  const auditorSession = await signIn(ward, auditor);
  const operatorSession = await signIn(ward, operator);
  const usersBefore = (await call(ward, admin, 'GET', '/users')).json().users.length;
  const deniedBefore = events('admin.access.denied').length;
  const serial = ward.ca.issue({ csr: opensslCsr(tempDir('ward-sec-'), 'revoke-target'), profile: 'device' }, ADMIN_CTX).serial;

  const attempts: [string, Parameters<typeof call>[1], string, string, unknown][] = [
    ['operator session makes itself admin', operatorSession, 'PATCH', `/users/${operator.username}`, { role: 'admin' }],
    ['auditor session makes itself admin', auditorSession, 'PATCH', `/users/${auditor.username}`, { role: 'admin' }],
    ['operator token creates an admin', opToken, 'POST', '/users', { username: 'mallory', role: 'admin', password: 'a long enough passphrase' }],
    ['operator token mints an admin token', opToken, 'POST', '/tokens', { name: 'escalate', role: 'admin' }],
    ['operator resets the auditor password', opToken, 'POST', `/users/${auditor.username}/password`, { password: 'a new long passphrase' }],
    ['nac token lists users', nacToken, 'GET', '/users', undefined],
    ['nac token reads the audit log', nacToken, 'GET', '/audit/events', undefined],
    ['nac token revokes a certificate', nacToken, 'POST', `/certificates/${serial}/revoke`, { reason: 'keyCompromise' }],
    ['auditor session revokes a certificate', auditorSession, 'POST', `/certificates/${serial}/revoke`, { reason: 'keyCompromise' }],
  ];
  for (const [what, who, method, apiPath, body] of attempts) {
    const a = await call(ward, who, method, apiPath, body);
    t.equal(a.status, 403, `${what}: 403 (${a.json().error})`);
  }
  // A role smuggled into a body that takes none: refused by the schema, not ignored.
  const smuggled = await call(ward, auditorSession, 'POST', '/session/password', { current: auditor.password, password: 'another long passphrase', role: 'admin' });
  t.same([smuggled.status, smuggled.json().error], [400, 'invalid_body'], 'own password change carrying a role: 400');
  t.match(smuggled.json().reason, /unknown property "role"/);
  const signInAsAdmin = await call(ward, undefined, 'POST', '/session', { username: auditor.username, password: auditor.password, code: '000000', role: 'admin' });
  t.equal(signInAsAdmin.status, 400, 'sign-in carrying a role: 400');

  const read = async (username: string) => (await call(ward, admin, 'GET', `/users/${username}`)).json().role;
  t.equal(await read(operator.username), 'operator', 'the operator is still an operator');
  t.equal(await read(auditor.username), 'auditor', 'the auditor is still an auditor');
  t.equal((await call(ward, admin, 'GET', '/users')).json().users.length, usersBefore, 'no account was created');
  t.notOk((await call(ward, admin, 'GET', '/tokens')).json().tokens.some((x: { name: string }) => x.name === 'escalate'), 'no token was minted');
  t.equal(ward.ca.certificate(serial)?.revokedAt, null, 'the certificate is not revoked');
  t.equal(events('admin.access.denied').length - deniedBefore, attempts.length, 'every refusal is an admin.access.denied event');
});

// ---------------------------------------------------------------- path traversal

/** GET with the path sent exactly as written (no URL normalisation of "..", as a raw attacker sends it). */
function rawGet(secure: boolean, rawPath: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const opts = { host: '127.0.0.1', port: secure ? ward.ports.httpsPort : ward.ports.httpPort, path: rawPath, method: 'GET' };
    const req = secure ? https.request({ ...opts, servername: 'localhost', agent: ward.agent() }) : http.request(opts);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('path traversal on every route that serves files or stored bytes', async (t) => {
  // A DPC to serve, so /android/dpc.apk really reads a stored file.
  const dir = tempDir('ward-sec-apk-');
  const apk = apksign(aaptPackage(dir, 'dpc', manifestXml()), path.join(dir, 'dpc.apk'), keytool(dir, 'dpc', 'EC'), { v1: true, v2: true, v3: true });
  ward.android.importApk(fs.readFileSync(apk), { role: 'dpc', receiver: '.AdminReceiver' }, CLI);
  // What must never come back: Ward's database and keys, the package manifest, system files.
  const secrets: [string, Buffer][] = [
    ['the SQLite database', Buffer.from('SQLite format 3')],
    ['a private key', Buffer.from('PRIVATE KEY')],
    ['package.json', Buffer.from(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8').slice(0, 40))],
    ['/etc/passwd', Buffer.from('root:x:0:0')],
  ];
  // Every route that serves a file or stored bytes (grep: createReadStream, readFileSync, ctx.body =
  // of a Buffer in src/), with the legitimate request first as a control.
  const routes: { secure: boolean; ok?: string; base: string }[] = [
    { secure: false, ok: '/ca.pem', base: '/ca.pem' },
    { secure: false, ok: '/ca/root.crt', base: '/ca/root.crt' },
    { secure: false, ok: '/ca/issuing.crt', base: '/ca/issuing.crt' },
    { secure: false, ok: '/crl', base: '/crl' },
    { secure: false, ok: '/crl/root', base: '/crl/root' },
    { secure: false, ok: '/android/dpc.apk', base: '/android/dpc.apk' },
    { secure: false, base: '/android/proxy.pac' },
    { secure: true, ok: '/console/app.js', base: '/console/app.js' },
    { secure: true, ok: '/console/', base: '/console' },
    { secure: true, ok: '/api/v1/openapi.json', base: '/api/v1/openapi.json' },
    { secure: true, base: '/mdm/apps/app-0123456789abcdef/manifest.plist' },
    { secure: true, base: '/mdm/apps/app-0123456789abcdef/app.ipa' },
    { secure: true, base: `/android/agent/v1/apps/${'0'.repeat(64)}.apk` },
    { secure: true, base: '/mdm/enroll' },
  ];
  const escapes = [
    '/../package.json', '/../../package.json', '/..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/package.json', '/%2e%2e%2f%2e%2e%2fpackage.json',
    '/..%5c..%5cpackage.json', '/%252e%252e%252fpackage.json', '/....//....//package.json', '/..;/..;/package.json',
    '/../var/ward.db', '/../../var/ward.db', '/../certs/root.key.pem', '%00', '%00.html', '/.', '/..', '/../../../../../../etc/passwd',
    '/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd', '?file=../../package.json', '?token=../../../etc/passwd',
  ];
  const replaced = [
    (b: string) => b.replace(/[^/]+$/, '..%2f..%2fpackage.json'),
    (b: string) => b.replace(/[^/]+$/, '%2e%2e%2f%2e%2e%2fvar%2fward.db'),
    (b: string) => b.replace(/app-[0-9a-f]{16}/, '..%2f..%2f..'),
    (b: string) => b.replace(/[0-9a-f]{64}/, '..%2f..%2fvar%2fward'),
  ];
  let tried = 0;
  for (const r of routes) {
    if (r.ok) t.equal((await rawGet(r.secure, r.ok)).status, 200, `${r.ok} is served (control)`);
    for (const variant of [...escapes.map((e) => r.base + e), ...replaced.map((f) => f(r.base)).filter((v) => v !== r.base)]) {
      const a = await rawGet(r.secure, variant);
      tried++;
      const leaked = secrets.filter(([, marker]) => a.body.includes(marker)).map(([name]) => name);
      if (leaked.length > 0 || a.status >= 500) t.fail(`${variant}: HTTP ${a.status}, body carries ${leaked.join(', ') || 'an error'}`);
      // Same bytes as the legitimate file or a refusal: never something else.
      else if (a.status === 200 && r.ok && !a.body.equals((await rawGet(r.secure, r.ok)).body)) t.fail(`${variant}: 200 with other bytes than ${r.ok}`);
      else if (a.status === 200 && !r.ok) t.fail(`${variant}: 200 where nothing is stored`);
    }
  }
  t.ok(tried > 300, `${tried} traversal requests: none read outside, none answered 5xx`);
});

// ---------------------------------------------------------------- TLS

/** openssl s_server that accepts anything (TLS 1.0 up, every suite at security level 0): the control. */
async function controlServer(): Promise<{ port: number; stop(): void }> {
  const dir = tempDir('ward-sec-tls-');
  const made = tool('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-subj', '/CN=localhost', '-days', '1']);
  if (made.status !== 0) throw new Error(made.stderr);
  // stdin stays open: s_server ends when it reads end-of-file there.
  const args = ['s_server', '-accept', '127.0.0.1:0', '-cert', path.join(dir, 'c.pem'), '-key', path.join(dir, 'k.pem'), '-cipher', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0', '-min_protocol', 'TLSv1'];
  const p = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const port = await waitFor(() => Number(/ACCEPT 127\.0\.0\.1:(\d+)/.exec(out)?.[1]) || undefined, 10_000, 'the control s_server');
  return { port: port!, stop: () => void p.kill() };
}

t.test('TLS below 1.2 and weak TLS 1.2 suites are refused; the client offers them to a control server', async (t) => {
  const control = await controlServer();
  t.teardown(() => control.stop());
  const sClient = (port: number, ...args: string[]) =>
    toolAsync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], { input: 'Q\n', timeout: 20_000 });
  const ward443 = ward.ports.httpsPort;

  for (const version of ['-tls1', '-tls1_1']) {
    const offered = await sClient(control.port, version, '-cipher', 'DEFAULT:@SECLEVEL=0');
    t.match(offered.stdout, new RegExp(`Protocol\\s*:\\s*${version === '-tls1' ? 'TLSv1\\b(?!\\.)' : 'TLSv1\\.1'}`), `${version}: the client negotiates it with the control server`);
    const refused = await sClient(ward443, version, '-cipher', 'DEFAULT:@SECLEVEL=0');
    t.not(refused.status, 0, `${version}: Ward refuses it`);
    t.notMatch(refused.stdout, /Cipher is (?!\(NONE\))/, `${version}: no cipher agreed with Ward`);
    t.notMatch(refused.stderr, /no protocols available/, `${version}: refused by Ward, not by the client`);
  }

  // Every TLS 1.2 suite this OpenSSL knows, one at a time: Ward agrees only to its AEAD + ECDHE list.
  const listed = (await toolAsync('openssl', ['ciphers', '-tls1_2', '-s', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'])).stdout.trim().split(':').filter((c) => c && !c.startsWith('TLS_'));
  const allowed = new Set(TLS12_CIPHERS.split(':'));
  const accepted: string[] = [];
  for (let i = 0; i < listed.length; i += 4) {
    const batch = listed.slice(i, i + 4);
    const results = await Promise.all(batch.map((c) => sClient(ward443, '-tls1_2', '-cipher', `${c}:@SECLEVEL=0`)));
    batch.forEach((c, k) => {
      if (new RegExp(`Cipher is ${c}\\b`).test(results[k]!.stdout)) accepted.push(c);
    });
  }
  t.ok(listed.length > 40, `${listed.length} TLS 1.2 suites tried`);
  t.ok(accepted.length > 0, `Ward agreed to ${accepted.join(', ')}`);
  t.same(accepted.filter((c) => !allowed.has(c)), [], 'none outside the forward-secret AEAD list');
  // Controls: weak suites the same client does offer (and an RSA control server agrees to).
  for (const weak of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA', 'DHE-RSA-AES128-GCM-SHA256'].filter((c) => listed.includes(c))) {
    const offered = await sClient(control.port, '-tls1_2', '-cipher', `${weak}:@SECLEVEL=0`);
    t.match(offered.stdout, new RegExp(`Cipher is ${weak}\\b`), `${weak}: offered and agreed with the control server`);
    t.notOk(accepted.includes(weak), `${weak}: refused by Ward`);
  }
});

