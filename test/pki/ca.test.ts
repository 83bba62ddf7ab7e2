// The CA against a real peer: openssl makes the CSRs, verifies chains and checks revocation with the
// CRL Ward serves.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { request, spawnDaemon, runDaemonToExit, tempDir, tool, wardctl, writeTestConfig } from '../support/ward';

const work = tempDir('ward-pki-');
const openssl = (...args: string[]) => tool('openssl', args);

function opensslCsr(name: string, subj: string, keyArgs = ['-newkey', 'rsa:2048']) {
  const key = path.join(work, `${name}.key`);
  const csr = path.join(work, `${name}.csr`);
  const r = openssl('req', '-new', ...keyArgs, '-nodes', '-keyout', key, '-subj', subj, '-out', csr);
  if (r.status !== 0) throw new Error(r.stderr);
  return { key, csr };
}

t.test('issue, verify, revoke, CRL check with openssl; restart keeps the CA', async (t) => {
  const { file, dir } = writeTestConfig();
  const daemon = await spawnDaemon(file);
  t.teardown(() => daemon.stop());
  const base = `http://127.0.0.1:${daemon.httpPort}`;
  const chain = await request(`${base}/ca.pem`);
  t.equal(chain.status, 200);
  t.match(chain.headers['content-type'], /pem/);
  const chainFile = path.join(work, 'chain.pem');
  fs.writeFileSync(chainFile, chain.body);
  t.equal((chain.body.toString().match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'issuing + root');

  // RSA and EC requests, as devices and agents send them.
  for (const [name, keyArgs] of [['rsa', ['-newkey', 'rsa:2048']], ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']]] as const) {
    const { csr } = opensslCsr(name, `/CN=device-${name}/O=Test Hospital`, [...keyArgs]);
    const certFile = path.join(work, `${name}.pem`);
    const issued = wardctl(['cert', 'issue', csr, '--profile', 'device', '--out', certFile, '--config', file]);
    t.equal(issued.status, 0, issued.stderr);
    const serial = issued.stdout.trim();
    t.match(serial, /^[0-9a-f]{20,32}$/, 'random 128-bit serial');
    t.equal(openssl('verify', '-CAfile', chainFile, certFile).status, 0, `${name}: openssl verify accepts the issued cert`);
    const text = openssl('x509', '-in', certFile, '-noout', '-text').stdout;
    t.match(text, /CN\s?=\s?device-/);
    t.match(text, /TLS Web Client Authentication/);
    t.match(text, /URI:http:\/\/localhost(:\d+)?\/crl/, 'CRL distribution point on the plain listener');
    t.match(text, /CA Issuers - URI:http:\/\/localhost/);
    t.equal(serial, openssl('x509', '-in', certFile, '-noout', '-serial').stdout.trim().split('=')[1].toLowerCase().replace(/^0+/, ''));
  }

  // Revocation: before, openssl -crl_check accepts; after, it rejects with "certificate revoked".
  const certFile = path.join(work, 'rsa.pem');
  const serial = openssl('x509', '-in', certFile, '-noout', '-serial').stdout.trim().split('=')[1];
  const crlBefore = path.join(work, 'before.crl');
  fs.writeFileSync(crlBefore, (await request(`${base}/crl`)).body);
  t.equal(openssl('verify', '-crl_check', '-CAfile', chainFile, '-CRLfile', crlBefore, certFile).status, 0);
  const revoked = wardctl(['cert', 'revoke', serial, '--reason', 'keyCompromise', '--config', file]);
  t.equal(revoked.status, 0, revoked.stderr);
  const crlAnswer = await request(`${base}/crl`);
  t.equal(crlAnswer.headers['content-type'], 'application/pkix-crl');
  const crlFile = path.join(work, 'after.crl');
  fs.writeFileSync(crlFile, crlAnswer.body);
  const crlText = openssl('crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text').stdout;
  t.match(crlText, /Key Compromise/);
  const v = openssl('verify', '-crl_check', '-CAfile', chainFile, '-CRLfile', crlFile, certFile);
  t.not(v.status, 0, 'revoked certificate rejected');
  t.match(v.stdout + v.stderr, /certificate revoked/);
  const again = wardctl(['cert', 'revoke', serial, '--config', file]);
  t.equal(again.status, 1, 'revoking twice is refused');
  t.match(again.stderr, /already revoked/);

  // Restart: same CA.
  const rootBefore = fs.readFileSync(path.join(dir, 'certs', 'root.crt.pem'), 'utf8');
  t.equal(await daemon.stop(), 0, 'SIGTERM: clean exit');
  const again2 = await spawnDaemon(file);
  t.teardown(() => again2.stop());
  const chain2 = await request(`http://127.0.0.1:${again2.httpPort}/ca.pem`);
  t.equal(chain2.body.toString(), chain.body.toString(), 'same chain after restart');
  t.equal(fs.readFileSync(path.join(dir, 'certs', 'root.crt.pem'), 'utf8'), rootBefore);
});

t.test('keys are encrypted at rest, files 0600 in a 0700 folder', async (t) => {
  const { file, dir } = writeTestConfig();
  const r = wardctl(['ca', 'show', '--config', file]);
  t.equal(r.status, 0, r.stderr);
  const certs = path.join(dir, 'certs');
  t.equal(fs.statSync(certs).mode & 0o777, 0o700);
  for (const f of fs.readdirSync(certs)) {
    t.equal(fs.statSync(path.join(certs, f)).mode & 0o777, 0o600, `${f} is 0600`);
    if (f.endsWith('.key.pem')) {
      const pem = fs.readFileSync(path.join(certs, f), 'utf8');
      t.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, `${f} is encrypted PKCS#8`);
      t.notMatch(pem, /BEGIN (RSA |EC )?PRIVATE KEY/);
    }
  }
});

t.test('a wrong passphrase fails start with one clear line', async (t) => {
  const { file, dir } = writeTestConfig();
  t.equal(wardctl(['ca', 'show', '--config', file]).status, 0);
  fs.writeFileSync(path.join(dir, 'certs', 'passphrase'), 'not-the-right-passphrase\n');
  const r = runDaemonToExit(['--config', file]);
  t.equal(r.status, 1);
  t.match(r.stderr, /cannot decrypt .*root\.key\.pem with the configured passphrase/);
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace');
  fs.rmSync(path.join(dir, 'certs', 'passphrase'));
  const missing = runDaemonToExit(['--config', file]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /passphrase file .* is missing, and the CA keys exist/);
});

t.test('the passphrase can come from a systemd credential', async (t) => {
  const creds = tempDir('ward-creds-');
  fs.writeFileSync(path.join(creds, 'ward-ca'), 'credential-passphrase-123\n', { mode: 0o600 });
  const { file } = writeTestConfig({
    pki: { dir: './certs', passphrase: { credential: 'ward-ca' }, rootKeyAlgorithm: 'ecdsa-p256', issuingKeyAlgorithm: 'ecdsa-p256' },
  });
  const ok = wardctl(['ca', 'show', '--config', file], { env: { CREDENTIALS_DIRECTORY: creds } });
  t.equal(ok.status, 0, ok.stderr);
  const noDir = wardctl(['ca', 'show', '--config', file], { env: { CREDENTIALS_DIRECTORY: '' } });
  t.equal(noDir.status, 1);
  t.match(noDir.stderr, /CREDENTIALS_DIRECTORY is not set/);
});

t.test('bad CSRs are refused with exit 2 and a reason', async (t) => {
  const { file } = writeTestConfig();
  const junk = path.join(work, 'junk.csr');
  fs.writeFileSync(junk, Buffer.from('3082ffff0000', 'hex'));
  const r = wardctl(['cert', 'issue', junk, '--profile', 'device', '--config', file]);
  t.equal(r.status, 2);
  t.match(r.stderr, /malformed CSR/);
  // A CSR whose signature was tampered with.
  const { csr } = opensslCsr('tamper', '/CN=tamper');
  const der = tool('openssl', ['req', '-in', csr, '-outform', 'DER']).raw;
  der[der.length - 5] ^= 0xff;
  fs.writeFileSync(junk, der);
  const bad = wardctl(['cert', 'issue', junk, '--profile', 'device', '--config', file]);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /signature does not verify/);
  const usage = wardctl(['cert', 'issue', csr, '--profile', 'nonsense', '--config', file]);
  t.equal(usage.status, 2);
});
