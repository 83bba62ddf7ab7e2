// Sign-in, sessions, CSRF, lockout and API tokens against a real Ward over HTTPS: what the browser
// is told (cookie attributes), what the audit log records (identity, source, reason), and what is
// never stored or logged (passwords, cookies, tokens, TOTP secrets).
import fs from 'node:fs';
import t from 'tap';
import { SESSION_COOKIE, base32Encode, hotp, totp, totpStep } from '../../src/admin';
import { memoryLog, startTestWard, request } from '../support/ward';
import {
  ADMIN_CTX, type Credential, call, createPerson, eventsNamed, eventsOf, setCookieOf, signIn, startAdminWard, tokenCredential,
} from './support';

// Real servers (and for some, real processes) on a shared two-core machine.
t.setTimeout(120_000);

const login = (ward: { httpsUrl: string; agent(): import('node:https').Agent }, body: unknown, headers: Record<string, string> = {}) =>
  request(`${ward.httpsUrl}/api/v1/session`, {
    method: 'POST', agent: ward.agent(), headers: { 'content-type': 'application/json', 'x-request-id': `login-${Math.random().toString(16).slice(2, 12)}`, ...headers },
    body: JSON.stringify(body),
  });

t.test('sign-in: cookie attributes, audit events, same answer for every failure', async (t) => {
  const mem = memoryLog();
  const ward = (await startTestWard({ admin: { password: { scryptCost: 10 } } }, { logger: mem.logger })) as Awaited<ReturnType<typeof startAdminWard>>;
  t.teardown(() => ward.stop());
  const alice = await createPerson(ward, 'operator', 'alice');

  const wrongPw = await login(ward, { username: 'alice', password: 'not her password', code: totp(alice.secret) });
  const wrongCode = await login(ward, { username: 'alice', password: alice.password, code: String((Number(totp(alice.secret)) + 500_000) % 1_000_000).padStart(6, '0') });
  const unknown = await login(ward, { username: 'mallory', password: 'mallory-password-typed-here', code: '123456' });
  for (const [what, a] of [['wrong password', wrongPw], ['wrong code', wrongCode], ['unknown user', unknown]] as const) {
    t.equal(a.status, 401, `${what}: 401`);
    t.equal(a.json().error, 'sign_in_failed', `${what}: the same error code`);
    t.equal(setCookieOf(a).length, 0, `${what}: no cookie`);
  }
  t.equal(wrongPw.json().reason, unknown.json().reason, 'an unknown name reads exactly like a wrong password');
  const failed = eventsNamed(ward, 'admin.login.failed');
  t.same(failed.map((e) => e.reason), ['wrong password', 'wrong code', 'unknown user'], 'each failure is an event with its reason');
  t.same(failed.map((e) => e.actor.id), ['alice', 'alice', 'unknown'], 'the identity (never the unknown name typed)');
  t.ok(failed.every((e) => e.source === '127.0.0.1' && e.outcome === 'failure'), 'source address and failure outcome');
  const auditText = (ward.db.sqlite.prepare('SELECT line FROM audit_events').pluck().all() as string[]).join('\n');
  t.notOk(auditText.includes('mallory'), 'the unknown user name is not recorded (people type passwords there)');

  const ok = await login(ward, { username: 'Alice', password: alice.password, code: totp(alice.secret) });
  t.equal(ok.status, 201, 'right password and code (user name case does not matter)');
  const cookie = setCookieOf(ok)[0];
  t.match(cookie, new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}; `), '__Host- cookie with 256 random bits');
  for (const attr of ['Path=/', 'Secure', 'HttpOnly', 'SameSite=Strict']) t.ok(cookie.split('; ').includes(attr), `cookie has ${attr}`);
  t.notOk(/Domain=/i.test(cookie), 'no Domain attribute (host-only)');
  const body = ok.json();
  t.same([body.kind, body.username, body.role, body.idleMinutes], ['session', 'alice', 'operator', 15]);
  t.match(body.csrfToken, /^[A-Za-z0-9_-]{43}$/, 'a CSRF token');
  const succeeded = eventsNamed(ward, 'admin.login.succeeded');
  t.equal(succeeded.length, 1);
  t.same([succeeded[0].actor, succeeded[0].source], [{ type: 'admin', id: 'alice' }, '127.0.0.1'], 'success event: who and from where');

  const foreign = await login(ward, { username: 'alice', password: alice.password, code: '000000' }, { origin: 'https://evil.example' });
  t.same([foreign.status, foreign.json().error], [403, 'csrf_failed'], 'a sign-in posted from another origin is refused (login CSRF)');

  const reused = await login(ward, { username: 'alice', password: alice.password, code: totp(alice.secret) });
  t.equal(reused.status, 401, 'the same code a second time is refused (RFC 6238 section 5.2)');
  t.equal(eventsNamed(ward, 'admin.login.failed').pop().reason, 'code reused');

  const value = cookie.split(';')[0].split('=')[1];
  const dbBytes = fs.readFileSync(ward.cfg.database.file).toString('latin1') + fs.readFileSync(`${ward.cfg.database.file}-wal`).toString('latin1');
  for (const [what, secret] of [['cookie', value], ['password', alice.password], ['TOTP secret (base32)', base32Encode(alice.secret)], ['TOTP secret (raw)', alice.secret.toString('latin1')]]) {
    t.notOk(dbBytes.includes(secret), `the ${what} is not in the database file`);
    t.notOk(mem.lines.join('\n').includes(secret), `the ${what} is not in the log`);
  }
  const sealed = ward.db.sqlite.prepare('SELECT totp_sealed FROM admin_users WHERE username = ?').pluck().get('alice') as Buffer;
  t.equal(sealed[0], 1, 'the TOTP secret is stored sealed (format 1: AES-256-GCM)');
  t.notOk(sealed.includes(alice.secret), 'and not in the clear');
});

t.test('lockout after N failures; unlock; TOTP drift of one step', async (t) => {
  const ward = await startAdminWard({ lockout: { maxFailures: 3, minutes: 10 } });
  t.teardown(() => ward.stop());
  const bob = await createPerson(ward, 'auditor', 'bob');
  for (let i = 0; i < 3; i++) t.equal((await login(ward, { username: 'bob', password: 'wrong wrong wrong', code: '000000' })).status, 401);
  const locked = eventsNamed(ward, 'admin.user.locked');
  t.equal(locked.length, 1, 'the third failure locks the account (an event)');
  t.same(locked[0].details.failures, 3);
  const whileLocked = await login(ward, { username: 'bob', password: bob.password, code: totp(bob.secret) });
  t.equal(whileLocked.status, 401, 'the right password and code are refused while locked');
  t.equal(eventsNamed(ward, 'admin.login.failed').pop().reason, 'account locked');
  t.ok(ward.admin.accounts.get('bob').lockedUntil, 'the account shows locked');
  ward.admin.accounts.unlock('bob', ADMIN_CTX);
  t.equal(eventsNamed(ward, 'admin.user.unlocked').length, 1, 'unlock is an event');
  const previousStep = hotp(bob.secret, totpStep() - 1);
  const after = await login(ward, { username: 'bob', password: bob.password, code: previousStep });
  t.equal(after.status, 201, 'after unlock, the code of the previous step (clock drift) signs in');
  const older = await login(ward, { username: 'bob', password: bob.password, code: hotp(bob.secret, totpStep() - 3) });
  t.equal(older.status, 401, 'a code three steps old is refused');
});

t.test('CSRF, Origin, logout, idle timeout and maximum length of a session', async (t) => {
  const ward = await startAdminWard({ session: { idleMinutes: 5, maxHours: 1 } });
  t.teardown(() => ward.stop());
  const carol = await createPerson(ward, 'admin', 'carol');
  const s = await signIn(ward, carol);
  const noCsrf: Credential = { ...s, csrf: undefined };
  const a1 = await call(ward, noCsrf, 'POST', '/tokens', { name: 'x', role: 'nac' });
  t.equal(a1.status, 403, 'a cookie-authenticated change without X-CSRF-Token is refused');
  t.equal(a1.json().error, 'csrf_failed');
  t.equal(eventsOf(ward, a1.requestId)[0]?.action, 'admin.access.denied', 'and recorded');
  const a2 = await call(ward, { ...s, csrf: 'A'.repeat(43) }, 'POST', '/tokens', { name: 'x', role: 'nac' });
  t.equal(a2.status, 403, 'a wrong CSRF token is refused');
  const a3 = await call(ward, s, 'POST', '/tokens', { name: 'x', role: 'nac' }, { origin: 'https://evil.example' });
  t.equal(a3.status, 403, 'a foreign Origin is refused even with the token');
  const a4 = await call(ward, s, 'POST', '/tokens', { name: 'x', role: 'nac' }, { origin: ward.httpsUrl });
  t.equal(a4.status, 201, 'same Origin and the CSRF token: allowed');
  t.equal((await call(ward, noCsrf, 'GET', '/tokens')).status, 200, 'reads need no CSRF token');

  // Time passing, as the database sees it: the session was last seen 6 minutes ago.
  const rewind = (col: string, ms: number) => ward.db.sqlite.prepare(`UPDATE admin_sessions SET ${col} = ? WHERE username = ?`).run(new Date(Date.now() - ms).toISOString(), 'carol');
  rewind('last_seen_at', 6 * 60_000);
  const idle = await call(ward, s, 'GET', '/session');
  t.equal(idle.status, 401, 'idle longer than admin.session.idleMinutes: signed out');
  t.equal(idle.json().error, 'session_expired');
  t.match(eventsOf(ward, idle.requestId)[0], { action: 'admin.session.ended', actor: { id: 'carol' }, details: { why: 'idle for 5 minutes' } }, 'the automatic logoff is an event');
  t.equal((await call(ward, s, 'GET', '/session')).status, 401, 'and the session stays gone');

  const s2 = await signIn(ward, carol, hotp(carol.secret, totpStep() + 1));
  rewind('last_seen_at', 0);
  ward.db.sqlite.prepare('UPDATE admin_sessions SET expires_at = ? WHERE username = ?').run(new Date(Date.now() - 1000).toISOString(), 'carol');
  const max = await call(ward, s2, 'GET', '/session');
  t.equal(max.status, 401, 'past the maximum session length: signed out however active');
  t.match(eventsOf(ward, max.requestId)[0], { action: 'admin.session.ended', details: { why: 'maximum session length reached' } });
});

t.test('sign-out ends the session on the server', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const dave = await createPerson(ward, 'operator', 'dave');
  const s = await signIn(ward, dave);
  const out = await call(ward, s, 'DELETE', '/session');
  t.equal(out.status, 204);
  t.match(setCookieOf(out)[0], /Max-Age=0/, 'the browser is told to drop the cookie');
  t.equal((await call(ward, s, 'GET', '/session')).status, 401, 'the old cookie no longer works');
  t.equal(eventsNamed(ward, 'admin.logout').length, 1, 'sign-out is an event');
});

t.test('own password change needs the current password; admin actions end sessions; last admin protected', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const erin = await createPerson(ward, 'admin', 'erin');
  const s = await signIn(ward, erin);
  const bad = await call(ward, s, 'POST', '/session/password', { current: 'not it at all', password: 'a brand new password' });
  t.equal(bad.status, 403, 'wrong current password');
  t.equal(eventsOf(ward, bad.requestId)[0]?.outcome, 'failure', 'recorded as a failure');
  const weak = await call(ward, s, 'POST', '/session/password', { current: erin.password, password: 'short' });
  t.equal(weak.status, 400, 'too short');
  t.match(weak.json().reason, /at least 12/);
  t.equal((await call(ward, s, 'POST', '/session/password', { current: erin.password, password: 'a brand new password' })).status, 204);
  t.equal((await call(ward, s, 'GET', '/session')).status, 200, 'the session that changed it stays signed in');

  const demote = await call(ward, s, 'PATCH', '/users/erin', { role: 'operator' });
  t.equal(demote.status, 409, 'the last admin cannot be demoted');
  t.equal(demote.json().error, 'last_admin');
  t.equal((await call(ward, s, 'PATCH', '/users/erin', { disabled: true })).status, 409, 'nor disabled');

  const frank = await createPerson(ward, 'operator', 'frank');
  const fs1 = await signIn(ward, frank);
  t.equal((await call(ward, s, 'PATCH', '/users/frank', { role: 'auditor' })).status, 200);
  t.equal((await call(ward, fs1, 'GET', '/session')).status, 401, "a role change ends the user's sessions");
  const created = await call(ward, s, 'POST', '/users', { username: 'grace', role: 'nac', password: 'she has a long one here' });
  t.equal(created.status, 201);
  t.match(created.json().otpauthUri, /^otpauth:\/\/totp\/.+secret=[A-Z2-7]+/, 'the new account comes with its TOTP secret, once');
  t.equal((await call(ward, s, 'POST', '/users', { username: 'grace', role: 'nac', password: 'she has a long one here' })).status, 409, 'a name is taken once');
  const users = (await call(ward, s, 'GET', '/users')).json().users;
  t.notOk(JSON.stringify(users).match(/scrypt|otpauth|secret/), 'the user list carries no hash and no secret');
});

t.test('API tokens: shown once, stored hashed, expiry, revocation, every use audited', async (t) => {
  const ward = await startAdminWard({ tokens: { maxDays: 30 } });
  t.teardown(() => ward.stop());
  const tok = tokenCredential(ward, 'auditor', 'nightly export');
  const raw = tok.headers.authorization.slice('Bearer '.length);
  t.match(raw, /^ward_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/, 'token format');
  const row = ward.db.sqlite.prepare('SELECT * FROM admin_tokens WHERE id = ?').get(tok.id) as Record<string, unknown>;
  t.notOk(JSON.stringify(row).includes(raw.slice(22)), 'the secret is not stored');
  t.equal((row.secret_hash as Buffer).length, 32, 'its SHA-256 is');
  const used = await call(ward, tok, 'GET', '/certificates');
  t.equal(used.status, 200);
  t.match(eventsOf(ward, used.requestId), [{ action: 'admin.token.used', actor: { type: 'admin', id: `token:${tok.id}` }, source: '127.0.0.1', details: { name: 'nightly export', route: 'certificates.list', status: 200 } }]);
  t.ok(ward.admin.tokens.list().find((x) => x.id === tok.id)?.lastUsedAt, 'last use time kept');

  const wrong = await call(ward, { ...tok, headers: { authorization: `Bearer ${raw.slice(0, -1)}${raw.endsWith('A') ? 'B' : 'A'}` } }, 'GET', '/certificates');
  t.equal(wrong.status, 401, 'a wrong secret for a real id');
  t.match(wrong.headers['www-authenticate'], /error="invalid_token"/, 'RFC 6750 challenge');
  t.match(eventsOf(ward, wrong.requestId), [{ action: 'admin.token.rejected', reason: 'token wrong secret', target: { id: tok.id } }]);
  const garbage = await call(ward, { ...tok, headers: { authorization: 'Bearer not-a-token' } }, 'GET', '/certificates');
  t.equal(garbage.status, 401, 'a malformed token');
  t.equal((await call(ward, { ...tok, headers: { authorization: 'Basic Zm9vOmJhcg==' } }, 'GET', '/certificates')).status, 401, 'another auth scheme');

});

t.test('API tokens: expiry and revocation', async (t) => {
  const ward = await startAdminWard({ tokens: { maxDays: 30 } });
  t.teardown(() => ward.stop());
  t.throws(() => ward.admin.tokens.create({ name: 'too long', role: 'nac', days: 31 }, ADMIN_CTX), /1 to 30 days/, 'no longer than admin.tokens.maxDays');
  const tok = tokenCredential(ward, 'nac');
  ward.db.sqlite.prepare('UPDATE admin_tokens SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), tok.id);
  const expired = await call(ward, tok, 'GET', '/session');
  t.equal(expired.status, 401, 'an expired token');
  t.equal(eventsOf(ward, expired.requestId)[0]?.reason, 'token expired');
  const tok2 = tokenCredential(ward, 'nac');
  t.equal((await call(ward, tok2, 'GET', '/session')).status, 200);
  ward.admin.tokens.revoke(tok2.id, ADMIN_CTX);
  const revoked = await call(ward, tok2, 'GET', '/session');
  t.equal(revoked.status, 401, 'a revoked token stops at once');
  t.equal(eventsOf(ward, revoked.requestId)[0]?.reason, 'token revoked');
  t.throws(() => ward.admin.tokens.revoke(tok2.id, ADMIN_CTX), /was revoked at/, "revoking twice is a conflict");
  t.same(eventsNamed(ward, 'admin.token.revoked').map((e) => e.target.id), [tok2.id], 'revocation is an event');
});
