// A throwaway CA made by the openssl CLI for the audit tests: RSA root, EC P-256 issuing CA, and two
// audit-signer certificates (RSA and EC P-256) with their private keys.
import { execFileSync } from 'node:child_process';
import crypto, { type KeyObject, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCa {
  dir: string;
  root: X509Certificate;
  issuing: X509Certificate;
  /** root + issuing CA, PEM (what a bundle's chain.pem holds). */
  chainPem: string;
  rsa: { key: KeyObject; cert: X509Certificate; keyFile: string; certFile: string };
  ec: { key: KeyObject; cert: X509Certificate; keyFile: string; certFile: string };
}

const EXT = `
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[signer]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
`;

export function openssl(args: string[], cwd: string, input?: Buffer): Buffer {
  return execFileSync('openssl', args, { cwd, input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function makeTestCa(name = 'Ward Test'): TestCa {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
  fs.writeFileSync(path.join(dir, 'ext.cnf'), EXT);
  const run = (args: string[]) => openssl(args, dir);
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root.key', '-out', 'root.pem', '-subj', `/CN=${name} Root CA`,
    '-days', '30', '-config', 'ext.cnf', '-extensions', 'ca']);
  const issue = (keyAlg: string[], base: string, cn: string, ca: string, section: string) => {
    run(['req', '-new', '-newkey', ...keyAlg, '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`, '-config', 'ext.cnf']);
    run(['x509', '-req', '-in', `${base}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`,
      '-days', '30', '-out', `${base}.pem`, '-extfile', 'ext.cnf', '-extensions', section]);
  };
  issue(['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'issuing', `${name} Issuing CA`, 'root', 'ca');
  issue(['rsa:2048'], 'signer-rsa', `${name} audit signer RSA`, 'issuing', 'signer');
  issue(['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'signer-ec', `${name} audit signer EC`, 'issuing', 'signer');
  const read = (f: string) => fs.readFileSync(path.join(dir, f));
  const root = new X509Certificate(read('root.pem'));
  const issuing = new X509Certificate(read('issuing.pem'));
  const signer = (base: string) => ({
    key: crypto.createPrivateKey(read(`${base}.key`)),
    cert: new X509Certificate(read(`${base}.pem`)),
    keyFile: path.join(dir, `${base}.key`),
    certFile: path.join(dir, `${base}.pem`),
  });
  const chainPem = issuing.toString() + root.toString();
  fs.writeFileSync(path.join(dir, 'chain.pem'), chainPem);
  return { dir, root, issuing, chainPem, rsa: signer('signer-rsa'), ec: signer('signer-ec') };
}
