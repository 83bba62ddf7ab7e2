// Audit retention (migration 0008, AuditTrail.prune): event bodies past the retention period go only
// up to what a recorded, verified export holds; their leaf hashes stay, so the tree, inclusion and
// consistency proofs and later exports (checked with stock openssl + python and wardctl) still verify;
// the triggers refuse every other delete.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { AuditStore, type ExportedBundle, type SignedTreeHead, leafHash, verifyBundle } from '../../src/audit';
import { MerkleTreeView, verifyConsistency, verifyInclusion } from '../../src/audit/merkle';
import { tempDir, waitFor, wardctl } from '../support/ward';
import { makeTestCa } from './openssl-ca';
import { stockToolChecks } from './stock-tools';
import { type TrailFixture, cliCtx as ctx, closeTrail, openTrail, recordThings } from './trail-fixture';

const ca = makeTestCa();
const work = tempDir();
t.teardown(() => fs.rmSync(ca.dir, { recursive: true, force: true }));

/** `years` after `iso`: the clock at which `iso` is exactly the retention cutoff. */
function yearsAfter(iso: string, years: number): Date {
  const d = new Date(iso);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

const count = (f: TrailFixture, table: string) => f.db.sqlite.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
const firstStored = (f: TrailFixture) => f.db.sqlite.prepare('SELECT MIN(seq) FROM audit_events').pluck().get() as number;
const lastTime = (f: TrailFixture) => f.db.sqlite.prepare('SELECT time FROM audit_events ORDER BY seq DESC LIMIT 1').pluck().get() as string;
const eventsOf = (f: TrailFixture, action: string) =>
  (f.db.sqlite.prepare('SELECT line FROM audit_events WHERE action = ? ORDER BY seq').pluck().all(action) as string[]).map((l) => JSON.parse(l));
const leafHashesOf = (f: TrailFixture, from: number, through: number) =>
  f.db.sqlite.prepare('SELECT leaf_hash FROM audit_events WHERE seq >= ? AND seq <= ? ORDER BY seq').pluck().all(from, through) as Buffer[];

t.test('nothing is pruned without a verified export', async (t) => {
  const f = openTrail(ca);
  t.teardown(() => closeTrail(f));
  recordThings(f, 20);
  const sevenYearsOn = yearsAfter(new Date().toISOString(), 7);

  let r = await f.trail.prune({ years: 6, now: sevenYearsOn }, ctx);
  t.match(r, { retentionYears: 6, pruned: 0, prunedThrough: 0 }, 'no export at all: nothing pruned');
  t.equal(r.notExported, 20, 'every event is due, and reported as not exported');
  t.ok(f.log.lines.some((l) => /"level":40/.test(l) && /past retention but not in a verified export/.test(l)), 'a warning says why');

  const exported = await f.trail.exportBundle({}, ctx);
  t.equal(f.db.sqlite.prepare('SELECT verified_at FROM audit_exports WHERE id = ?').pluck().get(exported.exportId), null, 'the export is recorded, not verified');
  r = await f.trail.prune({ years: 6, now: sevenYearsOn }, ctx);
  t.equal(r.pruned, 0, 'an export nobody verified does not count');
  t.equal(count(f, 'audit_events'), f.trail.current().treeSize, 'every event still stored');
  t.equal(count(f, 'audit_retention'), 0);

  t.throws(
    () => f.db.sqlite.prepare("INSERT INTO audit_retention (pruned_through, export_id, cutoff, time) VALUES (5, ?, 'x', 'x')").run(exported.exportId),
    /lie within a verified export/, 'the table itself refuses a checkpoint on an unverified export',
  );
  const altered = Buffer.from(exported.bundle);
  altered[600] ^= 1;
  await t.rejects(f.trail.confirmExport(altered, ctx), { name: 'AuditExportError', message: /no export with SHA-256 [0-9a-f]{64} is recorded/ }, 'an altered copy is not the export');
  t.equal(eventsOf(f, 'audit.bundle.verified').length, 0);
});

interface Pruned {
  f: TrailFixture;
  pre: SignedTreeHead;
  first: ExportedBundle;
  /** Leaf hashes of seq 1..20 before they were pruned. */
  oldLeaves: Buffer[];
}

/** 20 events, then (a millisecond later) 20 more; a head and a verified export; 6 years after the 21st, prune. */
async function prunedLog(t: Test): Promise<Pruned> {
  const f = openTrail(ca);
  t.teardown(() => closeTrail(f));
  recordThings(f, 20);
  const last = lastTime(f);
  await waitFor(() => new Date().toISOString() > last, 5000, 'the clock to move on a millisecond');
  recordThings(f, 20, 20);
  const cutoffEvent = f.db.sqlite.prepare('SELECT time FROM audit_events WHERE seq = 21').pluck().get() as string;
  const pre = await f.trail.signTreeHead('demand', ctx);
  const first = await f.trail.exportBundle({}, ctx);
  const confirmed = await f.trail.confirmExport(first.bundle, ctx);
  t.match(confirmed, { newlyVerified: true, export: { id: first.exportId, start: 0, end: first.range.end, verifiedAt: String } });
  t.match(eventsOf(f, 'audit.bundle.verified')[0], { target: { type: 'audit_export', id: String(first.exportId) }, details: { sha256: first.sha256 } });
  t.equal((await f.trail.confirmExport(first.bundle, ctx)).newlyVerified, false, 'confirming again changes nothing');
  t.equal(eventsOf(f, 'audit.bundle.verified').length, 1);
  recordThings(f, 5, 40);
  const oldLeaves = leafHashesOf(f, 1, 20);

  const r = await f.trail.prune({ years: 6, now: yearsAfter(cutoffEvent, 6) }, ctx);
  t.same(r, { cutoff: cutoffEvent, retentionYears: 6, prunedThrough: 20, pruned: 20, notExported: 0 }, 'exactly the events recorded before the cutoff');
  return { f, pre, first, oldLeaves };
}

t.test('after a verified export, the events past retention go; the tree and later exports still verify', async (t) => {
  const { f, pre, first, oldLeaves } = await prunedLog(t);
  t.equal(firstStored(f), 21, 'events 1..20 have no row any more');
  t.same(f.db.sqlite.prepare('SELECT leaf_hash FROM audit_pruned_leaves ORDER BY seq').pluck().all(), oldLeaves, 'their leaf hashes were kept');
  t.match(f.db.sqlite.prepare('SELECT pruned_through, export_id FROM audit_retention').all(), [{ pruned_through: 20, export_id: first.exportId }]);
  const [event] = eventsOf(f, 'audit.retention.pruned');
  t.match(event, { details: { fromSeq: 1, throughSeq: 20, events: 20, retentionYears: 6 }, target: { type: 'audit_export', id: String(first.exportId) } }, 'the pruning is an audit event');

  // The tree: the store check passes, now and after a restart.
  const before = f.trail.current();
  await f.trail.checkStore();
  t.equal(f.trail.health().ok, true);
  t.match(f.trail.health().details, { retention: { prunedThrough: 20, exports: { exported: 1, verified: 1 } } });
  closeTrail(f);
  const g = openTrail(ca, f.file);
  t.teardown(() => closeTrail(g));
  t.same(g.trail.current(), before, 'restored after a restart');
  t.match(AuditStore.factsOf(g.db), { events: before.treeSize, lastSeq: before.treeSize, prunedThrough: 20 }, 'what a backup manifest records: the log size, not the rows left');
  const post = await g.trail.signTreeHead('demand', ctx);
  t.equal(g.trail.alarm, null);

  // Proofs over the tree of leaf hashes, pruned ones included.
  const view = new MerkleTreeView(post.treeSize, (s, e) => g.trail.store.leafHashes(s, e));
  t.ok(view.root().equals(post.rootHash), 'the signed root is the root of every leaf, pruned or not');
  const line21 = g.db.sqlite.prepare('SELECT line FROM audit_events WHERE seq = 21').pluck().get() as string;
  t.ok(verifyInclusion(20, post.treeSize, leafHash(line21), view.inclusionProof(20), post.rootHash), 'inclusion proof of the first remaining event');
  t.notOk(verifyInclusion(20, post.treeSize, leafHash(`${line21} `), view.inclusionProof(20), post.rootHash), '(and of nothing else)');
  const consistency = view.consistencyProof(pre.treeSize);
  t.ok(verifyConsistency(pre.treeSize, post.treeSize, pre.rootHash, post.rootHash, consistency), 'consistency proof from the pre-prune head to the post-prune head');
  const bent = consistency.map((h, i) => (i === 0 ? Buffer.from(h).fill(0) : h));
  t.notOk(verifyConsistency(pre.treeSize, post.treeSize, pre.rootHash, post.rootHash, bent), '(a bent proof fails)');

  // A later export starts at the first remaining event and verifies: wardctl logic, stock tools, the CLI.
  const later = await g.trail.exportBundle({}, ctx);
  t.same(later.range, { start: 20, end: later.treeHead.treeSize });
  const report = verifyBundle(later.bundle, { previous: first.bundle, trustAnchors: [ca.root] });
  t.same(report.failures, [], 'verifies, and is consistent with the pre-prune export');
  t.equal(report.treeHead!.rangeProof.leftFrontier.length, 2, 'the left frontier of 20 pruned leaves: 16 + 4');
  const stock = stockToolChecks(later.bundle, work);
  t.equal(stock.cms.status, 0, `openssl cms -verify: ${stock.cms.stderr.trim()}`);
  t.match(stock.py.stdout, new RegExp(`^root OK ${later.treeHead.rootHash.toString('hex')}`), 'python recomputes the signed root from the remaining lines');
  const file = path.join(work, 'later.tar');
  fs.writeFileSync(file, later.bundle);
  fs.writeFileSync(path.join(work, 'first.tar'), first.bundle);
  const cli = wardctl(['audit', 'verify', file, '--previous', path.join(work, 'first.tar')]);
  t.equal(cli.status, 0, cli.stderr + cli.stdout);
  t.match(cli.stdout, /^OK .*later\.tar: entries seq 21\.\./);

  const since = await g.trail.exportBundle({ since: '2000-01-01T00:00:00.000Z' }, ctx);
  t.equal(since.range.start, 20, '--since before the pruned events: from the first remaining one');
  const until = await g.trail.exportBundle({ until: '2000-01-01T00:00:00.000Z' }, ctx);
  t.same([until.range.start, until.range.end], [20, 20], '--until before them: an empty range');
  t.same(verifyBundle(until.bundle).failures, []);
});

t.test('later runs prune only as far as verified exports reach, in steps', async (t) => {
  const { f, first } = await prunedLog(t);
  const farFuture = yearsAfter(new Date().toISOString(), 10);
  let r = await f.trail.prune({ years: 6, now: farFuture, batch: 7 }, ctx);
  t.equal(r.prunedThrough, first.range.end, 'up to the end of the verified export');
  t.equal(r.pruned, first.range.end - 20);
  t.ok(r.notExported > 0, 'the rest waits for an export');
  t.equal(firstStored(f), first.range.end + 1);
  const steps = Math.ceil((first.range.end - 20) / 7);
  t.equal(count(f, 'audit_retention'), 1 + steps, 'one checkpoint per step of at most 7 events');
  t.equal(eventsOf(f, 'audit.retention.pruned').length, 1 + steps, 'each with its event');

  const second = await f.trail.exportBundle({}, ctx);
  t.equal(second.range.start, first.range.end);
  await f.trail.confirmExport(second.bundle, ctx);
  r = await f.trail.prune({ years: 6, now: farFuture }, ctx);
  t.equal(r.prunedThrough, second.range.end, 'a second verified export lets the rest go');
  t.ok(f.trail.current().treeSize > r.prunedThrough, 'the newest events (the prune events themselves) stay');
  await f.trail.checkStore();
  const third = await f.trail.exportBundle({}, ctx);
  t.same(verifyBundle(third.bundle, { previous: first.bundle }).failures, [], 'still consistent with the very first export');
});

t.test('raw SQL cannot delete or rewrite anything outside a checkpoint', async (t) => {
  const { f, first } = await prunedLog(t);
  const sqlite = f.db.sqlite;
  const events = count(f, 'audit_events');
  for (const sql of [
    'DELETE FROM audit_events WHERE seq = 21',
    'DELETE FROM audit_events',
    "UPDATE audit_events SET line = 'x' WHERE seq = 30",
    'DELETE FROM audit_pruned_leaves',
    'UPDATE audit_pruned_leaves SET leaf_hash = zeroblob(32) WHERE seq = 3',
    'DELETE FROM audit_retention',
    'UPDATE audit_retention SET pruned_through = 30',
    'DELETE FROM audit_exports',
    'UPDATE audit_exports SET range_end = range_end + 10',
    "UPDATE audit_exports SET verified_at = '2000-01-01T00:00:00.000Z'",
  ]) {
    t.throws(() => sqlite.prepare(sql).run(), /append-only/, sql);
  }
  t.equal(count(f, 'audit_events'), events, 'nothing deleted');

  const checkpoint = sqlite.prepare("INSERT INTO audit_retention (pruned_through, export_id, cutoff, time) VALUES (?, ?, 'x', 'x')");
  t.throws(() => checkpoint.run(first.range.end + 2, first.exportId), /lie within a verified export/, 'a checkpoint beyond the export');
  t.throws(() => checkpoint.run(10, first.exportId), /move forward/, 'a checkpoint going back');
  t.throws(() => sqlite.prepare('INSERT INTO audit_pruned_leaves SELECT seq, leaf_hash FROM audit_events WHERE seq = 21').run(), /at or below the retention checkpoint/, 'a leaf hash above the checkpoint');
  // A checkpoint the export allows, but the rows go without their leaf hashes being kept: refused.
  t.throws(() => f.db.write(() => {
    checkpoint.run(25, first.exportId);
    sqlite.prepare('DELETE FROM audit_events WHERE seq <= 25').run();
  }), /append-only/, 'a delete that does not keep the leaf hash');
  t.throws(() => f.db.write(() => {
    checkpoint.run(25, first.exportId);
    sqlite.prepare('INSERT INTO audit_pruned_leaves (seq, leaf_hash) VALUES (21, zeroblob(32))').run();
  }), /only the leaf hash of a stored event/, 'a leaf hash that is not the event\'s');
  t.equal(firstStored(f), 21, 'both rolled back');
  t.equal(sqlite.prepare('SELECT MAX(pruned_through) FROM audit_retention').pluck().get(), 20);
  await f.trail.checkStore();
  t.equal(f.trail.alarm, null, 'the store is as it was');
});

t.test('a kept leaf hash edited behind Ward\'s back raises the alarm', async (t) => {
  const { f } = await prunedLog(t);
  await f.trail.signTreeHead('demand', ctx);
  closeTrail(f);
  const raw = new Database(f.file);
  raw.exec('DROP TRIGGER audit_pruned_leaves_no_update');
  raw.prepare('UPDATE audit_pruned_leaves SET leaf_hash = ? WHERE seq = 7').run(leafHash('forged'));
  raw.close();
  const g = openTrail(ca, f.file);
  t.teardown(() => closeTrail(g));
  await t.rejects(g.trail.checkStore(), { name: 'AuditAlarmError', message: /no longer hash to the root signed at/ });
  await t.rejects(g.trail.prune({ years: 6, now: yearsAfter(new Date().toISOString(), 10) }, ctx), { name: 'AuditAlarmError' }, 'and nothing more is pruned');
});
