// Keys handed to node:crypto in the forms its argument checks accept without throwing. Node 24 tells
// a KeyObject or CryptoKey from anything else by catching a TypeError (isKeyObject and isCryptoKey in
// lib/internal/crypto/keys.js), so every Buffer key, DER key object or { key, padding } option costs
// two thrown errors with stack traces: 6-15 us each, more than an AES setup or an SPKI parse, on
// every SCEP enrollment and check-in (measured with bench/scep.ts and a CPU profile of the daemon).
import crypto, { type KeyObject } from 'node:crypto';

// AlgorithmIdentifier { rsaEncryption, NULL } (RFC 8017 appendix A.1), as every RSA SPKI carries it.
const RSA_ALGORITHM = Buffer.from('300d06092a864886f70d0101010500', 'hex');

/** DER length at `at`: [length, header bytes], or undefined past the end or beyond 2^24. */
function lengthAt(der: Uint8Array, at: number): [number, number] | undefined {
  const first = der[at];
  if (first === undefined) return undefined;
  if (first < 0x80) return [first, 1];
  const n = first & 0x7f;
  if (n === 0 || n > 3 || at + n >= der.length) return undefined;
  let length = 0;
  for (let i = 1; i <= n; i++) length = length * 256 + der[at + i]!;
  return [length, 1 + n];
}

/**
 * createPublicKey({ key: spki, format: 'der', type: 'spki' }) without its cost: an RSA key goes in
 * as its PKCS#1 RSAPublicKey (OpenSSL decodes that directly, about three times faster than an SPKI
 * through its decoder chain), any other key as PEM (a string is no object to test).
 */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  const der = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength);
  const outer = der[0] === 0x30 ? lengthAt(der, 1) : undefined;
  if (outer && 1 + outer[1] + outer[0] === der.length) {
    const algorithm = 1 + outer[1];
    const bits = algorithm + RSA_ALGORITHM.length;
    if (der.subarray(algorithm, bits).equals(RSA_ALGORITHM) && der[bits] === 0x03) {
      const inner = lengthAt(der, bits + 1);
      // BIT STRING with no unused bits holding the RSAPublicKey, ending where the SPKI ends.
      if (inner && bits + 1 + inner[1] + inner[0] === der.length && der[bits + 1 + inner[1]] === 0) {
        const pkcs1 = der.subarray(bits + 2 + inner[1]);
        return withKeyOptions(() => crypto.createPublicKey({ key: pkcs1, format: 'der', type: 'pkcs1' }));
      }
    }
  }
  return crypto.createPublicKey(`-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`);
}

/**
 * Runs a node:crypto call whose key argument must be an options object ({ key, padding }) with stack
 * capture off, so the checks' internal errors cost nothing. An error the call itself throws then
 * carries no stack; callers map such errors to protocol answers anyway.
 */
export function withKeyOptions<T>(call: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return call();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
