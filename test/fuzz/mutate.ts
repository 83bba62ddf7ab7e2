// Deterministic mutators for the fuzz run. Every mutant is a pure function of (parser, index): the
// generator is seeded from them, so a failing input is re-made by running the same test again, and
// one parser's inputs do not depend on another's. Byte-level mutators work on anything; the DER,
// plist, JSON, PEM and base64 mutators know the structure and so reach past the first length check.

/** sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG), seeded from an FNV-1a hash of the parts. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...parts: (string | number)[]) {
    let h = 0x811c9dc5;
    const seeds: number[] = [];
    for (let round = 0; round < 4; round++) {
      for (const ch of `${round}:${parts.join('\u0000')}`) {
        h ^= ch.codePointAt(0)!;
        h = Math.imul(h, 0x01000193) >>> 0;
      }
      seeds.push(h);
    }
    [this.a, this.b, this.c, this.d] = seeds as [number, number, number, number];
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** 0 <= n < max (max >= 1). */
  below(max: number): number {
    return max <= 1 ? 0 : this.u32() % max;
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

export interface Mutator {
  name: string;
  /** `others`: the target's other seeds (splicing). Answers the mutant, or undefined if it does not apply. */
  apply(input: Buffer, rng: Rng, others: readonly Buffer[]): Buffer | undefined;
}

const mutator = (name: string, apply: Mutator['apply']): Mutator => ({ name, apply });

// ---------------------------------------------------------------- bytes

// Mutants stay below this size (the largest body any listener reads is 4 MiB; past 8 MiB every
// one refuses by size alone); repetitions are capped so that building one never runs out of string.
const MAX_MUTANT_BYTES = 8 * 1024 * 1024;
const copies = (wanted: number, each: number) => Math.max(1, Math.min(wanted, Math.floor(MAX_MUTANT_BYTES / Math.max(1, each))));

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x20, 0x0a, 0x3c, 0x3e, 0x22, 0x26, 0x30, 0xa0];

export const bitFlip = mutator('bit-flip', (input, rng) => {
  if (input.length === 0) return undefined;
  const out = Buffer.from(input);
  for (let n = 1 + rng.below(8); n > 0; n--) {
    const i = rng.below(out.length);
    out[i] = out[i]! ^ (1 << rng.below(8));
  }
  return out;
});

export const interestingByte = mutator('interesting-byte', (input, rng) => {
  if (input.length === 0) return undefined;
  const out = Buffer.from(input);
  out[rng.below(out.length)] = rng.pick(INTERESTING_BYTES);
  return out;
});

export const insertBytes = mutator('insert-bytes', (input, rng) => {
  const at = rng.below(input.length + 1);
  const n = 1 + rng.below(rng.chance(0.1) ? 4096 : 16);
  const fill = rng.chance(0.5) ? Buffer.alloc(n, rng.pick(INTERESTING_BYTES)) : rng.bytes(n);
  return Buffer.concat([input.subarray(0, at), fill, input.subarray(at)]);
});

export const deleteBytes = mutator('delete-bytes', (input, rng) => {
  if (input.length < 2) return undefined;
  const at = rng.below(input.length);
  const n = 1 + rng.below(Math.min(64, input.length - at));
  return Buffer.concat([input.subarray(0, at), input.subarray(at + n)]);
});

export const duplicateChunk = mutator('duplicate-chunk', (input, rng) => {
  if (input.length < 2) return undefined;
  const from = rng.below(input.length);
  const chunk = input.subarray(from, from + 1 + rng.below(Math.min(256, input.length - from)));
  const at = rng.below(input.length + 1);
  const times = copies(rng.chance(0.1) ? 1 + rng.below(200) : 1, chunk.length);
  return Buffer.concat([input.subarray(0, at), ...Array<Buffer>(times).fill(chunk), input.subarray(at)]);
});

export const truncate = mutator('truncate', (input, rng) => (input.length === 0 ? undefined : input.subarray(0, rng.below(input.length))));

export const splice = mutator('splice', (input, rng, others) => {
  if (others.length === 0 || input.length === 0) return undefined;
  const other = rng.pick(others);
  return Buffer.concat([input.subarray(0, rng.below(input.length)), other.subarray(rng.below(other.length + 1))]);
});

/**
 * A 16- or 32-bit little-endian field set to a boundary value: the sizes, offsets and counts of ZIP
 * headers (APPNOTE 4.3) and of binary XML chunks. `anchors` bias it to just after known signatures.
 */
export function leField(anchors: readonly Buffer[] = []): Mutator {
  return mutator('le-field', (input, rng) => {
    if (input.length < 4) return undefined;
    let at = rng.below(input.length - 3) & ~1;
    if (anchors.length > 0 && rng.chance(0.7)) {
      const sig = rng.pick(anchors);
      const hits: number[] = [];
      for (let p = input.indexOf(sig); p >= 0 && hits.length < 64; p = input.indexOf(sig, p + 1)) hits.push(p);
      if (hits.length > 0) at = Math.min(input.length - 4, rng.pick(hits) + 2 * rng.below(24));
    }
    const out = Buffer.from(input);
    const old = rng.chance(0.5) ? out.readUInt16LE(at) : out.readUInt32LE(at);
    const wide = rng.chance(0.5);
    const value = rng.pick([0, 1, old + 1, old - 1, old * 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, input.length, input.length - at]);
    if (wide) out.writeUInt32LE(value >>> 0, at);
    else out.writeUInt16LE(value & 0xffff, at);
    return out;
  });
}

export const BYTE_MUTATORS: readonly Mutator[] = [bitFlip, interestingByte, insertBytes, deleteBytes, duplicateChunk, truncate, splice];

// ---------------------------------------------------------------- DER (X.690)

/** One TLV; `content` for primitives, `children` for constructed values. */
export interface DerNode {
  tag: Buffer;
  constructed: boolean;
  content?: Buffer;
  children?: DerNode[];
  /** Already-encoded bytes standing for the whole node (a deep wrapper, built without recursion). */
  raw?: Buffer;
  /** Where the header and the whole value sit in the buffer it was read from. */
  start: number;
  headerEnd: number;
  end: number;
}

function readTlv(buf: Buffer, at: number, end: number, depth: number): DerNode {
  if (depth > 200 || at + 2 > end) throw new RangeError('der');
  let p = at + 1;
  if ((buf[at]! & 0x1f) === 0x1f) {
    while (p < end && buf[p]! & 0x80) p++;
    p++;
  }
  const tag = buf.subarray(at, p);
  const constructed = (buf[at]! & 0x20) !== 0;
  if (p >= end) throw new RangeError('der');
  const first = buf[p++]!;
  if (first === 0x80) {
    // BER indefinite length: children up to the end-of-contents octets.
    if (!constructed) throw new RangeError('der');
    const children: DerNode[] = [];
    for (;;) {
      if (p + 2 > end) throw new RangeError('der');
      if (buf[p] === 0 && buf[p + 1] === 0) return { tag, constructed, children, start: at, headerEnd: at + tag.length + 1, end: p + 2 };
      const child = readTlv(buf, p, end, depth + 1);
      children.push(child);
      p = child.end;
    }
  }
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count > 4 || p + count > end) throw new RangeError('der');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[p++]!;
  }
  const headerEnd = p;
  const valueEnd = headerEnd + length;
  if (valueEnd > end) throw new RangeError('der');
  if (!constructed) return { tag, constructed, content: buf.subarray(headerEnd, valueEnd), start: at, headerEnd, end: valueEnd };
  const children: DerNode[] = [];
  for (let q = headerEnd; q < valueEnd; ) {
    const child = readTlv(buf, q, valueEnd, depth + 1);
    children.push(child);
    q = child.end;
  }
  return { tag, constructed, children, start: at, headerEnd, end: valueEnd };
}

/** The DER/BER tree of `buf`, or undefined when it is not one whole TLV. */
export function parseDer(buf: Buffer): DerNode | undefined {
  try {
    const root = readTlv(buf, 0, buf.length, 0);
    return root.end === buf.length ? root : undefined;
  } catch {
    return undefined;
  }
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Definite-length encoding of a (possibly edited) tree: lengths always agree with contents. */
export function encodeDer(node: DerNode): Buffer {
  if (node.raw) return node.raw;
  const body = node.children ? Buffer.concat(node.children.map(encodeDer)) : (node.content ?? Buffer.alloc(0));
  return Buffer.concat([node.tag, derLength(body.length), body]);
}

function allNodes(root: DerNode): DerNode[] {
  const out: DerNode[] = [];
  const walk = (n: DerNode) => {
    out.push(n);
    n.children?.forEach(walk);
  };
  walk(root);
  return out;
}

const primitive = (tag: number, content: Buffer): DerNode => ({ tag: Buffer.from([tag]), constructed: false, content, start: 0, headerEnd: 0, end: 0 });
const constructedNode = (tag: number, children: DerNode[]): DerNode => ({ tag: Buffer.from([tag]), constructed: true, children, start: 0, headerEnd: 0, end: 0 });

// Contents that have broken decoders before: huge and negative integers, non-minimal encodings,
// OIDs with endless or overlong arcs, invalid UTF-8 and UTF-16, impossible times, bad unused bits.
const HOSTILE_CONTENT: Record<number, Buffer[]> = {
  0x01: [Buffer.alloc(0), Buffer.from([0x01]), Buffer.from([0xff, 0xff])],
  0x02: [
    Buffer.alloc(0),
    Buffer.from([0x00]),
    Buffer.from([0x80]),
    Buffer.from([0xff]),
    Buffer.from([0x00, 0x00, 0x01]),
    Buffer.from([0x7f, 0xff, 0xff, 0xff]),
    Buffer.from([0x00, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    Buffer.alloc(300, 0x7f),
    Buffer.concat([Buffer.from([0x01]), Buffer.alloc(2048)]),
  ],
  0x03: [Buffer.alloc(0), Buffer.from([0x08]), Buffer.from([0x07, 0xff]), Buffer.from([0xff, 0x00])],
  0x05: [Buffer.from([0x00]), Buffer.alloc(64)],
  0x06: [
    Buffer.alloc(0),
    Buffer.from([0x80]),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    Buffer.from([0x2a, 0x80, 0x80, 0x80]),
    Buffer.from([0x88, 0x37, 0x01]),
    Buffer.concat([Buffer.from([0x2a]), Buffer.alloc(500, 0x81), Buffer.from([0x01])]),
  ],
  0x0c: [
    Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.alloc(0), Buffer.from('\u0000nul', 'utf8'), Buffer.alloc(70_000, 0x41),
    // an astral character straddling a common length limit (a slice there cuts the surrogate pair)
    ...[64, 128, 200, 256].map((n) => Buffer.from(`${'x'.repeat(n - 1)}\u{1F3E5}`, 'utf8')),
  ],
  0x13: [Buffer.from('*&<>\u0000', 'latin1'), Buffer.from([0xff, 0xfe])],
  0x16: [Buffer.from([0x80, 0x81]), Buffer.from('a@b\u0000c', 'latin1')],
  0x17: [Buffer.from('991332256161Z'), Buffer.from(''), Buffer.from('0001010000Z'), Buffer.from('49123123595999Z')],
  0x18: [Buffer.from('99991231235959Z'), Buffer.from('00000000000000Z'), Buffer.from('2024-01-01'), Buffer.from('20240230000000.0000000000000Z')],
  0x1c: [Buffer.from([0x00, 0x00, 0x00]), Buffer.from([0x00, 0x11, 0x00, 0x00]), Buffer.from([0x00, 0x00, 0xd8, 0x00])],
  0x1e: [Buffer.from([0x00]), Buffer.from([0xd8, 0x00]), Buffer.from([0xdc, 0x00, 0x00, 0x41])],
};
const SOME_TAGS = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x1c, 0x1e, 0x30, 0x31, 0xa0, 0xa1, 0xa3, 0x80, 0x81, 0x00, 0x1f, 0x3f, 0xff];

/** Rewrites one node's length field in place: wrong, zero, indefinite, overlong, non-minimal. */
export const derLengthField = mutator('der-length', (input, rng) => {
  const root = parseDer(input);
  if (!root) return undefined;
  const node = rng.pick(allNodes(root));
  const lengthAt = node.start + node.tag.length;
  const actual = node.end - node.headerEnd;
  const choices: Buffer[] = [
    derLength(Math.max(0, actual - 1)),
    derLength(actual + 1),
    derLength(actual + 1 + rng.below(1000)),
    Buffer.from([0x00]),
    Buffer.from([0x80]),
    Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]),
    Buffer.from([0x84, 0x7f, 0xff, 0xff, 0xff]),
    Buffer.from([0x88, 0, 0, 0, 0, 0, 0, 0, 1]),
    Buffer.from([0xff]),
    Buffer.concat([Buffer.from([0x84]), Buffer.from([0, 0, (actual >> 8) & 0xff, actual & 0xff])]), // non-minimal, same value
  ];
  const header = node.headerEnd > node.end ? Buffer.alloc(0) : rng.pick(choices);
  return Buffer.concat([input.subarray(0, lengthAt), header, input.subarray(node.headerEnd)]);
});

/** Replaces one node's tag byte: another universal type, constructed bit flipped, high-tag form. */
export const derTag = mutator('der-tag', (input, rng) => {
  const root = parseDer(input);
  if (!root) return undefined;
  const node = rng.pick(allNodes(root));
  const out = Buffer.from(input);
  out[node.start] = rng.chance(0.3) ? out[node.start]! ^ 0x20 : rng.pick(SOME_TAGS);
  return out;
});

/** Re-encodes the tree after giving one primitive a hostile content for its type (lengths stay right). */
export const derValue = mutator('der-value', (input, rng) => {
  const root = parseDer(input);
  if (!root) return undefined;
  const leaves = allNodes(root).filter((n) => !n.constructed);
  if (leaves.length === 0) return undefined;
  const leaf = rng.pick(leaves);
  const pool = HOSTILE_CONTENT[leaf.tag[0]!];
  leaf.content = pool && rng.chance(0.8) ? rng.pick(pool) : rng.bytes(rng.below(40));
  return encodeDer(root);
});

/** Structural edits with correct lengths: drop, repeat, swap, move, wrap in deep nesting, empty. */
export const derStructure = mutator('der-structure', (input, rng) => {
  const root = parseDer(input);
  if (!root) return undefined;
  const nodes = allNodes(root);
  const parents = nodes.filter((n) => n.children && n.children.length > 0);
  if (parents.length === 0) return undefined;
  const parent = rng.pick(parents);
  const kids = parent.children!;
  const i = rng.below(kids.length);
  switch (rng.below(7)) {
    case 0:
      kids.splice(i, 1);
      break;
    case 1:
      kids.splice(i, 0, ...Array<DerNode>(copies(1 + rng.below(rng.chance(0.2) ? 500 : 3), encodeDer(kids[i]!).length)).fill(kids[i]!));
      break;
    case 2: {
      const j = rng.below(kids.length);
      [kids[i], kids[j]] = [kids[j]!, kids[i]!];
      break;
    }
    case 3:
      // a copy of some other node (its bytes: the tree must not become a cycle)
      kids[i] = { ...constructedNode(0x30, []), raw: encodeDer(rng.pick(nodes)) };
      break;
    case 4: {
      // deep nesting: SEQUENCE or [0] wrappers around one value
      let wrapped = encodeDer(kids[i]!);
      const depth = wrapped.length > 65_536 ? 2 : rng.pick([2, 20, 65, 200, 3000]);
      const tag = Buffer.from([rng.pick([0x30, 0x31, 0xa0])]);
      for (let d = 0; d < depth; d++) wrapped = Buffer.concat([tag, derLength(wrapped.length), wrapped]);
      kids[i] = { ...constructedNode(tag[0]!, []), raw: wrapped };
      break;
    }
    case 5:
      parent.children = [];
      break;
    default:
      kids.splice(i, 0, primitive(rng.pick(SOME_TAGS) & 0xdf, rng.bytes(rng.below(16))));
  }
  return encodeDer(root);
});

export const DER_MUTATORS: readonly Mutator[] = [derLengthField, derTag, derValue, derStructure];

// ---------------------------------------------------------------- PEM and base64 text

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Decodes one PEM block, mutates its DER, encodes it again; or damages the armour itself. */
export function pemMutator(inner: readonly Mutator[]): Mutator {
  return mutator('pem', (input, rng, others) => {
    const text = input.toString('latin1');
    const blocks = [...text.matchAll(PEM_BLOCK)];
    if (blocks.length === 0) return undefined;
    const block = rng.pick(blocks);
    let replacement: string;
    if (rng.chance(0.15)) {
      replacement = rng.pick([
        block[0].replace(/-----END [A-Z0-9 ]+-----/, ''),
        block[0].replace(block[1]!, rng.pick(['CERTIFICATE', 'PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'X', ''])),
        block[0].replace(/\n/g, ''),
        block[0].replace(/[A-Za-z0-9+/]{8}\n/, '!!!!\u0000\n'),
      ]);
    } else {
      const der = Buffer.from(block[2]!.replace(/\s+/g, ''), 'base64');
      const mutated = rng.pick(inner).apply(der, rng, others) ?? der;
      const lines = mutated.toString('base64').match(/.{1,64}/g) ?? [];
      replacement = `-----BEGIN ${block[1]}-----\n${lines.join('\n')}\n-----END ${block[1]}-----`;
    }
    return Buffer.from(text.slice(0, block.index) + replacement + text.slice(block.index! + block[0].length), 'latin1');
  });
}

/** Damage that base64 text (an Mdm-Signature header, a SCEP GET message) suffers on the way. */
export const base64Text = mutator('base64-text', (input, rng) => {
  const text = input.toString('latin1');
  const at = rng.below(text.length + 1);
  const insert = rng.pick(['=', '==', '-', '_', '%', '%2B', '%zz', '%00', ' ', '\n', '\r\n', '*', '.', 'A', '\u00e9', '+/+/']);
  switch (rng.below(4)) {
    case 0:
      return Buffer.from(text.slice(0, at) + insert + text.slice(at), 'latin1');
    case 1:
      return Buffer.from(text.replace(/=+$/, ''), 'latin1');
    case 2:
      return Buffer.from(text.slice(0, at) + text.slice(at + 1 + rng.below(8)), 'latin1');
    default:
      return Buffer.from(text.replace(/\+/g, '-').replace(/\//g, '_'), 'latin1');
  }
});

// ---------------------------------------------------------------- XML property lists

const LEAF = /<(string|integer|real|date|data|key)>([^<]*)<\/\1>|<(true|false)\/>/g;
const PAIR = /<key>[^<]*<\/key>\s*(?:<(string|integer|real|date|data)>[^<]*<\/\1>|<(?:true|false)\/>|<(?:dict|array)\/>)/g;
const HUGE_NUMERALS = [
  '99999999999999999999999999999', '-9223372036854775809', '18446744073709551616', '18446744073709551615', '-9223372036854775808',
  '9007199254740993', '0x7fffffffffffffffffff', '-0x8000000000000001', '1e309', '-1e-400', 'NaN', '-infinity', '+0', '0000000000000000000001',
  '1'.repeat(5000), '', ' 42 ', '4 2', '0b101', '1_000',
];
const MESSAGE_WORDS = [
  'Authenticate', 'TokenUpdate', 'CheckOut', 'UserAuthenticate', 'SetBootstrapToken', 'GetBootstrapToken', 'DeclarativeManagement',
  'Acknowledged', 'Error', 'CommandFormatError', 'Idle', 'NotNow', 'DeviceInformation', 'SecurityInfo', 'ProfileList',
  'InstalledApplicationList', 'UserList', 'EraseDevice', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '__proto__', 'constructor', '',
];
const XML_JUNK = [
  '&amp;', '&lt;', '&#0;', '&#x110000;', '&#xD800;', '&#65;', '&#x1F600;', '&bogus;', '&', '&#99999999999;', '<![CDATA[x<y]]>', '<!-- c -->',
  '<!-- unterminated', ']]>', '\u0000', '\ufffe', '<', '<string>', '</dict>', '<!DOCTYPE x [<!ENTITY a "b">]>', '<?xml version="1.0" encoding="UTF-16"?>',
];

function plistText(input: Buffer, rng: Rng, edit: (text: string, rng: Rng) => string | undefined): Buffer | undefined {
  const text = input.toString('utf8');
  const out = edit(text, rng);
  return out === undefined ? undefined : Buffer.from(out, 'utf8');
}

function pickMatch(text: string, re: RegExp, rng: Rng): RegExpMatchArray | undefined {
  const all = [...text.matchAll(re)];
  return all.length === 0 ? undefined : rng.pick(all);
}

const replaceAt = (text: string, m: RegExpMatchArray, by: string) => text.slice(0, m.index) + by + text.slice(m.index! + m[0].length);

export const plistWrongType = mutator('plist-wrong-type', (input, rng) =>
  plistText(input, rng, (text) => {
    const m = pickMatch(text, LEAF, rng);
    if (!m || m[1] === 'key') return undefined;
    const content = m[2] ?? '1';
    const type = rng.pick(['string', 'integer', 'real', 'date', 'data', 'key']);
    return replaceAt(text, m, rng.pick([`<${type}>${content}</${type}>`, '<dict/>', '<array/>', '<true/>', '<false/>', `<array><string>${content}</string></array>`, `<dict><key>${content}</key><true/></dict>`]));
  }),
);

export const plistHugeNumber = mutator('plist-huge-number', (input, rng) =>
  plistText(input, rng, (text) => {
    const m = pickMatch(text, LEAF, rng);
    if (!m || !m[1]) return undefined;
    const type = rng.chance(0.6) ? rng.pick(['integer', 'real']) : m[1];
    return replaceAt(text, m, `<${type}>${rng.pick(HUGE_NUMERALS)}</${type}>`);
  }),
);

export const plistDeepNesting = mutator('plist-deep-nesting', (input, rng) =>
  plistText(input, rng, (text) => {
    const m = pickMatch(text, LEAF, rng);
    if (!m || m[1] === 'key') return undefined;
    const depth = rng.pick([8, 15, 16, 17, 31, 33, 63, 65, 1000, 40_000]);
    const [open, close] = rng.chance(0.5) ? ['<array>', '</array>'] : ['<dict><key>k</key>', '</dict>'];
    return replaceAt(text, m, open.repeat(depth) + m[0] + close.repeat(depth));
  }),
);

export const plistPairs = mutator('plist-pairs', (input, rng) =>
  plistText(input, rng, (text) => {
    const m = pickMatch(text, PAIR, rng);
    if (!m) return undefined;
    switch (rng.below(4)) {
      case 0:
        return replaceAt(text, m, ''); // required key gone
      case 1:
        return replaceAt(text, m, m[0] + m[0]); // duplicate key
      case 2:
        return replaceAt(text, m, m[0].replace(/<key>[^<]*<\/key>/, `<key>${rng.pick(['__proto__', 'constructor', 'toString', '', 'UDID', 'Status', 'MessageType', 'CommandUUID', 'hasOwnProperty'])}</key>`));
      default:
        return replaceAt(text, m, Array(copies(1 + rng.below(rng.chance(0.2) ? 30_000 : 50), m[0].length)).fill(m[0].replace(/<key>([^<]*)<\/key>/, (_x, k: string) => `<key>${k}${rng.below(1e9)}</key>`)).join(''));
    }
  }),
);

export const plistVocabulary = mutator('plist-vocabulary', (input, rng) =>
  plistText(input, rng, (text) => {
    const m = pickMatch(text, /<string>([^<]*)<\/string>/g, rng);
    if (!m) return undefined;
    return replaceAt(text, m, `<string>${rng.pick(MESSAGE_WORDS)}</string>`);
  }),
);

export const plistTextJunk = mutator('plist-text-junk', (input, rng) =>
  plistText(input, rng, (text) => {
    const m = pickMatch(text, LEAF, rng);
    if (!m || !m[2]) return undefined;
    let content: string;
    if (rng.chance(0.2)) content = rng.pick(['A', '\u00e9', '\u{1F600}', '<', '&amp;']).repeat(rng.pick([64, 65, 128, 129, 255, 256, 1025, 2049, 4097, 70_000]));
    else if (rng.chance(0.2)) content = `${'x'.repeat(rng.pick([32, 64, 128, 255, 256, 512, 1024, 2048, 4096]) - 1)}\u{1F600}`; // a slice at the limit cuts the pair
    else content = m[2].slice(0, rng.below(m[2].length + 1)) + rng.pick(XML_JUNK) + m[2].slice(rng.below(m[2].length + 1));
    return replaceAt(text, m, `<${m[1]}>${content}</${m[1]}>`);
  }),
);

export const plistEncoding = mutator('plist-encoding', (input, rng) => {
  switch (rng.below(5)) {
    case 0:
      return Buffer.concat([Buffer.from('bplist00'), input.subarray(8)]);
    case 1:
      return Buffer.concat([Buffer.from(rng.pick([[0xef, 0xbb, 0xbf], [0xfe, 0xff], [0xff, 0xfe]])), input]);
    case 2:
      return Buffer.from(input.toString('utf8'), 'utf16le');
    case 3: {
      const at = rng.below(input.length + 1);
      return Buffer.concat([input.subarray(0, at), Buffer.from(rng.pick([[0xc3, 0x28], [0xed, 0xa0, 0x80], [0xff], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]])), input.subarray(at)]);
    }
    default:
      return Buffer.from(input.toString('utf8').replace(/^<\?xml[^>]*\?>/, rng.pick(['', '<?xml version="1.0" encoding="ISO-8859-1"?>', '<?xml', '<?xml version="1.0"?><!DOCTYPE plist [ <!ENTITY e SYSTEM "file:///etc/passwd"> ]>'])));
  }
});

export const PLIST_MUTATORS: readonly Mutator[] = [plistWrongType, plistHugeNumber, plistDeepNesting, plistPairs, plistVocabulary, plistTextJunk, plistEncoding];

// ---------------------------------------------------------------- JSON

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const WEIRD_JSON: Json[] = [
  null, true, false, 0, -1, 1.5, -0, 2 ** 53 + 1, 1e308, -1e308, 4294967296, 2147483648, '', ' ', '\u0000', '0', 'true', 'null',
  '\ud800', '\udfff', 'x\ud83d', '\u{1F600}', '\u202e', '../../etc/passwd', '%00', '<script>', "' OR 1=1 --", 'x'.repeat(5000),
  '\u{1F600}'.repeat(3000), [], {}, [[[]]], { $ref: '#' }, [null], { '': '' }, ['a', 1, null], '2024-02-30T25:61:61Z', '9999-12-31T23:59:59Z',
];
// Text-level values JSON.stringify cannot make: numbers out of double range, huge exact integers, deep nesting.
const RAW_JSON = ['1e999999', '-1e999999', '123456789012345678901234567890', '0.0000000000000000000000000001', '1E+2', '-0.0', '9007199254740993', '"\\ud800"', '"\\u0000"', '"a\\uDC00b"'];

const MARKER = 'fuzz-marker-5d1c9e';

function jsonPaths(v: Json, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (Array.isArray(v)) v.forEach((c, i) => jsonPaths(c, [...path, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) jsonPaths(v[k]!, [...path, k], out);
  return out;
}

function setAt(root: Json, path: (string | number)[], value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  let parent = root as Record<string | number, Json>;
  for (const p of path.slice(0, -1)) parent = parent[p] as unknown as Record<string | number, Json>;
  const last = path.at(-1)!;
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else parent[last] = value;
  return root;
}

function getAt(root: Json, path: (string | number)[]): Json {
  let v = root;
  for (const p of path) v = (v as Record<string | number, Json>)[p]!;
  return v;
}

/** Bracket depth of JSON text (strings skipped): structural edits leave already-deep mutants alone. */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

function jsonEdit(edit: (value: Json, rng: Rng) => string | undefined): Mutator['apply'] {
  return (input, rng) => {
    if (jsonDepth(input.toString('utf8')) > 200) return undefined;
    let value: Json;
    try {
      value = JSON.parse(input.toString('utf8')) as Json;
    } catch {
      return undefined;
    }
    const out = edit(value, rng);
    return out === undefined ? undefined : Buffer.from(out, 'utf8');
  };
}

export const jsonWrongType = mutator('json-wrong-type', jsonEdit((value, rng) => {
  const path = rng.pick(jsonPaths(value));
  return JSON.stringify(setAt(value, path, structuredClone(rng.pick(WEIRD_JSON))));
}));

export const jsonKeys = mutator('json-keys', jsonEdit((value, rng) => {
  const objects = jsonPaths(value).filter((p) => {
    const v = getAt(value, p);
    return v !== null && typeof v === 'object';
  });
  if (objects.length === 0) return undefined;
  const path = rng.pick(objects);
  const target = getAt(value, path) as Record<string, Json> | Json[];
  const keys = Object.keys(target);
  switch (rng.below(4)) {
    case 0:
      if (keys.length === 0) return undefined;
      return JSON.stringify(setAt(value, [...path, Array.isArray(target) ? rng.below(keys.length) : rng.pick(keys)], undefined));
    case 1: {
      // unknown or dangerous keys, written as text so "__proto__" is a real own key on the wire
      if (Array.isArray(target)) return undefined;
      const key = rng.pick(['__proto__', 'constructor', 'prototype', 'role', 'admin', 'isAdmin', 'id', '', 'x'.repeat(300)]);
      target[MARKER] = null;
      return JSON.stringify(value).replace(`"${MARKER}":null`, `${JSON.stringify(key)}:${JSON.stringify(rng.pick(WEIRD_JSON))}`);
    }
    case 2: {
      if (!Array.isArray(target) || target.length === 0) return undefined;
      const n = copies(rng.pick([2, 50, 501, 5001]), JSON.stringify(target).length / target.length);
      return JSON.stringify(setAt(value, path, Array.from({ length: n }, (_v, i) => structuredClone(target[i % target.length]!))));
    }
    default: {
      if (Array.isArray(target) || keys.length === 0) return undefined;
      // a duplicate key: JSON.parse keeps the last, other readers the first
      const k = rng.pick(keys);
      const text = JSON.stringify(value);
      const at = text.indexOf(`${JSON.stringify(k)}:`);
      return at < 0 ? undefined : `${text.slice(0, at)}${JSON.stringify(k)}:${JSON.stringify(rng.pick(WEIRD_JSON))},${text.slice(at)}`;
    }
  }
}));

export const jsonRawValue = mutator('json-raw-value', jsonEdit((value, rng) => {
  const paths = jsonPaths(value).filter((p) => p.length > 0);
  if (paths.length === 0) return undefined;
  const path = rng.pick(paths);
  const text = JSON.stringify(setAt(value, path, MARKER));
  let raw: string;
  if (rng.chance(0.35)) {
    const depth = rng.pick([10, 100, 1000, 5000, 20_000, 100_000]);
    raw = rng.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  } else raw = rng.pick(RAW_JSON);
  return text.replace(`"${MARKER}"`, raw);
}));

/** A string that ends in an astral character right at a common length limit, so slicing it cuts the surrogate pair. */
export const jsonStringEdge = mutator('json-string-edge', jsonEdit((value, rng) => {
  const strings = jsonPaths(value).filter((p) => typeof getAt(value, p) === 'string');
  if (strings.length === 0) return undefined;
  const limit = rng.pick([63, 64, 99, 100, 127, 128, 199, 200, 255, 256, 299, 300, 499, 500, 999, 1000, 1023, 1024, 2047, 2048, 16383]);
  return JSON.stringify(setAt(value, rng.pick(strings), 'x'.repeat(limit - 1) + rng.pick(['\u{1F600}', '\u{20BB7}', '\u{1F691}', '\u00e9', '\ud800'])));
}));

export const JSON_MUTATORS: readonly Mutator[] = [jsonWrongType, jsonKeys, jsonRawValue, jsonStringEdge];

/** Applies `inner` to the text of one string member of a JSON object (a PEM CSR inside an agent request). */
export function inJsonString(field: string, inner: readonly Mutator[]): Mutator {
  return mutator(`json.${field}`, (input, rng, others) => {
    let value: Record<string, Json>;
    if (jsonDepth(input.toString('utf8')) > 200) return undefined;
    try {
      value = JSON.parse(input.toString('utf8')) as Record<string, Json>;
    } catch {
      return undefined;
    }
    if (!value || typeof value !== 'object' || typeof value[field] !== 'string') return undefined;
    const out = rng.pick(inner).apply(Buffer.from(value[field] as string, 'latin1'), rng, others);
    if (out === undefined) return undefined;
    value[field] = out.toString('latin1');
    return Buffer.from(JSON.stringify(value), 'utf8');
  });
}

// ---------------------------------------------------------------- composition

export interface Weighted {
  mutator: Mutator;
  weight: number;
}

export const weighted = (weight: number, ...mutators: readonly Mutator[]): Weighted[] => mutators.map((m) => ({ mutator: m, weight }));

/**
 * Mutant number `index` of `seeds` for `parser`: a seed picked by the index, then one to four
 * stacked mutations drawn by weight. Mutators that do not apply to the current bytes are skipped.
 */
export function mutant(parser: string, runSeed: string, index: number, seeds: readonly Buffer[], mutators: readonly Weighted[]): { input: Buffer; seed: number; applied: string[] } {
  const rng = new Rng(runSeed, parser, index);
  const seed = rng.below(seeds.length);
  let input = seeds[seed]!;
  const total = mutators.reduce((s, m) => s + m.weight, 0);
  const applied: string[] = [];
  const rounds = 1 + (rng.chance(0.5) ? 0 : rng.below(4));
  for (let tries = 0; applied.length < rounds && tries < rounds * 4; tries++) {
    let r = rng.below(total);
    const chosen = mutators.find((m) => (r -= m.weight) < 0)!.mutator;
    const out = chosen.apply(input, rng, seeds);
    if (out === undefined || out.length > MAX_MUTANT_BYTES) continue;
    input = out;
    applied.push(chosen.name);
  }
  return { input, seed, applied };
}
