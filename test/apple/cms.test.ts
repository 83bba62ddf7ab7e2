import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certificateSerial, CmsError, signCms, signMdmMessage, verifyMdmSignature } from '../../src/apple/cms';
import { buildPlistBuffer } from '../../src/apple/plist';
import { makeLeaf, makeRoot, openssl, opensslStatus } from './openssl';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const root = makeRoot(dir);
const signer = makeLeaf(dir, root, 'profile-signer');
const device = makeLeaf(dir, root, 'device-rsa');
const deviceEc = makeLeaf(dir, root, 'device-ec', 'ec');
const otherDevice = makeLeaf(dir, root, 'device-other');

const body = buildPlistBuffer({ MessageType: 'Authenticate', Topic: 'com.apple.mgmt.External.x', UDID: 'A1B2C3' });
const bodyPath = path.join(dir, 'body.plist');
fs.writeFileSync(bodyPath, body);

/** An Mdm-Signature header made by openssl, as a device makes it (detached unless told). */
function opensslSignature(who: typeof device, extra: string[] = []): string {
  return openssl(['cms', '-sign', '-binary', '-outform', 'DER', '-in', bodyPath, '-signer', who.certPath, '-inkey', who.keyPath, ...extra]).toString('base64');
}

t.test('signed profile: openssl cms -verify accepts it and returns the exact content', async (t) => {
  const profile = buildPlistBuffer({ PayloadType: 'Configuration', PayloadContent: [], PayloadDisplayName: 'Ward — Station 4' });
  const signed = signCms(profile, { key: signer.key, certificate: signer.certDer, chain: [root.certPem] });
  const file = path.join(dir, 'profile.mobileconfig');
  fs.writeFileSync(file, signed);
  const out = path.join(dir, 'profile.out');
  const r = opensslStatus(['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', root.certPath, '-purpose', 'any', '-out', out]);
  t.equal(r.status, 0, r.stderr);
  t.ok(fs.readFileSync(out).equals(profile), 'embedded content is the profile byte for byte');

  // Signer certificate and chain are embedded, and the digest is SHA-256.
  const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', file]).toString();
  t.match(printed, /CN=profile-signer/);
  t.match(printed, /subject:.*CN=root/s);
  t.match(printed, /algorithm: sha256/);

  // A one-byte change in the content makes openssl refuse it.
  const tampered = Buffer.from(signed);
  const at = tampered.indexOf(Buffer.from('Station'));
  tampered[at] ^= 0x01;
  fs.writeFileSync(file, tampered);
  const bad = opensslStatus(['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', root.certPath, '-purpose', 'any', '-out', out]);
  t.not(bad.status, 0, 'tampered profile is refused');

  // Signed by a key that does not belong to the certificate: refused too.
  fs.writeFileSync(file, signCms(profile, { key: device.key, certificate: signer.certDer }));
  t.not(opensslStatus(['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', root.certPath, '-purpose', 'any']).status, 0);
});

t.test('signed profile with an EC signer also verifies', async (t) => {
  const file = path.join(dir, 'ec.mobileconfig');
  fs.writeFileSync(file, signCms(Buffer.from('<plist/>'), { key: deviceEc.key, certificate: deviceEc.certPem, chain: [root.certDer] }));
  t.equal(opensslStatus(['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', root.certPath, '-purpose', 'any']).status, 0);
});

t.test('Mdm-Signature made by openssl verifies and names the signer', async (t) => {
  const cases: Array<[string, typeof device, string[], string]> = [
    ['RSA, SHA-256, signed attributes', device, [], 'sha256'],
    ['RSA, SHA-1 (older devices)', device, ['-md', 'sha1'], 'sha1'],
    ['no signed attributes', device, ['-noattr'], 'sha256'],
    ['subjectKeyIdentifier as signer id', device, ['-keyid'], 'sha256'],
    ['EC P-256 identity', deviceEc, [], 'sha256'],
    ['with the chain included', device, ['-certfile', root.certPath], 'sha256'],
  ];
  for (const [name, who, extra, digest] of cases) {
    const v = verifyMdmSignature(opensslSignature(who, extra), body);
    t.equal(v.serial, who.serial, `${name}: serial`);
    t.ok(v.certificate.equals(who.certDer), `${name}: certificate`);
    t.equal(v.digest, digest, `${name}: digest`);
  }
  t.equal(certificateSerial(device.certPem), device.serial);
});

t.test('our own device-side signature verifies with openssl and with us', async (t) => {
  const header = signMdmMessage(body, { key: device.key, certificate: device.certDer });
  const sigPath = path.join(dir, 'ours.sig');
  fs.writeFileSync(sigPath, Buffer.from(header, 'base64'));
  const r = opensslStatus(['cms', '-verify', '-binary', '-inform', 'DER', '-in', sigPath, '-content', bodyPath, '-CAfile', root.certPath, '-purpose', 'any', '-out', '/dev/null']);
  t.equal(r.status, 0, r.stderr);
  t.equal(verifyMdmSignature(header, body).serial, device.serial);
});

t.test('tampering and wrong signers are refused with a reason', async (t) => {
  const header = opensslSignature(device);
  const reason = (h: string, b: Buffer = body) => {
    try {
      verifyMdmSignature(h, b);
      return 'accepted';
    } catch (e) {
      return e instanceof CmsError ? e.reason : `crash: ${(e as Error).message}`;
    }
  };
  const changed = Buffer.from(body);
  changed[changed.length - 20] ^= 0x20;
  t.equal(reason(header, changed), 'digest-mismatch', 'body changed after signing');
  t.equal(reason(opensslSignature(device, ['-noattr']), changed), 'bad-signature', 'body changed, no signed attributes');

  const sig = Buffer.from(header, 'base64');
  const flipped = Buffer.from(sig);
  flipped[flipped.length - 5] ^= 0xff; // inside the signature value, the last field
  t.equal(reason(flipped.toString('base64')), 'bad-signature', 'signature bytes changed');

  // Key of one device, certificate of another.
  t.equal(reason(signMdmMessage(body, { key: otherDevice.key, certificate: device.certDer })), 'bad-signature', 'certificate swapped');
  t.equal(reason(opensslSignature(device, ['-nocerts'])), 'no-signer-certificate', 'no certificate included');
  t.equal(reason(opensslSignature(device, ['-nodetach'])), 'not-detached', 'content embedded');
  t.equal(reason('not base64!'), 'malformed');
  t.equal(reason(''), 'malformed');
  t.equal(reason(Buffer.from('hello world, not DER').toString('base64')), 'malformed');
  t.equal(reason(sig.subarray(0, sig.length - 10).toString('base64')), 'malformed', 'truncated');
  t.equal(reason(Buffer.alloc(40 * 1024, 0x30).toString('base64')), 'too-large');
  // A ContentInfo of another type (id-data), and a SignedData with nothing inside.
  t.equal(reason(Buffer.from('300d06092a864886f70d010702a000', 'hex').toString('base64')), 'malformed', 'SignedData without content');
  t.equal(reason(Buffer.from('300b06092a864886f70d010701', 'hex').toString('base64')), 'not-signed-data');
});

t.test('random corruption of a signature raises only CmsError', async (t) => {
  const sig = Buffer.from(opensslSignature(device), 'base64');
  let seed = 0x2545f491;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  let crashes = 0;
  let accepted = 0;
  for (let i = 0; i < 1500; i++) {
    const copy = Buffer.from(sig);
    for (let k = 0; k < 2; k++) copy[Math.floor(rnd() * copy.length)] = Math.floor(rnd() * 256);
    try {
      verifyMdmSignature(copy.toString('base64'), body);
      if (!copy.equals(sig)) accepted++;
    } catch (e) {
      if (!(e instanceof CmsError)) crashes++;
    }
  }
  t.equal(crashes, 0, 'no exception other than CmsError');
  // Flips in unsigned fields (signingTime is signed; certificate extensions are not checked here)
  // may still verify; flips anywhere else must not. Most of the structure is covered.
  t.ok(accepted < 300, `few corruptions survive (${accepted})`);
});
