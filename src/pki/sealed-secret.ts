// Secrets Ward must be able to read back (TOTP seeds, escrowed UnlockTokens and Bootstrap Tokens, the
// APNs push key) cannot be hashed, so they are sealed with AES-256-GCM under a 32-byte key kept in a
// file beside the CA keys (0600 in a 0700 folder): a copy of the database alone reveals none of them.
// The additional authenticated data names the row and field, so a sealed value cannot be moved.
// Format: version (1) || iv (12) || tag (16) || ciphertext.
import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export type KeyFileEncoding = 'raw' | 'base64';

/** Why a key file cannot be used; each domain words it in its own error. */
export class SealKeyFileError extends Error {
  override name = 'SealKeyFileError';
}

/**
 * Reads a sealing key file, creating it with 32 random bytes on first use. Creation is atomic: the key
 * is written to a temporary file and linked into place, so two processes starting at once agree on one key.
 */
export function loadOrCreateSealingKey(file: string, encoding: KeyFileEncoding): Buffer {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    const fresh = crypto.randomBytes(KEY_BYTES);
    fs.writeFileSync(tmp, encoding === 'base64' ? fresh.toString('base64') + '\n' : fresh, { mode: 0o600 });
    try {
      fs.linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new SealKeyFileError(`cannot create ${file}: ${(e as Error).message}`);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  let key: Buffer;
  try {
    const raw = fs.readFileSync(file);
    key = encoding === 'base64' ? Buffer.from(raw.toString('utf8').trim(), 'base64') : raw;
  } catch (e) {
    throw new SealKeyFileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  if (key.length !== KEY_BYTES) {
    throw new SealKeyFileError(`${file} must hold exactly ${KEY_BYTES} bytes${encoding === 'base64' ? ' of base64' : ''} (it has ${key.length})`);
  }
  return key;
}

/** AES-256-GCM sealing under one key. Subclasses word the two failures in their domain's error. */
export abstract class SecretSealer {
  private readonly key: KeyObject;

  protected constructor(raw: Buffer) {
    if (raw.length !== KEY_BYTES) throw new SealKeyFileError(`a sealing key must be ${KEY_BYTES} bytes`);
    // A KeyObject once, rather than a raw key imported on every seal.
    this.key = crypto.createSecretKey(Buffer.from(raw));
  }

  /** The error for a sealed value that is not in this format, or that does not open under this key and aad. */
  protected abstract failure(kind: 'format' | 'open', aad: string): Error;

  seal(plain: Uint8Array, aad: string): Buffer {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ct]);
  }

  open(sealed: Uint8Array, aad: string): Buffer {
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (b.length < 1 + IV_BYTES + TAG_BYTES || b[0] !== VERSION) throw this.failure('format', aad);
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, b.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(b.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(b.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw this.failure('open', aad);
    }
  }
}
