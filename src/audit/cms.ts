// CMS SignedData (RFC 5652), DER, detached, with one signer: how a signed tree head is signed so that
// `openssl cms -verify -binary -inform DER -in X.p7s -content X -CAfile chain.pem -purpose any`
// accepts it. Built and read with node-forge's asn1; the signature is node:crypto with a KeyObject.
import crypto, { type KeyObject, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
} as const;

const seq = (items: Asn1[]) => asn1.create(U, T.SEQUENCE, true, items);
const set = (items: Asn1[]) => asn1.create(U, T.SET, true, items);
const oid = (o: string) => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
const nul = () => asn1.create(U, T.NULL, false, '');
const int = (n: number) => asn1.create(U, T.INTEGER, false, String.fromCharCode(n));
const octets = (b: Uint8Array) => asn1.create(U, T.OCTETSTRING, false, Buffer.from(b).toString('binary'));
const toDer = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
function fromDer(der: Uint8Array): Asn1 {
  // (@types/node-forge lags the options object forge 1.x takes)
  const opts = { strict: true, parseAllBytes: true, decodeBitStrings: false } as unknown as boolean;
  return asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')), opts);
}
const oidOf = (node: Asn1): string => asn1.derToOid(forge.util.createBuffer(node.value as string));
const bytesOf = (node: Asn1): Buffer => Buffer.from(node.value as string, 'binary');

function signingTimeValue(d: Date): Asn1 {
  // RFC 5652 section 11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
  return d.getUTCFullYear() < 2050 && d.getUTCFullYear() >= 1950
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

/** DER SET OF: members sorted by their encodings (X.690 section 11.6); OpenSSL re-sorts when it checks. */
function derSetOf(items: Asn1[]): Asn1 {
  const sorted = items
    .map((i) => ({ i, der: toDer(i) }))
    .sort((a, b) => Buffer.compare(a.der, b.der))
    .map((x) => x.i);
  return set(sorted);
}

function signatureAlgorithm(key: KeyObject): { node: Asn1; dsaEncoding?: 'der' } {
  if (key.type !== 'private') throw new TypeError('cms: the signer key must be a private KeyObject');
  if (key.asymmetricKeyType === 'rsa') return { node: seq([oid(OID.rsaEncryption), nul()]) };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { node: seq([oid(OID.ecdsaWithSHA256)]), dsaEncoding: 'der' };
  }
  throw new TypeError(`cms: unsupported signer key ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
}

export interface CmsSigner {
  /** RSA (PKCS#1 v1.5) or ECDSA P-256 private key. */
  key: KeyObject;
  certificate: X509Certificate;
  /** Issuing CA certificates to include, nearest first (the root may be included or not). */
  chain?: readonly X509Certificate[];
}

/**
 * RFC 5652 SignedData over `content`, detached (no eContent), SHA-256, with the signed attributes
 * contentType, messageDigest and signingTime (section 11), the signer's certificate and chain.
 */
export function signDetached(content: Uint8Array, signer: CmsSigner, signingTime = new Date()): Buffer {
  const alg = signatureAlgorithm(signer.key);
  if (!signer.certificate.checkPrivateKey(signer.key)) throw new TypeError('cms: the key does not match the signer certificate');
  const certNode = fromDer(signer.certificate.raw);
  const tbs = (certNode.value as Asn1[])[0].value as Asn1[];
  const hasVersion = tbs[0].tagClass === CTX && tbs[0].type === 0;
  const serial = tbs[hasVersion ? 1 : 0];
  const issuer = tbs[hasVersion ? 3 : 2];
  const sha256 = () => seq([oid(OID.sha256)]);
  const digest = crypto.createHash('sha256').update(content).digest();
  const attrs = [
    seq([oid(OID.contentType), set([oid(OID.data)])]),
    seq([oid(OID.signingTime), set([signingTimeValue(signingTime)])]),
    seq([oid(OID.messageDigest), set([octets(digest)])]),
  ];
  const signedAttrs = derSetOf(attrs);
  // Section 5.4: the signature covers the DER of the attributes with the SET OF tag, not [0].
  const signature = crypto.sign('sha256', toDer(signedAttrs), alg.dsaEncoding ? { key: signer.key, dsaEncoding: 'der' } : signer.key);
  const signerInfo = seq([
    int(1), // version 1: sid is issuerAndSerialNumber
    seq([issuer, serial]),
    sha256(),
    asn1.create(CTX, 0, true, signedAttrs.value as Asn1[]),
    alg.node,
    octets(signature),
  ]);
  const certs = [signer.certificate, ...(signer.chain ?? [])].map((c) => fromDer(c.raw));
  const signedData = seq([
    int(1), // version 1: no attribute certificates, eContentType is id-data (section 5.1)
    set([sha256()]),
    seq([oid(OID.data)]), // encapContentInfo without eContent: detached
    asn1.create(CTX, 0, true, certs),
    set([signerInfo]),
  ]);
  return toDer(seq([oid(OID.signedData), asn1.create(CTX, 0, true, [signedData])]));
}

export class CmsError extends Error {
  constructor(message: string) {
    super(`CMS: ${message}`);
    this.name = 'CmsError';
  }
}

export interface CmsVerifyOptions {
  /** Certificates trusted as chain ends (Ward's root CA, or the chain the auditor pinned). */
  trustAnchors: readonly X509Certificate[];
  /** Time at which the chain must be valid (default: the signed signingTime). */
  at?: Date;
}

export interface CmsVerified {
  signer: X509Certificate;
  /** Signer first, trust anchor last. */
  chain: X509Certificate[];
  signingTime: Date;
}

function expect(cond: unknown, what: string): asserts cond {
  if (!cond) throw new CmsError(what);
}

function parseTime(node: Asn1): Date {
  const text = node.value as string;
  if (node.type === T.UTCTIME) return asn1.utcTimeToDate(text);
  if (node.type === T.GENERALIZEDTIME) return asn1.generalizedTimeToDate(text);
  throw new CmsError('signingTime is neither UTCTime nor GeneralizedTime');
}

function isTag(node: Asn1 | undefined, cls: number, type: number): boolean {
  return !!node && node.tagClass === cls && node.type === type;
}

const isInt = (node: Asn1 | undefined, v: number) => isTag(node, U, T.INTEGER) && node!.value === String.fromCharCode(v);

/** AlgorithmIdentifier sha256, parameters absent or NULL (RFC 5754 section 2). */
function isSha256(node: Asn1 | undefined): boolean {
  if (!isTag(node, U, T.SEQUENCE)) return false;
  const [id, params, ...rest] = node!.value as Asn1[];
  return isTag(id, U, T.OID) && oidOf(id) === OID.sha256 && rest.length === 0 && (params === undefined || (isTag(params, U, T.NULL) && params.value === ''));
}

/** Certificates in a chain, from the signer up to one of the trust anchors, each checked at `at`. */
function buildChain(signer: X509Certificate, pool: readonly X509Certificate[], anchors: readonly X509Certificate[], at: Date): X509Certificate[] {
  const isAnchor = (c: X509Certificate) => anchors.some((a) => a.raw.equals(c.raw));
  const validAt = (c: X509Certificate) => new Date(c.validFrom) <= at && at <= new Date(c.validTo);
  const chain = [signer];
  let cur = signer;
  for (let depth = 0; depth < 8; depth++) {
    if (!validAt(cur)) throw new CmsError(`certificate ${cur.subject.replace(/\n/g, ', ')} is not valid at ${at.toISOString()}`);
    if (isAnchor(cur)) return chain;
    const issuer = [...anchors, ...pool].find((c) => !c.raw.equals(cur.raw) && cur.checkIssued(c) && cur.verify(c.publicKey));
    if (!issuer) throw new CmsError(`no trusted issuer for ${cur.subject.replace(/\n/g, ', ')}`);
    if (!issuer.ca) throw new CmsError(`issuer ${issuer.subject.replace(/\n/g, ', ')} is not a CA certificate`);
    chain.push(issuer);
    cur = issuer;
  }
  throw new CmsError('certificate chain is too long');
}

/**
 * Verifies a detached SignedData over `content`: structure, signed attributes, the signature with
 * the signer's certificate, and the chain to a trust anchor. Throws CmsError saying what failed.
 */
export function verifyDetached(p7s: Uint8Array, content: Uint8Array, options: CmsVerifyOptions): CmsVerified {
  try {
    return verifySignedData(p7s, content, options);
  } catch (e) {
    // A malformed structure surfaces as a TypeError deep in the walk; report it as what it is.
    if (e instanceof CmsError) throw e;
    throw new CmsError(`malformed SignedData (${(e as Error).message})`);
  }
}

function verifySignedData(p7s: Uint8Array, content: Uint8Array, options: CmsVerifyOptions): CmsVerified {
  let root: Asn1;
  try {
    root = fromDer(p7s);
  } catch (e) {
    throw new CmsError(`not DER: ${(e as Error).message}`);
  }
  expect(toDer(root).equals(Buffer.from(p7s)), 'not in DER form');
  expect(isTag(root, U, T.SEQUENCE), 'ContentInfo is not a SEQUENCE');
  const ci = root.value as Asn1[];
  expect(Array.isArray(ci) && ci.length === 2 && isTag(ci[0], U, T.OID) && oidOf(ci[0]) === OID.signedData, 'not a ContentInfo of type signedData');
  expect(isTag(ci[1], CTX, 0) && (ci[1].value as Asn1[]).length === 1, 'ContentInfo content is not [0] EXPLICIT');
  const sdNode = (ci[1].value as Asn1[])[0];
  expect(isTag(sdNode, U, T.SEQUENCE), 'SignedData is not a SEQUENCE');
  const sd = sdNode.value as Asn1[];
  expect(Array.isArray(sd) && sd.length >= 4, 'SignedData is too short');
  expect(isInt(sd[0], 1) || isInt(sd[0], 3), 'SignedData version is not 1 or 3');
  let i = 1;
  expect(isTag(sd[i], U, T.SET) && (sd[i].value as Asn1[]).every((a) => isSha256(a)), 'digestAlgorithms is not SHA-256');
  i++;
  expect(isTag(sd[i], U, T.SEQUENCE), 'EncapsulatedContentInfo is not a SEQUENCE');
  const encap = sd[i++].value as Asn1[];
  expect(Array.isArray(encap) && isTag(encap[0], U, T.OID) && oidOf(encap[0]) === OID.data, 'encapsulated content type is not id-data');
  expect(encap.length === 1, 'content is embedded, expected a detached signature');
  const certs: X509Certificate[] = [];
  if (isTag(sd[i], CTX, 0)) {
    for (const c of sd[i].value as Asn1[]) {
      expect(isTag(c, U, T.SEQUENCE), 'an included certificate is not a Certificate');
      try {
        certs.push(new X509Certificate(toDer(c)));
      } catch {
        throw new CmsError('an included certificate does not parse');
      }
    }
    i++;
  }
  if (isTag(sd[i], CTX, 1)) i++; // crls: not used
  expect(isTag(sd[i], U, T.SET) && i === sd.length - 1, 'signerInfos missing');
  const infos = sd[i].value as Asn1[];
  expect(infos.length === 1, `expected exactly one signer, found ${infos.length}`);
  expect(isTag(infos[0], U, T.SEQUENCE), 'SignerInfo is not a SEQUENCE');
  const si = infos[0].value as Asn1[];
  // Strict for audit evidence: exactly the six fields, no unsigned attributes.
  expect(Array.isArray(si) && si.length === 6, 'SignerInfo must have exactly six fields (no unsigned attributes)');
  expect(isInt(si[0], 1) || isInt(si[0], 3), 'SignerInfo version is not 1 or 3');
  expect(isSha256(si[2]), 'digest algorithm is not SHA-256');
  expect(isTag(si[4], U, T.SEQUENCE) && isTag((si[4].value as Asn1[])[0], U, T.OID), 'signatureAlgorithm is malformed');
  const sid = si[1];
  let signer: X509Certificate | undefined;
  if (isTag(sid, U, T.SEQUENCE)) {
    const [issuer, serial] = sid.value as Asn1[];
    expect(isTag(issuer, U, T.SEQUENCE) && isTag(serial, U, T.INTEGER) && (sid.value as Asn1[]).length === 2, 'issuerAndSerialNumber is malformed');
    const issuerDer = toDer(issuer);
    const serialDer = toDer(serial);
    signer = certs.find((c) => {
      const tbs = (fromDer(c.raw).value as Asn1[])[0].value as Asn1[];
      const v = tbs[0].tagClass === CTX ? 1 : 0;
      return toDer(tbs[v]).equals(serialDer) && toDer(tbs[v + 2]).equals(issuerDer);
    });
  } else if (isTag(sid, CTX, 0)) {
    const ski = Buffer.from(sid.value as string, 'binary');
    signer = certs.find((c) => {
      const der = c.raw;
      return der.includes(ski) && subjectKeyId(c)?.equals(ski);
    });
  }
  expect(signer, 'the signer certificate is not included');
  expect(isTag(si[3], CTX, 0), 'signed attributes are missing');
  const attrs = new Map<string, Asn1[]>();
  for (const a of si[3].value as Asn1[]) {
    expect(isTag(a, U, T.SEQUENCE) && (a.value as Asn1[]).length === 2, 'a signed attribute is malformed');
    const [type, values] = a.value as Asn1[];
    expect(isTag(type, U, T.OID) && isTag(values, U, T.SET), 'a signed attribute is malformed');
    const id = oidOf(type);
    expect(!attrs.has(id), `attribute ${id} appears twice`);
    attrs.set(id, values.value as Asn1[]);
  }
  const one = (id: string, name: string) => {
    const v = attrs.get(id);
    expect(v && v.length === 1, `signed attribute ${name} missing or not single-valued`);
    return v[0];
  };
  expect(oidOf(one(OID.contentType, 'contentType')) === OID.data, 'signed contentType is not id-data');
  const md = bytesOf(one(OID.messageDigest, 'messageDigest'));
  const signingTime = parseTime(one(OID.signingTime, 'signingTime'));
  const sigAlg = oidOf((si[4].value as Asn1[])[0]);
  expect(isTag(si[5], U, T.OCTETSTRING), 'signature is not an OCTET STRING');
  const signature = bytesOf(si[5]);
  if (!crypto.createHash('sha256').update(content).digest().equals(md)) {
    throw new CmsError('messageDigest does not match the content (content changed)');
  }
  const signedBytes = toDer(set(si[3].value as Asn1[]));
  let ok: boolean;
  if (sigAlg === OID.rsaEncryption || sigAlg === OID.sha256WithRSAEncryption) {
    expect(signer.publicKey.asymmetricKeyType === 'rsa', 'RSA signature but the certificate key is not RSA');
    ok = crypto.verify('sha256', signedBytes, signer.publicKey, signature);
  } else if (sigAlg === OID.ecdsaWithSHA256) {
    expect(signer.publicKey.asymmetricKeyType === 'ec', 'ECDSA signature but the certificate key is not EC');
    ok = crypto.verify('sha256', signedBytes, { key: signer.publicKey, dsaEncoding: 'der' }, signature);
  } else {
    throw new CmsError(`unsupported signature algorithm ${sigAlg}`);
  }
  expect(ok, 'signature does not verify with the signer certificate');
  const chain = buildChain(signer, certs, options.trustAnchors, options.at ?? signingTime);
  // Strict for audit evidence: no byte of the SignedData goes unchecked, so every certificate it
  // carries must be on the signer's chain or be a trusted one.
  certs.forEach((c, i) => {
    const known = (x: X509Certificate) => x.raw.equals(c.raw);
    if (!chain.some(known) && !options.trustAnchors.some(known)) {
      throw new CmsError(`included certificate ${i + 1} (${c.subject.replace(/\n/g, ', ')}) is neither on the signer's chain nor trusted`);
    }
  });
  return { signer, chain, signingTime };
}

function subjectKeyId(cert: X509Certificate): Buffer | undefined {
  const tbs = (fromDer(cert.raw).value as Asn1[])[0].value as Asn1[];
  const exts = tbs.find((n) => n.tagClass === CTX && n.type === 3);
  if (!exts) return undefined;
  for (const ext of (exts.value as Asn1[])[0].value as Asn1[]) {
    const parts = ext.value as Asn1[];
    if (oidOf(parts[0]) === '2.5.29.14') return bytesOf(fromDer(bytesOf(parts[parts.length - 1])));
  }
  return undefined;
}

/** Certificates in a PEM text, in order. */
export function certificatesFromPem(pem: string): X509Certificate[] {
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;
  return [...pem.matchAll(re)].map((m) => new X509Certificate(Buffer.from(m[1].replace(/\s+/g, ''), 'base64')));
}

export function certificatesToPem(certs: readonly X509Certificate[]): string {
  return certs.map((c) => c.toString()).join('');
}
