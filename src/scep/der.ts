// BER/DER reading over the request's own Buffer with typed errors, and a small Buffer-based DER
// writer for the messages Ward builds. The reader keeps every value as a view of the input (no copy,
// no binary string): forge's parser, measured the fastest of the libraries (issue 13), still turned
// a 2.5 KB scepclient request into about 150 KB of strings and objects per enrollment.
import forge from 'node-forge';
import { oidText, readTlv } from '../pki';
import { ScepError, type FailInfoName } from './errors';

const asn1 = forge.asn1;
export const Class = asn1.Class;
export const Type = asn1.Type;

/** One parsed value: a primitive's contents, or a constructed value's children. */
export interface Asn1 {
  readonly tagClass: number;
  readonly type: number;
  readonly constructed: boolean;
  readonly value: Buffer | Asn1[];
  /** The value's whole encoding in the input, when its length was definite (always, in DER). */
  readonly raw: Buffer | undefined;
}

// Offsets into the input; a Buffer view is made only for the values a caller reads (a view is an
// object of its own, and a request has a few hundred values).
class Value implements Asn1 {
  constructor(
    private readonly input: Buffer,
    readonly tagClass: number,
    readonly type: number,
    readonly constructed: boolean,
    private readonly start: number,
    private readonly contents: number,
    private readonly contentsEnd: number,
    private readonly children: Asn1[] | undefined,
    private readonly definite: boolean,
    /** Where the next value starts (after the end-of-contents octets of an indefinite one). */
    readonly next: number,
  ) {}

  // A new view on each read: readers below take it once.
  get value(): Buffer | Asn1[] {
    return this.children ?? this.input.subarray(this.contents, this.contentsEnd);
  }

  get raw(): Buffer | undefined {
    return this.definite ? this.input.subarray(this.start, this.contentsEnd) : undefined;
  }
}

// SCEP structures nest about a dozen levels; anything far deeper is hostile.
const MAX_DEPTH = 64;

function malformed(what: string, failInfo: FailInfoName = 'badRequest'): ScepError {
  return new ScepError(failInfo, `malformed ${what}`);
}

class Malformed extends Error {}

// X.690 section 8.1: identifier, length, contents. A definite length is read by pki's readTlv
// (which also refuses multi-octet tags: CMS has none); the indefinite form (0x80) only for a
// constructed value, as CMS producers stream them.
function readValue(buf: Buffer, at: number, limit: number, depth: number): Value {
  if (depth > MAX_DEPTH || at + 2 > limit) throw new Malformed();
  const identifier = buf[at]!;
  const constructed = (identifier & 0x20) !== 0;
  const tagClass = identifier & 0xc0;
  const type = identifier & 0x1f;
  if (buf[at + 1] === 0x80) {
    if (!constructed || type === 0x1f) throw new Malformed();
    // Indefinite length: children up to the end-of-contents octets 00 00.
    const children: Value[] = [];
    for (let pos = at + 2; ; ) {
      if (pos + 2 > limit) throw new Malformed();
      if (buf[pos] === 0 && buf[pos + 1] === 0) return new Value(buf, tagClass, type, true, at, at + 2, pos, children, false, pos + 2);
      const child = readValue(buf, pos, limit, depth + 1);
      children.push(child);
      pos = child.next;
    }
  }
  const tlv = readTlv(buf, at, limit);
  if (!tlv) throw new Malformed();
  if (!constructed) return new Value(buf, tagClass, type, false, at, tlv.contents, tlv.end, undefined, true, tlv.end);
  const children: Value[] = [];
  for (let pos = tlv.contents; pos < tlv.end; ) {
    const child = readValue(buf, pos, tlv.end, depth + 1);
    children.push(child);
    pos = child.next;
  }
  return new Value(buf, tagClass, type, true, at, tlv.contents, tlv.end, children, true, tlv.end);
}

// Parses one complete BER/DER value; bytes after it are refused.
export function decode(buf: Buffer, what: string): Asn1 {
  try {
    const node = readValue(buf, 0, buf.length, 0);
    if (node.next !== buf.length) throw new Malformed();
    return node;
  } catch (e) {
    if (e instanceof Malformed) throw malformed(what);
    throw e;
  }
}

// A value's DER: its own bytes when its length was definite, else rebuilt from its children.
export function encode(node: Asn1): Buffer {
  if (node.raw) return node.raw;
  const identifier = node.tagClass | (node.constructed ? 0x20 : 0) | node.type;
  return tlv(identifier, ...(node.value as Asn1[]).map(encode));
}

// The same value under another identifier octet: signed attributes are signed as a SET although
// they travel as [0] IMPLICIT (RFC 5652 section 5.4).
export function retagged(node: Asn1, identifier: number): Buffer {
  const der = encode(node);
  const out = Buffer.from(der);
  out[0] = identifier;
  return out;
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
  const value = node.value;
  if (Buffer.isBuffer(value)) return value;
  const parts: Buffer[] = [];
  for (const child of value) parts.push(octets(child, what));
  return Buffer.concat(parts);
}

// A BOOLEAN that is TRUE (DER: the single octet FF).
export function isTrue(node: Asn1 | undefined): boolean {
  const value = isUniversal(node, Type.BOOLEAN) ? node!.value : undefined;
  return Buffer.isBuffer(value) && value.length === 1 && value[0] === 0xff;
}

export function octetString(node: Asn1 | undefined, what: string): Buffer {
  if (!node || node.tagClass !== Class.UNIVERSAL || node.type !== Type.OCTETSTRING) throw malformed(what);
  return octets(node, what);
}

export function oid(node: Asn1 | undefined, what: string): string {
  const value = isUniversal(node, Type.OID) ? node!.value : undefined;
  if (!Buffer.isBuffer(value)) throw malformed(what);
  const dotted = oidText(value);
  if (dotted === undefined) throw malformed(what);
  return dotted;
}

// INTEGER content octets (two's complement, as encoded): serial numbers are compared as bytes.
export function integerBytes(node: Asn1 | undefined, what: string): Buffer {
  const value = isUniversal(node, Type.INTEGER) ? node!.value : undefined;
  if (!Buffer.isBuffer(value) || value.length === 0) throw malformed(what);
  return value;
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
  const raw = octets(node, what);
  if (node.type === Type.BMPSTRING) {
    if (raw.length % 2 !== 0) throw malformed(what);
    return Buffer.from(raw).swap16().toString('utf16le'); // UCS-2 / UTF-16BE
  }
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
  if (!node || node.tagClass !== Class.UNIVERSAL) throw malformed(what);
  const value = node.value;
  if (!Buffer.isBuffer(value)) throw malformed(what);
  const text = value.toString('latin1');
  let date: Date;
  try {
    if (node.type === Type.UTCTIME) date = asn1.utcTimeToDate(text);
    else if (node.type === Type.GENERALIZEDTIME) date = asn1.generalizedTimeToDate(text);
    else throw malformed(what);
  } catch {
    throw malformed(what);
  }
  if (Number.isNaN(date.getTime())) throw malformed(what);
  return date;
}

// BIT STRING content without its leading unused-bits octet.
export function bitString(node: Asn1 | undefined, what: string): Buffer {
  const raw = isUniversal(node, Type.BITSTRING) ? node!.value : undefined;
  if (!Buffer.isBuffer(raw)) throw malformed(what);
  if (raw.length < 1 || raw[0] !== 0) throw malformed(what);
  return raw.subarray(1);
}

// AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280 section 4.1.1.2)
export function algorithm(node: Asn1 | undefined, what: string): { oid: string; parameters: Asn1 | undefined } {
  const [id, parameters] = sequence(node, what, 1);
  return { oid: oid(id, what), parameters };
}

// ---- writer: Ward's own messages are always definite-length DER ----

// One allocation a value: identifier, length and contents written straight into their final Buffer.
export function tlv(tag: number, ...content: Buffer[]): Buffer {
  let length = 0;
  for (const part of content) length += part.length;
  const lengthOctets = length < 0x80 ? 0 : length < 0x100 ? 1 : length < 0x10000 ? 2 : length < 0x1000000 ? 3 : 4;
  const out = Buffer.allocUnsafe(2 + lengthOctets + length);
  out[0] = tag;
  let at = 1;
  if (lengthOctets === 0) {
    out[at++] = length;
  } else {
    out[at++] = 0x80 | lengthOctets;
    for (let shift = 8 * (lengthOctets - 1); shift >= 0; shift -= 8) out[at++] = Math.floor(length / 2 ** shift) & 0xff;
  }
  for (const part of content) at += part.copy(out, at);
  return out;
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
