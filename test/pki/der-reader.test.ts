// The DER walk that replaced X509Certificate on the device-authentication path (src/pki/der-reader)
// and verifyIssued built on it: the same fields as OpenSSL reads, and no answer but 'unknown' (never
// a throw) for certificates that are not byte for byte Ward's.
import crypto, { X509Certificate } from 'node:crypto';
import t from 'tap';
import { loadTestConfig, writeTestConfig } from '../support/ward';
import { CertificateAuthority } from '../../src/pki';
import { certificateFields } from '../../src/pki/der-reader';
import { openDatabase } from '../../src/db';
import { AuditLog } from '../../src/audit';

function ward(issuingKeyAlgorithm: string) {
  const { file, doc } = writeTestConfig({ pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'ecdsa-p256', issuingKeyAlgorithm } });
  const cfg = loadTestConfig(file, doc);
  const db = openDatabase(cfg.database.file);
  return { db, ca: CertificateAuthority.open(cfg, db, new AuditLog(db)) };
}

for (const algorithm of ['rsa-2048', 'ecdsa-p256']) {
  t.test(`${algorithm} issuing CA: fields as X509Certificate reads them; verifyIssued agrees`, async (t) => {
    const { db, ca } = ward(algorithm);
    t.teardown(() => db.close());
    const issued = [ca.serviceIdentity('scepRa'), ca.serviceIdentity('server'), ca.serviceIdentity('auditSigner')];
    for (const id of issued) {
      const x = new X509Certificate(id.der);
      const f = certificateFields(id.der);
      if (!f) {
        t.fail(`${id.name}: not read`);
        continue;
      }
      t.equal(f.serial, x.serialNumber.toLowerCase().replace(/^0+/, ''), `${id.name}: serial`);
      t.equal(f.notBefore, x.validFromDate.getTime(), `${id.name}: notBefore`);
      t.equal(f.notAfter, x.validToDate.getTime(), `${id.name}: notAfter`);
      t.ok(x.verify(ca.issuing.cert.publicKey), `${id.name}: OpenSSL verifies it`);
      const v = ca.verifyIssued(id.der);
      t.equal(v.status, 'valid', `${id.name}: valid`);
      t.equal(v.notAfter?.getTime(), x.validToDate.getTime());
    }
    // The issuing and root CA certificates read too (a GeneralizedTime past 2049 included, if any).
    for (const der of [ca.issuing.der, ca.root.der]) {
      const x = new X509Certificate(der);
      t.equal(certificateFields(der)?.notAfter, x.validToDate.getTime(), 'CA certificate validity');
    }

    const ra = issued[0]!.der;
    // A changed signature byte: same serial and record lookup, the signature fails.
    const forged = Buffer.from(ra);
    forged[forged.length - 5] ^= 0x01;
    t.equal(ca.verifyIssued(forged).status, 'unknown', 'a flipped signature bit is not Ward\'s certificate');
    // A look-alike signed by another key with Ward's serial: not the stored bytes.
    const other = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const f = certificateFields(ra)!;
    const sig = crypto.sign('sha256', f.tbs, other.privateKey);
    const lookAlike = Buffer.concat([ra.subarray(0, ra.length - f.signature.length - 3), Buffer.from([0x03, sig.length + 1, 0]), sig]);
    t.equal(ca.verifyIssued(lookAlike).status, 'unknown', 'another signer over the same TBS');

    // Every truncation and a run of byte mutations: an answer, never a throw.
    let answers = 0;
    for (let n = 0; n < ra.length; n += 7) {
      t.doesNotThrow(() => certificateFields(ra.subarray(0, n)));
      if (ca.verifyIssued(ra.subarray(0, n)).status === 'unknown') answers++;
    }
    t.equal(answers, Math.ceil(ra.length / 7), 'every truncation is unknown');
    let mutated = 0;
    for (let i = 0; i < 400; i++) {
      const m = Buffer.from(ra);
      m[(i * 7919) % m.length] ^= 1 + (i % 255);
      const status = ca.verifyIssued(m).status;
      if (status === 'unknown') mutated++;
    }
    t.equal(mutated, 400, 'every mutated certificate is unknown');
  });
}
