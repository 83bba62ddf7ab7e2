import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CmsError, certificatesFromPem, signDetached, verifyDetached } from '../../src/audit/cms';
import { makeTestCa, openssl } from './openssl-ca';

const ca = makeTestCa();
t.teardown(() => fs.rmSync(ca.dir, { recursive: true, force: true }));
const anchors = [ca.root];
const content = Buffer.from('{"rootHash":"00","treeSize":1}\n');

function opensslVerify(p7s: Buffer, data: Buffer): { status: number | null; stderr: string } {
  const p7sFile = path.join(ca.dir, `x-${crypto.randomBytes(4).toString('hex')}.p7s`);
  const dataFile = `${p7sFile}.content`;
  fs.writeFileSync(p7sFile, p7s);
  fs.writeFileSync(dataFile, data);
  const r = spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7sFile, '-content', dataFile,
    '-CAfile', path.join(ca.dir, 'chain.pem'), '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

for (const kind of ['rsa', 'ec'] as const) {
  t.test(`${kind} signer: openssl cms -verify accepts what we sign`, async (t) => {
    const s = ca[kind];
    const p7s = signDetached(content, { key: s.key, certificate: s.cert, chain: [ca.issuing] }, new Date());
    const ok = opensslVerify(p7s, content);
    t.equal(ok.status, 0, `openssl verifies: ${ok.stderr.trim()}`);
    t.match(ok.stderr, /Verification successful/);
    const bad = opensslVerify(p7s, Buffer.concat([content, Buffer.from(' ')]));
    t.not(bad.status, 0, 'openssl rejects changed content');

    const v = verifyDetached(p7s, content, { trustAnchors: anchors });
    t.equal(v.signer.fingerprint256, s.cert.fingerprint256, 'our verifier finds the signer');
    t.same(v.chain.map((c) => c.fingerprint256), [s.cert, ca.issuing, ca.root].map((c) => c.fingerprint256), 'chain to the root');
    t.throws(() => verifyDetached(p7s, Buffer.from('other'), { trustAnchors: anchors }), /messageDigest does not match/);
  });
}

t.test('signingTime, structure and DER details that openssl relies on', async (t) => {
  const when = new Date('2031-05-06T07:08:09Z');
  const p7s = signDetached(content, { key: ca.ec.key, certificate: ca.ec.cert, chain: [ca.issuing] }, when);
  const v = verifyDetached(p7s, content, { trustAnchors: anchors, at: new Date() });
  t.equal(v.signingTime.toISOString(), when.toISOString(), 'signingTime round-trips');
  const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER'], ca.dir, p7s).toString();
  t.match(printed, /eContent: <ABSENT>/, 'detached');
  t.match(printed, /sha256/, 'SHA-256 digest algorithm');
  t.match(printed, /contentType/);
  t.match(printed, /messageDigest/);
  t.match(printed, /signingTime/);
  const late = new Date(when.getTime());
  t.throws(() => verifyDetached(p7s, content, { trustAnchors: anchors }), /not valid at 2031/, 'by default the chain must be valid at signingTime');
  void late;
});

t.test('our verifier accepts a detached signature made by openssl cms -sign', async (t) => {
  const dataFile = path.join(ca.dir, 'by-openssl.txt');
  fs.writeFileSync(dataFile, content);
  const issuingFile = path.join(ca.dir, 'issuing.pem');
  for (const kind of ['rsa', 'ec'] as const) {
    const p7s = openssl(['cms', '-sign', '-binary', '-outform', 'DER', '-md', 'sha256', '-in', dataFile, '-signer', ca[kind].certFile,
      '-inkey', ca[kind].keyFile, '-certfile', issuingFile], ca.dir);
    const v = verifyDetached(p7s, content, { trustAnchors: anchors });
    t.equal(v.signer.fingerprint256, ca[kind].cert.fingerprint256, `${kind}: openssl-made signature verifies`);
  }
});

t.test('rejections name what failed', async (t) => {
  const p7s = signDetached(content, { key: ca.rsa.key, certificate: ca.rsa.cert, chain: [ca.issuing] });
  const other = makeOtherRoot();
  t.throws(() => verifyDetached(p7s, content, { trustAnchors: [other] }), /no trusted issuer/, 'untrusted root');
  const noChain = signDetached(content, { key: ca.rsa.key, certificate: ca.rsa.cert });
  t.throws(() => verifyDetached(noChain, content, { trustAnchors: anchors }), /no trusted issuer/, 'missing intermediate');
  t.ok(verifyDetached(noChain, content, { trustAnchors: [ca.issuing] }), 'unless the intermediate is itself trusted');
  t.throws(() => verifyDetached(p7s, content, { trustAnchors: anchors, at: new Date(Date.now() + 400 * 86400e3) }), /not valid at/, 'expired');

  // Swap in the signature value of another signing: the digest still matches, the signature does not.
  const second = signDetached(content, { key: ca.rsa.key, certificate: ca.rsa.cert, chain: [ca.issuing] }, new Date(Date.now() - 5000));
  const sigA = p7s.subarray(p7s.length - 256);
  const swapped = Buffer.concat([second.subarray(0, second.length - 256), sigA]);
  t.throws(() => verifyDetached(swapped, content, { trustAnchors: anchors }), /signature does not verify/, 'swapped signature value');

  const flipped = Buffer.from(p7s);
  flipped[flipped.length - 10] ^= 1;
  t.throws(() => verifyDetached(flipped, content, { trustAnchors: anchors }), /signature does not verify/, 'flipped signature bit');

  for (const [label, bytes] of [
    ['empty', Buffer.alloc(0)],
    ['truncated', p7s.subarray(0, p7s.length - 40)],
    ['garbage', crypto.randomBytes(300)],
    ['trailing bytes', Buffer.concat([p7s, Buffer.from([0])])],
    ['a certificate', ca.root.raw],
  ] as [string, Buffer][]) {
    t.throws(() => verifyDetached(bytes, content, { trustAnchors: anchors }), CmsError, `${label} gives a CmsError`);
  }
  t.throws(() => signDetached(content, { key: ca.ec.key, certificate: ca.rsa.cert }), /does not match/, 'key and certificate must match');
  t.throws(() => signDetached(content, { key: crypto.generateKeyPairSync('ed25519').privateKey, certificate: ca.rsa.cert }), /unsupported signer key/);
  t.equal(certificatesFromPem(ca.chainPem).length, 2, 'PEM chain parses');
});

function makeOtherRoot() {
  const other = makeTestCa('Other');
  fs.rmSync(other.dir, { recursive: true, force: true });
  return other.root;
}

t.test('every single-byte change anywhere in the SignedData is rejected', async (t) => {
  const p7s = signDetached(content, { key: ca.ec.key, certificate: ca.ec.cert, chain: [ca.issuing] });
  let accepted = 0;
  let crashed = 0;
  for (let i = 0; i < p7s.length; i++) {
    for (const mask of [0x01, 0x80]) {
      const bad = Buffer.from(p7s);
      bad[i] ^= mask;
      try {
        verifyDetached(bad, content, { trustAnchors: anchors });
        accepted++;
      } catch (e) {
        if (!(e instanceof CmsError)) crashed++;
      }
    }
  }
  t.equal(accepted, 0, `${p7s.length * 2} altered signatures, none accepted`);
  t.equal(crashed, 0, 'each refused with a CmsError');
});
