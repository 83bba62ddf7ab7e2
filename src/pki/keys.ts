// Private keys at rest: PKCS#8 PEM encrypted with AES-256-CBC under the appliance passphrase
// (PBES2), files 0600 in a 0700 folder. Keys live as node:crypto KeyObjects and never leave the process.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export type KeyAlgorithm = 'rsa-2048' | 'rsa-3072' | 'ecdsa-p256';

/** The CA cannot start: missing or wrong passphrase, unreadable key. The daemon prints the message. */
export class KeyStoreError extends Error {
  override name = 'KeyStoreError';
}

export function generateKey(alg: KeyAlgorithm): KeyObject {
  if (alg === 'ecdsa-p256') return crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return crypto.generateKeyPairSync('rsa', { modulusLength: alg === 'rsa-3072' ? 3072 : 2048 }).privateKey;
}

export function writePrivateFile(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export class KeyStore {
  constructor(
    private readonly dir: string,
    private readonly passphrase: Buffer,
  ) {}

  keyFile(name: string): string {
    return path.join(this.dir, `${name}.key.pem`);
  }

  has(name: string): boolean {
    return fs.existsSync(this.keyFile(name));
  }

  save(name: string, key: KeyObject): void {
    const pem = key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: this.passphrase });
    writePrivateFile(this.keyFile(name), pem);
  }

  load(name: string): KeyObject {
    const file = this.keyFile(name);
    let pem: string;
    try {
      pem = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new KeyStoreError(`pki: cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`);
    }
    try {
      return crypto.createPrivateKey({ key: pem, format: 'pem', passphrase: this.passphrase });
    } catch {
      throw new KeyStoreError(`pki: cannot decrypt ${file} with the configured passphrase (wrong passphrase?)`);
    }
  }
}

export interface PassphraseSource {
  file: string;
  credential?: string;
}

/**
 * The passphrase protecting every key: a systemd credential (LoadCredential=) if configured, else a
 * file. On the very first start (no CA yet) a missing file is created with 32 random bytes.
 */
export function readPassphrase(src: PassphraseSource, firstStart: boolean): Buffer {
  if (src.credential) {
    const dir = process.env.CREDENTIALS_DIRECTORY;
    if (!dir) throw new KeyStoreError(`pki.passphrase.credential=${src.credential} but $CREDENTIALS_DIRECTORY is not set (not started by systemd?)`);
    return readSecretFile(path.join(dir, src.credential));
  }
  if (!fs.existsSync(src.file)) {
    if (!firstStart) throw new KeyStoreError(`pki: passphrase file ${src.file} is missing, and the CA keys exist: restore it from your backup`);
    writePrivateFile(src.file, crypto.randomBytes(32).toString('base64url') + '\n');
  }
  return readSecretFile(src.file);
}

function readSecretFile(file: string): Buffer {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new KeyStoreError(`pki: cannot read passphrase ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const trimmed = Buffer.from(raw.toString('utf8').replace(/\r?\n$/, ''), 'utf8');
  if (trimmed.length < 8) throw new KeyStoreError(`pki: passphrase in ${file} is shorter than 8 bytes`);
  return trimmed;
}
