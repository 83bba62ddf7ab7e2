// TOTP secrets cannot be hashed (the verifier needs them), so they are sealed with AES-256-GCM under a
// key kept in a file beside the CA material, not in the database: a copy of ward.db alone does not
// give anyone a second factor. The username is the additional authenticated data, so a sealed secret
// copied onto another account does not open.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SealingError extends Error {
  override name = 'SealingError';
}

export class SecretSeal {
  private constructor(private readonly key: Buffer) {}

  /** Reads the key file, creating it (32 random bytes, 0600, exclusive create) when it is missing. */
  static open(file: string): SecretSeal {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      fs.writeFileSync(file, crypto.randomBytes(32), { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new SealingError(`admin: cannot create ${file}: ${(e as Error).message}`);
    }
    let key: Buffer;
    try {
      key = fs.readFileSync(file);
    } catch (e) {
      throw new SealingError(`admin: cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`);
    }
    if (key.length !== 32) throw new SealingError(`admin: ${file} must hold exactly 32 bytes (it has ${key.length})`);
    return new SecretSeal(key);
  }

  static fromKey(key: Buffer): SecretSeal {
    if (key.length !== 32) throw new SealingError('admin: sealing key must be 32 bytes');
    return new SecretSeal(Buffer.from(key));
  }

  /** version (1) || iv (12) || tag (16) || ciphertext */
  seal(plain: Buffer, aad: string): Buffer {
    const iv = crypto.randomBytes(IV_BYTES);
    const c = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, c.getAuthTag(), ct]);
  }

  open(sealed: Buffer, aad: string): Buffer {
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) throw new SealingError('sealed secret has an unknown format');
    const iv = sealed.subarray(1, 1 + IV_BYTES);
    const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const d = crypto.createDecipheriv('aes-256-gcm', this.key, iv);
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(tag);
    try {
      return Buffer.concat([d.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), d.final()]);
    } catch {
      throw new SealingError('sealed secret does not open with this key (wrong admin.totp.keyFile?)');
    }
  }
}
