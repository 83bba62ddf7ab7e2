// Hostile and broken pkiMessages: every prefix of a real request, every byte flipped, wrong content
// types, parser bombs, tampered signatures and envelopes, unsupported algorithms. Each one must end
// in a ScepError with the documented failInfo (never a TypeError or RangeError from a library), and
// carry the transaction whenever a CertRep FAILURE could answer it.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { readPkiOperation, parsePkiMessage, parseCertificate, ScepError } from '../../src/scep';
import { makeThrowawayCa, makeRequester } from './throwaway-ca';
import { opensslEnvelope, pkijsSign, loadPkijs } from './requests';

const ca = makeThrowawayCa();
const device = makeRequester(ca.dir, 'device-m');
t.teardown(() => fs.rmSync(ca.dir, { recursive: true, force: true }));
t.before(loadPkijs);

function outcome(bytes: Buffer): ScepError | 'accepted' {
  try {
    readPkiOperation(bytes, ca.ra);
    return 'accepted';
  } catch (err) {
    if (err instanceof ScepError) return err;
    throw err; // a non-ScepError fails the test with its stack
  }
}

function refused(t: Test, bytes: Buffer, failInfo: ScepError['failInfo'], withTransaction: boolean, label: string): ScepError | undefined {
  const result = outcome(bytes);
  if (result === 'accepted') {
    t.fail(`${label}: accepted`);
    return undefined;
  }
  t.equal(result.failInfo, failInfo, `${label}: ${result.reason}`);
  t.equal(result.transaction !== undefined, withTransaction, `${label}: ${withTransaction ? 'answerable by CertRep' : 'HTTP-level refusal'}`);
  return result;
}

// forge round-trip for surgical edits of a DER structure
const fromDer = (b: Buffer) => forge.asn1.fromDer(forge.util.createBuffer(b.toString('latin1')));
const toDer = (n: forge.asn1.Asn1) => Buffer.from(forge.asn1.toDer(n).getBytes(), 'latin1');
const kids = (n: forge.asn1.Asn1) => n.value as forge.asn1.Asn1[];

let valid: Buffer;
let validEnvelope: Buffer;
t.before(async () => {
  validEnvelope = opensslEnvelope(ca.dir, device.csr('pw'), [ca.raCertPath]);
  valid = await pkijsSign(device.cert, device.key, { content: validEnvelope, transactionID: 'tx-valid' });
});

t.test('the untouched request is accepted', async (t) => {
  t.equal(outcome(valid), 'accepted');
});

t.test('every truncation is a ScepError', async (t) => {
  let count = 0;
  for (let length = 0; length < valid.length; length++) {
    const result = outcome(valid.subarray(0, length));
    if (result === 'accepted') t.fail(`prefix of ${length} bytes accepted`);
    count++;
  }
  t.equal(count, valid.length);
});

t.test('every single-byte corruption of what is signed, encrypted or verified is refused', async (t) => {
  const certAt = valid.indexOf(device.cert);
  const envelopeAt = valid.indexOf(validEnvelope.subarray(0, 64));
  // signed attributes start with contentType (pkijs order) and run to the end with the signature
  const attributesAt = valid.indexOf(Buffer.from('06092a864886f70d010903', 'hex'), certAt + device.cert.length);
  t.ok(certAt > 0 && envelopeAt > 0 && attributesAt > 0, 'landmarks found');
  const accepted: number[] = [];
  for (let i = 0; i < valid.length; i++) {
    const copy = Buffer.from(valid);
    copy[i] = copy[i]! ^ 0xff;
    if (outcome(copy) === 'accepted') accepted.push(i);
  }
  const outsideCert = accepted.filter((i) => i < certAt || i >= certAt + device.cert.length);
  t.same(outsideCert.filter((i) => i >= envelopeAt && i < envelopeAt + validEnvelope.length), [], 'no envelope byte');
  t.same(outsideCert.filter((i) => i >= attributesAt), [], 'no signed-attribute or signature byte');
  // what is left: the requester's self-signed certificate (trusted for nothing but its key, which the
  // signature check covers) and unauthenticated version / digestAlgorithms bytes
  t.ok(outsideCert.length <= 20, `ignored bytes outside the certificate: ${outsideCert.join(',')}`);
});

t.test('garbage, empty and bombs', async (t) => {
  refused(t, Buffer.alloc(0), 'badRequest', false, 'empty');
  refused(t, Buffer.from([0x30]), 'badRequest', false, 'one byte');
  refused(t, randomBytes(3000), 'badRequest', false, 'random bytes');
  refused(t, Buffer.from('MIAGCSqGSIb3DQEHAqCAMIACAQExCzAJBgUrDgMCGgUA', 'base64'), 'badRequest', false, 'base64 text of a truncated message');
  // 10,000 nested SEQUENCEs: the depth limit refuses it before the stack does
  const depth = 10_000;
  const bomb = Buffer.concat([Buffer.alloc(depth * 2).map((_, i) => (i % 2 === 0 ? 0x30 : 0x80)), Buffer.alloc(depth * 2)]);
  refused(t, bomb, 'badRequest', false, 'nesting bomb');
  // a length that claims 4 GB
  refused(t, Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x02, 0x01, 0x00]), 'badRequest', false, 'huge length');
  refused(t, Buffer.from([0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 'badRequest', false, 'overlong length of length');
  refused(t, Buffer.from([0x1f, 0x81, 0x01, 0x00]), 'badRequest', false, 'high tag number');
});

t.test('wrong content types', async (t) => {
  const envelope = opensslEnvelope(ca.dir, device.csr('pw'), [ca.raCertPath]);
  refused(t, envelope, 'badRequest', false, 'a bare EnvelopedData instead of SignedData');
  refused(t, device.cert, 'badRequest', false, 'a certificate');
  refused(t, device.csr('pw'), 'badRequest', false, 'a bare CSR');
  // SignedData whose eContent is a SignedData, not an EnvelopedData
  refused(t, await pkijsSign(device.cert, device.key, { content: valid, transactionID: 'tx-nested' }), 'badRequest', true, 'SignedData inside');
  // EnvelopedData whose content is not a CSR
  const notCsr = await pkijsSign(device.cert, device.key, { content: opensslEnvelope(ca.dir, Buffer.from('hello, not a CSR'), [ca.raCertPath]) });
  refused(t, notCsr, 'badMessageCheck', true, 'plaintext that is not DER');
  const certNotCsr = await pkijsSign(device.cert, device.key, { content: opensslEnvelope(ca.dir, device.cert, [ca.raCertPath]) });
  refused(t, certNotCsr, 'badRequest', true, 'a certificate where the CSR should be');
  const csrForGetCert = await pkijsSign(device.cert, device.key, { content: opensslEnvelope(ca.dir, device.csr('pw'), [ca.raCertPath]), messageType: '21' });
  refused(t, csrForGetCert, 'badRequest', true, 'GetCert carrying a CSR');
});

t.test('missing SCEP attributes', async (t) => {
  const content = opensslEnvelope(ca.dir, device.csr('pw'), [ca.raCertPath]);
  refused(t, await pkijsSign(device.cert, device.key, { content, transactionID: null }), 'badRequest', false, 'no transactionID');
  refused(t, await pkijsSign(device.cert, device.key, { content, senderNonce: null }), 'badRequest', false, 'no senderNonce');
  refused(t, await pkijsSign(device.cert, device.key, { content, senderNonce: Buffer.alloc(65) }), 'badRequest', false, 'oversized senderNonce');
  refused(t, await pkijsSign(device.cert, device.key, { content, messageType: 'nineteen' }), 'badRequest', true, 'messageType not a number');
  const asn1js = await import('asn1js');
  const twice = await pkijsSign(device.cert, device.key, {
    content,
    extraAttributes: [{ type: '2.16.840.1.113733.1.9.2', value: new asn1js.PrintableString({ value: '21' }) }],
  });
  refused(t, twice, 'badRequest', false, 'messageType twice');
});

t.test('signature and digest tampering', async (t) => {
  // the signature OCTET STRING is the last field of the only SignerInfo
  const root = fromDer(valid);
  const signedData = kids(kids(kids(root)[1]!)[0]!);
  const signerInfo = kids(kids(signedData.at(-1)!)[0]!);
  const signature = signerInfo[5]!;
  const original = signature.value as string;
  signature.value = String.fromCharCode(original.charCodeAt(0) ^ 1) + original.slice(1);
  refused(t, toDer(root), 'badMessageCheck', true, 'signature bit flipped');
  signature.value = original;

  // eContent changed after signing: messageDigest no longer matches
  const encap = kids(signedData[2]!);
  let eContent = kids(encap[1]!)[0]!;
  // pkijs writes eContent as a constructed (BER) OCTET STRING: edit its last segment
  while (Array.isArray(eContent.value)) eContent = eContent.value.at(-1)!;
  const content = eContent.value as string;
  eContent.value = content.slice(0, -1) + String.fromCharCode(content.charCodeAt(content.length - 1) ^ 1);
  refused(t, toDer(root), 'badMessageCheck', true, 'content changed after signing');
  eContent.value = content;

  // digestAlgorithm swapped for SHA-224 (same OID length): unsupported
  const digestAlg = kids(signerInfo[2]!)[0]!;
  const sha256 = digestAlg.value as string;
  digestAlg.value = forge.asn1.oidToDer('2.16.840.1.101.3.4.2.4').getBytes();
  refused(t, toDer(root), 'badAlg', true, 'SHA-224 digest');
  digestAlg.value = sha256;
  t.equal(outcome(toDer(root)), 'accepted', 'restored edits verify again');
});

t.test('envelope tampering: a bad RSA padding looks exactly like a bad content key', async (t) => {
  const reasons = new Set<string>();
  for (let i = 0; i < 16; i++) {
    const envelope = fromDer(opensslEnvelope(ca.dir, device.csr('pw'), [ca.raCertPath]));
    const enveloped = kids(kids(envelope)[1]!)[0]!;
    const recipient = kids(kids(kids(enveloped)[1]!)[0]!);
    const encryptedKey = recipient[3]!;
    const key = Buffer.from(encryptedKey.value as string, 'latin1');
    if (i % 2 === 0) key[10 + i] = key[10 + i]! ^ 0x55; // RSA ciphertext corrupted: implicit rejection
    else {
      // RSA intact, content corrupted in its last block: CBC padding fails
      const eci = kids(kids(enveloped)[2]!);
      const ct = Buffer.from(eci[2]!.value as string, 'latin1');
      ct[ct.length - 17] = ct[ct.length - 17]! ^ 0x55;
      eci[2]!.value = ct.toString('latin1');
    }
    encryptedKey.value = key.toString('latin1');
    const message = await pkijsSign(device.cert, device.key, { content: toDer(envelope), transactionID: `tx-${i}` });
    const err = refused(t, message, 'badMessageCheck', true, i % 2 === 0 ? 'encryptedKey corrupted' : 'content corrupted');
    if (err) reasons.add(err.reason);
  }
  t.same([...reasons], ['pkcsPKIEnvelope does not decrypt'], 'one reason for both');
});

t.test('unsupported algorithms are badAlg', async (t) => {
  const rc2 = await pkijsSign(device.cert, device.key, {
    content: execFileSync('openssl', ['cms', '-encrypt', '-binary', '-outform', 'DER', '-rc2', '-recip', ca.raCertPath, '-provider', 'legacy', '-provider', 'default'], {
      input: device.csr('pw'),
    }),
  });
  refused(t, rc2, 'badAlg', true, 'RC2 content encryption');
});

t.test('a CSR whose self-signature is broken', async (t) => {
  const csr = device.csr('pw');
  csr[csr.length - 5] = csr[csr.length - 5]! ^ 1;
  const message = await pkijsSign(device.cert, device.key, { content: opensslEnvelope(ca.dir, csr, [ca.raCertPath]) });
  refused(t, message, 'badMessageCheck', true, 'CSR signature');
});

t.test('two signers are refused', async (t) => {
  const root = fromDer(valid);
  const signedData = kids(kids(kids(root)[1]!)[0]!);
  const signerInfos = signedData.at(-1)!;
  kids(signerInfos).push(kids(signerInfos)[0]!);
  refused(t, toDer(root), 'badRequest', false, 'two SignerInfos');
});

t.test('parsePkiMessage and parseCertificate never throw anything but ScepError', async (t) => {
  for (let i = 0; i < 2000; i++) {
    const junk = Buffer.concat([Buffer.from([0x30, 0x82]), randomBytes(2 + (i % 300))]);
    for (const parse of [() => parsePkiMessage(junk), () => parseCertificate(junk)]) {
      try {
        parse();
        t.fail('junk accepted');
      } catch (err) {
        if (!(err instanceof ScepError)) {
          t.fail(`non-ScepError: ${String(err)}`);
          return;
        }
      }
    }
  }
  t.pass('2000 random structures, all ScepError');
});
