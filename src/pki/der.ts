// X.509 structures (RFC 5280) built and read with node-forge's asn1 (measured the fastest DER codec
// here); every signature is made by node:crypto with a KeyObject.
import crypto, { type KeyObject } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;
export type Asn1 = forge.asn1.Asn1;

export const OID = {
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecPublicKey: '1.2.840.10045.2.1',
  challengePassword: '1.2.840.113549.1.9.7',
  extensionRequest: '1.2.840.113549.1.9.14',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  cRLDistributionPoints: '2.5.29.31',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
  cRLNumber: '2.5.29.20',
  cRLReason: '2.5.29.21',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** Signature algorithms we verify (CSRs, SCEP, Mdm-Signature): OID -> node:crypto digest name. */
export const SIGNATURE_DIGEST: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

const NAME_OID: Record<string, string> = {
  CN: '2.5.4.3', C: '2.5.4.6', L: '2.5.4.7', ST: '2.5.4.8', O: '2.5.4.10', OU: '2.5.4.11',
  serialNumber: '2.5.4.5', UID: '0.9.2342.19200300.100.1.1', emailAddress: '1.2.840.113549.1.9.1',
};
const NAME_LABEL = Object.fromEntries(Object.entries(NAME_OID).map(([k, v]) => [v, k]));

export const seq = (items: Asn1[]) => asn1.create(U, T.SEQUENCE, true, items);
export const set = (items: Asn1[]) => asn1.create(U, T.SET, true, items);
export const oid = (o: string) => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
export const nul = () => asn1.create(U, T.NULL, false, '');
export const bool = (v: boolean) => asn1.create(U, T.BOOLEAN, false, v ? '\xff' : '\x00');
export const octets = (b: Buffer) => asn1.create(U, T.OCTETSTRING, false, b.toString('binary'));
export const bits = (b: Buffer, unused = 0) => asn1.create(U, T.BITSTRING, false, String.fromCharCode(unused) + b.toString('binary'));
export const utf8 = (s: string) => asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(s));
export const printable = (s: string) => asn1.create(U, T.PRINTABLESTRING, false, s);
export const ia5 = (s: string) => asn1.create(U, T.IA5STRING, false, s);
export const explicit = (tag: number, inner: Asn1) => asn1.create(CTX, tag, true, [inner]);
export const implicitPrimitive = (tag: number, bytes: string) => asn1.create(CTX, tag, false, bytes);

/** Minimal two's-complement DER INTEGER of a non-negative number or big-endian magnitude. */
export function integer(v: number | bigint | Buffer): Asn1 {
  let hex = Buffer.isBuffer(v) ? v.toString('hex') : BigInt(v).toString(16);
  hex = hex.replace(/^(00)+/, '');
  if (hex.length === 0) hex = '00';
  if (hex.length % 2) hex = '0' + hex;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = '00' + hex;
  return asn1.create(U, T.INTEGER, false, Buffer.from(hex, 'hex').toString('binary'));
}

export function time(d: Date): Asn1 {
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return d.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

export const toDer = (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary');
export function fromDer(der: Buffer): Asn1 {
  // (@types/node-forge lags the options object forge 1.x takes)
  const opts = { strict: true, parseAllBytes: true, decodeBitStrings: false } as unknown as boolean;
  return asn1.fromDer(forge.util.createBuffer(der.toString('binary')), opts);
}
export const bytesOf = (node: Asn1): Buffer => Buffer.from(node.value as string, 'binary');
export const oidOf = (node: Asn1): string => asn1.derToOid(forge.util.createBuffer(node.value as string));

export type NameAttrs = [keyof typeof NAME_OID, string][];

export function name(attrs: NameAttrs): Asn1 {
  return seq(
    attrs.map(([k, v]) =>
      set([seq([oid(NAME_OID[k]), k === 'C' ? printable(v) : utf8(v)])]),
    ),
  );
}

/** RFC 4514-style text of a Name, most significant first as written in the certificate ("CN=a,O=b" order kept). */
export function nameToString(node: Asn1): string {
  const parts: string[] = [];
  for (const rdn of node.value as Asn1[]) {
    for (const atv of rdn.value as Asn1[]) {
      const [t, v] = atv.value as Asn1[];
      const type = oidOf(t);
      let text = v.value as string;
      if (v.type === T.UTF8) text = forge.util.decodeUtf8(text);
      else if (v.type === T.BMPSTRING) text = Buffer.from(text, 'binary').swap16().toString('utf16le');
      const escaped = text.replace(/([,+"\\<>;=])/g, '\\$1');
      parts.push(`${NAME_LABEL[type] ?? type}=${escaped}`);
    }
  }
  return parts.join(',');
}

/** The value of the first attribute of `type` (e.g. 'CN') in a Name, or undefined. */
export function nameAttr(node: Asn1, type: keyof typeof NAME_OID): string | undefined {
  for (const rdn of node.value as Asn1[]) {
    for (const atv of rdn.value as Asn1[]) {
      const [t, v] = atv.value as Asn1[];
      if (oidOf(t) === NAME_OID[type]) return v.type === T.UTF8 ? forge.util.decodeUtf8(v.value as string) : (v.value as string);
    }
  }
  return undefined;
}

export const KEY_USAGE_BITS = {
  digitalSignature: 0, nonRepudiation: 1, keyEncipherment: 2, dataEncipherment: 3,
  keyAgreement: 4, keyCertSign: 5, cRLSign: 6,
} as const;
export type KeyUsage = keyof typeof KEY_USAGE_BITS;

function keyUsageBits(usages: readonly KeyUsage[]): Asn1 {
  let v = 0;
  for (const u of usages) v |= 0x80 >> KEY_USAGE_BITS[u];
  // DER named bit list: trailing zero bits are dropped and counted as unused.
  let unused = 0;
  while (unused < 7 && !(v & (1 << unused))) unused++;
  return bits(Buffer.from([v]), unused);
}

export interface GeneralNames {
  dns?: string[];
  ip?: string[];
  uri?: string[];
  email?: string[];
}

function ipBytes(ip: string): Buffer {
  if (ip.includes(':')) {
    const [head, tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
  }
  return Buffer.from(ip.split('.').map(Number));
}

export function generalNames(n: GeneralNames): Asn1 {
  return seq([
    ...(n.email ?? []).map((e) => implicitPrimitive(1, e)),
    ...(n.dns ?? []).map((d) => implicitPrimitive(2, d)),
    ...(n.uri ?? []).map((u) => implicitPrimitive(6, u)),
    ...(n.ip ?? []).map((i) => implicitPrimitive(7, ipBytes(i).toString('binary'))),
  ]);
}

export interface ExtensionSpec {
  ca?: { pathLen?: number };
  keyUsage: readonly KeyUsage[];
  extKeyUsage?: readonly string[];
  subjectAltName?: GeneralNames;
  crlUrl?: string;
  caIssuersUrl?: string;
  subjectKeyId: Buffer;
  authorityKeyId?: Buffer;
}

const extension = (id: string, critical: boolean, value: Asn1) =>
  seq([oid(id), ...(critical ? [bool(true)] : []), octets(toDer(value))]);

export function extensions(spec: ExtensionSpec): Asn1[] {
  const out: Asn1[] = [];
  out.push(
    extension(
      OID.basicConstraints,
      true,
      spec.ca ? seq([bool(true), ...(spec.ca.pathLen !== undefined ? [integer(spec.ca.pathLen)] : [])]) : seq([]),
    ),
  );
  out.push(extension(OID.keyUsage, true, keyUsageBits(spec.keyUsage)));
  if (spec.extKeyUsage?.length) out.push(extension(OID.extKeyUsage, false, seq(spec.extKeyUsage.map(oid))));
  out.push(extension(OID.subjectKeyIdentifier, false, octets(spec.subjectKeyId)));
  if (spec.authorityKeyId) {
    out.push(extension(OID.authorityKeyIdentifier, false, seq([implicitPrimitive(0, spec.authorityKeyId.toString('binary'))])));
  }
  const san = spec.subjectAltName;
  if (san && (san.dns?.length || san.ip?.length || san.uri?.length || san.email?.length)) {
    out.push(extension(OID.subjectAltName, false, generalNames(san)));
  }
  if (spec.crlUrl) {
    // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
    const fullName = asn1.create(CTX, 0, true, [implicitPrimitive(6, spec.crlUrl)]);
    out.push(extension(OID.cRLDistributionPoints, false, seq([seq([asn1.create(CTX, 0, true, [fullName])])])));
  }
  if (spec.caIssuersUrl) {
    out.push(extension(OID.authorityInfoAccess, false, seq([seq([oid(OID.caIssuers), implicitPrimitive(6, spec.caIssuersUrl)])])));
  }
  return out;
}

export function signatureAlgorithm(key: KeyObject): { node: Asn1; digest: string } {
  if (key.asymmetricKeyType === 'rsa') return { node: seq([oid(OID.sha256WithRSAEncryption), nul()]), digest: 'sha256' };
  if (key.asymmetricKeyType === 'ec') return { node: seq([oid(OID.ecdsaWithSHA256)]), digest: 'sha256' };
  throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
}

/** SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2 method 1). */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const spki = fromDer(spkiDer);
  const bitString = (spki.value as Asn1[])[1];
  return crypto.createHash('sha1').update(bytesOf(bitString).subarray(1)).digest();
}

/** Signs a TBS structure and wraps it as Certificate / CertificateList (same outer shape). */
export function signed(tbs: Asn1, sigAlg: Asn1, digest: string, key: KeyObject): Buffer {
  const tbsDer = toDer(tbs);
  const signature = crypto.sign(digest, tbsDer, key);
  return toDer(seq([tbs, sigAlg, bits(signature)]));
}

/** Random positive 128-bit serial number, as a minimal big-endian magnitude. */
export function randomSerial(): Buffer {
  let b = crypto.randomBytes(16);
  while (b[0] === 0) b = crypto.randomBytes(16);
  return b;
}

export { serialHex } from './der-reader';

export function pemEncode(der: Buffer, label = 'CERTIFICATE'): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export function pemDecodeAll(pem: string, label = 'CERTIFICATE'): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...pem.matchAll(re)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}
