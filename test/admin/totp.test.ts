// TOTP against the RFCs' own test vectors (RFC 4226 appendix D, RFC 6238 appendix B, RFC 4648
// section 10), plus the verifier's window and its refusal to accept a step twice.
import t from 'tap';
import { base32Decode, base32Encode, hotp, otpauthUri, totp, totpStep, verifyTotp } from '../../src/admin';

const RFC_SECRET = Buffer.from('12345678901234567890');

t.test('RFC 4226 appendix D: HOTP values for counters 0..9', async (t) => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  expected.forEach((v, counter) => t.equal(hotp(RFC_SECRET, counter), v, `counter ${counter}`));
});

t.test('RFC 6238 appendix B: SHA-1 TOTP (8 digits) at the listed times', async (t) => {
  const vectors: [number, string][] = [
    [59, '94287082'], [1111111109, '07081804'], [1111111111, '14050471'], [1234567890, '89005924'], [2000000000, '69279037'], [20000000000, '65353130'],
  ];
  for (const [seconds, code] of vectors) t.equal(hotp(RFC_SECRET, totpStep(seconds * 1000), 8), code, `T=${seconds}`);
  t.equal(totp(RFC_SECRET, 59_000), '287082', 'six digits: the low six of the same value');
});

t.test('RFC 4648 section 10: base32', async (t) => {
  const vectors: [string, string][] = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
  for (const [plain, enc] of vectors) {
    t.equal(base32Encode(Buffer.from(plain)), enc, `encode ${JSON.stringify(plain)}`);
    t.equal(base32Decode(enc + '='.repeat((8 - (enc.length % 8)) % 8)).toString(), plain, `decode ${enc} with padding`);
    t.equal(base32Decode(enc.toLowerCase()).toString(), plain, `decode ${enc} lower case`);
  }
  t.throws(() => base32Decode('MZ1W'), /not base32/, 'a 1 is not base32');
});

t.test('verifier: one step either way, nothing further, no step twice, six digits only', async (t) => {
  const secret = Buffer.from('0123456789abcdef0123');
  const now = 1_700_000_000_000;
  const step = totpStep(now);
  const at = (s: number) => hotp(secret, s);
  t.same(verifyTotp(secret, at(step), 0, now), { ok: true, step }, 'current step');
  t.same(verifyTotp(secret, at(step - 1), 0, now), { ok: true, step: step - 1 }, 'previous step (drift)');
  t.same(verifyTotp(secret, at(step + 1), 0, now), { ok: true, step: step + 1 }, 'next step (drift)');
  t.same(verifyTotp(secret, at(step - 2), 0, now), { ok: false, reason: 'mismatch' }, 'two steps back is refused');
  t.same(verifyTotp(secret, at(step + 2), 0, now), { ok: false, reason: 'mismatch' }, 'two steps ahead is refused');
  t.same(verifyTotp(secret, at(step), step, now), { ok: false, reason: 'reused' }, 'the step already used is refused');
  t.same(verifyTotp(secret, at(step - 1), step, now), { ok: false, reason: 'reused' }, 'an older step after a newer one is refused');
  t.same(verifyTotp(secret, at(step + 1), step, now), { ok: true, step: step + 1 }, 'a later step after the used one is fine');
  for (const bad of ['', '12345', '1234567', 'abcdef', ' 123456', '12345\u0660']) {
    t.same(verifyTotp(secret, bad, 0, now), { ok: false, reason: 'malformed' }, `malformed ${JSON.stringify(bad)}`);
  }
  const wrong = String((Number(at(step)) + 1) % 1_000_000).padStart(6, '0');
  t.equal(verifyTotp(secret, wrong, 0, now).ok, [at(step - 1), at(step + 1)].includes(wrong), 'a neighbouring number is not the code');
});

t.test('otpauth URI carries the parameters authenticator apps read', async (t) => {
  const secret = Buffer.from('abcdefghijklmnopqrst');
  const uri = new URL(otpauthUri(secret, 'alice', 'Ward ward.example.org'));
  t.equal(uri.protocol, 'otpauth:');
  t.equal(uri.host, 'totp');
  t.equal(decodeURIComponent(uri.pathname), '/Ward ward.example.org:alice', 'label issuer:account');
  t.equal(uri.searchParams.get('issuer'), 'Ward ward.example.org');
  t.same(base32Decode(uri.searchParams.get('secret')!), secret, 'secret round-trips through base32');
  t.same([uri.searchParams.get('algorithm'), uri.searchParams.get('digits'), uri.searchParams.get('period')], ['SHA1', '6', '30']);
});
