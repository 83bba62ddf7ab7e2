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

/**
 * Section 3.2.3: members sorted by the UTF-16 code units of their names (JS string order). Event
 * details have a handful of members: an insertion sort is several times faster than
 * Array.prototype.sort there.
 */
function sortNames(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i];
    let j = i - 1;
    for (; j >= 0 && keys[j] > k; j--) keys[j + 1] = keys[j];
    keys[j + 1] = k;
  }
}

// Member names repeat from event to event (details of one action share them): their serialized
// form is kept, up to a bound, so a name is checked and quoted once.
const memberNames = new Map<string, string>();
function memberName(k: string): string {
  let quoted = memberNames.get(k);
  if (quoted === undefined) {
    quoted = canonicalString(k);
    if (memberNames.size < 2000) memberNames.set(k, quoted);
  }
  return quoted;
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
      // Loops and concatenation rather than map/filter/join: this runs for every audit event.
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      sortNames(keys);
      let out = '{';
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        out += (out.length > 1 ? ',' : '') + memberName(k) + ':' + canonicalJson(v);
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialize ${typeof value}`);
  }
}

/**
 * A copy of `value` (plain objects, arrays, strings, finite numbers, booleans, null) with members in
 * RFC 8785 order, so that JSON.stringify of it is the canonical form (RFC 8785 section 3.2.2 is
 * ECMAScript's own serialization); undefined when anything needs canonicalJson (toJSON, non-plain
 * objects, non-finite numbers, deep nesting). JSON.stringify escapes only control characters and
 * lone surrogates with a \u escape: the caller checks for one and then takes the generic path.
 */
export function canonicalCopy(value: unknown, depth = 0): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : undefined;
    case 'object': {
      if (value === null) return null;
      if (depth > 8) return undefined;
      if (Array.isArray(value)) {
        const out: unknown[] = new Array(value.length);
        for (let i = 0; i < value.length; i++) {
          const v = canonicalCopy(value[i], depth + 1);
          if (v === undefined) return undefined;
          out[i] = v;
        }
        return out;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return undefined;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj);
      sortNames(keys);
      const out: Record<string, unknown> = {};
      for (const k of keys) {
        if (obj[k] === undefined) continue;
        const v = canonicalCopy(obj[k], depth + 1);
        if (v === undefined) return undefined;
        out[k] = v;
      }
      return out;
    }
    default:
      return undefined;
  }
}
