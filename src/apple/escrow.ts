// Sealing of the secrets devices escrow with Ward (UnlockToken from TokenUpdate, the macOS
// Bootstrap Token) and of the APNs push key: AES-256-GCM under a key file kept beside the CA keys
// (0600 in a 0700 folder), so a copy of the database alone reveals none of them. The additional
// authenticated data names the row and field, so a sealed value cannot be moved to another device.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class EscrowError extends Error {
  override readonly name = 'EscrowError';
}

export class Escrow {
  private readonly key: crypto.KeyObject;

  private constructor(raw: Buffer) {
    // A KeyObject once, rather than a raw key imported on every seal.
    this.key = crypto.createSecretKey(raw);
  }

  /** Loads the key file, creating it (32 random bytes, base64, mode 0600) on first use. */
  static open(file: string): Escrow {
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, crypto.randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
      try {
        // link() fails if another process created the file meanwhile: theirs wins, ours is dropped.
        fs.linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    }
    let key: Buffer;
    try {
      key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
    } catch (e) {
      throw new EscrowError(`apple: cannot read escrow key ${file}: ${(e as NodeJS.ErrnoException).code}`);
    }
    if (key.length !== 32) throw new EscrowError(`apple: escrow key ${file} is not 32 bytes of base64`);
    return new Escrow(key);
  }

  /** For tests: an escrow with a given key. */
  static fromKey(key: Buffer): Escrow {
    if (key.length !== 32) throw new EscrowError('escrow key must be 32 bytes');
    return new Escrow(Buffer.from(key));
  }

  /** version(1) || iv(12) || tag(16) || ciphertext. `context` is bound as GCM additional data. */
  seal(plain: Uint8Array, context: string): Buffer {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ct]);
  }

  open(sealed: Uint8Array, context: string): Buffer {
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (b.length < 1 + IV_BYTES + TAG_BYTES || b[0] !== VERSION) throw new EscrowError('sealed value has an unknown format');
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, b.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(b.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(b.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new EscrowError(`sealed value does not open for ${context} (wrong escrow key or moved value)`);
    }
  }
}
