// XML property lists (Apple "Property List Programming Guide", PropertyList-1.0.dtd): the body of
// every MDM check-in, command and command result, and the content of every .mobileconfig.
//
// Written for the check-in hot path: one linear scan over the decoded string with indexOf/charCodeAt,
// no DOM, no regular expressions per element. Strict where it matters for a network-facing parser:
// size, depth and node limits; no entity expansion (only the five predefined XML entities and
// character references are understood; a DOCTYPE is skipped, and one with an internal subset,
// where entities would be declared, is refused); malformed input raises PlistError with a reason.

import { isUtf8 } from 'node:buffer';

export type PlistValue = string | number | bigint | boolean | Date | Uint8Array | PlistValue[] | PlistDict;
export interface PlistDict {
  [key: string]: PlistValue;
}

/** Forces `<real>` for a number whose value happens to be integral (plain numbers serialize as
 * `<integer>` when they are safe integers, `<real>` otherwise). */
export class PlistReal {
  constructor(readonly value: number) {}
}

/** What buildPlist accepts: plist values, plus PlistReal, and `undefined` dict members (skipped). */
export type PlistInput =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Uint8Array
  | PlistReal
  | readonly PlistInput[]
  | PlistInputDict;
export interface PlistInputDict {
  readonly [key: string]: PlistInput | undefined;
}

export type PlistErrorReason =
  | 'too-large'
  | 'too-deep'
  | 'too-many-nodes'
  | 'encoding'
  | 'binary-plist'
  | 'malformed'
  | 'doctype'
  | 'entity'
  | 'bad-integer'
  | 'bad-real'
  | 'bad-date'
  | 'bad-data'
  | 'duplicate-key'
  | 'unserializable';

export class PlistError extends Error {
  override readonly name = 'PlistError';
  constructor(
    readonly reason: PlistErrorReason,
    message: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at offset ${offset})`);
  }
}

export interface PlistLimits {
  /** Largest accepted document in bytes (default 4 MiB: an InstalledApplicationList result of a
   * device with a few hundred apps is a few hundred KiB). */
  maxBytes?: number;
  /** Deepest dict/array nesting (default 64; Apple's command results nest fewer than 10 levels). */
  maxDepth?: number;
  /** Most values in one document (default 500,000). */
  maxNodes?: number;
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_DEPTH = 64;
const DEFAULT_MAX_NODES = 500_000;

// Characters XML 1.0 (section 2.2, Char production) does not allow anywhere in a document.
const INVALID_XML_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));/g;
const INTEGER = /^[+-]?[0-9]+$/;
const HEX_INTEGER = /^[+-]?0[xX][0-9A-Fa-f]+$/;
const REAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
// CFPropertyList writes and reads dates as ISO 8601 in UTC with a "Z" (PropertyList-1.0.dtd).
const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?Z$/;
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

function decodeEntities(text: string, offset: number): string {
  if (text.replace(ENTITY, '').indexOf('&') !== -1) {
    throw new PlistError('entity', 'unknown entity or bare "&" (only &amp; &lt; &gt; &quot; &apos; and character references are allowed)', offset);
  }
  return text.replace(ENTITY, (_m, named: string | undefined, dec: string | undefined, hex: string | undefined) => {
    if (named !== undefined) {
      switch (named) {
        case 'amp':
          return '&';
        case 'lt':
          return '<';
        case 'gt':
          return '>';
        case 'quot':
          return '"';
        default:
          return "'";
      }
    }
    const cp = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex as string, 16);
    // XML 1.0 section 4.1: a character reference must match the Char production.
    if (
      cp > 0x10ffff ||
      (cp < 0x20 && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d) ||
      (cp >= 0xd800 && cp <= 0xdfff) ||
      cp === 0xfffe ||
      cp === 0xffff
    ) {
      throw new PlistError('entity', `character reference &#${dec ?? 'x' + hex}; is not an XML character`, offset);
    }
    return String.fromCodePoint(cp);
  });
}

class Parser {
  pos = 0;
  depth = 0;
  nodes = 0;
  constructor(
    readonly s: string,
    readonly maxDepth: number,
    readonly maxNodes: number,
  ) {}

  fail(reason: PlistErrorReason, message: string, at = this.pos): never {
    throw new PlistError(reason, message, at);
  }

  /** Skips whitespace and comments between elements. */
  skipMisc(): void {
    const s = this.s;
    for (;;) {
      let c = s.charCodeAt(this.pos);
      while (isSpace(c)) c = s.charCodeAt(++this.pos);
      if (c === 0x3c && s.charCodeAt(this.pos + 1) === 0x21 && s.startsWith('<!--', this.pos)) {
        const end = s.indexOf('-->', this.pos + 4);
        if (end === -1) this.fail('malformed', 'unterminated comment');
        this.pos = end + 3;
        continue;
      }
      return;
    }
  }

  /** Reads `<name ...>` at pos; returns the tag text between the angle brackets. */
  readTag(): string {
    const s = this.s;
    if (s.charCodeAt(this.pos) !== 0x3c) {
      if (this.pos >= s.length) this.fail('malformed', 'unexpected end of document');
      this.fail('malformed', 'expected an element');
    }
    const gt = s.indexOf('>', this.pos + 1);
    if (gt === -1) this.fail('malformed', 'unterminated tag');
    const tag = s.slice(this.pos + 1, gt);
    this.pos = gt + 1;
    return tag;
  }

  /** Character data up to the closing tag `</name>`; handles entities, CDATA and comments. */
  readText(name: string): string {
    const s = this.s;
    const start = this.pos;
    const lt = s.indexOf('<', start);
    if (lt === -1) this.fail('malformed', `unterminated <${name}>`, start);
    // Fast path: plain text followed directly by the closing tag.
    if (s.charCodeAt(lt + 1) === 0x2f && s.startsWith(name, lt + 2) && s.charCodeAt(lt + 2 + name.length) === 0x3e) {
      this.pos = lt + 3 + name.length;
      const raw = s.slice(start, lt);
      return raw.indexOf('&') === -1 ? raw : decodeEntities(raw, start);
    }
    return this.readMixedText(name, start);
  }

  readMixedText(name: string, start: number): string {
    const s = this.s;
    let out = '';
    let p = start;
    for (;;) {
      const lt = s.indexOf('<', p);
      if (lt === -1) this.fail('malformed', `unterminated <${name}>`, start);
      const raw = s.slice(p, lt);
      out += raw.indexOf('&') === -1 ? raw : decodeEntities(raw, p);
      if (s.startsWith('<![CDATA[', lt)) {
        const end = s.indexOf(']]>', lt + 9);
        if (end === -1) this.fail('malformed', 'unterminated CDATA section', lt);
        out += s.slice(lt + 9, end);
        p = end + 3;
      } else if (s.startsWith('<!--', lt)) {
        const end = s.indexOf('-->', lt + 4);
        if (end === -1) this.fail('malformed', 'unterminated comment', lt);
        p = end + 3;
      } else if (s.charCodeAt(lt + 1) === 0x2f) {
        const gt = s.indexOf('>', lt);
        if (gt === -1 || s.slice(lt + 2, gt).trimEnd() !== name) {
          this.fail('malformed', `expected </${name}>`, lt);
        }
        this.pos = gt + 1;
        return out;
      } else {
        this.fail('malformed', `unexpected element inside <${name}>`, lt);
      }
    }
  }

  value(): PlistValue {
    this.skipMisc();
    const at = this.pos;
    const raw = this.readTag();
    if (++this.nodes > this.maxNodes) this.fail('too-many-nodes', `more than ${this.maxNodes} values`, at);
    let tag = raw;
    let empty = false;
    if (raw.charCodeAt(raw.length - 1) === 0x2f) {
      empty = true;
      tag = raw.slice(0, -1);
    }
    if (isSpace(tag.charCodeAt(tag.length - 1))) tag = tag.trimEnd();
    switch (tag) {
      case 'dict':
        return empty ? {} : this.dict(at);
      case 'array':
        return empty ? [] : this.array(at);
      case 'string':
        return empty ? '' : this.readText('string');
      case 'true':
      case 'false':
        if (!empty) this.close(tag);
        return tag === 'true';
      case 'integer':
        if (empty) this.fail('bad-integer', 'empty <integer/>', at);
        return this.integer(this.readText('integer'), at);
      case 'real':
        if (empty) this.fail('bad-real', 'empty <real/>', at);
        return this.real(this.readText('real'), at);
      case 'date':
        if (empty) this.fail('bad-date', 'empty <date/>', at);
        return this.date(this.readText('date'), at);
      case 'data':
        return empty ? Buffer.alloc(0) : this.data(this.readText('data'), at);
      default:
        if (tag.charCodeAt(0) === 0x2f) this.fail('malformed', `unexpected closing tag <${tag}>`, at);
        return this.fail('malformed', `unknown element <${tag.split(/\s/)[0]}>`, at);
    }
  }

  close(name: string): void {
    this.skipMisc();
    const at = this.pos;
    const tag = this.readTag();
    if (tag !== '/' + name && tag.trimEnd() !== '/' + name) this.fail('malformed', `expected </${name}>`, at);
  }

  dict(openedAt: number): PlistDict {
    if (++this.depth > this.maxDepth) this.fail('too-deep', `nesting deeper than ${this.maxDepth}`, openedAt);
    const s = this.s;
    const out: PlistDict = {};
    for (;;) {
      this.skipMisc();
      const at = this.pos;
      if (s.startsWith('</dict>', at)) {
        this.pos = at + 7;
        this.depth--;
        return out;
      }
      let key: string;
      if (s.startsWith('<key>', at)) {
        this.pos = at + 5;
        key = this.readText('key');
      } else {
        const tag = this.readTag();
        if (tag === 'key/' || tag === 'key /') key = '';
        else if (tag.trimEnd() === 'key') key = this.readText('key');
        else if (tag.trimEnd() === '/dict') {
          this.depth--;
          return out;
        } else if (at >= s.length) this.fail('malformed', 'unterminated <dict>', openedAt);
        else this.fail('malformed', `expected <key> or </dict>, found <${tag}>`, at);
      }
      const v = this.value();
      if (out[key] !== undefined && Object.hasOwn(out, key)) this.fail('duplicate-key', `duplicate key ${JSON.stringify(key)}`, at);
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
    }
  }

  array(openedAt: number): PlistValue[] {
    if (++this.depth > this.maxDepth) this.fail('too-deep', `nesting deeper than ${this.maxDepth}`, openedAt);
    const s = this.s;
    const out: PlistValue[] = [];
    for (;;) {
      this.skipMisc();
      if (s.startsWith('</array>', this.pos)) {
        this.pos += 8;
        this.depth--;
        return out;
      }
      if (this.pos >= s.length) this.fail('malformed', 'unterminated <array>', openedAt);
      out.push(this.value());
    }
  }

  integer(text: string, at: number): number | bigint {
    const t = text.trim();
    if (t.length <= 15 && INTEGER.test(t)) return Number(t);
    let big: bigint;
    if (INTEGER.test(t)) big = BigInt(t);
    else if (HEX_INTEGER.test(t)) big = t.charCodeAt(0) === 0x2d ? -BigInt(t.slice(1)) : BigInt(t.replace('+', ''));
    else return this.fail('bad-integer', `<integer> holds ${JSON.stringify(t.slice(0, 40))}`, at);
    // CFPropertyList integers are signed 64-bit; libplist also writes unsigned 64-bit values.
    if (big < INT64_MIN || big > UINT64_MAX) this.fail('bad-integer', '<integer> outside the 64-bit range', at);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }

  real(text: string, at: number): number {
    const t = text.trim();
    if (REAL.test(t)) return Number(t);
    switch (t.toLowerCase()) {
      case 'nan':
        return Number.NaN;
      case 'inf':
      case '+inf':
      case 'infinity':
      case '+infinity':
        return Number.POSITIVE_INFINITY;
      case '-inf':
      case '-infinity':
        return Number.NEGATIVE_INFINITY;
      default:
        return this.fail('bad-real', `<real> holds ${JSON.stringify(t.slice(0, 40))}`, at);
    }
  }

  date(text: string, at: number): Date {
    const t = text.trim();
    const m = DATE.exec(t);
    if (m) {
      const d = new Date(t);
      // Rejects calendar overflow such as 2024-02-30, which Date would roll into March.
      if (!Number.isNaN(d.getTime()) && d.getUTCDate() === Number(m[3]) && d.getUTCHours() === Number(m[4])) return d;
    }
    return this.fail('bad-date', `<date> holds ${JSON.stringify(t.slice(0, 40))} (expected YYYY-MM-DDTHH:MM:SSZ)`, at);
  }

  data(text: string, at: number): Buffer {
    if (!BASE64.test(text)) this.fail('bad-data', '<data> is not base64', at);
    const compact = text.replace(/\s+/g, '');
    if (compact.length % 4 === 1) this.fail('bad-data', '<data> has a truncated base64 quantum', at);
    return Buffer.from(compact, 'base64');
  }

  /** Prolog (XML declaration, comments, DOCTYPE), `<plist>`, one value, `</plist>`. */
  document(): PlistValue {
    const s = this.s;
    if (s.charCodeAt(0) === 0xfeff) this.pos = 1;
    if (s.startsWith('<?xml', this.pos)) {
      const end = s.indexOf('?>', this.pos);
      if (end === -1) this.fail('malformed', 'unterminated XML declaration');
      const decl = s.slice(this.pos, end);
      const enc = /encoding\s*=\s*["']([^"']*)["']/.exec(decl);
      if (enc && !/^utf-?8$/i.test(enc[1])) this.fail('encoding', `encoding ${JSON.stringify(enc[1])} is not supported (UTF-8 only)`);
      this.pos = end + 2;
    }
    this.skipMisc();
    if (s.startsWith('<!DOCTYPE', this.pos)) {
      this.skipDoctype();
      this.skipMisc();
    }
    const at = this.pos;
    const root = this.readTag();
    if (!/^plist(?:\s[^>]*)?$/.test(root)) this.fail('malformed', 'document element is not <plist>', at);
    const v = this.value();
    this.close('plist');
    this.skipMisc();
    if (this.pos !== s.length) this.fail('malformed', 'content after </plist>');
    return v;
  }

  /** XML 1.0 section 2.8: `<!DOCTYPE name ExternalID? [internal subset]? >`. The external DTD is
   * never fetched; an internal subset (where entities are declared) is refused outright. */
  skipDoctype(): void {
    const s = this.s;
    const start = this.pos;
    let p = start + 9;
    for (; p < s.length; p++) {
      const c = s.charCodeAt(p);
      if (c === 0x22 || c === 0x27) {
        const q = s.indexOf(c === 0x22 ? '"' : "'", p + 1);
        if (q === -1) break;
        p = q;
      } else if (c === 0x5b) {
        this.fail('doctype', 'DOCTYPE with an internal subset is not accepted (no entity declarations)', p);
      } else if (c === 0x3e) {
        this.pos = p + 1;
        return;
      }
    }
    this.fail('malformed', 'unterminated DOCTYPE', start);
  }
}

/**
 * Parses an XML property list. Dicts become plain objects (insertion order kept), integers become
 * numbers (bigint beyond 2^53), reals numbers, dates Date, data Buffer.
 */
export function parsePlist(input: Uint8Array | string, limits: PlistLimits = {}): PlistValue {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  let text: string;
  if (typeof input === 'string') {
    if (input.length > maxBytes) throw new PlistError('too-large', `plist larger than ${maxBytes} bytes`);
    text = input;
  } else {
    if (input.byteLength > maxBytes) throw new PlistError('too-large', `plist larger than ${maxBytes} bytes`);
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (buf.length >= 8 && buf.toString('latin1', 0, 8) === 'bplist00') {
      throw new PlistError('binary-plist', 'binary property lists are not accepted here (XML only)');
    }
    if (buf.length >= 2 && ((buf[0] === 0xfe && buf[1] === 0xff) || (buf[0] === 0xff && buf[1] === 0xfe))) {
      throw new PlistError('encoding', 'UTF-16 property lists are not supported (UTF-8 only)');
    }
    if (!isUtf8(buf)) throw new PlistError('encoding', 'plist is not valid UTF-8');
    text = buf.toString('utf8');
  }
  const bad = INVALID_XML_CHAR.exec(text);
  if (bad) throw new PlistError('malformed', `character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')} is not allowed in XML`, bad.index);
  const p = new Parser(text, limits.maxDepth ?? DEFAULT_MAX_DEPTH, limits.maxNodes ?? DEFAULT_MAX_NODES);
  return p.document();
}

/** parsePlist for documents whose top level must be a dict (check-ins, command results, profiles). */
export function parsePlistDict(input: Uint8Array | string, limits?: PlistLimits): PlistDict {
  const v = parsePlist(input, limits);
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date || v instanceof Uint8Array) {
    throw new PlistError('malformed', 'top-level value is not a <dict>');
  }
  return v;
}

// ---- serializer ----

const HEADER =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  '<plist version="1.0">\n';
const NEEDS_ESCAPE = /[&<>]/;
const INDENTS = Array.from({ length: DEFAULT_MAX_DEPTH + 2 }, (_v, i) => '\t'.repeat(i));

function escapeText(s: string): string {
  if (INVALID_XML_CHAR.test(s)) throw new PlistError('unserializable', 'string holds a character XML cannot carry');
  if (!(s as unknown as { isWellFormed(): boolean }).isWellFormed()) throw new PlistError('unserializable', 'string holds a lone UTF-16 surrogate');
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function formatReal(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Number.POSITIVE_INFINITY) return '+infinity';
  if (n === Number.NEGATIVE_INFINITY) return '-infinity';
  // Keeps a trailing ".0" so a reader that types by lexeme (libplist) still sees a real.
  const t = String(n);
  return /[.eE]/.test(t) ? t : `${t}.0`;
}

function formatDate(d: Date): string {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new PlistError('unserializable', 'invalid Date');
  const iso = d.toISOString();
  if (iso.length !== 24) throw new PlistError('unserializable', 'date outside years 0000-9999');
  return `${iso.slice(0, 19)}Z`;
}

function emit(v: PlistInput, depth: number): string {
  if (depth > DEFAULT_MAX_DEPTH) throw new PlistError('unserializable', `nesting deeper than ${DEFAULT_MAX_DEPTH}`);
  const ind = INDENTS[depth];
  switch (typeof v) {
    case 'string':
      return `${ind}<string>${escapeText(v)}</string>\n`;
    case 'boolean':
      return v ? `${ind}<true/>\n` : `${ind}<false/>\n`;
    case 'number':
      return Number.isSafeInteger(v) ? `${ind}<integer>${v}</integer>\n` : `${ind}<real>${formatReal(v)}</real>\n`;
    case 'bigint':
      if (v < INT64_MIN || v > UINT64_MAX) throw new PlistError('unserializable', 'integer outside the 64-bit range');
      return `${ind}<integer>${v}</integer>\n`;
    case 'object': {
      if (v === null) throw new PlistError('unserializable', 'null has no plist form');
      if (v instanceof Uint8Array) return `${ind}<data>${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}</data>\n`;
      if (v instanceof Date) return `${ind}<date>${formatDate(v)}</date>\n`;
      if (v instanceof PlistReal) return `${ind}<real>${formatReal(v.value)}</real>\n`;
      if (Array.isArray(v)) {
        if (v.length === 0) return `${ind}<array/>\n`;
        let out = `${ind}<array>\n`;
        for (const item of v as readonly PlistInput[]) out += emit(item, depth + 1);
        return `${out}${ind}</array>\n`;
      }
      const obj = v as { readonly [key: string]: PlistInput | undefined };
      let out = '';
      const kind = INDENTS[depth + 1];
      for (const key of Object.keys(obj)) {
        const item = obj[key];
        if (item === undefined) continue;
        out += `${kind}<key>${escapeText(key)}</key>\n${emit(item, depth + 1)}`;
      }
      return out === '' ? `${ind}<dict/>\n` : `${ind}<dict>\n${out}${ind}</dict>\n`;
    }
    default:
      throw new PlistError('unserializable', `${typeof v} has no plist form`);
  }
}

/** Serializes to an XML property list as CFPropertyList writes it (tab-indented, Apple DOCTYPE). */
export function buildPlist(value: PlistInput): string {
  return `${HEADER}${emit(value, 0)}</plist>\n`;
}

/** buildPlist as UTF-8 bytes, ready for an HTTP body or CMS signing. */
export function buildPlistBuffer(value: PlistInput): Buffer {
  return Buffer.from(buildPlist(value), 'utf8');
}
