import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { TAR_END, TarFormatError, readTar, tarHeader, writeTar } from '../../src/audit/tar';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const files = [
  { name: 'entries.jsonl', data: Buffer.from('{"seq":1}\n{"seq":2}\n') },
  { name: 'empty.txt', data: Buffer.alloc(0) },
  { name: 'exact-block.bin', data: crypto.randomBytes(512) },
  { name: 'odd.bin', data: crypto.randomBytes(1000), mtime: new Date('2026-03-04T05:06:07Z'), mode: 0o600 },
];

t.test('round trip, and GNU tar and Python tarfile read what we write', async (t) => {
  const tar = writeTar(files);
  t.equal(tar.length % 512, 0);
  const back = readTar(tar);
  t.same(back.map((e) => e.name), files.map((f) => f.name), 'names in order');
  back.forEach((e, i) => t.ok(e.data.equals(files[i].data), `${e.name} bytes`));
  t.equal(back[3].mode, 0o600);
  t.equal(back[3].mtime.toISOString(), '2026-03-04T05:06:07.000Z');

  const file = path.join(dir, 'a.tar');
  fs.writeFileSync(file, tar);
  const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
  t.match(listing, /entries\.jsonl/);
  const out = path.join(dir, 'x');
  fs.mkdirSync(out);
  execFileSync('tar', ['-xf', file, '-C', out]);
  for (const f of files) t.ok(fs.readFileSync(path.join(out, f.name)).equals(f.data), `GNU tar extracts ${f.name} intact`);
  const py = spawnSync('python3', ['-c',
    'import sys,tarfile,hashlib\nwith tarfile.open(sys.argv[1]) as t:\n  for m in t.getmembers(): print(m.name, m.size, hashlib.sha256(t.extractfile(m).read()).hexdigest())',
    file], { encoding: 'utf8' });
  t.equal(py.status, 0, py.stderr);
  t.same(py.stdout.trim().split('\n'), files.map((f) => `${f.name} ${f.data.length} ${crypto.createHash('sha256').update(f.data).digest('hex')}`), 'python tarfile agrees');
});

t.test('reads a ustar archive made by GNU tar', async (t) => {
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'a.txt'), 'hello\n');
  fs.writeFileSync(path.join(src, 'b.bin'), crypto.randomBytes(700));
  const file = path.join(dir, 'gnu.tar');
  execFileSync('tar', ['--format=ustar', '-cf', file, '-C', src, 'a.txt', 'b.bin']);
  const entries = readTar(fs.readFileSync(file));
  t.same(entries.map((e) => e.name), ['a.txt', 'b.bin']);
  t.equal(entries[0].data.toString(), 'hello\n');
});

t.test('strict reader: truncated, odd and oversized archives are refused with a reason', async (t) => {
  const tar = writeTar(files);
  const expectError = (bytes: Buffer, re: RegExp, label: string, opts = {}) => {
    try {
      readTar(bytes, opts);
      t.fail(`${label}: accepted`);
    } catch (e) {
      t.ok(e instanceof TarFormatError, `${label}: TarFormatError`);
      t.match((e as Error).message, re, label);
    }
  };
  expectError(tar.subarray(0, 512 + 100), /not a whole number of 512-byte blocks/, 'cut mid-block');
  expectError(tar.subarray(0, 1024), /only \d+ remain|truncated/, 'cut mid-entry');
  expectError(tar.subarray(0, tar.length - 1024), /without the end-of-archive marker/, 'no end marker');
  expectError(tar.subarray(0, tar.length - 512), /one block, not two/, 'half an end marker');
  expectError(Buffer.concat([tar, Buffer.alloc(512, 1)]), /after the end-of-archive marker/, 'trailing garbage');
  expectError(Buffer.alloc(0), /without the end-of-archive marker/, 'empty input');

  const badSum = Buffer.from(tar);
  badSum[0] ^= 1;
  expectError(badSum, /checksum mismatch/, 'changed header byte');

  const gnu = writeTar([files[0]]);
  gnu.write('ustar  \0', 257, 'latin1');
  fixChecksum(gnu, 0);
  expectError(gnu, /not a POSIX ustar header/, 'GNU magic');

  const link = writeTar([files[0]]);
  link.write('2', 156, 'latin1');
  fixChecksum(link, 0);
  expectError(link, /is not a regular file/, 'symlink typeflag');

  const nonOctal = writeTar([files[0]]);
  nonOctal.write('0000000009x\0', 124, 'latin1');
  fixChecksum(nonOctal, 0);
  expectError(nonOctal, /size field .* is not an octal number/, 'non-octal size');

  const traversal = writeTar([files[0]]);
  traversal.write('../evil\0', 0, 'latin1');
  fixChecksum(traversal, 0);
  expectError(traversal, /not a plain file name/, 'path traversal');

  const padding = writeTar([files[0]]);
  padding[512 + files[0].data.length + 3] = 7;
  expectError(padding, /non-zero padding/, 'data hidden in padding');

  const dup = Buffer.concat([writeTar([files[0]]).subarray(0, 1024), writeTar([files[0]])]);
  expectError(dup, /duplicate entry entries\.jsonl/, 'duplicate names');

  expectError(tar, /more than the 100 allowed \(oversized\)/, 'entry larger than the limit', { maxEntrySize: 100 });
  expectError(tar, /more than 2 entries/, 'too many entries', { maxEntries: 2 });

  // A header that claims more than fits: above the ustar limit the size travels in a pax record.
  const huge = Buffer.concat([tarHeader('big.bin', 2 ** 33 + 5), TAR_END]);
  expectError(huge, /declares 8589934597 bytes but only 1024 remain/, 'pax size beyond 8 GiB is read back');
  expectError(huge, /oversized/, 'and refused when over the limit', { maxEntrySize: 2 ** 32 });
  t.throws(() => tarHeader('a/b', 1), /unsupported entry name/, 'writer refuses path names');
  t.throws(() => writeTar([files[0], files[0]]), /duplicate/, 'writer refuses duplicates');
});

function fixChecksum(buf: Buffer, offset: number): void {
  buf.write('        ', offset + 148, 'latin1');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += buf[offset + i];
  buf.write(sum.toString(8).padStart(6, '0') + '\0 ', offset + 148, 'latin1');
}
