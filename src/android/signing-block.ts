// APK Signature Scheme v2 and v3 (https://source.android.com/docs/security/features/apksigning/v2 and /v3):
// the APK Signing Block that sits right before the ZIP central directory, its signers, their certificates,
// signatures over the signed data, and the chunked content digest over the rest of the file.
import crypto from 'node:crypto';
import { publicKeyFromSpki } from '../pki';
import { ApkFormatError, type ZipDirectory } from './zip';

const MAGIC = Buffer.from('APK Sig Block 42', 'latin1');
export const APK_SIGNATURE_SCHEME_V2_BLOCK_ID = 0x7109871a;
export const APK_SIGNATURE_SCHEME_V3_BLOCK_ID = 0xf05368c0;
const CHUNK_SIZE = 1024 * 1024;

export interface SigningBlock {
  /** Offset of the block's first byte: where the ZIP entries section must end. */
  offset: number;
  pairs: Map<number, Buffer>;
}

export interface ApkSigner {
  /** DER certificates, the signer's own first. */
  certificates: Buffer[];
  /** SDK range this signer applies to (v3 only). */
  minSdk?: number;
  maxSdk?: number;
  /** Signature algorithm ids that were verified, e.g. 0x0103 (RSASSA-PKCS1-v1_5 with SHA2-256). */
  algorithms: number[];
}

function fail(reason: string, message: string): never {
  throw new ApkFormatError(reason, message);
}

function u64(buf: Buffer, p: number, what: string): number {
  const v = buf.readBigUInt64LE(p);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('malformed-signing-block', `${what} is out of range`);
  return Number(v);
}

/** Locates the APK Signing Block; null when the APK has none (v1-signed or unsigned). */
export function findSigningBlock(buf: Buffer, zip: ZipDirectory): SigningBlock | null {
  const cd = zip.centralDirectoryOffset;
  if (cd < 32 || !buf.subarray(cd - 16, cd).equals(MAGIC)) return null;
  const size = u64(buf, cd - 24, 'APK Signing Block size');
  const offset = cd - size - 8;
  if (size < 24 || offset < 0) fail('malformed-signing-block', 'APK Signing Block size points outside the file');
  if (u64(buf, offset, 'APK Signing Block leading size') !== size) {
    fail('malformed-signing-block', 'APK Signing Block sizes at its start and end disagree');
  }
  const pairs = new Map<number, Buffer>();
  let p = offset + 8;
  const end = cd - 24;
  while (p < end) {
    if (p + 12 > end) fail('malformed-signing-block', 'APK Signing Block pair header runs past the block');
    const length = u64(buf, p, 'APK Signing Block pair length');
    if (length < 4 || p + 8 + length > end) fail('malformed-signing-block', 'APK Signing Block pair runs past the block');
    const id = buf.readUInt32LE(p + 8);
    if (!pairs.has(id)) pairs.set(id, buf.subarray(p + 12, p + 8 + length));
    p += 8 + length;
  }
  return { offset, pairs };
}

/** Reads uint32-length-prefixed fields, never past the enclosing slice. */
class LengthPrefixed {
  private p = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}
  get remaining(): number {
    return this.buf.length - this.p;
  }
  u32(): number {
    if (this.p + 4 > this.buf.length) fail('malformed-signing-block', `${this.what}: truncated`);
    const v = this.buf.readUInt32LE(this.p);
    this.p += 4;
    return v;
  }
  slice(): Buffer {
    const n = this.u32();
    if (n > this.buf.length - this.p) fail('malformed-signing-block', `${this.what}: field runs past its container`);
    const s = this.buf.subarray(this.p, this.p + n);
    this.p += n;
    return s;
  }
  sequence(what: string): Buffer[] {
    const inner = new LengthPrefixed(this.slice(), what);
    const out: Buffer[] = [];
    while (inner.remaining > 0) out.push(inner.slice());
    return out;
  }
}

interface Algorithm {
  hash: 'sha256' | 'sha512';
  key: 'rsa-pss' | 'rsa' | 'ec' | 'dsa';
  saltLength?: number;
  /** Verity algorithms sign a Merkle-tree root, not the chunked digest; their content digest is not recomputed. */
  verity: boolean;
}

// Signature algorithm ids from apksig's SignatureAlgorithm.java / the v2 scheme page.
const ALGORITHMS = new Map<number, Algorithm>([
  [0x0101, { hash: 'sha256', key: 'rsa-pss', saltLength: 32, verity: false }],
  [0x0102, { hash: 'sha512', key: 'rsa-pss', saltLength: 64, verity: false }],
  [0x0103, { hash: 'sha256', key: 'rsa', verity: false }],
  [0x0104, { hash: 'sha512', key: 'rsa', verity: false }],
  [0x0201, { hash: 'sha256', key: 'ec', verity: false }],
  [0x0202, { hash: 'sha512', key: 'ec', verity: false }],
  [0x0301, { hash: 'sha256', key: 'dsa', verity: false }],
  [0x0421, { hash: 'sha256', key: 'rsa', verity: true }],
  [0x0423, { hash: 'sha256', key: 'ec', verity: true }],
  [0x0425, { hash: 'sha256', key: 'dsa', verity: true }],
]);

/** The v2/v3 content digest: 1 MiB chunks of the entries, central directory and EOCD (offset patched). */
function contentDigest(buf: Buffer, zip: ZipDirectory, blockOffset: number, hash: 'sha256' | 'sha512'): Buffer {
  const eocd = Buffer.from(buf.subarray(zip.eocdOffset));
  // The EOCD's central-directory offset is taken as if the signing block were not there.
  eocd.writeUInt32LE(blockOffset, 16);
  const sections = [buf.subarray(0, blockOffset), buf.subarray(zip.centralDirectoryOffset, zip.eocdOffset), eocd];
  const chunkDigests: Buffer[] = [];
  const prefix = Buffer.alloc(5);
  for (const section of sections) {
    for (let p = 0; p < section.length; p += CHUNK_SIZE) {
      const chunk = section.subarray(p, Math.min(section.length, p + CHUNK_SIZE));
      prefix[0] = 0xa5;
      prefix.writeUInt32LE(chunk.length, 1);
      chunkDigests.push(crypto.createHash(hash).update(prefix).update(chunk).digest());
    }
  }
  const top = Buffer.alloc(5);
  top[0] = 0x5a;
  top.writeUInt32LE(chunkDigests.length, 1);
  const h = crypto.createHash(hash).update(top);
  for (const d of chunkDigests) h.update(d);
  return h.digest();
}

function keyType(key: crypto.KeyObject): Algorithm['key'] | 'other' {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'rsa';
    case 'ec':
      return 'ec';
    case 'dsa':
      return 'dsa';
    default:
      return 'other';
  }
}

/**
 * Verifies one v2 or v3 block: for each signer, the signature over its signed data with its public key,
 * that the key is its first certificate's, and that the content digest matches the file.
 */
export function verifySchemeBlock(
  buf: Buffer,
  zip: ZipDirectory,
  block: SigningBlock,
  scheme: 'v2' | 'v3',
): ApkSigner[] {
  const value = block.pairs.get(scheme === 'v2' ? APK_SIGNATURE_SCHEME_V2_BLOCK_ID : APK_SIGNATURE_SCHEME_V3_BLOCK_ID);
  if (!value) fail('unsigned', `APK has no ${scheme} signature`);
  const signers = new LengthPrefixed(value, `${scheme} block`).sequence(`${scheme} signers`);
  if (signers.length === 0) fail('unsigned', `APK ${scheme} block has no signers`);
  const digestCache = new Map<string, Buffer>();
  return signers.map((signerBytes, i) => {
    const what = `${scheme} signer ${i}`;
    const signer = new LengthPrefixed(signerBytes, what);
    const signedData = signer.slice();
    let minSdk: number | undefined;
    let maxSdk: number | undefined;
    if (scheme === 'v3') {
      minSdk = signer.u32();
      maxSdk = signer.u32();
    }
    const signatures = signer.sequence(`${what} signatures`).map((s) => {
      const r = new LengthPrefixed(s, `${what} signature`);
      return { algorithm: r.u32(), signature: r.slice() };
    });
    const publicKeyDer = signer.slice();

    const sd = new LengthPrefixed(signedData, `${what} signed data`);
    const digests = sd.sequence(`${what} digests`).map((d) => {
      const r = new LengthPrefixed(d, `${what} digest`);
      return { algorithm: r.u32(), digest: r.slice() };
    });
    const certificates = sd.sequence(`${what} certificates`).map((c) => Buffer.from(c));
    if (scheme === 'v3') {
      const innerMin = sd.u32();
      const innerMax = sd.u32();
      if (innerMin !== minSdk || innerMax !== maxSdk) fail('bad-signature', `${what}: SDK range differs inside and outside the signed data`);
    }

    if (signatures.length === 0) fail('bad-signature', `${what} has no signatures`);
    if (certificates.length === 0) fail('bad-signature', `${what} has no certificates`);
    let publicKey: crypto.KeyObject;
    try {
      publicKey = publicKeyFromSpki(publicKeyDer);
    } catch {
      fail('bad-signature', `${what}: public key is not a valid SubjectPublicKeyInfo`);
    }
    let leafSpki: Buffer;
    try {
      leafSpki = new crypto.X509Certificate(certificates[0]).publicKey.export({ type: 'spki', format: 'der' });
    } catch {
      fail('bad-signature', `${what}: certificate is not valid DER X.509`);
    }
    if (!leafSpki.equals(publicKeyDer)) fail('bad-signature', `${what}: public key does not match its certificate`);

    const verified: number[] = [];
    for (const { algorithm, signature } of signatures) {
      const alg = ALGORITHMS.get(algorithm);
      // Unknown algorithm ids are skipped, as the platform does, provided one known one verifies.
      if (!alg) continue;
      const kt = keyType(publicKey);
      if ((alg.key === 'rsa-pss' ? 'rsa' : alg.key) !== kt) fail('bad-signature', `${what}: algorithm 0x${algorithm.toString(16)} does not fit its ${kt} key`);
      const key: crypto.KeyObject | crypto.VerifyKeyObjectInput =
        alg.key === 'rsa-pss' ? { key: publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength ?? 32 } : publicKey;
      let ok = false;
      try {
        ok = crypto.verify(alg.hash, signedData, key, signature);
      } catch {
        ok = false;
      }
      if (!ok) {
        fail('bad-signature', `${what}: signature (algorithm 0x${algorithm.toString(16)}) does not verify`);
      }
      verified.push(algorithm);
    }
    if (verified.length === 0) fail('bad-signature', `${what}: no signature uses an algorithm Ward knows`);

    // The digests list must name exactly the algorithms the signatures list names (apksig checks this too).
    const sigAlgs = signatures.map((s) => s.algorithm).join(',');
    const digestAlgs = digests.map((d) => d.algorithm).join(',');
    if (sigAlgs !== digestAlgs) fail('bad-signature', `${what}: signed digests and signatures name different algorithms`);

    let checkedContent = false;
    for (const { algorithm, digest } of digests) {
      const alg = ALGORITHMS.get(algorithm);
      if (!alg || alg.verity) continue;
      let actual = digestCache.get(alg.hash);
      if (!actual) {
        actual = contentDigest(buf, zip, block.offset, alg.hash);
        digestCache.set(alg.hash, actual);
      }
      if (!actual.equals(digest)) fail('bad-signature', `${what}: APK contents do not match the signed digest (file modified or corrupted)`);
      checkedContent = true;
    }
    if (!checkedContent) fail('bad-signature', `${what}: no content digest Ward can check`);
    return { certificates, minSdk, maxSdk, algorithms: verified };
  });
}
