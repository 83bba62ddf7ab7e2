// Binary XML: Ward's reading of an aapt-compiled manifest must equal `aapt dump xmltree`, both string pool
// encodings must read the same, attributes are identified by resource id as Android does, and broken
// documents are refused with a reason.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ApkFormatError, parseAxml, readManifest, type AxmlElement } from '../../src/android';
import { readZipDirectory, readZipEntry } from '../../src/android/zip';
import { aaptPackage, manifestXml } from './apk-builder';
import { ANDROID, writeAxml, type AxmlWriterElement } from './axml-writer';

function refusal(fn: () => unknown): ApkFormatError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApkFormatError) return err;
    throw err;
  }
  throw new Error('expected an ApkFormatError, got none');
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const apk = aaptPackage(dir, 'tree', manifestXml({ versionName: '2.0-é & <beta>', versionCode: 1_000_000 }));
const apkBytes = fs.readFileSync(apk);
const manifestBytes = readZipEntry(apkBytes, readZipDirectory(apkBytes).byName.get('AndroidManifest.xml')!);

/** One line per element and attribute, in the shape `aapt dump xmltree` prints. */
function render(el: AxmlElement, depth = 0, out: string[] = []): string[] {
  out.push(`${depth} E ${el.name} ${el.line}`);
  for (const a of el.attributes) {
    const prefix = a.namespace === ANDROID ? 'android:' : '';
    const id = a.resourceId ? `(0x${a.resourceId.toString(16).padStart(8, '0')})` : '';
    let v: string;
    switch (a.value.type) {
      case 'string':
        v = `"${a.value.value}"`;
        break;
      case 'int':
        v = `(type 0x10)0x${(a.value.value >>> 0).toString(16)}`;
        break;
      case 'boolean':
        v = `(type 0x12)0x${a.value.value ? 'ffffffff' : '0'}`;
        break;
      case 'reference':
        v = `@0x${a.value.id.toString(16).padStart(8, '0')}`;
        break;
      default:
        v = JSON.stringify(a.value);
    }
    out.push(`${depth + 1} A ${prefix}${a.name}${id}=${v}`);
  }
  for (const c of el.children) render(c, depth + 1, out);
  return out;
}

function aaptTree(apkPath: string): string[] {
  const text = execFileSync('aapt', ['dump', 'xmltree', apkPath, 'AndroidManifest.xml']).toString();
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const indent = (line.length - line.trimStart().length) / 2 - 1;
    const e = /^\s*E: (\S+) \(line=(\d+)\)$/.exec(line);
    if (e) {
      out.push(`${indent} E ${e[1]} ${e[2]}`);
      continue;
    }
    const a = /^\s*A: (\S+?)=(.*?)(?: \(Raw: .*\))?$/.exec(line);
    if (a) {
      // aapt types hex ints as 0x10/0x11 alike; normalize to the decimal type code it prints for ours.
      out.push(`${indent} A ${a[1]}=${a[2].replace('(type 0x11)', '(type 0x10)')}`);
    }
  }
  return out;
}

t.test('the parsed tree equals aapt dump xmltree, line for line', async (t) => {
  const ours = render(parseAxml(manifestBytes));
  const theirs = aaptTree(apk);
  t.ok(theirs.length > 30, `aapt printed ${theirs.length} lines`);
  t.same(ours, theirs);
  const m = readManifest(parseAxml(manifestBytes));
  t.equal(m.versionName, '2.0-é & <beta>');
  t.equal(m.versionCode, 1_000_000);
});

const sample: AxmlWriterElement = {
  name: 'manifest',
  attrs: [
    { name: 'package', value: 'org.example.sample' },
    { ns: ANDROID, name: 'versionCode', id: 0x0101021b, value: 3 },
    { ns: ANDROID, name: 'versionName', id: 0x0101021c, value: 'β'.repeat(200) },
  ],
  children: [
    { name: 'uses-sdk', attrs: [{ ns: ANDROID, name: 'minSdkVersion', id: 0x0101020c, value: 26 }] },
    {
      name: 'application',
      children: [
        {
          name: 'receiver',
          attrs: [
            { ns: ANDROID, name: 'name', id: 0x01010003, value: 'AdminReceiver' },
            { ns: ANDROID, name: 'permission', id: 0x01010006, value: 'android.permission.BIND_DEVICE_ADMIN' },
            { ns: ANDROID, name: 'exported', id: 0x01010010, value: { ref: 0x7f050001 } },
          ],
        },
      ],
    },
  ],
};

t.test('UTF-8 and UTF-16 string pools read the same, long strings included', async (t) => {
  const a = readManifest(parseAxml(writeAxml(sample, { utf8: true })));
  const b = readManifest(parseAxml(writeAxml(sample, { utf8: false })));
  t.same(a, b);
  t.equal(a.versionName, 'β'.repeat(200), '200 two-byte characters: two-byte UTF-8 lengths');
  t.equal(a.packageName, 'org.example.sample');
  t.equal(a.minSdk, 26);
  t.equal(a.targetSdk, 26, 'targetSdk defaults to minSdk');
  t.equal(a.receivers[0].name, 'org.example.sample.AdminReceiver', 'a name without a dot is package-relative');
  t.equal(a.receivers[0].exported, null, 'a resource-reference boolean is unknown, not false');

  const long = 'x'.repeat(0x8000 + 5);
  const withLong = { ...sample, attrs: [...sample.attrs!.slice(0, 2), { ns: ANDROID, name: 'versionName', id: 0x0101021c, value: long }] };
  t.equal(readManifest(parseAxml(writeAxml(withLong, { utf8: false }))).versionName, long, 'UTF-16 two-unit length');
});

t.test('android: attributes are found by resource id, as Android does', async (t) => {
  const renamed: AxmlWriterElement = {
    ...sample,
    attrs: [
      { name: 'package', value: 'org.example.sample' },
      // The name string lies ("label"), the resource id says versionCode.
      { ns: ANDROID, name: 'label', id: 0x0101021b, value: 9 },
      // The name string says versionName, the id is something else: not the version name.
      { ns: ANDROID, name: 'versionName', id: 0x01010001, value: 'decoy' },
    ],
  };
  const m = readManifest(parseAxml(writeAxml(renamed)));
  t.equal(m.versionCode, 9);
  t.equal(m.versionName, null);
  // Without a resource map, names in the android namespace are used.
  const noMap = readManifest(parseAxml(writeAxml(sample, { resourceMap: false })));
  t.equal(noMap.versionCode, 3);
});

t.test('manifest-level refusals', async (t) => {
  const noVersion = { ...sample, attrs: [sample.attrs![0]] };
  t.match(refusal(() => readManifest(parseAxml(writeAxml(noVersion)))).message, /versionCode/);
  const badPackage = { ...sample, attrs: [{ name: 'package', value: 'nodots' }, sample.attrs![1]] };
  t.match(refusal(() => readManifest(parseAxml(writeAxml(badPackage)))).message, /package name "nodots"/);
  const wrongRoot = { ...sample, name: 'application' };
  t.match(refusal(() => readManifest(parseAxml(writeAxml(wrongRoot)))).message, /not <manifest>/);
  const nameless: AxmlWriterElement = { ...sample, children: [{ name: 'application', children: [{ name: 'receiver' }] }] };
  t.match(refusal(() => readManifest(parseAxml(writeAxml(nameless)))).message, /no android:name/);
});

t.test('broken binary XML is refused with a reason', async (t) => {
  const good = writeAxml(sample);
  const e = (b: Buffer) => refusal(() => parseAxml(b));
  t.match(e(Buffer.from('<?xml version="1.0"?><manifest/>')).message, /plain-text XML/);
  t.match(e(Buffer.alloc(4)).message, /too short/);
  t.match(e(good.subarray(0, good.length - 10)).message, /size is invalid/);

  const bigChunk = Buffer.from(good);
  bigChunk.writeUInt32LE(0x7fffffff, 8 + 4); // string pool chunk claims 2 GiB
  t.match(e(bigChunk).message, /invalid size/);

  // Truncate the document after the first start element: elements are left open.
  const firstEnd = good.indexOf(Buffer.from([0x03, 0x01, 0x10, 0x00])); // END_ELEMENT chunk header
  const cut = Buffer.from(good.subarray(0, firstEnd));
  cut.writeUInt32LE(cut.length, 4);
  t.match(e(cut).message, /never closed/);

  // Point an element name at a string index past the pool.
  const badIndex = Buffer.from(good);
  const start = badIndex.indexOf(Buffer.from([0x02, 0x01, 0x10, 0x00]));
  badIndex.writeUInt32LE(0xfffffff0, start + 16 + 4);
  t.match(e(badIndex).message, /string index/);

  // An end element that names a different element.
  const mismatched = Buffer.from(good);
  const end = mismatched.indexOf(Buffer.from([0x03, 0x01, 0x10, 0x00]));
  mismatched.writeUInt32LE(0, end + 16 + 4);
  t.match(e(mismatched).message, /does not match/);

  const deep: AxmlWriterElement = { name: 'manifest' };
  let cur = deep;
  for (let i = 0; i < 100; i++) {
    const next: AxmlWriterElement = { name: 'x' };
    cur.children = [next];
    cur = next;
  }
  t.match(e(writeAxml(deep)).message, /too deeply/);
});

t.test('random corruption of a compiled manifest only ever yields ApkFormatError', async (t) => {
  let s = 0x1234567;
  const rand = (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(manifestBytes);
    for (let f = 0; f < 1 + rand(3); f++) b[rand(b.length)] = rand(256);
    try {
      readManifest(parseAxml(b));
    } catch (err) {
      if (!(err instanceof ApkFormatError)) {
        t.fail(`iteration ${i}: ${(err as Error).stack}`);
        return;
      }
      refused++;
    }
  }
  t.ok(refused > 100, `${refused} of 3000 corrupted manifests refused, none crashed`);
});
