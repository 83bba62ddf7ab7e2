import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Escrow, EscrowError } from '../../src/apple/escrow';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

t.test('the key file is created once, 0600, and reused', async (t) => {
  const file = path.join(dir, 'keys', 'apple-escrow.key');
  const a = Escrow.open(file);
  t.equal(fs.statSync(file).mode & 0o777, 0o600);
  t.equal(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64').length, 32);
  const sealed = a.seal(Buffer.from('unlock'), 'apple.unlock-token:D1');
  t.equal(Escrow.open(file).open(sealed, 'apple.unlock-token:D1').toString(), 'unlock', 'a second open reads the same key');
  fs.writeFileSync(path.join(dir, 'bad.key'), 'c2hvcnQ=\n');
  t.throws(() => Escrow.open(path.join(dir, 'bad.key')), EscrowError);
});

t.test('sealed values open only with the same key and context, and resist tampering', async (t) => {
  const e = Escrow.fromKey(crypto.randomBytes(32));
  const secret = crypto.randomBytes(200);
  const sealed = e.seal(secret, 'apple.bootstrap-token:D1');
  t.notOk(sealed.includes(secret.subarray(0, 16)), 'no plaintext in the sealed value');
  t.not(e.seal(secret, 'apple.bootstrap-token:D1').toString('hex'), sealed.toString('hex'), 'fresh IV each time');
  t.ok(e.open(sealed, 'apple.bootstrap-token:D1').equals(secret));
  t.throws(() => e.open(sealed, 'apple.bootstrap-token:D2'), EscrowError, 'moved to another device');
  const flipped = Buffer.from(sealed);
  flipped[flipped.length - 1] ^= 1;
  t.throws(() => e.open(flipped, 'apple.bootstrap-token:D1'), EscrowError, 'tampered');
  t.throws(() => Escrow.fromKey(crypto.randomBytes(32)).open(sealed, 'apple.bootstrap-token:D1'), EscrowError, 'other key');
  t.throws(() => e.open(Buffer.from([9, 1, 2]), 'x'), EscrowError, 'unknown format');
});
