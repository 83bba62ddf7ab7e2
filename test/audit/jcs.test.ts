import t from 'tap';
import { canonicalJson, clipText } from '../../src/audit/jcs';

const fromBits = (hex: string) => {
  const v = new DataView(new ArrayBuffer(8));
  v.setBigUint64(0, BigInt(`0x${hex}`));
  return v.getFloat64(0);
};

t.test('RFC 8785 Appendix B: number serialization', async (t) => {
  const vectors: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'], // minus zero
    ['0000000000000001', '5e-324'], // min positive subnormal
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  for (const [bits, expected] of vectors) t.equal(canonicalJson(fromBits(bits)), expected, `${bits} -> ${expected}`);
  t.equal(canonicalJson(-0), '0', 'literal -0');
  t.equal(canonicalJson(1e21), '1e+21', '1e21 switches to exponent form');
  t.equal(canonicalJson(1e20), '100000000000000000000', '1e20 does not');
  t.equal(canonicalJson(5e-324), '5e-324');
  t.equal(canonicalJson([-0, 1e-7]), '[0,1e-7]', 'inside arrays too');
  for (const bad of ['7fffffffffffffff', '7ff0000000000000', 'fff0000000000000']) {
    t.throws(() => canonicalJson(fromBits(bad)), TypeError, `${bad} (NaN/Infinity) is not JSON`);
  }
});

t.test('RFC 8785 section 3.2.2 example (cyberphone testdata values.json)', async (t) => {
  const input = '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n' +
    '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n  "literals": [null, true, false]\n}';
  t.equal(
    canonicalJson(JSON.parse(input)),
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
      '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
  );
});

t.test('RFC 8785 section 3.2.3: property order by UTF-16 code units', async (t) => {
  const input = {
    '\u20ac': 'Euro Sign',
    '\r': 'Carriage Return',
    '\ufb33': 'Hebrew Letter Dalet With Dagesh',
    '1': 'One',
    '\ud83d\ude00': 'Emoji: Grinning Face',
    '\u0080': 'Control',
    '\u00f6': 'Latin Small Letter O With Diaeresis',
  };
  t.equal(
    canonicalJson(input),
    '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    'U+1F600 (surrogates D83D DE00) sorts before U+FB33, unlike code point order',
  );
  // cyberphone/json-canonicalization testdata weird.json and structures.json
  t.equal(
    canonicalJson(JSON.parse('{"\\u20ac":"Euro Sign","1":"One","\\u0080":"Control\\u007f","\\ud83d\\ude02":"Smiley",' +
      '"\\u00f6":"Latin Small Letter O With Diaeresis","\\ufb33":"Hebrew Letter Dalet With Dagesh","</script>":"Browser Challenge"}')),
    '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude02":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  );
  t.equal(
    canonicalJson(JSON.parse('{"1": {"f": {"f": "hi","F": 5} ,"\\n": 56.0},"10": { },"": "empty","a": { },"111": [ { } ],"A": { }}')),
    '{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}}',
    'integer-like keys are sorted as strings, not in JS enumeration order',
  );
});

t.test('string escaping (RFC 8785 section 3.2.2.2)', async (t) => {
  t.equal(canonicalJson('\u0000\u0008\t\n\u000b\f\r\u001f'), '"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f"', 'control characters');
  t.equal(canonicalJson('"\\/'), '"\\"\\\\/"', 'quote and backslash escaped, solidus not');
  t.equal(canonicalJson('\u007f\u2028\u2029\ue000'), '"\u007f\u2028\u2029\ue000"', 'everything else is literal');
  t.equal(canonicalJson('\ud83d\ude00'), '"\ud83d\ude00"', 'a surrogate pair is written as the character');
  t.throws(() => canonicalJson('\ud800'), TypeError, 'a lone high surrogate is not I-JSON (RFC 7493 2.1)');
  let differ = 0;
  for (let c = 0; c < 0x800; c++) {
    const s = `a${String.fromCharCode(c)}b`;
    if (canonicalJson(s) !== JSON.stringify(s)) differ++;
  }
  t.equal(differ, 0, 'every code unit below U+0800 is written as ECMAScript JSON.stringify writes it');
  t.throws(() => canonicalJson({ ['x\udc00']: 1 }), TypeError, 'nor a lone low surrogate in a key');
});

t.test('values outside JSON are refused, toJSON is honoured', async (t) => {
  t.equal(canonicalJson({ b: undefined, a: 1 }), '{"a":1}', 'undefined members are dropped like JSON.stringify');
  t.equal(canonicalJson({ at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) }), '{"at":"2026-01-02T03:04:05.000Z"}', 'Date via toJSON');
  t.equal(canonicalJson({ z: { toJSON: () => ({ y: 1, x: 2 }) } }), '{"z":{"x":2,"y":1}}', 'toJSON output is canonicalized');
  t.throws(() => canonicalJson(10n), TypeError, 'bigint');
  t.throws(() => canonicalJson(() => 1), TypeError, 'function');
  t.throws(() => canonicalJson(Symbol('s')), TypeError, 'symbol');
  t.throws(() => canonicalJson([undefined]), TypeError, 'undefined in an array');
  t.equal(canonicalJson([true, false, null, 'x', { '': [] }]), '[true,false,null,"x",{"":[]}]');
});

t.test('clipText shortens without leaving half a surrogate pair (found by the fuzz run)', async (t) => {
  const text = `${'x'.repeat(199)}\u{1F691} more`;
  t.equal(text.slice(0, 200).length, 200);
  t.throws(() => canonicalJson(text.slice(0, 200)), /lone surrogate/, 'a plain slice there cannot be recorded');
  t.equal(clipText(text, 200), 'x'.repeat(199), 'the pair is dropped whole');
  t.equal(clipText(text, 201), `${'x'.repeat(199)}\u{1F691}`, 'or kept whole');
  t.equal(clipText('short', 200), 'short');
  t.doesNotThrow(() => canonicalJson(clipText(text, 200)));
});
