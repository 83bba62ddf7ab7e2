// Keys handed to node:crypto without the exceptions of its key-input checks (src/pki/key-objects):
// the RSA shortcut must give the very key createPublicKey gives, and refuse what it refuses.
import crypto from 'node:crypto';
import t from 'tap';
import { publicKeyFromSpki, withKeyOptions } from '../../src/pki';

const spkiOf = (k: crypto.KeyObject) => k.export({ format: 'der', type: 'spki' });
const viaDer = (der: Buffer) => crypto.createPublicKey({ key: der, format: 'der', type: 'spki' });

t.test('the same key as createPublicKey for RSA, EC and Ed25519 SPKIs', async (t) => {
  const pairs: [string, crypto.KeyObject][] = [
    ['rsa-2048', crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    ['rsa-3072 e=3', crypto.generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 3 }).publicKey],
    ['ec p-256', crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
    ['ed25519', crypto.generateKeyPairSync('ed25519').publicKey],
  ];
  for (const [name, key] of pairs) {
    const der = spkiOf(key);
    const got = publicKeyFromSpki(der);
    t.ok(got.equals(viaDer(der)), `${name}: equal key`);
    t.equal(got.asymmetricKeyType, key.asymmetricKeyType, `${name}: ${key.asymmetricKeyType}`);
    // A view into a larger buffer (as a parsed message hands it over) reads only its own bytes.
    const framed = Buffer.concat([Buffer.from([1, 2, 3]), der, Buffer.from([4])]);
    t.ok(publicKeyFromSpki(framed.subarray(3, 3 + der.length)).equals(got), `${name}: from a subarray`);
  }
});

t.test('odd and malformed SPKIs: refused where createPublicKey refuses, the same key where it accepts', async (t) => {
  const der = spkiOf(crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
  const unusedBits = Buffer.from(der);
  unusedBits[4 + 15 + 4] = 1; // the key BIT STRING's unused-bits byte (30 82 xx xx, AlgorithmIdentifier, 03 82 xx xx)
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['truncated', der.subarray(0, der.length - 10)],
    ['trailing byte', Buffer.concat([der, Buffer.from([0])])],
    ['unused bits in the key BIT STRING', unusedBits],
    ['not DER at all', Buffer.from('not a key')],
    ['modulus bytes garbled', Buffer.concat([der.subarray(0, 40), Buffer.alloc(der.length - 40, 0xff)])],
  ];
  for (const [name, odd] of cases) {
    let expected: crypto.KeyObject | undefined;
    try {
      expected = viaDer(odd);
    } catch {
      expected = undefined;
    }
    if (expected) t.ok(publicKeyFromSpki(odd).equals(expected), `${name}: accepted as node accepts it, the same key`);
    else t.throws(() => publicKeyFromSpki(odd), `${name}: refused as node refuses it`);
  }
});

t.test('withKeyOptions: answers as the call does, errors still thrown, the stack limit restored', async (t) => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const limit = Error.stackTraceLimit;
  const secret = Buffer.from('sixteen byte key');
  const sealed = withKeyOptions(() => crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, secret));
  t.same(withKeyOptions(() => crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_PADDING }, sealed)), secret);
  t.throws(() => withKeyOptions(() => crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING }, sealed)));
  t.equal(Error.stackTraceLimit, limit, 'restored after a throw');
});
