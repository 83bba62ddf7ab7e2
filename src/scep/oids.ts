// Object identifiers SCEP messages carry (RFC 8894 section 3.2.1, RFC 5652, RFC 8017, RFC 3565).
export const OID = {
  // RFC 5652 content types
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  // RFC 5652 section 11 signed attributes
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  // RFC 2985 PKCS#9 CSR attributes
  challengePassword: '1.2.840.113549.1.9.7',
  extensionRequest: '1.2.840.113549.1.9.14',
  // RFC 8894 section 3.2.1 SCEP authenticated attributes
  messageType: '2.16.840.1.113733.1.9.2',
  pkiStatus: '2.16.840.1.113733.1.9.3',
  failInfo: '2.16.840.1.113733.1.9.4',
  senderNonce: '2.16.840.1.113733.1.9.5',
  recipientNonce: '2.16.840.1.113733.1.9.6',
  transactionID: '2.16.840.1.113733.1.9.7',
  failInfoText: '1.3.6.1.5.5.7.24.1',
  // digests
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  md5: '1.2.840.113549.2.5',
  // RSA (RFC 8017 appendix C)
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsaesOaep: '1.2.840.113549.1.1.7',
  mgf1: '1.2.840.113549.1.1.8',
  pSpecified: '1.2.840.113549.1.1.9',
  sha1WithRSAEncryption: '1.2.840.113549.1.1.5',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  md5WithRSAEncryption: '1.2.840.113549.1.1.4',
  // RFC 5758 ECDSA (CSRs only: the pkiMessage itself must be RSA so the CertRep can be enveloped)
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  // content encryption (RFC 3565, RFC 8018 appendix B.2)
  aes128Cbc: '2.16.840.1.101.3.4.1.2',
  aes192Cbc: '2.16.840.1.101.3.4.1.22',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  desEde3Cbc: '1.2.840.113549.3.7',
  desCbc: '1.3.14.3.2.7',
} as const;

export type DigestAlgorithm = 'sha1' | 'sha256' | 'sha384' | 'sha512';
export type ContentCipher = 'aes-128-cbc' | 'aes-192-cbc' | 'aes-256-cbc' | 'des-ede3-cbc' | 'des-cbc';
export type KeyTransport = 'rsaes-pkcs1-v1_5' | 'rsaes-oaep-sha1' | 'rsaes-oaep-sha256' | 'rsaes-oaep-sha384' | 'rsaes-oaep-sha512';

export const digestByOid: ReadonlyMap<string, DigestAlgorithm> = new Map([
  [OID.sha1, 'sha1'],
  [OID.sha256, 'sha256'],
  [OID.sha384, 'sha384'],
  [OID.sha512, 'sha512'],
]);

export const digestOid: Record<DigestAlgorithm, string> = {
  sha1: OID.sha1,
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};

// SignerInfo.signatureAlgorithm may name the plain key type or the combined algorithm (RFC 5754 section 3.2).
export const rsaSignatureDigest: ReadonlyMap<string, DigestAlgorithm | null> = new Map<string, DigestAlgorithm | null>([
  [OID.rsaEncryption, null],
  [OID.sha1WithRSAEncryption, 'sha1'],
  [OID.sha256WithRSAEncryption, 'sha256'],
  [OID.sha384WithRSAEncryption, 'sha384'],
  [OID.sha512WithRSAEncryption, 'sha512'],
]);

export const ecdsaSignatureDigest: ReadonlyMap<string, DigestAlgorithm> = new Map<string, DigestAlgorithm>([
  [OID.ecdsaWithSHA256, 'sha256'],
  [OID.ecdsaWithSHA384, 'sha384'],
  [OID.ecdsaWithSHA512, 'sha512'],
]);

export interface CipherSpec {
  name: ContentCipher;
  oid: string;
  keyLength: number;
  blockSize: number;
}

export const cipherByOid: ReadonlyMap<string, CipherSpec> = new Map([
  [OID.aes128Cbc, { name: 'aes-128-cbc', oid: OID.aes128Cbc, keyLength: 16, blockSize: 16 }],
  [OID.aes192Cbc, { name: 'aes-192-cbc', oid: OID.aes192Cbc, keyLength: 24, blockSize: 16 }],
  [OID.aes256Cbc, { name: 'aes-256-cbc', oid: OID.aes256Cbc, keyLength: 32, blockSize: 16 }],
  [OID.desEde3Cbc, { name: 'des-ede3-cbc', oid: OID.desEde3Cbc, keyLength: 24, blockSize: 8 }],
  [OID.desCbc, { name: 'des-cbc', oid: OID.desCbc, keyLength: 8, blockSize: 8 }],
]);

export const cipherByName: ReadonlyMap<ContentCipher, CipherSpec> = new Map(
  [...cipherByOid.values()].map((spec) => [spec.name, spec] as const),
);

// Short names for RFC 4514 rendering of distinguished names in audit events and errors.
export const attributeShortName: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.5', 'serialNumber'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'STREET'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.12', 'title'],
  ['2.5.4.42', 'GN'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'emailAddress'],
]);
