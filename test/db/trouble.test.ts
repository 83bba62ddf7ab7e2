// Storage trouble: which failures are the machine's (locked database, full or failing disk), and how a
// writer behaves when another process holds the write lock.
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { openDatabase, storageTrouble } from '../../src/db';
import { tempDir } from '../support/ward';

t.test('classification of SQLite and system error codes', async (t) => {
  const of = (code: string) => storageTrouble(Object.assign(new Error(code), { code }));
  t.equal(of('SQLITE_BUSY'), 'busy');
  t.equal(of('SQLITE_BUSY_SNAPSHOT'), 'busy');
  t.equal(of('SQLITE_LOCKED_SHAREDCACHE'), 'busy');
  t.equal(of('SQLITE_FULL'), 'full');
  t.equal(of('ENOSPC'), 'full');
  t.equal(of('SQLITE_IOERR_WRITE'), 'io');
  t.equal(of('SQLITE_IOERR_FSYNC'), 'io');
  t.equal(of('SQLITE_CONSTRAINT_CHECK'), undefined, 'a refused row is the request\'s problem');
  t.equal(storageTrouble(new Error('plain')), undefined);
  t.equal(storageTrouble(undefined), undefined);
});

t.test('a lock held elsewhere: the first writer waits, the next fail at once until one gets through', async (t) => {
  const file = path.join(tempDir(), 'locked.db');
  const db = openDatabase(file, { migrate: false, busyTimeoutMs: 300 });
  t.teardown(() => db.close());
  db.sqlite.exec('CREATE TABLE n (v INTEGER)');
  const insert = db.sqlite.prepare('INSERT INTO n (v) VALUES (?)');
  const waits = () => db.sqlite.pragma('busy_timeout', { simple: true });

  const holder = new Database(file);
  holder.exec('BEGIN IMMEDIATE');
  const started = Date.now();
  t.throws(() => db.write(() => insert.run(1)), { code: 'SQLITE_BUSY' }, 'the first writer gives up after the busy timeout');
  t.ok(Date.now() - started >= 290, 'it waited for the lock first');
  t.equal(waits(), 0, 'the next writers do not wait');
  t.throws(() => db.write(() => insert.run(2)), { code: 'SQLITE_BUSY' });
  t.equal(waits(), 0, 'still refused at once while the lock is held');
  holder.exec('COMMIT');
  holder.close();

  db.write(() => insert.run(3));
  t.equal(waits(), 300, 'a write that got through restores the wait');
  t.same(db.sqlite.prepare('SELECT v FROM n').pluck().all(), [3], 'the refused writes left nothing');
});
