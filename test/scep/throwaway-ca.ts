// A throwaway root CA and SCEP RA made with the openssl CLI, for the wire-level SCEP tests: the
// pieces Ward's pki module provides in the daemon, built here by an independent tool.
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RegistrationAuthority, parseCertificate, type ScepCertificate } from '../../src/scep';

export function openssl(args: string[], input?: Buffer | string): Buffer {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
}

export function pemToDer(pem: string | Buffer): Buffer {
  const text = pem.toString();
  const body = text.replace(/-----(BEGIN|END) [^-]+-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64');
}

export function derToPem(der: Buffer, label = 'CERTIFICATE'): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export interface ThrowawayCa {
  dir: string;
  caCertPath: string;
  caCert: Buffer; // DER
  caKeyPath: string;
  raCertPath: string;
  raKeyPath: string;
  raCert: Buffer;
  raKey: KeyObject;
  ra: RegistrationAuthority;
  // Signs a PKCS#10 request (DER) with the CA, as the pki module would; answers the certificate DER.
  issue(csrDer: Buffer, days?: number): Buffer;
  crl(): Buffer; // DER
}

const extensions = `
[ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ra]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[device]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;

export function makeThrowawayCa(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'))): ThrowawayCa {
  const p = (name: string) => path.join(dir, name);
  fs.writeFileSync(p('ext.cnf'), extensions);
  openssl(['genrsa', '-out', p('ca.key'), '2048']);
  openssl(['req', '-x509', '-new', '-key', p('ca.key'), '-subj', '/O=Ward Test/CN=Ward Test Issuing CA', '-days', '30',
    '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', p('ca.pem')]);
  openssl(['genrsa', '-out', p('ra.key'), '2048']);
  openssl(['req', '-new', '-key', p('ra.key'), '-subj', '/O=Ward Test/CN=Ward Test SCEP RA', '-out', p('ra.csr')]);
  openssl(['x509', '-req', '-in', p('ra.csr'), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '30',
    '-extfile', p('ext.cnf'), '-extensions', 'ra', '-out', p('ra.pem')]);
  fs.writeFileSync(p('index.txt'), '');
  fs.writeFileSync(p('crlnumber'), '01\n');
  fs.writeFileSync(p('crl.cnf'), `[ca]\ndefault_ca = d\n[d]\ndatabase = ${p('index.txt')}\ncrlnumber = ${p('crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 7\n`);
  const caCert = pemToDer(fs.readFileSync(p('ca.pem')));
  const raCert = pemToDer(fs.readFileSync(p('ra.pem')));
  const raKey = createPrivateKey(fs.readFileSync(p('ra.key')));
  let serial = 0;
  return {
    dir,
    caCertPath: p('ca.pem'),
    caCert,
    caKeyPath: p('ca.key'),
    raCertPath: p('ra.pem'),
    raKeyPath: p('ra.key'),
    raCert,
    raKey,
    ra: new RegistrationAuthority(raCert, raKey, [caCert]),
    issue(csrDer: Buffer, days = 30): Buffer {
      const n = ++serial;
      const csrPath = p(`issue-${n}.csr`);
      fs.writeFileSync(csrPath, derToPem(csrDer, 'CERTIFICATE REQUEST'));
      return openssl(['x509', '-req', '-in', csrPath, '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial',
        '-days', String(days), '-extfile', p('ext.cnf'), '-extensions', 'device', '-outform', 'DER']);
    },
    crl(): Buffer {
      return pemToDer(openssl(['ca', '-gencrl', '-config', p('crl.cnf'), '-cert', p('ca.pem'), '-keyfile', p('ca.key')]));
    },
  };
}

// A requester: an RSA key and a self-signed certificate (what scepclient and iOS sign a PKCSReq with).
export interface Requester {
  keyPath: string;
  key: KeyObject;
  certPath: string;
  cert: Buffer;
  certificate: ScepCertificate;
  csr(challenge?: string, subject?: string, subjectAltName?: string): Buffer; // DER
}

export function makeRequester(dir: string, name: string, subject = `/O=Ward Test/CN=${name}`): Requester {
  const p = (file: string) => path.join(dir, `${name}.${file}`);
  openssl(['genrsa', '-out', p('key'), '2048']);
  openssl(['req', '-x509', '-new', '-key', p('key'), '-subj', subject, '-days', '2', '-out', p('self.pem')]);
  const cert = pemToDer(fs.readFileSync(p('self.pem')));
  return {
    keyPath: p('key'),
    key: createPrivateKey(fs.readFileSync(p('key'))),
    certPath: p('self.pem'),
    cert,
    certificate: parseCertificate(cert),
    csr(challenge?: string, csrSubject = subject, subjectAltName?: string): Buffer {
      // openssl req ignores the config's attributes when -subj is given, so the name goes in the config too
      const dn = csrSubject.split('/').filter(Boolean).map((rdn, i) => `${i}.${rdn.replace('=', ' = ')}`);
      const cnf = p('req.cnf');
      const san = subjectAltName ? `req_extensions = ext\n` : '';
      const ext = subjectAltName ? `[ext]\nsubjectAltName = ${subjectAltName}\n` : '';
      fs.writeFileSync(cnf, `[req]\ndistinguished_name = dn\nattributes = attrs\nprompt = no\n${san}[dn]\n${dn.join('\n')}\n[attrs]\n${challenge ? `challengePassword = ${challenge}\n` : ''}${ext}`);
      return openssl(['req', '-new', '-key', p('key'), '-config', cnf, '-outform', 'DER']);
    },
  };
}

export function x509(der: Buffer): X509Certificate {
  return new X509Certificate(der);
}
