import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { SealKeyFileError, SecretSealer, loadOrCreateSealingKey } from '../../src/pki';
import { tempDir } from '../support/ward';

class TestSeal extends SecretSealer {
  constructor(key: Buffer) {
    super(key);
  }
  protected override failure(kind: 'format' | 'open', aad: string): Error {
    return new Error(`${kind}:${aad}`);
  }
}

t.test('key files: created once (0600), raw or base64, wrong sizes refused', async (t) => {
  const dir = tempDir();
  for (const enc of ['raw', 'base64'] as const) {
    const file = path.join(dir, `${enc}.key`);
    const k1 = loadOrCreateSealingKey(file, enc);
    t.equal(k1.length, 32);
    t.equal(fs.statSync(file).mode & 0o777, 0o600);
    t.same(loadOrCreateSealingKey(file, enc), k1, `${enc}: the same key on the next load`);
    t.equal(fs.readFileSync(file).length, enc === 'raw' ? 32 : 45, `${enc} on disk`);
  }
  const short = path.join(dir, 'short.key');
  fs.writeFileSync(short, Buffer.alloc(16));
  t.throws(() => loadOrCreateSealingKey(short, 'raw'), SealKeyFileError);
});

t.test('seal/open: bound to key and aad, tampering and foreign formats refused', async (t) => {
  const key = loadOrCreateSealingKey(path.join(tempDir(), 'k'), 'raw');
  const s = new TestSeal(key);
  const sealed = s.seal(Buffer.from('secret'), 'row:1');
  t.equal(s.open(sealed, 'row:1').toString(), 'secret');
  t.throws(() => s.open(sealed, 'row:2'), { message: 'open:row:2' }, 'moved to another row');
  const flipped = Buffer.from(sealed);
  flipped[flipped.length - 1] ^= 1;
  t.throws(() => s.open(flipped, 'row:1'), { message: 'open:row:1' }, 'tampered');
  t.throws(() => s.open(Buffer.from([2, 0, 0]), 'row:1'), { message: 'format:row:1' });
  t.throws(() => new TestSeal(Buffer.alloc(31)), SealKeyFileError);
});
