// Debian's scepclient (micromdm 2.1.0) against a real Ward daemon process, challenges made with the
// real `wardctl scep challenge`: enrollment whose certificate verifies against GET /ca.pem, wrong,
// expired and reused challenges refused and reported by the client, renewal with the issued cert,
// and challenges bound to one device. Each scepclient run gets its own folder (it reuses csr.pem and
// self.pem found beside its key).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { spawnDaemon, writeTestConfig, loadTestConfig, wardctl, toolAsync, request, tempDir, waitFor, type Daemon } from '../support/ward';

// An RSA root: scepclient 2.1.0 encrypts to every certificate GetCACert returns and panics on an EC one.
const { dir, file, doc } = writeTestConfig({
  scep: { renewal: { windowDays: 0 } },
  pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'rsa-3072', issuingKeyAlgorithm: 'rsa-2048' },
});
const cfg = loadTestConfig(file, doc);
let daemon: Daemon;
let db: Database.Database;
let caPem: string;

t.before(async () => {
  daemon = await spawnDaemon(file);
  db = new Database(cfg.database.file, { readonly: true, fileMustExist: true });
  caPem = path.join(dir, 'ca.pem');
  fs.writeFileSync(caPem, (await request(`http://127.0.0.1:${daemon.httpPort}/ca.pem`)).body);
});
t.teardown(async () => {
  db?.close();
  await daemon?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function challenge(...args: string[]): string {
  const r = wardctl(['scep', 'challenge', '--config', file, ...args]);
  if (r.status !== 0) throw new Error(`wardctl scep challenge: ${r.stderr}`);
  return r.stdout;
}

async function scepclient(folder: string, ...args: string[]) {
  const r = await toolAsync('scepclient', ['-server-url', `http://127.0.0.1:${daemon.httpPort}/scep`, '-private-key', path.join(folder, 'key.pem'), ...args], { cwd: folder });
  return { status: r.status, output: r.stdout + r.stderr };
}

function lastEvent(action: string): Record<string, any> {
  const line = db.prepare('SELECT line FROM audit_events WHERE action = ? ORDER BY seq DESC LIMIT 1').pluck().get(action) as string;
  return JSON.parse(line);
}

const folders: string[] = [];
function folder(): string {
  const f = tempDir();
  folders.push(f);
  return f;
}
t.teardown(() => folders.forEach((f) => fs.rmSync(f, { recursive: true, force: true })));

let enrolled: string;
let used: string;

t.test('wardctl scep challenge prints the challenge alone on stdout', async (t) => {
  const out = challenge('--ttl', '1h');
  t.match(out, /^[0-9a-f]{32}\n$/);
  used = out.trim();
  const bad = wardctl(['scep', 'challenge', '--config', file, '--ttl', 'forever']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /not a number followed by s, m, h or d/);
  t.equal(bad.stdout, '');
  const tooLong = wardctl(['scep', 'challenge', '--config', file, '--ttl', '90d']);
  t.equal(tooLong.status, 2);
  t.match(tooLong.stderr, /maxTtl/);
});

t.test('a fresh challenge enrolls; the certificate verifies against /ca.pem', async (t) => {
  enrolled = folder();
  const run = await scepclient(enrolled, '-challenge', used, '-cn', 'scep-device-1', '-organization', 'Test Hospital');
  t.equal(run.status, 0, run.output);
  const clientPem = path.join(enrolled, 'client.pem');
  const verify = await toolAsync('openssl', ['verify', '-CAfile', caPem, clientPem]);
  t.equal(verify.status, 0, verify.stderr);
  t.match(verify.stdout, /client\.pem: OK/);
  const subject = await toolAsync('openssl', ['x509', '-noout', '-subject', '-in', clientPem]);
  t.match(subject.stdout, /CN ?= ?scep-device-1/);
  const event = lastEvent('pki.certificate.issued');
  t.match(event.details, { via: 'scep', messageType: 'PKCSReq', contentCipher: 'des-cbc', digestAlgorithm: 'sha1', keyTransport: 'rsaes-pkcs1-v1_5', profile: 'device' });
  t.equal(event.source, '127.0.0.1');
});

t.test('the same challenge again is refused, and scepclient reports it', async (t) => {
  const run = await scepclient(folder(), '-challenge', used, '-cn', 'scep-device-2');
  t.not(run.status, 0);
  t.match(run.output, /request failed, failInfo: badRequest/);
  t.match(lastEvent('scep.request.refused').reason, /already used/);
});

t.test('a wrong challenge is refused', async (t) => {
  const run = await scepclient(folder(), '-challenge', 'not-a-challenge-Ward-issued', '-cn', 'scep-device-3');
  t.not(run.status, 0);
  t.match(run.output, /failInfo: badRequest/);
  t.match(lastEvent('scep.request.refused').reason, /unknown challenge/);
});

t.test('an expired challenge is refused', async (t) => {
  const short = challenge('--ttl', '1s').trim();
  const expiresAt = db.prepare('SELECT expires_at FROM scep_challenges ORDER BY created_at DESC LIMIT 1').pluck().get() as string;
  await waitFor(() => Date.now() > Date.parse(expiresAt), 5000, 'the challenge to expire');
  const run = await scepclient(folder(), '-challenge', short, '-cn', 'scep-device-4');
  t.not(run.status, 0);
  t.match(run.output, /failInfo: badRequest/);
  t.match(lastEvent('scep.request.refused').reason, /expired/);
});

t.test('renewal with the issued certificate', async (t) => {
  const clientPem = path.join(enrolled, 'client.pem');
  const before = fs.readFileSync(clientPem, 'utf8');
  const run = await scepclient(enrolled, '-cn', 'scep-device-1', '-organization', 'Test Hospital');
  t.equal(run.status, 0, run.output);
  const after = fs.readFileSync(clientPem, 'utf8');
  t.not(after, before, 'client.pem holds the renewed certificate');
  t.match((await toolAsync('openssl', ['verify', '-CAfile', caPem, clientPem])).stdout, /OK/);
  const event = lastEvent('pki.certificate.issued');
  t.equal(event.details.messageType, 'RenewalReq');
  t.ok(event.details.renewalOf);
});

t.test('a challenge made --for one device enrolls only that device', async (t) => {
  const bound = challenge('--for', 'scep-device-9').trim();
  const other = await scepclient(folder(), '-challenge', bound, '-cn', 'scep-device-8');
  t.not(other.status, 0);
  t.match(lastEvent('scep.request.refused').reason, /is for scep-device-9/);
  const right = await scepclient(folder(), '-challenge', bound, '-cn', 'scep-device-9');
  t.equal(right.status, 0, right.output);
});
