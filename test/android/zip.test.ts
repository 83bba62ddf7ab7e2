// The ZIP layer is network-facing (an uploaded APK): crafted archives and random corruption must end in
// an ApkFormatError with a reason, never in another exception or an unbounded allocation.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ApkFormatError, readApk } from '../../src/android';
import { readZipDirectory, readZipEntry, defaultZipLimits } from '../../src/android/zip';
import { buildApkSet } from './apk-builder';
import { writeZip } from './zip-writer';

// Real peers (aapt, apksigner, wardctl processes) on a shared two-core machine: more than tap's 30 s default.
t.setTimeout(240_000);

function refusal(fn: () => unknown): ApkFormatError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApkFormatError) return err;
    throw err;
  }
  throw new Error('expected an ApkFormatError, got none');
}

const hello = Buffer.from('hello, ward\n'.repeat(50));

t.test('a well-formed archive reads back, stored and deflated', async (t) => {
  const zip = writeZip([
    { name: 'a.txt', data: hello, method: 0 },
    { name: 'b.txt', data: hello, method: 8 },
  ]);
  const dir = readZipDirectory(zip);
  t.same(dir.entries.map((e) => [e.name, e.method]), [['a.txt', 0], ['b.txt', 8]]);
  t.ok(readZipEntry(zip, dir.byName.get('a.txt')!).equals(hello));
  t.ok(readZipEntry(zip, dir.byName.get('b.txt')!).equals(hello));
  t.ok(dir.byName.get('b.txt')!.compressedSize < hello.length, 'deflated entry is smaller');
});

t.test('structural lies are refused', async (t) => {
  const cases: [string, Buffer, string, RegExp][] = [
    ['duplicate names (Master Key)', writeZip([{ name: 'x', data: hello }, { name: 'x', data: hello }]), 'malformed-zip', /appears twice/],
    ['local header names another file', writeZip([{ name: 'AndroidManifest.xml', data: hello, localName: 'evil.xml' }]), 'malformed-zip', /names a different file/],
    ['encrypted entry', writeZip([{ name: 'x', data: hello, flags: 1 }]), 'unsupported-zip', /encrypted/],
    ['unknown method', writeZip([{ name: 'x', data: hello, methodField: 12 }]), 'unsupported-zip', /method 12/],
    ['central directory offset off by one', writeZip([{ name: 'x', data: hello }], { cdOffsetDelta: 1 }), 'malformed-zip', /central directory/],
    ['entry count larger than the directory', writeZip([{ name: 'x', data: hello }], { entryCount: 2 }), 'malformed-zip', /runs past|size does not match/],
    ['entry count smaller than the directory', writeZip([{ name: 'x', data: hello }, { name: 'y', data: hello }], { entryCount: 1 }), 'malformed-zip', /size does not match/],
    ['ZIP64 marker', writeZip([{ name: 'x', data: hello }], { entryCount: 0xffff }), 'unsupported-zip', /ZIP64/],
  ];
  for (const [label, zip, reason, message] of cases) {
    const e = refusal(() => readZipDirectory(zip));
    t.equal(e.reason, reason, label);
    t.match(e.message, message, label);
  }
  // A comment that contains a fake end-of-central-directory signature is not taken for the real one.
  const fakeEocd = Buffer.alloc(22);
  fakeEocd.writeUInt32LE(0x06054b50, 0);
  const withComment = writeZip([{ name: 'x', data: hello }], { comment: Buffer.concat([fakeEocd, Buffer.from('trailing')]) });
  t.same(readZipDirectory(withComment).entries.map((e) => e.name), ['x'], 'real EOCD found past a fake one in the comment');
  t.equal(refusal(() => readZipDirectory(Buffer.concat([writeZip([{ name: 'x', data: hello }]), Buffer.from('junk')]))).reason, 'not-a-zip', 'bytes after the EOCD');
});

t.test('entry contents: CRC, sizes and zip-bomb limits', async (t) => {
  const badCrc = writeZip([{ name: 'x', data: hello, crc32: 1234 }]);
  t.match(refusal(() => readZipEntry(badCrc, readZipDirectory(badCrc).entries[0])).message, /CRC-32/);

  const storedLie = writeZip([{ name: 'x', data: hello, uncompressedSize: hello.length + 1 }]);
  t.match(refusal(() => readZipDirectory(storedLie)).message, /different compressed and uncompressed sizes/);

  // 16 MiB of zeros deflate to about 16 KiB; the header claims 100 bytes.
  const bomb = Buffer.alloc(16 * 1024 * 1024);
  const lying = writeZip([{ name: 'bomb', data: bomb, method: 8, uncompressedSize: 100 }]);
  const before = process.memoryUsage().arrayBuffers;
  const e = refusal(() => readZipEntry(lying, readZipDirectory(lying).entries[0]));
  t.match(e.message, /inflates past its declared size/);
  t.ok(process.memoryUsage().arrayBuffers - before < 4 * 1024 * 1024, 'inflation stopped near the declared size');

  const honest = writeZip([{ name: 'bomb', data: bomb, method: 8 }]);
  const entry = readZipDirectory(honest).entries[0];
  t.equal(refusal(() => readZipEntry(honest, entry, { ...defaultZipLimits, maxEntryBytes: 1024 * 1024 })).reason, 'zip-limit', 'size limit');
  t.match(refusal(() => readZipEntry(honest, entry, { ...defaultZipLimits, maxRatio: 100 })).message, /compression ratio/, 'ratio limit');
  t.equal(refusal(() => readZipEntry(honest, entry)).reason, 'zip-limit', 'zeros compress past the default 1000:1 ratio');
  t.equal(readZipEntry(honest, entry, { ...defaultZipLimits, maxRatio: 100_000 }).length, bomb.length, 'within limits it inflates');

  const notDeflate = writeZip([{ name: 'x', data: hello, method: 0, methodField: 8 }]);
  t.match(refusal(() => readZipEntry(notDeflate, readZipDirectory(notDeflate).entries[0])).message, /not valid deflate|past its declared size|is \d+ bytes/);
});

t.test('random corruption of a real signed APK never escapes as another error', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const set = buildApkSet(dir);
  const apks = [fs.readFileSync(set.v2v3), fs.readFileSync(set.v1)];
  // Deterministic xorshift so a failure reproduces.
  let s = 0x2545f491;
  const rand = (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const reasons = new Map<string, number>();
  let accepted = 0;
  for (let i = 0; i < 1500; i++) {
    const src = apks[i % 2];
    const buf = Buffer.from(src);
    const flips = 1 + rand(4);
    for (let f = 0; f < flips; f++) buf[rand(buf.length)] = rand(256);
    const cut = rand(10) === 0 ? buf.subarray(0, rand(buf.length)) : buf;
    try {
      readApk(cut);
      accepted++;
    } catch (err) {
      if (!(err instanceof ApkFormatError)) {
        t.fail(`iteration ${i}: ${(err as Error).stack}`);
        return;
      }
      reasons.set(err.reason, (reasons.get(err.reason) ?? 0) + 1);
    }
  }
  t.ok(reasons.size >= 4, `refusals spread over reasons: ${JSON.stringify(Object.fromEntries(reasons))}`);
  // A flip that lands in unsigned space (e.g. zip comment fields, extra padding) may still read.
  t.ok(accepted < 150, `at most a few corrupted copies were accepted (${accepted})`);
});
