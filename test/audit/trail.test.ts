import fs from 'node:fs';
import Database from 'better-sqlite3';
import t from 'tap';
import { AuditAlarmError, AuditLog, canonicalJson, leafHash, verifyBundle } from '../../src/audit';
import { eventLine } from '../../src/audit/store';
import { rootFromLeafHashes } from '../../src/audit/merkle';
import { openDatabase } from '../../src/db';
import { memoryLog } from '../support/ward';
import { makeTestCa } from './openssl-ca';
import { type TrailFixture as Fixture, auditMigrations, cliCtx, openTrail, recordThings } from './trail-fixture';

const ca = makeTestCa();
t.teardown(() => fs.rmSync(ca.dir, { recursive: true, force: true }));

const open = (file?: string, log?: ReturnType<typeof memoryLog>) => openTrail(ca, file, log);
const ctx = cliCtx;
const record = recordThings;
const allLines = (f: Fixture) => f.db.sqlite.prepare('SELECT line FROM audit_events ORDER BY seq').pluck().all() as string[];
const rootOfStore = (f: Fixture) => rootFromLeafHashes(allLines(f).map((l) => leafHash(l)));

/** What someone with write access to the file does: drop the trigger, edit, put the trigger back. */
function tamper(file: string, sql: string, params: unknown[] = []) {
  const raw = new Database(file);
  raw.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;');
  raw.prepare(sql).run(...params);
  raw.exec(`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;`);
  raw.close();
}

t.test('append-only: triggers abort UPDATE and DELETE on events and tree heads', async (t) => {
  const f = open();
  record(f, 3);
  await f.trail.signTreeHead('demand', ctx);
  for (const sql of [
    "UPDATE audit_events SET line = 'x' WHERE seq = 2",
    'DELETE FROM audit_events WHERE seq = 1',
    'DELETE FROM audit_events',
    'UPDATE audit_tree_heads SET tree_size = 1',
    'DELETE FROM audit_tree_heads',
  ]) {
    t.throws(() => f.db.sqlite.prepare(sql).run(), /is append-only/, sql);
  }
  t.equal(allLines(f).length, 4, 'three events and the head event: nothing lost');
  f.trail.stop();
  f.db.close();
});

t.test('an event commits with its change or not at all; the tree never sees a rolled-back event', async (t) => {
  const f = open();
  record(f, 2);
  f.db.sqlite.exec('CREATE TABLE things (id TEXT PRIMARY KEY)');
  t.throws(() => f.db.write(() => {
    f.db.sqlite.prepare("INSERT INTO things VALUES ('a')").run();
    f.audit.record({ action: 'test.thing.created', ...ctx, target: { type: 'thing', id: 'a' } });
    f.trail.current(); // reading the tree mid-transaction must not pick up the uncommitted event
    throw new Error('change failed');
  }), /change failed/);
  t.equal(f.db.sqlite.prepare('SELECT COUNT(*) FROM things').pluck().get(), 0, 'change rolled back');
  t.equal(allLines(f).length, 2, 'so was its event');
  t.equal(f.lines.length, 3, 'although the append listener saw it');
  const now = f.trail.current();
  t.equal(now.treeSize, 2);
  t.ok(now.rootHash.equals(rootOfStore(f)), 'tree = committed events only');
  const head = await f.trail.signTreeHead('demand', ctx);
  t.equal(head.treeSize, 2, 'the head covers the committed events');
  t.equal(f.trail.alarm, null, 'and no false alarm');
  f.trail.stop();
  f.db.close();
});

t.test('Merkle state restored at start from the last head, then the events since', async (t) => {
  const f = open();
  record(f, 40);
  const head = await f.trail.signTreeHead('schedule', ctx);
  t.equal(head.treeSize, 40);
  t.ok(head.rootHash.equals(rootFromLeafHashes(allLines(f).slice(0, 40).map((l) => leafHash(l)))), 'signed root = RFC 9162 root of the lines');
  record(f, 9, 40);
  f.trail.stop();
  f.db.close();
  const g = open(f.file);
  const restored = g.trail.current();
  t.equal(restored.treeSize, 50, '40 + head event + 9');
  t.ok(restored.rootHash.equals(rootOfStore(g)), 'restored root equals a full recomputation');
  const stored = g.db.sqlite.prepare('SELECT head, signature FROM audit_tree_heads').get() as { head: string; signature: Buffer };
  t.match(JSON.parse(stored.head), { format: 'ward-tree-head/1', treeSize: 40, rootHash: head.rootHash.toString('hex') }, 'signed text stored');
  const second = await g.trail.signTreeHead('schedule', ctx);
  t.equal(second.treeSize, 50, 'next head checked against the previous one and signed');
  t.equal(g.trail.health().ok, true);
  g.trail.stop();
  g.db.close();
});

t.test('editing the database behind Ward\'s back raises the alarm', async (t) => {
  // 1. A line changed, its leaf hash left alone.
  let f = open();
  record(f, 20);
  await f.trail.signTreeHead('schedule', ctx);
  tamper(f.file, "UPDATE audit_events SET line = replace(line, '\"t7\"', '\"t8\"') WHERE seq = 8");
  await t.rejects(f.trail.signTreeHead('schedule', ctx), { name: 'AuditAlarmError', message: /event seq 8: its line no longer hashes to its stored leaf hash/ });
  t.equal(f.trail.health().ok, false, 'health fails');
  t.match(f.trail.health().details.alarm, { reason: /seq 8/, recorded: true });
  t.ok(f.log.lines.some((l) => /"level":50/.test(l) && /does not match its signed tree heads/.test(l)), 'error logged');
  const alarmEvent = f.db.sqlite.prepare("SELECT line FROM audit_events WHERE action = 'audit.tree.inconsistent'").pluck().get() as string;
  t.match(JSON.parse(alarmEvent), { outcome: 'failure', reason: /seq 8/, actor: { type: 'system' } }, 'alarm event recorded');
  await t.rejects(f.trail.exportBundle({}, ctx), AuditAlarmError, 'no export over a tampered store');
  f.trail.stop();
  f.db.close();

  // 2. Line and leaf hash both rewritten (consistent row): only the signed root tells.
  f = open();
  record(f, 20);
  await f.trail.signTreeHead('schedule', ctx);
  const line = (f.db.sqlite.prepare('SELECT line FROM audit_events WHERE seq = 5').pluck().get() as string).replace('"t4"', '"tX"');
  tamper(f.file, 'UPDATE audit_events SET line = ?, leaf_hash = ? WHERE seq = 5', [line, leafHash(line)]);
  f.trail.stop();
  f.db.close();
  f = open(f.file);
  await t.rejects(f.trail.checkStore(), { message: /events 1\.\.20 no longer hash to the root signed at .* the store was edited/ }, 'after a restart too');
  t.equal(f.trail.health().ok, false);
  f.trail.stop();
  f.db.close();

  // 3. A row deleted.
  f = open();
  record(f, 10);
  tamper(f.file, 'DELETE FROM audit_events WHERE seq = 4');
  await t.rejects(f.trail.signTreeHead('schedule', ctx), { message: /the running tree|event seq 4 is missing/ });
  f.trail.stop();
  f.db.close();
  f = open(f.file);
  t.match(f.trail.alarm, { reason: /event seq 4 is missing/ }, 'restore sees the gap');
  f.trail.stop();
  f.db.close();

  // 4. The latest signed head itself replaced.
  f = open();
  record(f, 5);
  await f.trail.signTreeHead('schedule', ctx);
  const raw = new Database(f.file);
  raw.exec('DROP TRIGGER audit_tree_heads_no_update');
  raw.prepare('UPDATE audit_tree_heads SET head = replace(head, \'"treeSize":5\', \'"treeSize":4\')').run();
  raw.close();
  f.trail.stop();
  f.db.close();
  f = open(f.file);
  t.match(f.trail.alarm, { reason: /signed tree head #1 \(size 5\) has a bad signature/ }, 'a forged head is refused at start');
  f.trail.stop();
  f.db.close();
});

t.test('the alarm event is recorded once the store can be written again', async (t) => {
  const f = open();
  record(f, 6);
  await f.trail.signTreeHead('schedule', ctx);
  tamper(f.file, "UPDATE audit_events SET line = replace(line, '\"t2\"', '\"tZ\"') WHERE seq = 3");
  const locker = new Database(f.file);
  locker.exec('BEGIN IMMEDIATE');
  await t.rejects(f.trail.checkStore(), AuditAlarmError);
  t.match(f.trail.alarm, { recorded: false }, 'store locked: not recorded yet');
  t.ok(f.log.lines.some((l) => /cannot record the alarm event yet/.test(l)));
  locker.exec('ROLLBACK');
  locker.close();
  const deadline = Date.now() + 10_000;
  while (!f.trail.alarm?.recorded && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.match(f.trail.alarm, { recorded: true }, 'recorded after the lock went away');
  t.equal(f.db.sqlite.prepare("SELECT COUNT(*) FROM audit_events WHERE action = 'audit.tree.inconsistent'").pluck().get(), 1, 'exactly once');
  f.trail.stop();
  f.db.close();
});

t.test('exports: full, by time, and each later export proves consistency with the earlier ones', async (t) => {
  const f = open();
  record(f, 30);
  const first = await f.trail.exportBundle({}, ctx);
  t.same(first.range, { start: 0, end: 30 });
  t.same(verifyBundle(first.bundle).failures, [], 'full export verifies');
  t.equal(verifyBundle(first.bundle).rootFingerprint256, ca.root.fingerprint256);

  record(f, 25, 30);
  const times = f.db.sqlite.prepare('SELECT seq, time FROM audit_events ORDER BY seq').all() as { seq: number; time: string }[];
  const since = times[40].time;
  const second = await f.trail.exportBundle({ since }, ctx);
  const firstSince = times.find((r) => r.time >= since)!.seq;
  t.equal(second.range.start, firstSince - 1, 'starts at the first event at/after --since');
  t.equal(second.range.end, second.treeHead.treeSize, 'up to the signed head');
  const head2 = verifyBundle(second.bundle).treeHead!;
  t.equal(head2.consistencyProofs.length, 1, 'carries a proof from the first export\'s head');
  t.equal(head2.consistencyProofs[0].treeSize, first.treeHead.treeSize);
  t.same(verifyBundle(second.bundle, { previous: first.bundle }).failures, [], 'range export is consistent with the previous bundle (embedded RFC 9162 proof)');

  const until = times[10].time;
  const early = await f.trail.exportBundle({ until }, ctx);
  t.equal(early.range.start, 0);
  t.equal(early.range.end, times.filter((r) => r.time <= until).at(-1)!.seq, 'ends at the last event at/before --until');
  t.same(verifyBundle(early.bundle, { previous: second.bundle }).failures, [], 'and verifies against the second');

  const exported = f.db.sqlite.prepare("SELECT line FROM audit_events WHERE action = 'audit.bundle.exported'").pluck().all() as string[];
  t.equal(exported.length, 3, 'each export is an audit event');
  t.match(JSON.parse(exported[1]), { details: { start: second.range.start, end: second.range.end, consistencyProofs: 1 } });
  const empty = await f.trail.exportBundle({ since: '2999-01-01T00:00:00.000Z' }, ctx);
  t.equal(empty.range.end - empty.range.start, 0, 'nothing after --since: an empty range');
  t.same(verifyBundle(empty.bundle).failures, []);
  f.trail.stop();
  f.db.close();
});

t.test('record() writes exactly canonicalJson(event): the fast line writer agrees with RFC 8785', async (t) => {
  const strings = ['', 'plain', 'quote " and \\ back', 'ctl \u0000\u001f\n', 'ünï € 😀 \u2028', '</script>'];
  let differ = 0;
  let count = 0;
  for (const s of strings) {
    for (const target of [null, { type: s, id: `${s}1` }]) {
      for (const nullable of [null, s]) {
        const e = {
          seq: 1 + count * 7919, time: new Date(1_700_000_000_000 + count).toISOString(), action: 'a.b',
          actor: { type: 'admin' as const, id: s }, target, outcome: 'failure' as const, reason: nullable, source: nullable, requestId: nullable,
          details: { [s]: [1.5, -0, 1e21, { z: s, a: null }], n: count },
        };
        if (eventLine(e) !== canonicalJson(e)) differ++;
        count++;
      }
    }
  }
  // Details the JSON.stringify path hands to the generic serializer: toJSON, a null-prototype
  // object, deep nesting, more members than the insertion sort takes.
  const deep: Record<string, unknown> = { leaf: 'x' };
  let nest = deep;
  for (let i = 0; i < 12; i++) nest = { [`n${i}`]: nest, b: [nest] };
  const odd = [
    { when: new Date(1_700_000_000_000), list: [new Date(0), 'x'] },
    Object.assign(Object.create(null) as Record<string, unknown>, { z: 1, a: 'b' }),
    nest,
    Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${(i * 7919) % 97}`, i])),
    { arr: [[], {}, [null, true, false, 0.1, 2e-7]], '': 'empty name', é: 'é', Z: 1, a: 2 },
  ];
  for (const details of odd) {
    const e = { seq: 42, time: '2026-01-01T00:00:00.000Z', action: 'a.b', actor: { type: 'system' as const, id: 'w' }, target: null, outcome: 'success' as const, reason: null, source: null, requestId: null, details };
    if (eventLine(e) !== canonicalJson(e)) differ++;
    count++;
  }
  t.equal(differ, 0, `${count} events: identical bytes`);
  t.throws(() => eventLine({ seq: 1, time: 't', action: 'a.b', actor: { type: 'system', id: 'w' }, target: null, outcome: 'success', reason: null, source: null, requestId: null, details: { n: Number.NaN } }), /non-finite/, 'NaN refused, not written as null');
  const f = open();
  const e = f.audit.record({ action: 'test.thing.done', ...ctx, target: null, details: { k: 'ö' } });
  t.equal(allLines(f)[0], canonicalJson(e), 'the stored line is the canonical JSON of the returned event');
  t.throws(() => f.audit.record({ action: 'test.thing.done', ...ctx, details: { bad: '\ud800' } }), /lone surrogate/, 'non-I-JSON refused');
  f.trail.stop();
  f.db.close();
});

t.test('the running tree follows rollbacks, reused sequence numbers and writes from other processes', async (t) => {
  const f = open();
  record(f, 3);
  t.ok(f.trail.current().rootHash.equals(rootOfStore(f)), 'after plain appends');
  for (let round = 0; round < 3; round++) {
    t.throws(() => f.db.write(() => {
      record(f, 2, 100 + round);
      throw new Error('rolled back');
    }));
    record(f, 1, 200 + round); // takes the sequence number the rolled-back event had
  }
  t.ok(f.trail.current().rootHash.equals(rootOfStore(f)), 'rolled-back events and reused seqs');
  // Another process (wardctl) appends through its own connection.
  const other = new AuditLog(openDatabase(f.file, { migrationsDir: auditMigrations }));
  other.record({ action: 'test.other.process', ...ctx });
  record(f, 2, 300);
  t.ok(f.trail.current().rootHash.equals(rootOfStore(f)), 'an event from another connection');
  t.throws(() => f.db.write(() => {
    record(f, 1, 400);
    throw new Error('rolled back');
  }));
  other.record({ action: 'test.other.process', ...ctx }); // reuses the rolled-back seq from the other connection
  const now = f.trail.current();
  t.equal(now.treeSize, allLines(f).length);
  t.ok(now.rootHash.equals(rootOfStore(f)), 'a seq rolled back here and committed there is read from the store');
  const head = await f.trail.signTreeHead('demand', ctx);
  t.equal(head.treeSize, now.treeSize, 'and the store check agrees');
  f.trail.stop();
  f.db.close();
});
