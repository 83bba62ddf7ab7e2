// A zero-copy DER reader for the few fields the hot paths need from a certificate or an SPKI: the
// forge ASN.1 tree and X509Certificate each cost tens of microseconds for what a handful of length
// reads answers (the device certificate on every Apple Authenticate, every Android renewal).

/** One TLV at `at`: its tag, where its contents start and where it ends; undefined when malformed. */
export interface Tlv {
  tag: number;
  start: number;
  contents: number;
  end: number;
}

export function readTlv(der: Uint8Array, at: number, limit = der.length): Tlv | undefined {
  const tag = der[at];
  const first = der[at + 1];
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) return undefined;
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || at + 2 + n > limit) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[at + 2 + i]!;
    header += n;
  }
  const end = at + header + length;
  if (end > limit) return undefined;
  return { tag, start: at, contents: at + header, end };
}

/** The TLVs directly inside a constructed `outer`, in order (undefined when one is malformed). */
export function children(der: Uint8Array, outer: Tlv): Tlv[] | undefined {
  const out: Tlv[] = [];
  for (let at = outer.contents; at < outer.end; ) {
    const t = readTlv(der, at, outer.end);
    if (!t) return undefined;
    out.push(t);
    at = t.end;
  }
  return out;
}

/** Dotted text of an OBJECT IDENTIFIER's contents (X.690 8.19); undefined when malformed. */
export function oidText(contents: Uint8Array): string | undefined {
  if (contents.length === 0 || contents[contents.length - 1]! & 0x80) return undefined;
  const arcs: number[] = [];
  let v = 0;
  for (const byte of contents) {
    if (v === 0 && byte === 0x80) return undefined; // non-minimal encoding
    v = v * 128 + (byte & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) return undefined;
    if (!(byte & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join('.');
}

/** A certificate serial (INTEGER contents) as lowercase hex without leading zeros, the form pki keeps. */
export function serialHex(contents: Uint8Array): string {
  const hex = Buffer.from(contents.buffer, contents.byteOffset, contents.byteLength).toString('hex').replace(/^0+/, '');
  return hex === '' ? '0' : hex;
}

// RFC 5280 4.1.2.5: UTCTime YYMMDDHHMMSSZ (years 1950-2049) or GeneralizedTime YYYYMMDDHHMMSSZ.
function timeOf(der: Uint8Array, t: Tlv): number | undefined {
  const text = Buffer.from(der.buffer, der.byteOffset + t.contents, t.end - t.contents).toString('latin1');
  const m = t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : t.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (!m) return undefined;
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

export interface CertificateFields {
  /** The signed bytes (tbsCertificate, with its header). */
  tbs: Buffer;
  /** signatureAlgorithm AlgorithmIdentifier, DER. */
  signatureAlgorithm: Buffer;
  /** signatureValue BIT STRING contents after the unused-bits byte. */
  signature: Buffer;
  /** Serial as lowercase hex without leading zeros. */
  serial: string;
  notBefore: number;
  notAfter: number;
}

/** The fields of an X.509 certificate (RFC 5280 4.1) a signature and validity check needs. */
export function certificateFields(der: Buffer): CertificateFields | undefined {
  const cert = readTlv(der, 0);
  if (!cert || cert.tag !== 0x30 || cert.end !== der.length) return undefined;
  const parts = children(der, cert);
  if (!parts || parts.length !== 3 || parts[0]!.tag !== 0x30 || parts[1]!.tag !== 0x30 || parts[2]!.tag !== 0x03) return undefined;
  const [tbsTlv, algTlv, sigTlv] = parts as [Tlv, Tlv, Tlv];
  const tbs = children(der, tbsTlv);
  if (!tbs) return undefined;
  const v = tbs[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version, absent for v1
  const serial = tbs[v];
  const validity = tbs[v + 3];
  if (!serial || serial.tag !== 0x02 || serial.end === serial.contents || !validity || validity.tag !== 0x30) return undefined;
  const times = children(der, validity);
  const notBefore = times?.length === 2 ? timeOf(der, times[0]!) : undefined;
  const notAfter = times?.length === 2 ? timeOf(der, times[1]!) : undefined;
  if (notBefore === undefined || notAfter === undefined || der[sigTlv.contents] !== 0) return undefined;
  return {
    tbs: der.subarray(tbsTlv.start, tbsTlv.end),
    signatureAlgorithm: der.subarray(algTlv.start, algTlv.end),
    signature: der.subarray(sigTlv.contents + 1, sigTlv.end),
    serial: serialHex(der.subarray(serial.contents, serial.end)),
    notBefore,
    notAfter,
  };
}
