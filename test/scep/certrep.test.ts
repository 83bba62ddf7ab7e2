// What Ward sends, read back by openssl: GetCACert's degenerate certs-only PKCS#7, and CertRep
// SUCCESS / FAILURE / PENDING (signature with the RA, signed SCEP attributes, the envelope decrypts
// with the requester's key to a certs-only SignedData holding the issued certificate or CRL).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { buildCertRep, buildCertsOnly, buildFailure, parseCertificate, parsePkiMessage, FailInfo, PkiStatus, MessageType, ScepError, type ContentCipher } from '../../src/scep';
import { makeThrowawayCa, makeRequester, openssl, pemToDer } from './throwaway-ca';

const ca = makeThrowawayCa();
const device = makeRequester(ca.dir, 'device-b');
t.teardown(() => fs.rmSync(ca.dir, { recursive: true, force: true }));

const file = (name: string, data: Buffer): string => {
  const p = path.join(ca.dir, name);
  fs.writeFileSync(p, data);
  return p;
};

function subjects(pkcs7Der: Buffer): string[] {
  const out = openssl(['pkcs7', '-inform', 'DER', '-print_certs', '-noout'], pkcs7Der).toString();
  return out.split('\n').filter((l) => l.startsWith('subject=')).map((l) => l.trim());
}

t.test('GetCACert: degenerate certs-only PKCS#7, RA first then CA', async (t) => {
  const p7 = buildCertsOnly([ca.raCert, ca.caCert]);
  t.same(subjects(p7), ['subject=O = Ward Test, CN = Ward Test SCEP RA', 'subject=O = Ward Test, CN = Ward Test Issuing CA']);
  const printed = openssl(['pkcs7', '-inform', 'DER', '-print_certs'], p7).toString();
  const pems = printed.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  t.equal(pems.length, 2);
  t.ok(pemToDer(pems[0]!).equals(ca.raCert), 'certificates are carried byte for byte');
});

t.test('certs-only with a CRL', async (t) => {
  const crl = ca.crl();
  const p7 = buildCertsOnly([], [crl]);
  const printed = openssl(['pkcs7', '-inform', 'DER', '-print_certs'], p7).toString();
  t.match(printed, /-----BEGIN X509 CRL-----/);
  const crlPem = printed.match(/-----BEGIN X509 CRL-----[^-]+-----END X509 CRL-----/)![0];
  t.ok(pemToDer(crlPem).equals(crl));
});

const request = { transactionID: 'Kq2/Tx+id=', senderNonce: Buffer.from('00112233445566778899aabbccddeeff', 'hex') };

// `openssl cms -cmsout -print` renders each signed attribute; pick the value that follows an OID.
function signedAttribute(printed: string, oid: string): string | undefined {
  const at = printed.search(new RegExp(`object: [^\\n]*\\(${oid.replace(/\./g, '\\.')}\\)`));
  if (at < 0) return undefined;
  const rest = printed.slice(at).split('\n').slice(1, 6).join('\n');
  return rest.match(/(PRINTABLESTRING|OCTET STRING|UTF8STRING):([^\n]*)/)?.slice(1).join(':');
}

for (const cipher of ['aes-256-cbc', 'aes-128-cbc', 'des-ede3-cbc', 'des-cbc'] as ContentCipher[]) {
  t.test(`CertRep SUCCESS (${cipher}) verifies and decrypts with openssl`, async (t) => {
    const issued = ca.issue(device.csr('x'));
    const certRep = buildCertRep(ca.ra, request, { pkiStatus: 'SUCCESS', recipient: device.certificate, certificates: [issued], contentCipher: cipher });
    const certRepPath = file(`certrep-${cipher}.der`, certRep);

    // signature by the RA, chained to the CA; -out gives the signed content (the pkcsPKIEnvelope)
    const envelopePath = path.join(ca.dir, `envelope-${cipher}.der`);
    openssl(['cms', '-verify', '-inform', 'DER', '-in', certRepPath, '-CAfile', ca.caCertPath, '-purpose', 'any', '-binary', '-out', envelopePath]);
    const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', certRepPath]).toString();
    t.equal(signedAttribute(printed, '2.16.840.1.113733.1.9.2'), 'PRINTABLESTRING:3', 'messageType CertRep');
    t.equal(signedAttribute(printed, '2.16.840.1.113733.1.9.3'), 'PRINTABLESTRING:0', 'pkiStatus SUCCESS');
    t.equal(signedAttribute(printed, '2.16.840.1.113733.1.9.7'), `PRINTABLESTRING:${request.transactionID}`);
    t.match(printed, /digestAlgorithm:\s*\n\s*algorithm: sha256/);
    t.notOk(printed.includes('2.16.840.1.113733.1.9.4'), 'no failInfo on SUCCESS');

    const decryptArgs = ['cms', '-decrypt', '-inform', 'DER', '-in', envelopePath, '-recip', device.certPath, '-inkey', device.keyPath, '-binary'];
    if (cipher === 'des-cbc') decryptArgs.push('-provider', 'legacy', '-provider', 'default');
    const certsOnly = openssl(decryptArgs);
    t.same(subjects(certsOnly), ['subject=O = Ward Test, CN = device-b']);
    const envelopeInfo = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', envelopePath]).toString();
    t.match(envelopeInfo, new RegExp(`algorithm: ${cipher === 'des-ede3-cbc' ? 'des-ede3-cbc' : cipher}`));

    // and our own parser reads the same attributes back, nonces included
    const parsed = parsePkiMessage(certRep, { signerCandidates: [ca.ra.certificate] });
    t.equal(parsed.messageType, MessageType.CertRep);
    t.equal(parsed.pkiStatus, PkiStatus.SUCCESS);
    t.ok(parsed.recipientNonce?.equals(request.senderNonce), 'recipientNonce echoes the request senderNonce');
    t.equal(parsed.senderNonce.length, 16);
    t.notOk(parsed.senderNonce.equals(request.senderNonce), 'a fresh senderNonce');
    t.equal(parsed.digestAlgorithm, 'sha256');
  });
}

t.test('CertRep FAILURE: signed, no content, failInfo', async (t) => {
  for (const [name, value] of Object.entries(FailInfo)) {
    const certRep = buildFailure(ca.ra, new ScepError(name as keyof typeof FailInfo, 'test', request))!;
    const certRepPath = file(`failure-${name}.der`, certRep);
    // no eContent: messageDigest is over the empty string, so /dev/null is the detached content
    openssl(['cms', '-verify', '-inform', 'DER', '-in', certRepPath, '-content', '/dev/null', '-CAfile', ca.caCertPath, '-purpose', 'any', '-binary', '-out', '/dev/null']);
    const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', certRepPath]).toString();
    t.equal(signedAttribute(printed, '2.16.840.1.113733.1.9.3'), 'PRINTABLESTRING:2', `${name}: pkiStatus FAILURE`);
    t.equal(signedAttribute(printed, '2.16.840.1.113733.1.9.4'), `PRINTABLESTRING:${value}`, `${name}: failInfo ${value}`);
    const parsed = parsePkiMessage(certRep, { signerCandidates: [ca.ra.certificate] });
    t.equal(parsed.failInfo, value);
    t.equal(parsed.content, undefined);
  }
  t.equal(buildFailure(ca.ra, new ScepError('badRequest', 'no transaction')), undefined, 'no CertRep without a transaction to answer');
});

t.test('CertRep PENDING and failInfoText', async (t) => {
  const pending = buildCertRep(ca.ra, request, { pkiStatus: 'PENDING' });
  const parsed = parsePkiMessage(pending, { signerCandidates: [ca.ra.certificate] });
  t.equal(parsed.pkiStatus, PkiStatus.PENDING);
  t.equal(parsed.failInfo, undefined);
  const withText = buildCertRep(ca.ra, request, { pkiStatus: 'FAILURE', failInfo: 'badCertId', failInfoText: 'no certificate with that serial' });
  const printed = openssl(['cms', '-cmsout', '-print', '-inform', 'DER'], withText).toString();
  t.equal(signedAttribute(printed, '1.3.6.1.5.5.7.24.1'), 'UTF8STRING:no certificate with that serial');
});

t.test('a transactionID outside PrintableString is echoed as UTF8String', async (t) => {
  const certRep = buildCertRep(ca.ra, { transactionID: 'tx_ü', senderNonce: request.senderNonce }, { pkiStatus: 'PENDING' });
  t.equal(parsePkiMessage(certRep, { signerCandidates: [ca.ra.certificate] }).transactionID, 'tx_ü');
});

t.test('nothing can be enveloped for a non-RSA requester', async (t) => {
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path.join(ca.dir, 'ec.key')]);
  const ecCert = openssl(['req', '-x509', '-new', '-key', path.join(ca.dir, 'ec.key'), '-subj', '/CN=ec', '-days', '1', '-outform', 'DER']);
  let caught: unknown;
  try {
    buildCertRep(ca.ra, request, { pkiStatus: 'SUCCESS', recipient: parseCertificate(ecCert), certificates: [] });
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ScepError && caught.failInfo === 'badAlg', String(caught));
});
