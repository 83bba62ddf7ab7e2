// CMS SignedData (RFC 5652) for the two places Apple MDM uses it:
//  - signing the enrollment .mobileconfig (attached content; Apple "Configuration Profile
//    Reference": signed profiles are CMS SignedData of the plist), and
//  - verifying the Mdm-Signature header (Apple "Device Management", SignMessage: a base64 CMS
//    SignedData, detached, over the HTTP body, signed with the device identity).
// Signing builds DER with node-forge's asn1; verifying (every check-in and command report) walks the
// DER as sent with pki's reader, no tree; every signature is made or checked by node:crypto.
import crypto, { type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { type Tlv, children, der as pkiDer, oidText, publicKeyFromSpki, readTlv } from '../pki';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const OID_RSA = '1.2.840.113549.1.1.1';
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';

// RFC 5754 (SHA-2 in CMS) and RFC 3370 (SHA-1): digest algorithm identifiers.
const DIGEST_BY_OID: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const DIGEST_OID: Record<string, string> = Object.fromEntries(Object.entries(DIGEST_BY_OID).map(([o, d]) => [d, o]));

// Signature algorithm identifiers a SignerInfo may carry: the bare key algorithm (the digest then
// comes from digestAlgorithm) or a combined one (RFC 4055, RFC 5758).
const SIGNATURE_KEY: Record<string, 'rsa' | 'ec'> = {
  [OID_RSA]: 'rsa',
  '1.2.840.113549.1.1.5': 'rsa',
  '1.2.840.113549.1.1.11': 'rsa',
  '1.2.840.113549.1.1.12': 'rsa',
  '1.2.840.113549.1.1.13': 'rsa',
  [OID_EC_PUBLIC_KEY]: 'ec',
  '1.2.840.10045.4.1': 'ec',
  '1.2.840.10045.4.3.2': 'ec',
  '1.2.840.10045.4.3.3': 'ec',
  '1.2.840.10045.4.3.4': 'ec',
};
const EC_SIGNATURE_OID: Record<string, string> = {
  sha256: '1.2.840.10045.4.3.2',
  sha384: '1.2.840.10045.4.3.3',
  sha512: '1.2.840.10045.4.3.4',
};

export type CmsErrorReason =
  | 'malformed'
  | 'not-signed-data'
  | 'not-detached'
  | 'no-signer'
  | 'no-signer-certificate'
  | 'unsupported-algorithm'
  | 'digest-mismatch'
  | 'bad-signature'
  | 'too-large';

export class CmsError extends Error {
  override readonly name = 'CmsError';
  constructor(
    readonly reason: CmsErrorReason,
    message: string,
  ) {
    super(message);
  }
}

// ---- DER helpers (forge asn1 nodes; binary strings are forge's byte representation) ----

const seq = (items: Asn1[]) => asn1.create(U, T.SEQUENCE, true, items);
const set = (items: Asn1[]) => asn1.create(U, T.SET, true, items);
const oid = (o: string) => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
const nul = () => asn1.create(U, T.NULL, false, '');
const int = (n: number) => asn1.create(U, T.INTEGER, false, String.fromCharCode(n));
const octets = (b: Buffer) => asn1.create(U, T.OCTETSTRING, false, b.toString('binary'));
const explicit = (tag: number, inner: Asn1) => asn1.create(CTX, tag, true, [inner]);
const toDer = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');

function fromDer(der: Buffer): Asn1 {
  // decodeBitStrings off: re-encoding then reproduces certificates byte for byte.
  // (@types/node-forge lags the options object forge 1.x takes)
  const opts = { strict: true, parseAllBytes: true, decodeBitStrings: false } as unknown as boolean;
  try {
    return asn1.fromDer(forge.util.createBuffer(der.toString('binary')), opts);
  } catch (e) {
    throw new CmsError('malformed', `not DER: ${(e as Error).message}`);
  }
}

function child(node: Asn1 | undefined, index: number, what: string): Asn1 {
  const list = node?.value;
  if (!Array.isArray(list) || list[index] === undefined) throw new CmsError('malformed', `missing ${what}`);
  return list[index];
}

function expect(node: Asn1, tagClass: number, type: number, what: string): Asn1 {
  if (node.tagClass !== tagClass || node.type !== type) throw new CmsError('malformed', `${what} has the wrong type`);
  return node;
}

/** The IssuerAndSerialNumber parts of a certificate (what a SignerInfo names its signer by). */
interface CertFields {
  issuer: Asn1;
  serial: Asn1;
}

function certFields(node: Asn1): CertFields {
  // RFC 5280 4.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }.
  const tbs = expect(child(node, 0, 'tbsCertificate'), U, T.SEQUENCE, 'tbsCertificate');
  const fields = tbs.value as Asn1[];
  const o = fields[0]?.tagClass === CTX && fields[0].type === 0 ? 1 : 0; // [0] EXPLICIT version
  const serial = expect(child(tbs, o, 'serialNumber'), U, T.INTEGER, 'serialNumber');
  const issuer = expect(child(tbs, o + 2, 'issuer'), U, T.SEQUENCE, 'issuer');
  return { issuer, serial };
}

function derOf(input: Buffer | string): Buffer {
  if (Buffer.isBuffer(input)) return input;
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(input);
  if (!m) throw new CmsError('malformed', 'certificate is neither DER nor PEM');
  return Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
}

// ---- signing ----

export interface CmsSigner {
  /** The signer's private key (RSA or EC); only node:crypto touches it. */
  key: KeyObject;
  /** The signer certificate, DER or PEM. */
  certificate: Buffer | string;
  /** Further certificates to include (intermediates, root), DER or PEM. */
  chain?: Array<Buffer | string>;
}

export interface SignOptions {
  /** true: the content is not embedded (detached signature, as Mdm-Signature). Default false. */
  detached?: boolean;
  /** Digest algorithm (default sha256). */
  digest?: 'sha1' | 'sha256' | 'sha384' | 'sha512';
  /** signingTime attribute (default now). */
  signingTime?: Date;
}

function utcTime(d: Date): Asn1 {
  // RFC 5652 11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

/** DER SET OF: members sorted by their encodings (X.690 11.6). */
function derSetOf(members: Asn1[]): { node: Asn1; encodings: Buffer[] } {
  const encoded = members.map((m) => ({ m, der: toDer(m) })).sort((a, b) => Buffer.compare(a.der, b.der));
  return { node: set(encoded.map((e) => e.m)), encodings: encoded.map((e) => e.der) };
}

/**
 * Signs `content` as a CMS SignedData (ContentInfo, DER) with signed attributes contentType,
 * signingTime and messageDigest; the signer certificate and chain are included.
 */
export function signCms(content: Buffer, signer: CmsSigner, options: SignOptions = {}): Buffer {
  const digest = options.digest ?? 'sha256';
  const certDer = derOf(signer.certificate);
  const cert = certFields(fromDer(certDer));
  const chain = (signer.chain ?? []).map(derOf).filter((d) => !d.equals(certDer));
  const digestAlg = () => seq([oid(DIGEST_OID[digest])]);

  const attrs = derSetOf([
    seq([oid(OID_CONTENT_TYPE), set([oid(OID_DATA)])]),
    seq([oid(OID_SIGNING_TIME), set([utcTime(options.signingTime ?? new Date())])]),
    seq([oid(OID_MESSAGE_DIGEST), set([octets(crypto.createHash(digest).update(content).digest())])]),
  ]);
  // RFC 5652 5.4: the signature covers the DER of SignedAttributes with its universal SET tag.
  const signedAttrsDer = toDer(attrs.node);
  const signature = crypto.sign(digest, signedAttrsDer, signer.key);
  const keyType = signer.key.asymmetricKeyType;
  let signatureAlg: Asn1;
  if (keyType === 'rsa') signatureAlg = seq([oid(OID_RSA), nul()]);
  else if (keyType === 'ec' && EC_SIGNATURE_OID[digest]) signatureAlg = seq([oid(EC_SIGNATURE_OID[digest])]);
  else throw new CmsError('unsupported-algorithm', `cannot sign with a ${keyType} key and ${digest}`);

  const signedAttrs = asn1.create(CTX, 0, true, attrs.node.value as Asn1[]);
  const signerInfo = seq([
    int(1),
    seq([cert.issuer, cert.serial]), // IssuerAndSerialNumber
    digestAlg(),
    signedAttrs,
    signatureAlg,
    octets(signature),
  ]);
  const encap = options.detached ? seq([oid(OID_DATA)]) : seq([oid(OID_DATA), explicit(0, octets(content))]);
  const certificates = asn1.create(
    CTX,
    0,
    true,
    [certDer, ...chain].map((d) => fromDer(d)),
  );
  const signedData = seq([int(1), set([digestAlg()]), encap, certificates, set([signerInfo])]);
  return toDer(seq([oid(OID_SIGNED_DATA), explicit(0, signedData)]));
}

// ---- verification ----

export interface VerifiedSigner {
  /** The signer certificate as sent (DER). */
  certificate: Buffer;
  /** Its serial number, lowercase hex without leading zeros. */
  serial: string;
  /** The digest algorithm the signer used. */
  digest: string;
}

export interface VerifyOptions {
  /** Largest accepted CMS structure in bytes (default 32 KiB: one certificate chain and a signature). */
  maxBytes?: number;
}

// Public keys of recently seen signer certificates: the same device signs every check-in, and
// parsing an SPKI into a KeyObject costs more than the RSA verification itself.
const KEY_CACHE_MAX = 20_000;
const keyCache = new Map<string, KeyObject>();

function publicKeyOf(spki: Buffer): KeyObject {
  const cacheKey = spki.toString('base64');
  let key = keyCache.get(cacheKey);
  if (key === undefined) {
    try {
      key = publicKeyFromSpki(spki);
    } catch (e) {
      throw new CmsError('malformed', `signer public key unreadable: ${(e as Error).message}`);
    }
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    keyCache.set(cacheKey, key);
  }
  return key;
}

// ---- reading a SignedData (the verify path: a DER walk over the bytes as sent, no tree) ----

const TAG = { INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, OID: 0x06, SEQUENCE: 0x30, SET: 0x31, CTX0: 0xa0, CTX0_PRIMITIVE: 0x80 };

/** A view over one DER buffer: each step checks the tag it expects and names what is missing. */
class DerView {
  constructor(readonly b: Buffer) {}

  at(pos: number, end: number, what: string): Tlv {
    const t = readTlv(this.b, pos, end);
    if (!t) throw new CmsError('malformed', `missing ${what}`);
    return t;
  }

  parts(outer: Tlv, what: string): Tlv[] {
    const list = children(this.b, outer);
    if (!list) throw new CmsError('malformed', `${what} is not DER`);
    return list;
  }

  expect(t: Tlv | undefined, tag: number, what: string): Tlv {
    if (!t) throw new CmsError('malformed', `missing ${what}`);
    if (t.tag !== tag) throw new CmsError('malformed', `${what} has the wrong type`);
    return t;
  }

  bytes(t: Tlv): Buffer {
    return this.b.subarray(t.start, t.end);
  }

  contents(t: Tlv): Buffer {
    return this.b.subarray(t.contents, t.end);
  }

  oid(t: Tlv | undefined, what: string): string {
    const text = oidText(this.contents(this.expect(t, TAG.OID, what)));
    if (text === undefined) throw new CmsError('malformed', `${what} is not a valid OID`);
    return text;
  }
}

/** A certificate of the SignedData: the bytes as sent, and what signer matching needs. */
interface SentCertificate {
  der: Buffer;
  issuer: Buffer;
  serial: Buffer;
  spki: Buffer;
  /** subjectPublicKey BIT STRING contents after the unused-bits byte. */
  keyBits: Buffer;
}

function sentCertificate(v: DerView, cert: Tlv): SentCertificate {
  // RFC 5280 4.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }.
  const tbs = v.expect(v.parts(cert, 'certificate')[0], TAG.SEQUENCE, 'tbsCertificate');
  const f = v.parts(tbs, 'tbsCertificate');
  const o = f[0]?.tag === TAG.CTX0 ? 1 : 0; // [0] EXPLICIT version
  const serial = v.expect(f[o], TAG.INTEGER, 'serialNumber');
  const issuer = v.expect(f[o + 2], TAG.SEQUENCE, 'issuer');
  const spki = v.expect(f[o + 5], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const bits = v.expect(v.parts(spki, 'subjectPublicKeyInfo')[1], TAG.BIT_STRING, 'subjectPublicKey');
  return { der: v.bytes(cert), issuer: v.bytes(issuer), serial: v.contents(serial), spki: v.bytes(spki), keyBits: v.contents(bits).subarray(1) };
}

/** SignerIdentifier (RFC 5652 5.3): issuerAndSerialNumber or [0] subjectKeyIdentifier. */
function findSignerCert(v: DerView, sid: Tlv, certs: SentCertificate[]): SentCertificate {
  if (sid.tag === TAG.SEQUENCE) {
    const [issuer, serial] = v.parts(sid, 'sid');
    const issuerDer = v.bytes(v.expect(issuer, TAG.SEQUENCE, 'sid issuer'));
    const serialBytes = v.contents(v.expect(serial, TAG.INTEGER, 'sid serial'));
    const found = certs.find((c) => c.serial.equals(serialBytes) && c.issuer.equals(issuerDer));
    if (found) return found;
  } else if (sid.tag === TAG.CTX0_PRIMITIVE) {
    const ski = v.contents(sid);
    // RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value.
    const found = certs.find((c) => crypto.hash('sha1', c.keyBits, 'hex') === ski.toString('hex'));
    if (found) return found;
  } else {
    throw new CmsError('malformed', 'SignerIdentifier has the wrong type');
  }
  throw new CmsError('no-signer-certificate', 'the signer certificate is not in the SignedData');
}

/** The single value of a signed attribute (RFC 5652 11.1/11.2: contentType, messageDigest appear once, one value each). */
function attributeValue(v: DerView, attrs: Tlv[], type: string): Tlv | undefined {
  let found: Tlv | undefined;
  for (const a of attrs) {
    const [attrType, values] = v.parts(v.expect(a, TAG.SEQUENCE, 'attribute'), 'attribute');
    if (v.oid(attrType, 'attribute type') !== type) continue;
    if (found !== undefined) throw new CmsError('malformed', `attribute ${type} appears twice`);
    const list = v.parts(v.expect(values, TAG.SET, 'attribute values'), 'attribute values');
    if (list.length !== 1) throw new CmsError('malformed', `attribute ${type} must have one value`);
    found = list[0];
  }
  return found;
}

/**
 * Verifies a CMS SignedData whose content is `content` (detached, as in Mdm-Signature) and
 * returns the signer certificate. Does not judge the certificate itself (issuer, validity,
 * revocation): that is for the caller, which knows which certificates it issued.
 * Read by a DER walk over the bytes as sent: the signed attributes and the certificate handed to
 * cert-auth are exactly what the device sent; this runs on every check-in and command report.
 */
export function verifyDetachedCms(signedData: Buffer, content: Buffer, options: VerifyOptions = {}): VerifiedSigner {
  const maxBytes = options.maxBytes ?? 32 * 1024;
  if (signedData.length > maxBytes) throw new CmsError('too-large', `SignedData larger than ${maxBytes} bytes`);
  const v = new DerView(signedData);
  const ci = v.expect(readTlv(signedData, 0), TAG.SEQUENCE, 'ContentInfo');
  if (ci.end !== signedData.length) throw new CmsError('malformed', 'not DER: bytes after the ContentInfo');
  const [contentType, explicit0] = v.parts(ci, 'ContentInfo');
  if (v.oid(contentType, 'contentType') !== OID_SIGNED_DATA) throw new CmsError('not-signed-data', 'ContentInfo is not SignedData');
  const sd = v.expect(v.parts(v.expect(explicit0, TAG.CTX0, 'content'), 'content')[0], TAG.SEQUENCE, 'SignedData');
  const parts = v.parts(sd, 'SignedData');
  const encap = v.expect(parts[2], TAG.SEQUENCE, 'encapContentInfo');
  if (v.parts(encap, 'encapContentInfo').length > 1) throw new CmsError('not-detached', 'SignedData carries its content; a detached signature was expected');
  const certs: SentCertificate[] = [];
  let signerInfos: Tlv | undefined;
  for (let i = 3; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.tag === TAG.CTX0) {
      // Other CertificateChoices (attribute certificates...) are not signer candidates.
      for (const c of v.parts(p, 'certificates')) if (c.tag === TAG.SEQUENCE) certs.push(sentCertificate(v, c));
    } else if (p.tag === TAG.SET) {
      signerInfos = p;
    }
  }
  const infos = signerInfos ? v.parts(signerInfos, 'signerInfos') : [];
  if (infos.length === 0) throw new CmsError('no-signer', 'SignedData has no SignerInfo');
  if (infos.length > 1) throw new CmsError('malformed', 'more than one SignerInfo');
  const fields = v.parts(v.expect(infos[0], TAG.SEQUENCE, 'SignerInfo'), 'SignerInfo');
  if (!fields[1]) throw new CmsError('malformed', 'missing sid');
  const cert = findSignerCert(v, fields[1], certs);
  const digestAlgorithm = v.parts(v.expect(fields[2], TAG.SEQUENCE, 'digestAlgorithm'), 'digestAlgorithm');
  const digest = DIGEST_BY_OID[v.oid(digestAlgorithm[0], 'digestAlgorithm OID')];
  if (!digest) throw new CmsError('unsupported-algorithm', 'unsupported digest algorithm');

  let k = 3;
  let signedBytes: Buffer = content;
  if (fields[k]?.tag === TAG.CTX0) {
    const attrsTlv = fields[k]!;
    const attrs = v.parts(attrsTlv, 'signedAttrs');
    const ct = attributeValue(v, attrs, OID_CONTENT_TYPE);
    const md = attributeValue(v, attrs, OID_MESSAGE_DIGEST);
    // RFC 5652 5.3: with signed attributes, contentType and messageDigest are mandatory.
    if (!ct || !md) throw new CmsError('malformed', 'signed attributes lack contentType or messageDigest');
    if (ct.tag !== TAG.OID || oidText(v.contents(ct)) !== OID_DATA) throw new CmsError('malformed', 'contentType attribute is not id-data');
    if (md.tag !== TAG.OCTET_STRING || crypto.hash(digest, content, 'hex') !== v.contents(md).toString('hex')) {
      throw new CmsError('digest-mismatch', 'messageDigest does not match the body');
    }
    // RFC 5652 5.4: the signature covers the DER of SignedAttributes with its universal SET tag.
    signedBytes = Buffer.from(v.bytes(attrsTlv));
    signedBytes[0] = TAG.SET;
    k++;
  }
  const signatureAlgorithm = v.parts(v.expect(fields[k], TAG.SEQUENCE, 'signatureAlgorithm'), 'signatureAlgorithm');
  const sigAlgOid = v.oid(signatureAlgorithm[0], 'signatureAlgorithm OID');
  const keyKind = SIGNATURE_KEY[sigAlgOid];
  if (!keyKind) {
    throw new CmsError('unsupported-algorithm', sigAlgOid === OID_RSASSA_PSS ? 'RSASSA-PSS signatures are not accepted' : `unsupported signature algorithm ${sigAlgOid}`);
  }
  const signature = v.contents(v.expect(fields[k + 1], TAG.OCTET_STRING, 'signature'));
  const key = publicKeyOf(cert.spki);
  if (key.asymmetricKeyType !== keyKind) throw new CmsError('unsupported-algorithm', 'signature algorithm does not match the signer key');
  let ok = false;
  try {
    ok = crypto.verify(digest, signedBytes, key, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new CmsError('bad-signature', 'signature does not verify');
  return { certificate: cert.der, serial: pkiDer.serialHex(cert.serial), digest };
}

/** The Mdm-Signature header: base64 of a detached SignedData over the body (Apple, SignMessage). */
export function verifyMdmSignature(header: string, body: Buffer, options?: VerifyOptions): VerifiedSigner {
  const maxBytes = options?.maxBytes ?? 32 * 1024;
  if (header.length > Math.ceil(maxBytes / 3) * 4 + 256) throw new CmsError('too-large', `Mdm-Signature larger than ${maxBytes} bytes`);
  const b64 = header.indexOf(' ') === -1 && header.indexOf('\n') === -1 ? header : header.replace(/\s+/g, '');
  // Strict base64: what decodes must encode back to the same text (Buffer.from skips junk silently).
  const der = Buffer.from(b64, 'base64');
  if (b64.length === 0 || der.toString('base64') !== b64) throw new CmsError('malformed', 'Mdm-Signature is not base64');
  return verifyDetachedCms(der, body, options);
}

/** The Mdm-Signature header value a device would send for `body` (used by the device simulator). */
export function signMdmMessage(body: Buffer, signer: CmsSigner): string {
  return signCms(body, signer, { detached: true }).toString('base64');
}

/** Serial (lowercase hex, no leading zeros) of a certificate given as DER or PEM. */
export function certificateSerial(certificate: Buffer | string): string {
  const der = derOf(certificate);
  return pkiDer.serialHex(Buffer.from(certFields(fromDer(der)).serial.value as string, 'binary'));
}
