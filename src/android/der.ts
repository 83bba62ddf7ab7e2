// A DER reader that keeps byte offsets (ITU-T X.690 section 8.1). The v1 JAR signature check needs the
// exact bytes of a certificate (its SHA-256 is what the QR pins) and of the signed attributes, which
// decode-and-re-encode parsers cannot promise; this reader only slices, it never re-encodes.
import { ApkFormatError } from './zip';

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

export const Tag = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
  CONTEXT_0: 0xa0,
  CONTEXT_1: 0xa1,
} as const;

function fail(message: string): never {
  throw new ApkFormatError('bad-signature', `v1 signature block: ${message}`);
}

export function readTlv(buf: Buffer, p: number, limit: number = buf.length): Tlv {
  if (p + 2 > limit) fail('truncated DER');
  const tag = buf[p];
  if ((tag & 0x1f) === 0x1f) fail('high-tag-number DER tags are not used in PKCS#7');
  let len = buf[p + 1];
  let q = p + 2;
  if (len === 0x80) fail('indefinite-length (BER) encoding; re-sign the APK with apksigner');
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n > 4 || q + n > limit) fail('DER length is out of range');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[q + i];
    q += n;
  }
  if (q + len > limit) fail('DER value runs past its container');
  return { tag, start: p, contentStart: q, end: q + len };
}

export function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end; ) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

export function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) fail(`expected ${what}`);
  return t;
}

export function bytes(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}

export function content(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.contentStart, t.end);
}

/** Dotted-decimal form of an OBJECT IDENTIFIER's content (X.690 section 8.19). */
export function oid(buf: Buffer, t: Tlv): string {
  const c = content(buf, t);
  if (c.length === 0) fail('empty OBJECT IDENTIFIER');
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    v = v * 128 + (c[i] & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER) fail('OBJECT IDENTIFIER arc is too large');
    if ((c[i] & 0x80) === 0) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}
