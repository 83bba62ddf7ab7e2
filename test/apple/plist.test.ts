import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildPlist, parsePlist, parsePlistDict, PlistError, PlistReal, type PlistValue } from '../../src/apple/plist';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Every plist type, the escapes XML needs, non-ASCII text, 64-bit integers, and empty containers.
const rich: PlistValue = {
  MessageType: 'TokenUpdate',
  Escapes: `a<b & c>d "quoted" 'single' ]]> end`,
  Unicode: 'Station 4 — Zürich 病棟 🏥',
  Empty: '',
  Whitespace: '  leading and trailing\n\tlines  ',
  Int: 42,
  Negative: -17,
  Zero: 0,
  Int64Max: 9223372036854775807n,
  Int64Min: -9223372036854775808n,
  Safe: Number.MAX_SAFE_INTEGER,
  Real: 0.5,
  NegReal: -1234.5678,
  Tiny: 1.5e-10,
  True: true,
  False: false,
  Date: new Date('2024-03-01T12:34:56Z'),
  Data: Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x7f]),
  EmptyData: Buffer.alloc(0),
  EmptyDict: {},
  EmptyArray: [],
  Nested: [{ a: [1, [2, [3, { deep: 'yes' }]]], b: { c: { d: { e: 'x' } } } }, 'tail'],
  'Key <with> & escapes': 'value',
};

// plistutil 2.2 exits 0 even when it cannot convert: it prints "ERROR: ..." and writes no output.
function plistutil(input: string, output: string, format: 'bin' | 'xml'): Buffer {
  fs.rmSync(output, { force: true });
  const r = spawnSync('plistutil', ['-i', input, '-o', output, '-f', format], { encoding: 'utf8' });
  if (r.status !== 0 || /ERROR/.test(r.stderr) || !fs.existsSync(output)) {
    throw new Error(`plistutil refused ${path.basename(input)}: ${r.stderr.trim()}`);
  }
  return fs.readFileSync(output);
}

t.test('round trip of every type through buildPlist and parsePlist', async (t) => {
  const xml = buildPlist(rich);
  t.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE plist PUBLIC/);
  t.same(parsePlist(xml), rich);
  t.same(parsePlist(Buffer.from(xml)), rich, 'same from bytes');
  // UINT64 range is accepted (libplist writes unsigned 64-bit integers).
  t.same(parsePlist(buildPlist({ u: 18446744073709551615n })), { u: 18446744073709551615n });
  // An integral real only stays a real when asked for.
  t.match(buildPlist(new PlistReal(2)), /<real>2\.0<\/real>/);
  t.match(buildPlist(2), /<integer>2<\/integer>/);
  t.equal(parsePlist(buildPlist(new PlistReal(2))), 2);
  t.same(parsePlist(buildPlist([Number.NaN, Infinity, -Infinity])), [Number.NaN, Infinity, -Infinity]);
  // undefined dict members are skipped, so optional command fields can be written inline.
  t.same(parsePlist(buildPlist({ a: 'x', b: undefined })), { a: 'x' });
});

t.test('plistutil parses what we emit, and we parse what plistutil emits', async (t) => {
  // libplist stores signed 64-bit integers; keep the document inside that range.
  const doc = rich;
  const ours = path.join(tmp, 'ours.plist');
  fs.writeFileSync(ours, buildPlist(doc));
  // XML -> binary -> XML through libplist, then parsed back by us.
  plistutil(ours, path.join(tmp, 'ours.bin'), 'bin');
  const theirs = plistutil(path.join(tmp, 'ours.bin'), path.join(tmp, 'theirs.plist'), 'xml');
  t.not(theirs.toString(), buildPlist(doc), 'libplist wrote its own formatting');
  t.same(parsePlist(theirs), doc);
  // And XML -> XML directly.
  t.same(parsePlist(plistutil(ours, path.join(tmp, 'theirs2.plist'), 'xml')), doc);
});

t.test('plistutil refuses what is not a plist (the interop check can fail)', async (t) => {
  const bad = path.join(tmp, 'bad.plist');
  fs.writeFileSync(bad, '<plist><dict><key>a</key></plist>');
  t.throws(() => plistutil(bad, path.join(tmp, 'bad.bin'), 'bin'), /plistutil refused/);
});

t.test('accepts the XML that real writers produce', async (t) => {
  const doc = `\uFEFF<?xml version='1.0' encoding='utf-8' standalone='no'?>
<!-- a comment before the DOCTYPE -->
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
  <!-- and one inside -->
  <dict >
    <key>A</key> <string>x &amp; &lt;y&gt; &#233; &#x1F3E5; &quot;&apos;</string>
    <key>B</key><string>before<![CDATA[<raw & text>]]><!-- c -->after</string>
    <key>C</key><true />
    <key>D</key><integer> 12 </integer>
    <key>E</key><real>1E3</real>
    <key>F</key><data>
      AAEC
      Aw==
    </data>
    <key/><string/>
    <key>G</key><integer>0x1F</integer>
    <key>H</key><date>2020-01-02T03:04:05.250Z</date>
  </dict >
</plist>
`;
  t.same(parsePlist(doc), {
    A: 'x & <y> é 🏥 "\'',
    B: 'before<raw & text>after',
    C: true,
    D: 12,
    E: 1000,
    F: Buffer.from([0, 1, 2, 3]),
    '': '',
    G: 31,
    H: new Date('2020-01-02T03:04:05.250Z'),
  });
});

t.test('a __proto__ key is data, never the prototype', async (t) => {
  const v = parsePlistDict('<plist><dict><key>__proto__</key><dict><key>polluted</key><true/></dict></dict></plist>');
  t.equal(Object.getPrototypeOf(v), Object.prototype);
  t.equal(({} as Record<string, unknown>).polluted, undefined);
  t.same(Object.keys(v), ['__proto__']);
  t.same(v['__proto__'], { polluted: true });
  // constructor/toString as keys are ordinary keys, not duplicates of inherited members.
  t.same(parsePlist('<plist><dict><key>constructor</key><string>c</string><key>toString</key><integer>1</integer></dict></plist>'), {
    constructor: 'c',
    toString: 1,
  });
});

const deep = (n: number) => `<plist>${'<array>'.repeat(n)}${'</array>'.repeat(n)}</plist>`;
const malformed: Array<[string, string | Buffer, string]> = [
  ['empty document', '', 'malformed'],
  ['not XML', 'hello', 'malformed'],
  ['no plist element', '<dict></dict>', 'malformed'],
  ['empty plist element', '<plist></plist>', 'malformed'],
  ['unterminated dict', '<plist><dict><key>a</key><string>b</string>', 'malformed'],
  ['unterminated array', '<plist><array><string>b</string>', 'malformed'],
  ['unterminated string', '<plist><string>abc', 'malformed'],
  ['mismatched close', '<plist><dict><key>a</key><string>x</dict></plist>', 'malformed'],
  ['key without value', '<plist><dict><key>a</key></dict></plist>', 'malformed'],
  ['value without key', '<plist><dict><string>x</string></dict></plist>', 'malformed'],
  ['unknown element', '<plist><foo/></plist>', 'malformed'],
  ['element inside string', '<plist><string>a<b/>c</string></plist>', 'malformed'],
  ['stray closing tag', '<plist></array></plist>', 'malformed'],
  ['content after plist', '<plist><true/></plist><plist><true/></plist>', 'malformed'],
  ['two values in plist', '<plist><true/><false/></plist>', 'malformed'],
  ['unterminated comment', '<plist><!-- <true/></plist>', 'malformed'],
  ['unterminated tag', '<plist><dict', 'malformed'],
  ['control character', '<plist><string>a\u0001b</string></plist>', 'malformed'],
  ['integer with letters', '<plist><integer>12a</integer></plist>', 'bad-integer'],
  ['integer beyond 64 bits', '<plist><integer>99999999999999999999999</integer></plist>', 'bad-integer'],
  ['empty integer', '<plist><integer/></plist>', 'bad-integer'],
  ['real with letters', '<plist><real>1.2.3</real></plist>', 'bad-real'],
  ['impossible date', '<plist><date>2024-02-30T00:00:00Z</date></plist>', 'bad-date'],
  ['hour 24', '<plist><date>2024-02-01T24:00:00Z</date></plist>', 'bad-date'],
  ['date without zone', '<plist><date>2024-02-01T10:00:00</date></plist>', 'bad-date'],
  ['words as date', '<plist><date>yesterday</date></plist>', 'bad-date'],
  ['data not base64', '<plist><data>!!!!</data></plist>', 'bad-data'],
  ['data truncated', '<plist><data>AAECA</data></plist>', 'bad-data'],
  ['unknown entity', '<plist><string>&nbsp;</string></plist>', 'entity'],
  ['bare ampersand', '<plist><string>a & b</string></plist>', 'entity'],
  ['NUL character reference', '<plist><string>&#0;</string></plist>', 'entity'],
  ['surrogate character reference', '<plist><string>&#xD800;</string></plist>', 'entity'],
  [
    'entity declarations (billion laughs)',
    '<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><plist><string>&b;</string></plist>',
    'doctype',
  ],
  [
    'external entity reference (XXE)',
    '<?xml version="1.0"?><!DOCTYPE plist SYSTEM "file:///etc/passwd"><plist><string>&xxe;</string></plist>',
    'entity',
  ],
  ['unterminated DOCTYPE', '<!DOCTYPE plist PUBLIC "x', 'malformed'],
  ['duplicate key', '<plist><dict><key>UDID</key><string>a</string><key>UDID</key><string>b</string></dict></plist>', 'duplicate-key'],
  ['nesting too deep', deep(65), 'too-deep'],
  ['binary plist', Buffer.concat([Buffer.from('bplist00'), Buffer.alloc(40)]), 'binary-plist'],
  ['UTF-16 document', Buffer.from('\uFEFF<plist><true/></plist>', 'utf16le'), 'encoding'],
  ['invalid UTF-8', Buffer.from([0x3c, 0x70, 0x6c, 0x69, 0x73, 0x74, 0x3e, 0xc3, 0x28]), 'encoding'],
  ['declared non-UTF-8 encoding', '<?xml version="1.0" encoding="ISO-8859-1"?><plist><true/></plist>', 'encoding'],
];

t.test('malformed input gets a PlistError with a reason, never anything else', async (t) => {
  for (const [name, doc, reason] of malformed) {
    t.throws(() => parsePlist(doc), { name: 'PlistError', reason }, name);
  }
  t.ok(parsePlist(deep(64)), '64 levels are still accepted');
});

t.test('size and node limits', async (t) => {
  const big = buildPlist({ blob: 'x'.repeat(5 * 1024 * 1024) });
  t.throws(() => parsePlist(Buffer.from(big)), { name: 'PlistError', reason: 'too-large' }, 'default 4 MiB limit');
  t.throws(() => parsePlist(buildPlist({ a: 'x'.repeat(200) }), { maxBytes: 100 }), { name: 'PlistError', reason: 'too-large' });
  t.throws(() => parsePlist(buildPlist(Array.from({ length: 101 }, () => true)), { maxNodes: 100 }), { name: 'PlistError', reason: 'too-many-nodes' });
  t.ok(parsePlist(buildPlist(Array.from({ length: 99 }, () => true)), { maxNodes: 100 }));
  t.throws(() => parsePlist(deep(5), { maxDepth: 4 }), { name: 'PlistError', reason: 'too-deep' });
});

t.test('parsePlistDict requires a dict at the top', async (t) => {
  t.throws(() => parsePlistDict('<plist><array/></plist>'), { name: 'PlistError', reason: 'malformed' });
  t.same(parsePlistDict('<plist><dict/></plist>'), {});
});

t.test('every truncation and random corruption of a valid document fails cleanly', async (t) => {
  const doc = Buffer.from(buildPlist(rich));
  let unexpected = 0;
  for (let n = 0; n < doc.length - 1; n++) {
    try {
      parsePlist(doc.subarray(0, n));
      // Only cuts in the trailing newline after </plist> may parse.
      if (n < doc.length - 1) unexpected++;
    } catch (e) {
      if (!(e instanceof PlistError)) unexpected++;
    }
  }
  t.equal(unexpected, 0, 'every prefix is refused with a PlistError');
  // Deterministic pseudo-random byte flips (xorshift32).
  let seed = 0x9e3779b9;
  const rnd = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  let crashes = 0;
  for (let i = 0; i < 3000; i++) {
    const copy = Buffer.from(doc);
    for (let k = 0; k < 3; k++) copy[Math.floor(rnd() * copy.length)] = Math.floor(rnd() * 256);
    try {
      parsePlist(copy);
    } catch (e) {
      if (!(e instanceof PlistError)) crashes++;
    }
  }
  t.equal(crashes, 0, 'corrupted documents raise only PlistError');
});

t.test('buildPlist refuses values XML cannot carry', async (t) => {
  t.throws(() => buildPlist(null as unknown as string), { name: 'PlistError', reason: 'unserializable' });
  t.throws(() => buildPlist({ f: (() => 1) as unknown as string }), { name: 'PlistError', reason: 'unserializable' });
  t.throws(() => buildPlist('a\u0000b'), { name: 'PlistError', reason: 'unserializable' });
  t.throws(() => buildPlist('\uD800'), { name: 'PlistError', reason: 'unserializable' });
  t.throws(() => buildPlist(new Date(Number.NaN)), { name: 'PlistError', reason: 'unserializable' });
  t.throws(() => buildPlist(2n ** 64n), { name: 'PlistError', reason: 'unserializable' });
});
