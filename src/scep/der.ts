// DER/BER reading on node-forge's asn1 (the fastest parser measured here, see issue 13) with typed
// errors, and a small Buffer-based DER writer for the messages Ward builds.
import forge from 'node-forge';
import { ScepError, type FailInfoName } from './errors';

const asn1 = forge.asn1;
export type Asn1 = forge.asn1.Asn1;
export const Class = asn1.Class;
export const Type = asn1.Type;

// forge's fromDer accepts an options object at runtime; its typings only know the boolean form.
type FromDerOptions = { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean; maxDepth: number };
const fromDer = asn1.fromDer as unknown as (bytes: forge.util.ByteStringBuffer, options: FromDerOptions) => Asn1;

// SCEP structures nest about a dozen levels; anything far deeper is hostile.
const parseOptions: FromDerOptions = { strict: true, parseAllBytes: true, decodeBitStrings: false, maxDepth: 64 };

function malformed(what: string, failInfo: FailInfoName = 'badRequest'): ScepError {
  return new ScepError(failInfo, `malformed ${what}`);
}

// Parses one complete BER/DER value (indefinite lengths accepted: CMS producers stream them).
export function decode(bytes: Buffer | string, what: string): Asn1 {
  const binary = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  if (binary.length < 2) throw malformed(what);
  try {
    return fromDer(forge.util.createBuffer(binary), parseOptions);
  } catch {
    throw malformed(what);
  }
}

export function encode(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'latin1');
}

export function isUniversal(node: Asn1 | undefined, type: number): boolean {
  return node !== undefined && node.tagClass === Class.UNIVERSAL && node.type === type;
}

export function isContext(node: Asn1 | undefined, tag: number): boolean {
  return node !== undefined && node.tagClass === Class.CONTEXT_SPECIFIC && node.type === tag;
}

// Children of a constructed value of the expected universal type (SEQUENCE or SET).
export function items(node: Asn1 | undefined, type: number, what: string, min = 0): Asn1[] {
  if (!node || node.tagClass !== Class.UNIVERSAL || node.type !== type || !Array.isArray(node.value)) {
    throw malformed(what);
  }
  if (node.value.length < min) throw malformed(what);
  return node.value;
}

export const sequence = (node: Asn1 | undefined, what: string, min = 0): Asn1[] => items(node, Type.SEQUENCE, what, min);
export const set = (node: Asn1 | undefined, what: string, min = 0): Asn1[] => items(node, Type.SET, what, min);

// Children of an explicitly or implicitly tagged constructed [tag].
export function contextItems(node: Asn1 | undefined, tag: number, what: string): Asn1[] {
  if (!isContext(node, tag) || !Array.isArray(node!.value)) throw malformed(what);
  return node!.value as Asn1[];
}

// Content octets of a string-like value. A constructed encoding (BER, RFC 5652 section 5.2 allows it
// for eContent) is the concatenation of its primitive segments.
export function octets(node: Asn1 | undefined, what: string): Buffer {
  if (!node) throw malformed(what);
  if (typeof node.value === 'string') return Buffer.from(node.value, 'latin1');
  const parts: Buffer[] = [];
  for (const child of node.value) parts.push(octets(child, what));
  return Buffer.concat(parts);
}

export function octetString(node: Asn1 | undefined, what: string): Buffer {
  if (!node || node.tagClass !== Class.UNIVERSAL || node.type !== Type.OCTETSTRING) throw malformed(what);
  return octets(node, what);
}

export function oid(node: Asn1 | undefined, what: string): string {
  if (!isUniversal(node, Type.OID) || typeof node!.value !== 'string' || node!.value.length === 0) throw malformed(what);
  try {
    return asn1.derToOid(node!.value as string);
  } catch {
    throw malformed(what);
  }
}

// INTEGER content octets (two's complement, as encoded): serial numbers are compared as bytes.
export function integerBytes(node: Asn1 | undefined, what: string): Buffer {
  if (!isUniversal(node, Type.INTEGER) || typeof node!.value !== 'string' || node!.value.length === 0) throw malformed(what);
  return Buffer.from(node!.value as string, 'latin1');
}

export function smallInteger(node: Asn1 | undefined, what: string): number {
  const bytes = integerBytes(node, what);
  if (bytes.length > 4) throw malformed(what);
  return bytes.readIntBE(0, bytes.length);
}

const T61_STRING = 20;
const VISIBLE_STRING = 26;
const UNIVERSAL_STRING = 28;
const stringTypes = new Set<number>([Type.UTF8, Type.PRINTABLESTRING, Type.IA5STRING, T61_STRING, VISIBLE_STRING, UNIVERSAL_STRING, Type.BMPSTRING]);

// Text of a DirectoryString / PrintableString value.
export function text(node: Asn1 | undefined, what: string): string {
  if (!node || node.tagClass !== Class.UNIVERSAL || !stringTypes.has(node.type)) throw malformed(what);
  if (node.type === Type.BMPSTRING) {
    if (typeof node.value !== 'string') throw malformed(what);
    return node.value; // forge already decoded UTF-16BE
  }
  const raw = octets(node, what);
  if (node.type === Type.UTF8) return raw.toString('utf8');
  if ((node.type as number) === UNIVERSAL_STRING) {
    if (raw.length % 4 !== 0) throw malformed(what);
    let out = '';
    for (let i = 0; i < raw.length; i += 4) {
      // UCS-4 (X.690 section 8.23.7): a value beyond U+10FFFF is no character at all.
      const cp = raw.readUInt32BE(i);
      if (cp > 0x10ffff) throw malformed(what);
      out += String.fromCodePoint(cp);
    }
    return out;
  }
  return raw.toString('latin1');
}

export function time(node: Asn1 | undefined, what: string): Date {
  if (!node || node.tagClass !== Class.UNIVERSAL || typeof node.value !== 'string') throw malformed(what);
  let date: Date;
  try {
    if (node.type === Type.UTCTIME) date = asn1.utcTimeToDate(node.value);
    else if (node.type === Type.GENERALIZEDTIME) date = asn1.generalizedTimeToDate(node.value);
    else throw malformed(what);
  } catch {
    throw malformed(what);
  }
  if (Number.isNaN(date.getTime())) throw malformed(what);
  return date;
}

// BIT STRING content without its leading unused-bits octet.
export function bitString(node: Asn1 | undefined, what: string): Buffer {
  if (!isUniversal(node, Type.BITSTRING) || typeof node!.value !== 'string') throw malformed(what);
  const raw = Buffer.from(node!.value as string, 'latin1');
  if (raw.length < 1 || raw[0] !== 0) throw malformed(what);
  return raw.subarray(1);
}

// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280 section 4.1.1.2)
export function algorithm(node: Asn1 | undefined, what: string): { oid: string; parameters: Asn1 | undefined } {
  const [id, parameters] = sequence(node, what, 1);
  return { oid: oid(id, what), parameters };
}

// Byte range of the value at `offset` in `buf` (definite lengths only, which DER guarantees): lets a
// signature be checked over the exact bytes that were signed instead of a re-encoding.
export function span(buf: Buffer, offset: number, what: string): { start: number; contentStart: number; end: number } {
  if (offset + 2 > buf.length) throw malformed(what);
  if ((buf[offset]! & 0x1f) === 0x1f) throw malformed(what);
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count === 0 || count > 4 || pos + count > buf.length) throw malformed(what);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++]!;
  }
  const end = pos + length;
  if (end > buf.length) throw malformed(what);
  return { start: offset, contentStart: pos, end };
}

// ---- writer: Ward's own messages are always definite-length DER ----

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const der = {
  sequence: (...content: Buffer[]): Buffer => tlv(0x30, ...content),
  set: (...content: Buffer[]): Buffer => tlv(0x31, ...content),
  // DER orders SET OF members by their encodings (X.690 section 11.6); signed attributes must be DER.
  setOf: (members: Buffer[]): Buffer => tlv(0x31, ...[...members].sort(Buffer.compare)),
  octetString: (value: Buffer): Buffer => tlv(0x04, value),
  printableString: (value: string): Buffer => tlv(0x13, Buffer.from(value, 'latin1')),
  utf8String: (value: string): Buffer => tlv(0x0c, Buffer.from(value, 'utf8')),
  null: (): Buffer => Buffer.from([0x05, 0x00]),
  smallInteger: (value: number): Buffer => {
    if (!Number.isInteger(value) || value < 0 || value > 127) throw new RangeError('smallInteger: 0..127 only');
    return Buffer.from([0x02, 0x01, value]);
  },
  integer: (contentOctets: Buffer): Buffer => tlv(0x02, contentOctets),
  oid: (dotted: string): Buffer => {
    let cached = oidCache.get(dotted);
    if (!cached) {
      cached = tlv(0x06, Buffer.from(asn1.oidToDer(dotted).getBytes(), 'latin1'));
      oidCache.set(dotted, cached);
    }
    return cached;
  },
  // [n] EXPLICIT or constructed IMPLICIT
  context: (tag: number, ...content: Buffer[]): Buffer => tlv(0xa0 | tag, ...content),
  // [n] IMPLICIT primitive
  contextPrimitive: (tag: number, value: Buffer): Buffer => tlv(0x80 | tag, value),
  algorithm: (dotted: string, parameters?: Buffer): Buffer =>
    parameters ? tlv(0x30, der.oid(dotted), parameters) : tlv(0x30, der.oid(dotted)),
};

const oidCache = new Map<string, Buffer>();
