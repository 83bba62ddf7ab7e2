// pki's DER reader, which keeps byte offsets (ITU-T X.690 section 8.1), with the APK's errors. The v1
// JAR signature check needs the exact bytes of a certificate (its SHA-256 is what the QR pins) and of
// the signed attributes, which decode-and-re-encode parsers cannot promise; the reader only slices.
import { type Tlv, children as childrenOf, oidText, readTlv as readOne } from '../pki';
import { ApkFormatError } from './zip';

export type { Tlv };

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
  const t = readOne(buf, p, limit);
  if (t) return t;
  if (buf[p + 1] === 0x80) fail('indefinite-length (BER) encoding; re-sign the APK with apksigner');
  return fail(p + 2 > limit ? 'truncated DER' : 'malformed DER element (tag or length out of range)');
}

export function children(buf: Buffer, parent: Tlv): Tlv[] {
  const list = childrenOf(buf, parent);
  if (list) return list;
  // Name the element that broke.
  for (let p = parent.contents; p < parent.end; p = readTlv(buf, p, parent.end).end);
  return fail('malformed DER');
}

export function expect(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) fail(`expected ${what}`);
  return t;
}

export function bytes(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}

export function content(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.contents, t.end);
}

/** Dotted-decimal form of an OBJECT IDENTIFIER's content (X.690 section 8.19). */
export function oid(buf: Buffer, t: Tlv): string {
  return oidText(content(buf, t)) ?? fail('malformed OBJECT IDENTIFIER');
}
