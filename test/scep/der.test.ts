// The SCEP BER/DER reader (src/scep/der.ts) against node-forge's parser, which it replaced on the hot
// path: the same tree for every value forge accepts, and a ScepError (never another exception) for
// what it refuses.
import forge from 'node-forge';
import t from 'tap';
import { decode, encode, retagged, text, oid, isTrue, tlv, der, type Asn1 } from '../../src/scep/der';
import { ScepError } from '../../src/scep';

type ForgeNode = forge.asn1.Asn1;

function same(ours: Asn1, theirs: ForgeNode): boolean {
  if (ours.tagClass !== theirs.tagClass || ours.type !== theirs.type || ours.constructed !== theirs.constructed) return false;
  if (Buffer.isBuffer(ours.value)) return typeof theirs.value === 'string' && ours.value.toString('latin1') === theirs.value;
  const kids = theirs.value as ForgeNode[];
  return Array.isArray(kids) && kids.length === ours.value.length && ours.value.every((c, i) => same(c, kids[i]!));
}

const hasTag31 = (n: ForgeNode): boolean => (n.type as number) === 31 || (Array.isArray(n.value) && (n.value as ForgeNode[]).some(hasTag31));

const forgeDecode = (b: Buffer) =>
  (forge.asn1.fromDer as unknown as (x: forge.util.ByteStringBuffer, o: object) => ForgeNode)(forge.util.createBuffer(b.toString('latin1')), {
    strict: true, parseAllBytes: true, decodeBitStrings: false, maxDepth: 64,
  });

// A certificate-shaped value with every kind of node SCEP reads.
const sample = der.sequence(
  der.sequence(der.context(0, der.smallInteger(2)), der.integer(Buffer.from([0x01, 0x02, 0x83])), der.algorithm('1.2.840.113549.1.1.11', der.null())),
  der.set(der.sequence(der.oid('2.5.4.3'), der.utf8String('Wärd'))),
  tlv(0x01, Buffer.from([0xff])),
  der.octetString(Buffer.alloc(300, 7)),
  der.contextPrimitive(0, Buffer.from('abc')),
  tlv(0x17, Buffer.from('261123203000Z', 'latin1')),
);

t.test('the tree of a DER value is the one forge reads, and encode gives back the same bytes', async (t) => {
  const ours = decode(sample, 'sample');
  t.ok(same(ours, forgeDecode(sample)), 'same tree as forge');
  t.same(encode(ours), sample, 'raw bytes of the whole value');
  const kids = ours.value as Asn1[];
  const algorithm = (kids[0]!.value as Asn1[])[2]!;
  t.equal(oid((algorithm.value as Asn1[])[0], 'oid'), '1.2.840.113549.1.1.11');
  t.ok(isTrue(kids[2]), 'BOOLEAN TRUE');
  t.notOk(isTrue(kids[3]), 'an OCTET STRING is not TRUE');
});

t.test('indefinite lengths (BER) are read, and encode rebuilds them as DER', async (t) => {
  const inner = der.sequence(der.oid('2.5.4.3'), der.printableString('x'));
  const ber = Buffer.concat([Buffer.from([0x30, 0x80]), inner, Buffer.from([0x24, 0x80, 0x04, 0x01, 0x41, 0x04, 0x01, 0x42, 0x00, 0x00]), Buffer.from([0x00, 0x00])]);
  const node = decode(ber, 'ber');
  t.ok(same(node, forgeDecode(ber)), 'same tree as forge');
  t.equal(node.raw, undefined, 'no raw bytes for an indefinite value');
  t.same(encode(node), der.sequence(inner, tlv(0x24, der.octetString(Buffer.from('A')), der.octetString(Buffer.from('B')))), 'definite-length DER');
  t.same(retagged(decode(der.context(0, inner), 'x'), 0x31), der.set(inner), '[0] IMPLICIT read as the SET it stands for');
});

t.test('text: UTF8, Printable, BMP (UTF-16BE) and Universal strings', async (t) => {
  t.equal(text(decode(der.utf8String('Wärd ☤'), 'x'), 'x'), 'Wärd ☤');
  t.equal(text(decode(tlv(0x1e, Buffer.from('0057004100d8', 'hex')), 'x'), 'x'), 'WAØ');
  t.equal(text(decode(tlv(0x1c, Buffer.from('0001f3e5', 'hex')), 'x'), 'x'), '🏥');
  t.throws(() => text(decode(tlv(0x1e, Buffer.from('005741', 'hex')), 'x'), 'x'), ScepError, 'odd-length BMPString');
});

t.test('malformed input: a ScepError badRequest, whatever is wrong', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one octet', Buffer.from([0x30])],
    ['length past the end', Buffer.from([0x30, 0x05, 0x02, 0x01, 0x01])],
    ['child past its parent', Buffer.from([0x30, 0x03, 0x02, 0x02, 0x01, 0x01])],
    ['trailing bytes', Buffer.concat([der.null(), Buffer.from([0x00])])],
    ['indefinite primitive', Buffer.from([0x04, 0x80, 0x41, 0x00, 0x00])],
    ['indefinite without end-of-contents', Buffer.from([0x30, 0x80, 0x05, 0x00])],
    ['multi-octet tag', Buffer.from([0x1f, 0x81, 0x01, 0x00])],
    ['five length octets', Buffer.from([0x04, 0x85, 0, 0, 0, 0, 1, 0x41])],
    ['deeper than 64', Buffer.concat([Buffer.from(Array.from({ length: 70 }, () => [0x30, 0x80]).flat()), Buffer.alloc(140)])],
  ];
  for (const [name, bytes] of cases) {
    let failInfo: string | undefined;
    try {
      decode(bytes, 'input');
    } catch (e) {
      failInfo = e instanceof ScepError ? e.failInfo : `not a ScepError: ${String(e)}`;
    }
    t.equal(failInfo, 'badRequest', name);
  }
  t.throws(() => oid(decode(tlv(0x06, Buffer.from([0x2a, 0x86])), 'x'), 'oid'), ScepError, 'OID ending mid-arc');
});

t.test('every truncation and single-octet change of a real value: forge and the reader agree', async (t) => {
  let agreed = 0;
  const variants: Buffer[] = [];
  for (let n = 0; n < sample.length; n++) variants.push(sample.subarray(0, n));
  for (let i = 0; i < sample.length; i += 3) {
    for (const x of [0x00, 0x80, 0xff, 0x30, 0x05]) {
      const v = Buffer.from(sample);
      v[i] = x;
      variants.push(v);
    }
  }
  for (const v of variants) {
    let theirs: ForgeNode | undefined;
    try {
      theirs = forgeDecode(v);
    } catch {
      theirs = undefined;
    }
    let ours: Asn1 | undefined;
    try {
      ours = decode(v, 'input');
    } catch (e) {
      if (!(e instanceof ScepError)) throw e;
      ours = undefined;
    }
    // forge reads a multi-octet identifier as tag 31 followed by a length; the reader refuses it.
    const forgeOnly = theirs !== undefined && ours === undefined && hasTag31(theirs);
    if ((ours === undefined) === (theirs === undefined) ? ours === undefined || same(ours, theirs!) : forgeOnly) agreed++;
    else t.fail(`disagree on ${v.toString('hex')}`);
  }
  t.equal(agreed, variants.length, `${variants.length} variants`);
});
