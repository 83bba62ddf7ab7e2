// TOTP secrets cannot be hashed (the verifier needs them), so they are sealed (src/pki SecretSealer:
// AES-256-GCM) under a key kept in a file beside the CA material, not in the database: a copy of
// ward.db alone does not give anyone a second factor. The username is the additional authenticated
// data, so a sealed secret copied onto another account does not open.
import { SealKeyFileError, SecretSealer, loadOrCreateSealingKey } from '../pki';

export class SealingError extends Error {
  override name = 'SealingError';
}

export class SecretSeal extends SecretSealer {
  /** Reads the key file (32 raw bytes), creating it (0600) when it is missing. */
  static open(file: string): SecretSeal {
    try {
      return new SecretSeal(loadOrCreateSealingKey(file, 'raw'));
    } catch (e) {
      if (e instanceof SealKeyFileError) throw new SealingError(`admin: ${e.message}`);
      throw e;
    }
  }

  static fromKey(key: Buffer): SecretSeal {
    if (key.length !== 32) throw new SealingError('admin: sealing key must be 32 bytes');
    return new SecretSeal(key);
  }

  protected override failure(kind: 'format' | 'open'): Error {
    return new SealingError(kind === 'format' ? 'sealed secret has an unknown format' : 'sealed secret does not open with this key (wrong admin.totp.keyFile?)');
  }
}
