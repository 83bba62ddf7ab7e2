// scrypt password hashes: the stored form records its parameters and salt, verification is exact,
// a cost change is detected for re-hashing, and the refusal rules for new passwords.
import crypto from 'node:crypto';
import t from 'tap';
import { hashPassword, verifyPassword } from '../../src/admin';
import { needsRehash, parseHash, passwordProblem } from '../../src/admin/password';

t.test('PHC string with parameters and salt; verify right and wrong', async (t) => {
  const params = { ln: 12, r: 8, p: 1 };
  const h1 = await hashPassword('correct horse battery', params);
  const h2 = await hashPassword('correct horse battery', params);
  t.match(h1, /^\$scrypt\$ln=12,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/, 'format: $scrypt$ln,r,p$salt$hash');
  t.not(h1, h2, 'a fresh salt each time');
  const parsed = parseHash(h1)!;
  t.equal(parsed.salt.length, 16, '16-byte salt');
  const expected = crypto.scryptSync(Buffer.from('correct horse battery'), parsed.salt, 32, { N: 4096, r: 8, p: 1 });
  t.ok(expected.equals(parsed.key), 'the hash is scrypt(N=2^12, r=8, p=1) of the password and salt (RFC 7914)');
  t.equal(await verifyPassword('correct horse battery', h1), true, 'right password');
  t.equal(await verifyPassword('correct horse batterY', h1), false, 'one letter off');
  t.equal(await verifyPassword('', h1), false, 'empty');
  t.equal(await verifyPassword('correct horse battery', '$scrypt$ln=12$broken'), false, 'unreadable stored hash never verifies');
  t.equal(await verifyPassword('x', 'plain-text-password'), false, 'a non-PHC value never verifies');
});

t.test('Unicode is normalized (NFKC) before hashing', async (t) => {
  const h = await hashPassword('caf\u00e9 latte 2024', { ln: 10, r: 8, p: 1 });
  t.equal(await verifyPassword('cafe\u0301 latte 2024', h), true, 'decomposed e + combining acute matches the composed form');
});

t.test('re-hash when the configured cost differs from the stored one', async (t) => {
  const h = await hashPassword('correct horse battery', { ln: 10, r: 8, p: 1 });
  t.equal(needsRehash(h, { ln: 10, r: 8, p: 1 }), false);
  t.equal(needsRehash(h, { ln: 17, r: 8, p: 1 }), true);
  t.equal(needsRehash('garbage', { ln: 10, r: 8, p: 1 }), true);
});

t.test('new password rules (NIST SP 800-63B: length, not composition)', async (t) => {
  t.equal(passwordProblem('short', 12), 'the password must have at least 12 characters');
  t.equal(passwordProblem('a long enough one', 12), undefined);
  t.match(passwordProblem('xx alice xx yy', 12, 'alice'), /user name/);
  t.match(passwordProblem('aaaaaaaaaaaaaa', 12), /repeat/);
  t.match(passwordProblem('x'.repeat(1025) + 'y', 12), /at most 1024/);
});
