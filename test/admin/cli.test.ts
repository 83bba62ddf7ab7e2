// wardctl user / token as real processes against a config, then a real daemon (node build/src/main.js)
// that accepts what they made: the first admin signs in with the printed TOTP secret, the printed
// token works until `wardctl token revoke`, and `wardctl user passwd` ends the user's sessions.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import t from 'tap';
import { totp } from '../../src/admin';
import { request, spawnDaemon, wardctl, writeTestConfig } from '../support/ward';
import { secretOf } from './support';

// Real servers (and for some, real processes) on a shared two-core machine.
t.setTimeout(180_000);

t.test('wardctl user and token, then a daemon that honours them', async (t) => {
  const { dir, file } = writeTestConfig({ admin: { password: { scryptCost: 10 } } });
  const run = (args: string[], input?: string) => wardctl([...args, '--config', file], { input });

  const add = run(['user', 'add', 'Alice', '--role', 'admin'], 'a long admin password\n');
  t.equal(add.status, 0, `user add: ${add.stderr}`);
  t.match(add.stdout, /^created alice \(admin\)$/m, 'names the account (lower case) and role');
  const uris = add.stdout.match(/otpauth:\/\/totp\/[^\s]+/g) ?? [];
  t.equal(uris.length, 1, 'the TOTP secret is printed once, as an otpauth:// URI');
  const secret = secretOf(uris[0] ?? 'otpauth://totp/x?secret=');
  t.equal(secret.length, 20, '160-bit secret');

  t.equal(run(['user', 'add', 'bob', '--role', 'root'], 'a long enough password\n').status, 2, 'unknown role: usage error');
  const weak = run(['user', 'add', 'bob', '--role', 'operator'], 'short\n');
  t.same([weak.status, weak.stderr.trim()], [2, 'wardctl: the password must have at least 12 characters'], 'weak password: one line, exit 2');
  t.equal(run(['user', 'add', 'carl', '--role', 'operator'], '').status, 2, 'no password on stdin: exit 2');
  const dup = run(['user', 'add', 'alice', '--role', 'operator'], 'another long password\n');
  t.same([dup.status, dup.stderr.trim()], [1, 'wardctl: user alice already exists'], 'duplicate: exit 1');

  const tok = run(['token', 'create', '--name', 'radius server', '--role', 'nac', '--days', '30']);
  t.equal(tok.status, 0, tok.stderr);
  const token = (tok.stdout.match(/^ward_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/m) ?? [])[0]!;
  t.ok(token, 'the token is printed');
  const list = run(['token', 'list']);
  t.match(list.stdout, /active\s+nac/, 'token list shows it active');
  t.notOk(list.stdout.includes(token.slice(22)), 'token list never shows the secret');
  t.equal(run(['token', 'create', '--name', 'x', '--role', 'nac', '--days', '9999']).status, 2, 'longer than admin.tokens.maxDays: exit 2');

  const daemon = await spawnDaemon(file);
  t.teardown(() => daemon.stop());
  const certs = path.join(dir, 'certs');
  const agent = new https.Agent({ ca: fs.readFileSync(path.join(certs, 'issuing.crt.pem'), 'utf8') + fs.readFileSync(path.join(certs, 'root.crt.pem'), 'utf8'), servername: 'localhost', keepAlive: false });
  t.teardown(() => agent.destroy());
  const api = (method: string, p: string, headers: Record<string, string> = {}, body?: unknown) =>
    request(`https://127.0.0.1:${daemon.httpsPort}/api/v1${p}`, {
      method, agent, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers }, body: body ? JSON.stringify(body) : undefined,
    });

  const signin = await api('POST', '/session', {}, { username: 'alice', password: 'a long admin password', code: totp(secret) });
  t.equal(signin.status, 201, 'the first admin signs in with the TOTP secret wardctl printed');
  const cookie = String(signin.headers['set-cookie']).split(';')[0];
  t.equal((await api('GET', '/users', { cookie })).json().users[0].createdBy.split(':')[0], 'cli', 'made by wardctl (actor cli:<shell user>)');
  const me = await api('GET', '/session', { authorization: `Bearer ${token}` });
  t.same([me.status, me.json().role, me.json().kind], [200, 'nac', 'token'], 'the printed token works');

  const id = token.slice(5, 21);
  const revoke = run(['token', 'revoke', id]);
  t.equal(revoke.status, 0, revoke.stderr);
  t.equal((await api('GET', '/session', { authorization: `Bearer ${token}` })).status, 401, 'revoked by wardctl: refused by the running daemon at once');
  const again = run(['token', 'revoke', token]);
  t.equal(again.status, 1, `revoking again (whole token given): exit 1 (${again.stdout}${again.stderr})`);

  const passwd = run(['user', 'passwd', 'alice'], 'a brand new admin password\n');
  t.equal(passwd.status, 0, `user passwd: ${passwd.stdout}${passwd.stderr}`);
  t.equal((await api('GET', '/session', { cookie })).status, 401, "wardctl user passwd ends the user's sessions");
  const nobody = run(['user', 'passwd', 'nobody'], 'whatever long password\n');
  t.equal(nobody.status, 1, `unknown user: exit 1 (${nobody.stdout}${nobody.stderr})`);

  const reset = run(['user', 'totp', 'alice']);
  t.equal(reset.status, 0, `user totp: ${reset.stdout}${reset.stderr}`);
  const newUri = (reset.stdout.match(/otpauth:\/\/totp\/[^\s]+/g) ?? [])[0];
  t.ok(newUri && newUri !== uris[0], 'a new TOTP secret, printed once');

  t.equal(run(['user', 'role', 'alice', 'operator']).status, 1, 'the last admin cannot be demoted');
  const users = JSON.parse(run(['user', 'list', '--json']).stdout);
  t.same(users.map((u: { username: string; role: string }) => [u.username, u.role]), [['alice', 'admin']]);

  const audit = wardctl(['audit', 'export', '--out', path.join(dir, 'b.tar'), '--config', file]);
  const actions = fs.existsSync(path.join(dir, 'b.tar')) ? fs.readFileSync(path.join(dir, 'b.tar')).toString() : '';
  if (audit.status === 0) {
    for (const a of ['admin.user.created', 'admin.token.created', 'admin.token.revoked', 'admin.user.password_changed', 'admin.user.totp_reset', 'admin.login.succeeded']) {
      t.ok(actions.includes(`"action":"${a}"`), `${a} is in the signed audit bundle`);
    }
    t.notOk(actions.includes(token.slice(22)), 'the token secret is not in the bundle');
  } else {
    t.comment(`wardctl audit export unavailable here: ${audit.stderr.trim()}`);
  }
});
