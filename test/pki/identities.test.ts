// Service identities and CRL freshness, in-process.
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import t from 'tap';
import { loadTestConfig, startTestWard, writeTestConfig } from '../support/ward';
import { CertificateAuthority } from '../../src/pki';
import { openDatabase } from '../../src/db';
import { AuditLog } from '../../src/audit';

function peerCertificate(port: number, ca: string, servername: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername }, () => {
      const raw = s.getPeerCertificate().raw;
      s.end();
      resolve(new X509Certificate(raw));
    });
    s.on('error', reject);
  });
}

t.test('the HTTPS certificate names the configured hostname and is re-issued when it changes', async (t) => {
  const { file, doc } = writeTestConfig({ hostname: 'ward.hospital.test' });
  const cfg = loadTestConfig(file, doc);
  const db = openDatabase(cfg.database.file);
  const ca = CertificateAuthority.open(cfg, db, new AuditLog(db));
  const first = ca.serviceIdentity('server');
  t.ok(first.cert.checkHost('ward.hospital.test'), 'SAN carries the hostname');
  t.match(first.cert.subjectAltName, /DNS:ward\.hospital\.test/);
  t.equal(ca.serviceIdentity('server').serial, first.serial, 'loaded again, not re-issued');
  db.close();

  const renamed = loadTestConfig(file, { ...doc, hostname: '10.1.2.3' });
  const db2 = openDatabase(renamed.database.file);
  const ca2 = CertificateAuthority.open(renamed, db2, new AuditLog(db2));
  const second = ca2.serviceIdentity('server');
  t.not(second.serial, first.serial, 'new hostname: new certificate');
  t.equal(second.cert.checkIP('10.1.2.3'), '10.1.2.3', 'IP hostname goes into an iPAddress SAN');
  t.equal(ca2.rootFingerprint(), ca.rootFingerprint(), 'same CA');
  db2.close();
});

t.test('the listener serves the server certificate; RA and signer identities have their own keys', async (t) => {
  const ward = await startTestWard({ hostname: 'localhost' });
  t.teardown(() => ward.stop());
  const peer = await peerCertificate(ward.ports.httpsPort, ward.ca.chainPem(), 'localhost');
  t.equal(peer.serialNumber.toLowerCase().replace(/^0+/, ''), ward.ca.serviceIdentity('server').serial);
  t.match(peer.keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1/, 'serverAuth EKU');
  const ra = ward.ca.serviceIdentity('scepRa');
  const signer = ward.ca.serviceIdentity('auditSigner');
  t.not(ra.serial, signer.serial);
  t.ok(ra.cert.checkIssued(ward.ca.issuing.cert));
  t.equal(ra.chainDer.length, 3, 'leaf, issuing, root');
  t.equal(ward.ca.verifyIssued(ra.der).status, 'valid');
  const rec = ward.db.sqlite.prepare("SELECT count(*) FROM audit_events WHERE action = 'pki.certificate.issued'").pluck().get() as number;
  t.ok(rec >= 3, 'each issuance is an audit event');
  t.equal(ward.ca.issuing.cert.ca, true);
  t.equal(ra.cert.ca, false, 'the RA is not a CA');
});

t.test('CRLs are re-issued before nextUpdate', async (t) => {
  const ward = await startTestWard({ pki: { dir: './certs', passphrase: { file: './certs/p' }, rootKeyAlgorithm: 'ecdsa-p256', issuingKeyAlgorithm: 'ecdsa-p256', crl: { validityHours: 24, reissueBeforeHours: 48 } } });
  t.teardown(() => ward.stop());
  const number = () => ward.db.sqlite.prepare("SELECT max(number) FROM crls WHERE issuer = 'issuing'").pluck().get() as number;
  const before = number();
  ward.ca.currentCrl();
  t.ok(number() > before, 'a CRL inside the re-issue window is replaced when served');
  const n = await ward.schedule.runNow('crl-reissue');
  t.same(n, { reissued: 2 }, 'the scheduled job re-issues both CRLs');
});

t.test('CRLs outside the re-issue window are served as they are', async (t) => {
  const ward = await startTestWard();
  t.teardown(() => ward.stop());
  const first = ward.ca.currentCrl();
  t.same(ward.ca.currentCrl(), first);
  t.same(await ward.schedule.runNow('crl-reissue'), { reissued: 0 });
});
