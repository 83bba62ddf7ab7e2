// Sealing of the secrets devices escrow with Ward (UnlockToken from TokenUpdate, the macOS
// Bootstrap Token) and of the APNs push key: AES-256-GCM under a key file kept beside the CA keys
// (0600 in a 0700 folder), so a copy of the database alone reveals none of them. The additional
// authenticated data names the row and field, so a sealed value cannot be moved to another device.
import { SealKeyFileError, SecretSealer, loadOrCreateSealingKey } from '../pki';

export class EscrowError extends Error {
  override readonly name = 'EscrowError';
}

/** AES-256-GCM (src/pki SecretSealer); `context` is bound as GCM additional data. */
export class Escrow extends SecretSealer {
  /** Loads the key file (32 bytes, base64), creating it (mode 0600) on first use. */
  static open(file: string): Escrow {
    try {
      return new Escrow(loadOrCreateSealingKey(file, 'base64'));
    } catch (e) {
      if (e instanceof SealKeyFileError) throw new EscrowError(`apple: escrow key: ${e.message}`);
      throw e;
    }
  }

  /** For tests: an escrow with a given key. */
  static fromKey(key: Buffer): Escrow {
    if (key.length !== 32) throw new EscrowError('escrow key must be 32 bytes');
    return new Escrow(key);
  }

  protected override failure(kind: 'format' | 'open', context: string): Error {
    return new EscrowError(
      kind === 'format' ? 'sealed value has an unknown format' : `sealed value does not open for ${context} (wrong escrow key or moved value)`,
    );
  }
}
