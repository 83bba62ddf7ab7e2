// Keys handed to node:crypto in the forms its argument checks accept without throwing. Node 24 tells
// a KeyObject or CryptoKey from anything else by catching a TypeError (isKeyObject and isCryptoKey in
// lib/internal/crypto/keys.js), so every Buffer key, DER key object or { key, padding } option costs
// two thrown errors with stack traces: 6-15 us each, more than an AES setup or an SPKI parse, on
// every SCEP enrollment and check-in (measured with bench/scep.ts and a CPU profile of the daemon).
import crypto, { type KeyObject } from 'node:crypto';
import { children, readTlv } from './der-reader';

// AlgorithmIdentifier { rsaEncryption, NULL } (RFC 8017 appendix A.1), as every RSA SPKI carries it.
const RSA_ALGORITHM = Buffer.from('300d06092a864886f70d0101010500', 'hex');

/**
 * createPublicKey({ key: spki, format: 'der', type: 'spki' }) without its cost: an RSA key goes in
 * as its PKCS#1 RSAPublicKey (OpenSSL decodes that directly, about three times faster than an SPKI
 * through its decoder chain), any other key as PEM (a string is no object to test).
 */
export function publicKeyFromSpki(spki: Uint8Array): KeyObject {
  const der = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength);
  const outer = readTlv(der, 0);
  const parts = outer?.tag === 0x30 && outer.end === der.length ? children(der, outer) : undefined;
  const [algorithm, key] = parts?.length === 2 ? parts : [];
  // SubjectPublicKeyInfo { rsaEncryption, BIT STRING with no unused bits holding the RSAPublicKey }.
  if (algorithm && key && key.tag === 0x03 && der[key.contents] === 0 && der.subarray(algorithm.start, algorithm.end).equals(RSA_ALGORITHM)) {
    const pkcs1 = der.subarray(key.contents + 1, key.end);
    return withKeyOptions(() => crypto.createPublicKey({ key: pkcs1, format: 'der', type: 'pkcs1' }));
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
