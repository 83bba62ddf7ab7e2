import path from 'node:path';
import t from 'tap';
import { GroupCommit, openDatabase } from '../../src/db';
import { tempDir } from '../support/ward';

function fresh() {
  const db = openDatabase(path.join(tempDir(), 'g.db'), { migrate: false });
  db.sqlite.exec('CREATE TABLE n (v INTEGER NOT NULL CHECK (v >= 0))');
  let commits = 0;
  const count = db.sqlite.prepare('SELECT count(*) FROM n').pluck();
  return { db, count: () => count.get() as number, commits: () => commits, onCommit: () => commits++ };
}

t.test('units queued together commit in one transaction and settle after it', async (t) => {
  const f = fresh();
  const g = new GroupCommit(f.db);
  const insert = f.db.sqlite.prepare('INSERT INTO n (v) VALUES (?)');
  let seenInside = -1;
  const done = Promise.all(Array.from({ length: 50 }, (_, i) => g.commit(() => {
    if (i === 49) seenInside = f.db.sqlite.inTransaction ? 1 : 0;
    return insert.run(i).changes;
  })));
  t.equal(f.count(), 0, 'nothing written before the batch runs');
  const results = await done;
  t.same(results, Array(50).fill(1));
  t.equal(f.count(), 50, 'every unit is there once the promises settle');
  t.equal(seenInside, 1, 'units run inside a transaction');
  f.db.close();
});

t.test('a failing unit fails alone; the others still commit', async (t) => {
  const f = fresh();
  const g = new GroupCommit(f.db, { windowMs: 2 });
  const insert = f.db.sqlite.prepare('INSERT INTO n (v) VALUES (?)');
  const settled = await Promise.allSettled([1, 2, -1, 3].map((v) => g.commit(() => insert.run(v))));
  t.same(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  t.match((settled[2] as PromiseRejectedResult).reason.message, /CHECK constraint/);
  t.same(f.db.sqlite.prepare('SELECT v FROM n ORDER BY v').pluck().all(), [1, 2, 3]);
  f.db.close();
});

t.test('a full batch commits at once', async (t) => {
  const f = fresh();
  const g = new GroupCommit(f.db, { maxBatch: 4, windowMs: 60_000 });
  const insert = f.db.sqlite.prepare('INSERT INTO n (v) VALUES (?)');
  const p = Promise.all([1, 2, 3, 4].map((v) => g.commit(() => insert.run(v))));
  t.equal(f.count(), 4, 'the fourth unit triggered the commit without waiting for the window');
  await p;
  f.db.close();
});

t.test('a full disk fails the whole batch at once: no unit runs a second time', async (t) => {
  const f = fresh();
  const g = new GroupCommit(f.db);
  const insert = f.db.sqlite.prepare('INSERT INTO n (v) VALUES (?)');
  let runs = 0;
  const settled = await Promise.allSettled([1, 2, 3].map((v) => g.commit(() => {
    runs++;
    if (v === 3) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    return insert.run(v);
  })));
  t.same(settled.map((s) => s.status), ['rejected', 'rejected', 'rejected'], 'every unit is refused (the caller answers 503)');
  t.same(settled.map((s) => (s as PromiseRejectedResult).reason.code), ['SQLITE_FULL', 'SQLITE_FULL', 'SQLITE_FULL']);
  t.equal(runs, 3, 'each unit ran once: none was retried alone against the full disk');
  t.equal(f.count(), 0, 'nothing committed');
  f.db.close();
});
