// RFC 8785 JSON Canonicalization Scheme: the exact bytes of an audit event that are hashed into the
// Merkle tree and written as one line of entries.jsonl.

// RFC 8785 section 3.1 requires I-JSON (RFC 7493 section 2.1): no lone surrogates in any string.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

// Printable ASCII other than the quote and the backslash needs no escape: written as is (the
// common case on the append path).
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A JSON string in RFC 8785 form (the canonical serialization of one string value). */
export function canonicalString(s: string): string {
  if (PLAIN_ASCII.test(s)) return `"${s}"`;
  if (LONE_SURROGATE.test(s)) throw new TypeError('canonicalJson: string with a lone surrogate is not I-JSON');
  // RFC 8785 section 3.2.2.2 matches ECMAScript JSON.stringify escaping.
  return JSON.stringify(s);
}

/**
 * `text` cut to at most `max` UTF-16 units without splitting a surrogate pair: what a domain uses to
 * shorten device- or user-given text that goes into an event (a plain slice can leave half an
 * astral character, which canonicalString refuses).
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      // RFC 8785 section 3.2.2.3: ECMAScript Number serialization; -0 becomes 0.
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'string':
      return canonicalString(value);
    case 'object': {
      // Like JSON.stringify, a value with toJSON (Date) is serialized as what toJSON returns.
      const withToJson = value as { toJSON?: unknown };
      if (typeof withToJson.toJSON === 'function') return canonicalJson((withToJson.toJSON as () => unknown)());
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
      const obj = value as Record<string, unknown>;
      // Section 3.2.3: members sorted by the UTF-16 code units of their names (default JS sort order).
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${canonicalString(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialize ${typeof value}`);
  }
}
