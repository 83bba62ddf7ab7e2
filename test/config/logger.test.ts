// Secrets never reach the log, at any depth pino's redaction covers.
import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger } from '../../src/config';

t.test('pino redacts secrets', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write(c, _e, cb) { lines.push(c.toString()); cb(); } });
  const log = createLogger('info', sink);
  log.info({ password: 'hunter2', challenge: 'c-123', token: 'tok', user: 'nurse' }, 'top level');
  log.info({ req: { headers: { authorization: 'Bearer abc', cookie: 'sid=1' } } }, 'headers');
  log.info({ enroll: { challengePassword: 'cp-1', passphrase: 'pp', keep: 'visible' } }, 'nested');
  log.info({ a: { b: { token: 'deep-token' } } }, 'two levels');
  const all = lines.join('');
  for (const secret of ['hunter2', 'c-123', '"tok"', 'Bearer abc', 'sid=1', 'cp-1', '"pp"', 'deep-token']) {
    t.notMatch(all, secret, `${secret} is not logged`);
  }
  t.match(all, /"user":"nurse"/);
  t.match(all, /"keep":"visible"/);
  t.match(all, /\[redacted\]/);
});
