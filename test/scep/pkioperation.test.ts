// readPkiOperation on requests built by independent tools (openssl cms for the envelope, pkijs for the
// signed attributes): every content cipher, digest and key transport the issue lists, BER streaming,
// and the messageData of each request type.
import t from 'tap';
import fs from 'node:fs';
import { readPkiOperation, weakAlgorithms, ScepError, type PkiOperation } from '../../src/scep';
import { makeThrowawayCa, makeRequester } from './throwaway-ca';
import { opensslEnvelope, pkijsSign, issuerAndSerialNumber, issuerAndSubject, loadPkijs, type OpensslCipher } from './requests';

const ca = makeThrowawayCa();
t.before(loadPkijs);
const device = makeRequester(ca.dir, 'device-a');
t.teardown(() => fs.rmSync(ca.dir, { recursive: true, force: true }));

async function request(content: Buffer, options: Parameters<typeof opensslEnvelope>[3] & Parameters<typeof pkijsSign>[2] = {}): Promise<Buffer> {
  const envelope = opensslEnvelope(ca.dir, content, [ca.raCertPath], options);
  return pkijsSign(device.cert, device.key, { ...options, content: envelope });
}

const ciphers: [OpensslCipher, string][] = [
  ['aes128', 'aes-128-cbc'],
  ['aes192', 'aes-192-cbc'],
  ['aes256', 'aes-256-cbc'],
  ['des3', 'des-ede3-cbc'],
  ['des', 'des-cbc'],
];

for (const [flag, name] of ciphers) {
  t.test(`PKCSReq enveloped with ${name}`, async (t) => {
    const csr = device.csr('s3cret-challenge');
    const op = readPkiOperation(await request(csr, { cipher: flag, transactionID: 'tx-1', senderNonce: Buffer.alloc(16, 7) }), ca.ra);
    if (op.messageType !== 'PKCSReq') throw new Error(op.messageType);
    t.equal(op.contentCipher, name);
    t.equal(op.keyTransport, 'rsaes-pkcs1-v1_5');
    t.equal(op.transactionID, 'tx-1');
    t.same(op.senderNonce, Buffer.alloc(16, 7));
    t.ok(op.certificationRequest.der.equals(csr), 'the decrypted messageData is the CSR byte for byte');
    t.equal(op.certificationRequest.challengePassword, 's3cret-challenge');
    t.equal(op.certificationRequest.subjectName, 'CN=device-a,O=Ward Test');
    t.ok(op.signer.der.equals(device.cert));
    t.same(weakAlgorithms(op), name.startsWith('des') ? [name] : []);
  });
}

for (const digest of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'] as const) {
  t.test(`signature with ${digest}`, async (t) => {
    const op = readPkiOperation(await request(device.csr('x'), { digest }), ca.ra);
    t.equal(op.digestAlgorithm, digest.toLowerCase().replace('-', ''));
    t.same(weakAlgorithms(op), digest === 'SHA-1' ? ['sha1'] : []);
  });
}

for (const hash of ['sha1', 'sha256'] as const) {
  t.test(`RSAES-OAEP key transport (${hash})`, async (t) => {
    const op = readPkiOperation(await request(device.csr('x'), { oaep: hash }), ca.ra);
    t.equal(op.keyTransport, `rsaes-oaep-${hash}`);
    t.equal(op.messageType, 'PKCSReq');
  });
}

t.test('BER with indefinite lengths (openssl cms -stream) opens the same', async (t) => {
  const csr = device.csr('x');
  const op = readPkiOperation(await request(csr, { stream: true, cipher: 'des3' }), ca.ra);
  if (op.messageType !== 'PKCSReq') throw new Error(op.messageType);
  t.ok(op.certificationRequest.der.equals(csr));
});

t.test('envelope with several recipients (as scepclient sends: RA and CA) picks the RA', async (t) => {
  const envelope = opensslEnvelope(ca.dir, device.csr('x'), [ca.caCertPath, ca.raCertPath]);
  const op = readPkiOperation(await pkijsSign(device.cert, device.key, { content: envelope }), ca.ra);
  t.equal(op.messageType, 'PKCSReq');
});

t.test('RenewalReq, GetCertInitial, GetCert, GetCRL messageData', async (t) => {
  const renewal = readPkiOperation(await request(device.csr(), { messageType: '17' }), ca.ra);
  t.equal(renewal.messageType, 'RenewalReq');

  const poll = readPkiOperation(await request(issuerAndSubject(ca.caCert, device.cert), { messageType: '20' }), ca.ra);
  if (poll.messageType !== 'GetCertInitial') throw new Error(poll.messageType);
  t.equal(poll.issuerAndSubject.issuerName, 'CN=Ward Test Issuing CA,O=Ward Test');
  t.equal(poll.issuerAndSubject.subjectName, 'CN=device-a,O=Ward Test');

  const raSerial = ca.ra.certificate.serialHex;
  const getCert = readPkiOperation(await request(issuerAndSerialNumber(ca.raCert), { messageType: '21' }), ca.ra);
  if (getCert.messageType !== 'GetCert') throw new Error(getCert.messageType);
  t.equal(getCert.issuerAndSerialNumber.serialHex, raSerial);
  t.ok(getCert.issuerAndSerialNumber.issuer.equals(ca.ra.certificate.issuer));

  const getCrl = readPkiOperation(await request(issuerAndSerialNumber(ca.raCert), { messageType: '22' }), ca.ra);
  t.equal(getCrl.messageType, 'GetCRL');
});

t.test('refusals carry the transaction so a CertRep FAILURE can answer them', async (t) => {
  const refused = async (bytes: Promise<Buffer>): Promise<ScepError> => {
    try {
      readPkiOperation(await bytes, ca.ra);
    } catch (err) {
      if (err instanceof ScepError) return err;
      throw err;
    }
    throw new Error('accepted');
  };
  const updateReq = await refused(request(device.csr('x'), { messageType: '18', transactionID: 'tx-u' }));
  t.equal(updateReq.failInfo, 'badRequest');
  t.equal(updateReq.transaction?.transactionID, 'tx-u');
  const certRepAsRequest = await refused(request(device.csr('x'), { messageType: '3' }));
  t.equal(certRepAsRequest.failInfo, 'badRequest');
  const unknownType = await refused(request(device.csr('x'), { messageType: '99' }));
  t.equal(unknownType.failInfo, 'badRequest');
  const noEnvelope = await refused(pkijsSign(device.cert, device.key, { content: null, transactionID: 'tx-n' }));
  t.equal(noEnvelope.failInfo, 'badRequest');
  t.equal(noEnvelope.transaction?.transactionID, 'tx-n');
  const noSignerCert = await refused(pkijsSign(device.cert, device.key, { content: opensslEnvelope(ca.dir, device.csr('x'), [ca.raCertPath]), omitCertificate: true }));
  t.equal(noSignerCert.failInfo, 'badMessageCheck');
  t.ok(noSignerCert.transaction);
  // a pkiMessage the RA cannot read at all: encrypted to someone else only
  const other = makeRequester(ca.dir, 'someone-else');
  const wrongRecipient = await refused(pkijsSign(device.cert, device.key, { content: opensslEnvelope(ca.dir, device.csr('x'), [other.certPath, ca.caCertPath]) }));
  t.equal(wrongRecipient.failInfo, 'badMessageCheck');
  // a lone recipient that is not us: tried anyway, and the failure is the decryption's
  const loneOther = await refused(pkijsSign(device.cert, device.key, { content: opensslEnvelope(ca.dir, device.csr('x'), [other.certPath]) }));
  t.equal(loneOther.failInfo, 'badMessageCheck');
  t.equal(loneOther.reason, 'pkcsPKIEnvelope does not decrypt');
});

export type { PkiOperation };
