// A small PKI made by the openssl CLI (a real peer, not our code) for the CMS and profile tests:
// a root CA, a signer certificate issued by it, and device identities (RSA and EC).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function openssl(args: string[], input?: Buffer): Buffer {
  return execFileSync('openssl', args, { input, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
}

/** Runs openssl and returns its exit status and stderr instead of throwing. */
export function opensslStatus(args: string[]): { status: number; stderr: string; stdout: Buffer } {
  try {
    const stdout = execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, stderr: '', stdout };
  } catch (e) {
    const err = e as { status: number; stderr: Buffer; stdout: Buffer };
    return { status: err.status, stderr: err.stderr.toString(), stdout: err.stdout };
  }
}

export interface Identity {
  keyPath: string;
  certPath: string;
  key: crypto.KeyObject;
  certPem: string;
  certDer: Buffer;
  /** Serial as openssl prints it, as lowercase hex without leading zeros. */
  serial: string;
}

function load(dir: string, name: string): Identity {
  const keyPath = path.join(dir, `${name}.key`);
  const certPath = path.join(dir, `${name}.pem`);
  const certPem = fs.readFileSync(certPath, 'utf8');
  const serialLine = openssl(['x509', '-in', certPath, '-noout', '-serial']).toString().trim();
  return {
    keyPath,
    certPath,
    key: crypto.createPrivateKey(fs.readFileSync(keyPath)),
    certPem,
    certDer: new crypto.X509Certificate(certPem).raw,
    serial: BigInt(`0x${serialLine.replace(/^serial=/, '')}`).toString(16),
  };
}

export function makeRoot(dir: string, name = 'root'): Identity {
  openssl([
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, `${name}.key`),
    '-out', path.join(dir, `${name}.pem`), '-days', '30', '-subj', `/O=Ward Test/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return load(dir, name);
}

/** A leaf issued by `ca`; keySpec is 'rsa:2048' or 'ec' (P-256). */
export function makeLeaf(
  dir: string,
  ca: Identity,
  name: string,
  keySpec: 'rsa:2048' | 'ec' = 'rsa:2048',
  extra: string[] = [],
  subject = `/O=Ward Test/CN=${name}`,
): Identity {
  const keyPath = path.join(dir, `${name}.key`);
  if (keySpec === 'ec') openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
  else openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', keyPath]);
  const csr = path.join(dir, `${name}.csr`);
  openssl(['req', '-new', '-key', keyPath, '-out', csr, '-subj', subject]);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(ext, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'subjectKeyIdentifier=hash', ...extra].join('\n') + '\n');
  openssl([
    'x509', '-req', '-in', csr, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial',
    `0x${crypto.randomBytes(8).toString('hex')}`, '-days', '30', '-out', path.join(dir, `${name}.pem`), '-extfile', ext,
  ]);
  return load(dir, name);
}
