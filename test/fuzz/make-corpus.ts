// Regenerates the seed corpus in test/fuzz/corpus/ from real clients and the fixtures the domain
// tests use: scepclient's wire bytes (POST and GET), openssl/pkijs-built SCEP requests, the Apple
// plist fixtures, Mdm-Signatures by Ward's device simulator and by `openssl cms`, the Android agent
// simulator's request bodies, the console's admin API bodies, aapt+apksigner APKs, openssl CSRs,
// push certificates (PEM and PKCS#12) and audit bundles Ward exported. Keys are fresh on every run,
// so the files change; the fuzz tests only read them. Files named regress-* are inputs that once
// found a bug: never deleted here.
//
//   node build/test/fuzz/make-corpus.js        (after tsc -p tsconfig.test.json)
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildCertRep, buildCertsOnly, openEnvelope, parsePkiMessage, readPkiOperation } from '../../src/scep';
import { signMdmMessage } from '../../src/apple/cms';
import { fixture } from '../apple/fixture';
import { makeLeaf, makeRoot } from '../apple/openssl';
import { TOPIC } from '../apple/harness';
import { aaptPackage, apksign, keytool, manifestXml } from '../android/apk-builder';
import { buildCsr } from '../android/agent-simulator';
import { readZipDirectory, readZipEntry } from '../../src/android/zip';
import { defaultApkLimits } from '../../src/android';
import { makeRequester, makeThrowawayCa, pemToDer } from '../scep/throwaway-ca';
import { issuerAndSerial, issuerAndSerialNumber, issuerAndSubject, loadPkijs, opensslEnvelope, pkijsSign } from '../scep/requests';
import { startTestWard } from '../support/ward';
import { CORPUS_ROOT, FIXED } from './corpus';

function put(parser: string, name: string, data: Buffer | string): void {
  const dir = path.join(CORPUS_ROOT, parser);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), data);
}

function clean(parser: string): void {
  const dir = path.join(CORPUS_ROOT, parser);
  if (!fs.existsSync(dir)) return;
  for (const f of fs.readdirSync(dir)) if (!f.startsWith('regress-')) fs.rmSync(path.join(dir, f));
}

const openssl = (args: string[], input?: Buffer | string) => execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] });

// ---------------------------------------------------------------- SCEP

/** scepclient (micromdm 2.1.0, Debian) against a loopback front answering with src/scep; every request body captured. */
async function scepclientCaptures(ca: ReturnType<typeof makeThrowawayCa>): Promise<{ post: Buffer[]; getMessages: string[] }> {
  const post: Buffer[] = [];
  const getMessages: string[] = [];
  let caps = 'POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\nRenewal\n';
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const op = url.searchParams.get('operation');
      let type = 'application/x-pki-message';
      let payload: Buffer;
      if (op === 'GetCACaps') [type, payload] = ['text/plain', Buffer.from(caps)];
      else if (op === 'GetCACert') [type, payload] = ['application/x-x509-ca-ra-cert', buildCertsOnly([ca.raCert, ca.caCert])];
      else {
        let body: Buffer;
        if (req.method === 'POST') {
          body = Buffer.concat(chunks);
          post.push(body);
        } else {
          const raw = /(?:^|&)message=([^&]*)/.exec(url.search.slice(1))?.[1] ?? '';
          getMessages.push(raw);
          body = Buffer.from(decodeURIComponent(raw), 'base64');
        }
        const msg = readPkiOperation(body, ca.ra);
        if (msg.messageType !== 'PKCSReq' && msg.messageType !== 'RenewalReq') throw new Error(`unexpected ${msg.messageType}`);
        payload = buildCertRep(ca.ra, msg, { pkiStatus: 'SUCCESS', recipient: msg.signer, certificates: [ca.issue(msg.certificationRequest.der)] });
      }
      res.writeHead(200, { 'content-type': type, 'content-length': payload.length });
      res.end(payload);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/scep`;
  const run = (dir: string, args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile('scepclient', ['-server-url', url, '-private-key', path.join(dir, 'key.pem'), ...args], { cwd: dir, timeout: 60_000 }, (err, out, errOut) =>
        err ? reject(new Error(`scepclient: ${out}${errOut}`)) : resolve(),
      ),
    );
  try {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-corpus-'));
    await run(dir, ['-challenge', 'open-sesame', '-cn', 'ward-ipad-0417', '-organization', 'Test Hospital']); // PKCSReq by POST
    await run(dir, ['-cn', 'ward-ipad-0417', '-organization', 'Test Hospital']); // RenewalReq (client.pem exists)
    caps = 'SHA-256\nAES\n'; // neither POSTPKIOperation nor SCEPStandard: the client falls back to GET
    const dir2 = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-corpus-'));
    await run(dir2, ['-challenge', 'open-sesame', '-cn', 'ward-ipad-0418', '-organization', 'Test Hospital']);
  } finally {
    server.close();
  }
  return { post, getMessages };
}

async function scepCorpus(): Promise<void> {
  for (const p of ['scep-pkimessage', 'scep-envelope', 'scep-messagedata', 'scep-get', 'scep-ra']) clean(p);
  const ca = makeThrowawayCa();
  put('scep-ra', 'ra.key.pem', fs.readFileSync(ca.raKeyPath));
  put('scep-ra', 'ra.crt.pem', fs.readFileSync(ca.raCertPath));
  put('scep-ra', 'ca.crt.pem', fs.readFileSync(ca.caCertPath));

  const captured = await scepclientCaptures(ca);
  const messages: [string, Buffer][] = [
    ['scepclient-pkcsreq-post.der', captured.post[0]!],
    ['scepclient-renewalreq-post.der', captured.post[1]!],
  ];
  if (captured.getMessages.length === 0) throw new Error('scepclient sent no PKIOperation by GET');
  captured.getMessages.forEach((m, i) => {
    put('scep-get', `scepclient-pkcsreq-get-${i}.txt`, m);
    messages.push([`scepclient-pkcsreq-get-${i}.der`, Buffer.from(decodeURIComponent(m), 'base64')]);
  });

  // Requests built by tools independent of src/scep: openssl cms -encrypt, pkijs signing.
  await loadPkijs();
  const device = makeRequester(ca.dir, 'ward-mac-0042');
  const issued = ca.issue(device.csr());
  const csr = device.csr('open-sesame', '/O=Test Hospital/CN=ward-mac-0042', 'DNS:ward-mac-0042.hospital.example,email:it@hospital.example');
  messages.push(
    ['pkijs-pkcsreq-aes256-sha256.der', await pkijsSign(device.cert, device.key, { content: opensslEnvelope(ca.dir, csr, [ca.raCertPath]) })],
    ['pkijs-pkcsreq-oaep-sha512.der', await pkijsSign(device.cert, device.key, { digest: 'SHA-512', content: opensslEnvelope(ca.dir, csr, [ca.raCertPath], { oaep: 'sha256' }) })],
    ['pkijs-pkcsreq-des3-ber-stream.der', await pkijsSign(device.cert, device.key, { digest: 'SHA-1', content: opensslEnvelope(ca.dir, csr, [ca.raCertPath], { cipher: 'des3', stream: true }) })],
    ['pkijs-getcert.der', await pkijsSign(issued, device.key, { messageType: '21', content: opensslEnvelope(ca.dir, issuerAndSerialNumber(issued), [ca.raCertPath]) })],
    ['pkijs-getcrl.der', await pkijsSign(issued, device.key, { messageType: '22', content: opensslEnvelope(ca.dir, issuerAndSerial(ca.caCert, Buffer.from([0x01, 0x02])), [ca.raCertPath]) })],
    ['pkijs-getcertinitial.der', await pkijsSign(device.cert, device.key, { messageType: '20', content: opensslEnvelope(ca.dir, issuerAndSubject(ca.caCert, device.cert), [ca.raCertPath], { cipher: 'aes128' }) })],
  );
  for (const [name, der] of messages) {
    readPkiOperation(der, ca.ra); // every seed is a request the parser accepts
    put('scep-pkimessage', name, der);
    const envelope = parsePkiMessage(der).content!;
    put('scep-envelope', name, envelope);
    put('scep-messagedata', name, openEnvelope(envelope, [ca.ra]).content);
  }
  fs.rmSync(ca.dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- Apple

const APPLE_VARS = {
  UDID: FIXED.udid,
  Topic: TOPIC,
  SerialNumber: 'F4KXP0QJHG7F',
  DeviceName: 'Ward 4B nurse station iPad',
  PushMagic: '8C2A5B3E-7D41-4F0A-9E6B-2C1D3F4A5B6C',
  Token: Buffer.from('9f1c0d2e3b4a59687766554433221100ffeeddccbbaa99887766554433221100', 'hex'),
  UnlockToken: crypto.createHash('sha512').update('unlock').digest(),
  BootstrapToken: crypto.createHash('sha256').update('bootstrap').digest(),
  OSVersion: '18.1',
  CommandUUID: FIXED.commandUuid,
  PasscodePresent: true,
  PasscodeCompliant: true,
  UserID: '5A6B7C8D-1234-4321-ABCD-0123456789AB',
};

function appleCorpus(): void {
  for (const p of ['apple-checkin', 'apple-report', 'mdm-signature']) clean(p);
  const fixtures = fs.readdirSync(path.resolve(__dirname, '../../../test/apple/fixtures')).filter((f) => f.endsWith('.plist'));
  for (const f of fixtures) {
    const name = f.replace(/\.plist$/, '');
    put(name.startsWith('checkin-') ? 'apple-checkin' : 'apple-report', f, fixture(name, APPLE_VARS));
  }

  // Mdm-Signature: detached CMS over a report body, by Ward's device simulator and by openssl cms.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-corpus-'));
  const root = makeRoot(dir, 'device-root');
  const rsa = makeLeaf(dir, root, 'device-rsa', 'rsa:2048', ['extendedKeyUsage=clientAuth']);
  const ec = makeLeaf(dir, root, 'device-ec', 'ec', ['extendedKeyUsage=clientAuth']);
  const body = fixture('result-deviceinformation', APPLE_VARS);
  const bodyFile = path.join(dir, 'body.plist');
  fs.writeFileSync(bodyFile, body);
  put('mdm-signature', 'body.plist', body);
  put('mdm-signature', 'simulator-rsa.der', Buffer.from(signMdmMessage(body, { key: rsa.key, certificate: rsa.certDer }), 'base64'));
  put('mdm-signature', 'simulator-ec.der', Buffer.from(signMdmMessage(body, { key: ec.key, certificate: ec.certDer }), 'base64'));
  const cms = (name: string, signer: typeof rsa, extra: string[]) =>
    put('mdm-signature', name, openssl(['cms', '-sign', '-binary', '-in', bodyFile, '-signer', signer.certPath, '-inkey', signer.keyPath, '-outform', 'DER', ...extra]));
  cms('openssl-rsa-sha256-chain.der', rsa, ['-md', 'sha256', '-certfile', root.certPath]);
  cms('openssl-rsa-sha1.der', rsa, ['-md', 'sha1']);
  cms('openssl-ec-keyid.der', ec, ['-md', 'sha384', '-keyid']);
  cms('openssl-rsa-noattr.der', rsa, ['-md', 'sha256', '-noattr']);
  fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- Android agent, admin API

function androidAgentCorpus(): void {
  clean('android-agent');
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const installationId = '3f0c9a1e-5b7d-4c2a-8e6f-1a2b3c4d5e6f';
  const facts = {
    installationId, manufacturer: 'Zebra Technologies', model: 'TC58', serialNumber: '21345522501234', androidVersion: '13', sdkInt: 33,
    securityPatch: '2025-09-01', managementMode: 'device_owner', agentPackage: 'org.example.wardagent', agentVersionCode: 42,
  };
  const json = (v: unknown) => JSON.stringify(v);
  put('android-agent', 'enroll.json', json({ token: FIXED.androidToken, csr: buildCsr(key, installationId), facts }));
  put('android-agent', 'enroll-work-profile.json', json({ token: FIXED.androidToken, csr: buildCsr(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, installationId), facts: { ...facts, managementMode: 'profile_owner', serialNumber: undefined } }));
  put('android-agent', 'renew.json', json({ csr: buildCsr(key, installationId) }));
  put('android-agent', 'status.json', json({
    model: 'TC58', androidVersion: '13', sdkInt: 33, securityPatch: '2025-09-01', encryption: 'active_per_user', passcodeSufficient: true,
    managementMode: 'device_owner',
    installedApps: [
      { packageName: 'org.example.wardagent', versionCode: 42, versionName: '1.2.3' },
      { packageName: 'org.hospital.ehr', versionCode: 3100, versionName: '31.0' },
      { packageName: 'com.zebra.mdna.els', versionCode: 7, versionName: '2.0.1' },
    ],
    lockTask: { active: true, packages: ['org.hospital.ehr'] }, battery: { level: 87, charging: true }, lastUser: 'nurse.4b',
    policyEtag: '"p-5b1e0c"', reportedAt: '2026-11-23T13:32:00.000Z',
  }));
  put('android-agent', 'security-logs.json', json({
    events: [
      { id: 1001, timeMillis: 1795000000000, tag: 210002, tagName: 'TAG_KEYGUARD_DISMISS_AUTH_ATTEMPT', level: 'info', data: [1, 1] },
      { id: 1002, timeMillis: 1795000005000, tag: 210007, tagName: 'TAG_KEYGUARD_SECURED', level: 'warning', data: [] },
      { id: 1003, timeMillis: 1795000009000, tag: 210001, tagName: 'TAG_ADB_SHELL_CMD', level: 'error', data: ['pm list packages', null, true] },
    ],
  }));
  put('android-agent', 'command-result-done.json', json({ status: 'done', output: { lockedAt: '2026-11-23T13:32:00.000Z' } }));
  put('android-agent', 'command-result-acknowledged.json', json({ status: 'acknowledged' }));
  put('android-agent', 'command-result-failed.json', json({ status: 'failed', error: 'a profile owner cannot factory-reset the device' }));
  put('android-agent', 'command-result-not-supported.json', json({ status: 'not_supported', error: 'the simulator does not carry out START_LOCK_TASK' }));
}

// What the console (src/admin/console/app.js) and a script send: file name = the route's body schema.
function adminCorpus(): void {
  clean('admin-api');
  const bodies: Record<string, unknown> = {
    Login: { username: 'charge.nurse', password: 'correct horse battery staple', code: '123456' },
    OwnPassword: { current: 'correct horse battery staple', password: 'another long passphrase 2026' },
    UserCreate: { username: 'night.operator', role: 'operator', password: 'a long enough passphrase' },
    UserPatch: { role: 'auditor', disabled: false },
    PasswordSet: { password: 'a new long passphrase' },
    TokenCreate: { name: 'nac-radius', role: 'nac', days: 30 },
    Revoke: { reason: 'keyCompromise' },
    ChallengeRequest: { ttlMinutes: 60, boundTo: 'ward-ipad-0417' },
    AppleEnrollmentRequest: { singleUse: true, ttlMinutes: 120, group: 'icu' },
    AndroidEnrollmentRequest: { mode: 'fullyManaged', ttlMinutes: 120, maxDevices: 20, group: 'icu' },
    Lock: { message: 'Return to the 4B nurse station', phoneNumber: '+1 (555) 010-4400' },
    Wipe: { mode: 'full', reason: 'Tablet reported stolen from ward 4B' },
    Reject: { reason: 'Not approved: the tablet was found' },
    Assignment: { groups: ['icu', 'ward-4b'] },
    AuditExport: { since: '2026-01-01T00:00:00Z', until: '2026-12-31T23:59:59Z' },
  };
  for (const [schema, body] of Object.entries(bodies)) put('admin-api', `${schema}.json`, JSON.stringify(body));
}

// ---------------------------------------------------------------- APKs, CSRs, push certificates

function apkCorpus(): void {
  clean('apk');
  clean('axml');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-corpus-'));
  const ec = keytool(dir, 'ec', 'EC');
  const rsa = keytool(dir, 'rsa', 'RSA');
  const apks: [string, string][] = [
    ['dpc-v1v2v3-ec.apk', apksign(aaptPackage(dir, 'dpc', manifestXml()), path.join(dir, 'a.apk'), ec, { v1: true, v2: true, v3: true })],
    ['dpc-v1-rsa-sdk29.apk', apksign(aaptPackage(dir, 'legacy', manifestXml({ minSdk: 21, targetSdk: 29, versionCode: 7 })), path.join(dir, 'b.apk'), rsa, { v1: true, v2: false, v3: false, minSdk: 21 })],
    ['app-v2-rsa-no-activities.apk', apksign(aaptPackage(dir, 'bare', manifestXml({ packageName: 'org.hospital.ehr', android12Activities: false, versionName: 'r\u00e9v 31 \u{1F3E5}' })), path.join(dir, 'c.apk'), rsa, { v1: false, v2: true, v3: false })],
  ];
  for (const [name, file] of apks) {
    const apk = fs.readFileSync(file);
    put('apk', name, apk);
    const zip = readZipDirectory(apk, defaultApkLimits);
    put('axml', name.replace(/\.apk$/, '.AndroidManifest.xml'), readZipEntry(apk, zip.byName.get('AndroidManifest.xml')!, defaultApkLimits));
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

function certificateCorpus(): void {
  clean('csr');
  clean('push-certificate');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-corpus-'));
  const f = (n: string) => path.join(dir, n);
  // CSRs: openssl (RSA and EC, SAN and challengePassword), the Android agent's own encoder.
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('rsa.key'), '-subj', '/O=Test Hospital/OU=ICU/CN=ward-ipad-0417', '-outform', 'DER', '-out', f('rsa.der')]);
  put('csr', 'openssl-rsa.der', fs.readFileSync(f('rsa.der')));
  fs.writeFileSync(f('req.cnf'), '[req]\ndistinguished_name=dn\nattributes=attrs\nreq_extensions=ext\nprompt=no\n[dn]\nCN=ward-mac-0042\nO=Test Hospital\n[attrs]\nchallengePassword=open-sesame\n[ext]\nsubjectAltName=DNS:ward-mac-0042.hospital.example,IP:10.4.2.17,IP:fd00::17,email:it@hospital.example,URI:urn:uuid:3f0c9a1e\n');
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', f('ec.key'), '-config', f('req.cnf'), '-out', f('ec.pem')]);
  put('csr', 'openssl-ec-p384-san-challenge.pem', fs.readFileSync(f('ec.pem')));
  put('csr', 'agent-ec.pem', buildCsr(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, '3f0c9a1e-5b7d-4c2a-8e6f-1a2b3c4d5e6f'));
  put('csr', 'agent-rsa.der', pemToDer(buildCsr(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'TC58-21345522501234')));

  // APNs MDM push certificates: the subject UID is the topic. PEM pair, encrypted key, PKCS#12
  // (OpenSSL 3 default PBES2/AES, the legacy 3DES/RC2 a macOS keychain export uses, and two without
  // MAC, one also without bag encryption, so mutations reach the key derivation and the bags). Passphrase: FIXED.passphrase.
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('push.key'), '-out', f('push.pem'), '-days', '365',
    '-subj', `/UID=${TOPIC}/CN=APSP:1c0a5e3b-1111-2222-3333-444455556666/OU=ABCDE12345/O=Test Hospital/C=US`]);
  const certPem = fs.readFileSync(f('push.pem'), 'utf8');
  const keyPem = fs.readFileSync(f('push.key'), 'utf8');
  put('push-certificate', 'pem-cert-and-key.pem', certPem + keyPem);
  const encrypted = openssl(['pkcs8', '-topk8', '-in', f('push.key'), '-v2', 'aes-256-cbc', '-passout', `pass:${FIXED.passphrase}`]).toString();
  put('push-certificate', 'pem-cert-encrypted-key.pem', certPem + encrypted);
  const p12 = (name: string, extra: string[]) =>
    put('push-certificate', name, openssl(['pkcs12', '-export', '-in', f('push.pem'), '-inkey', f('push.key'), '-passout', `pass:${FIXED.passphrase}`, ...extra]));
  p12('openssl3-default.p12', []);
  p12('keychain-legacy.p12', ['-legacy']);
  p12('nomac-plain-bags.p12', ['-nomac', '-keypbe', 'NONE', '-certpbe', 'NONE']);
  p12('nomac-pbes2.p12', ['-nomac']);
  fs.rmSync(dir, { recursive: true, force: true });
}

// Audit bundles (docs/audit-bundle.md) as Ward exports them: what an auditor uploads to /audit/verify.
async function auditBundleCorpus(): Promise<void> {
  clean('audit-bundle');
  const ward = await startTestWard();
  try {
    const ctx = { actor: { type: 'cli' as const, id: 'corpus' }, source: null, requestId: null };
    for (let i = 0; i < 3; i++) ward.audit.record({ ...ctx, action: 'corpus.sample.recorded', target: { type: 'sample', id: String(i) }, details: { i, text: 'r\u00e9sum\u00e9 \u{1F3E5}' } });
    const full = await ward.auditTrail.exportBundle({}, ctx);
    put('audit-bundle', 'full.tar', full.bundle);
    const since = new Date(Date.now() - 60_000).toISOString();
    ward.audit.record({ ...ctx, action: 'corpus.sample.recorded', target: { type: 'sample', id: 'late' } });
    put('audit-bundle', 'range-after-earlier-export.tar', (await ward.auditTrail.exportBundle({ since }, ctx)).bundle);
  } finally {
    await ward.stop();
  }
}

async function main(): Promise<void> {
  await scepCorpus();
  appleCorpus();
  androidAgentCorpus();
  adminCorpus();
  apkCorpus();
  certificateCorpus();
  await auditBundleCorpus();
  for (const dir of fs.readdirSync(CORPUS_ROOT, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const files = fs.readdirSync(path.join(CORPUS_ROOT, dir.name));
    console.log(`${dir.name}: ${files.length} files`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
