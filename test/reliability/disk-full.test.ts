// The appliance's disk fills up under mixed load (SCEP, Apple check-ins, Android agents, admin API):
// the data folder is a small tmpfs and a filler file takes what is left. Writes must be refused
// cleanly (503 with a JSON reason and Retry-After; the Android agent is told retry_later), never a 500
// or a crash; reads go on; nothing is corrupt (PRAGMA integrity_check, no half-written record, the
// audit store and an exported bundle verify); and once space returns the service resumes by itself,
// the refused SCEP transactions succeed when sent again, and every answered request is kept.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { checkAuditStore, exportAuditBundle, verifyAuditBundle } from '../support/audit';
import { request, spawnDaemon, waitFor, writeTestConfig } from '../support/ward';
import { MixedLoad, seededRandom, type ScepRequest } from './mixed-load';
import { fillDisk, smallDisk } from './small-disk';
import { AuditIndex, duplicateIdentities, halfWritten, openReadOnly, sqliteProblems, unkeptAnswers } from './store-checks';

// This process blocks in spawnSync (wardctl, openssl) longer than the daemon's keep-alive timeout.
http.globalAgent = new http.Agent({ keepAlive: false });
t.setTimeout(300_000);

const disk = smallDisk(32 << 20, process.env.WARD_SMALL_DISK === 'unshare' ? 'unshare' : 'mount');

t.test('disk full under mixed load: clean 503s, nothing corrupt, service resumes', { skip: typeof disk === 'string' ? disk : false }, async (t) => {
  if (typeof disk === 'string') return;
  t.teardown(() => disk.release());
  t.comment(`data folder on a 32 MiB tmpfs (${disk.how})`);
  const { dir, file } = writeTestConfig({
    dataDir: disk.dir,
    pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'rsa-3072', issuingKeyAlgorithm: 'rsa-2048' },
    apple: { apns: { enabled: false } },
  });
  const daemon = await spawnDaemon(file, {}, disk.daemonPrefix);
  t.teardown(() => daemon.stop('SIGKILL'));
  const pid = daemon.proc.pid!;
  const dataDir = disk.reach(pid);
  const wardctl = disk.wardctl(pid);
  const httpUrl = `http://127.0.0.1:${daemon.httpPort}`;
  const caPem = (await request(`${httpUrl}/ca.pem`)).body.toString();
  const load = await MixedLoad.prepare({ configFile: file, httpUrl, httpsUrl: `https://127.0.0.1:${daemon.httpsPort}`, caPem, dir, wardctl }, seededRandom(7), { apple: 1, android: 2 });
  t.teardown(() => load.close());
  exportAuditBundle(file, path.join(dir, 'before.tar'), wardctl);
  // SCEP transactions with their challenge issued while there was room: sent while the disk is full.
  const scep: ScepRequest[] = [];
  for (let i = 0; i < 3; i++) scep.push((await load.scepRequest())!);

  const filled = fillDisk(path.join(dataDir, 'filler'));
  t.comment(`filler: ${filled} bytes`);
  load.expectRefusals = true;
  load.start();
  const refusedAll = (...what: string[]) => what.every((w) => load.refused.some((r) => r.what === w));
  await waitFor(() => load.refused.length >= 40 && refusedAll('status', 'challenge'), 60_000, '40 refused requests, Android status reports and challenges among them');
  for (const request of scep) await load.sendScep(request);
  await load.stop();
  const refusedWhileFull = load.refused.length;
  const answeredWhileFull = load.take().answered;
  const health = await request(`${httpUrl}/healthz`);

  t.equal(daemon.proc.exitCode, null, 'the daemon is still running');
  t.same(load.unexpected, [], 'no 500, no dropped connection, nothing but 2xx or 503');
  const kinds = new Set(load.refused.map((r) => r.what.replace(/ .*/, '')));
  t.ok(kinds.has('scep') && kinds.has('status') && kinds.has('challenge'), `SCEP, Android and admin writes were refused: ${[...kinds].join(', ')}`);
  const malformed = load.refused.filter((r) => !['storage_full', 'storage_error'].includes(r.body?.error ?? '') || !r.body?.reason || !/^\d+$/.test(r.retryAfter ?? ''));
  t.same(malformed, [], `all ${refusedWhileFull} refusals are 503 {error: storage_full, reason} with Retry-After`);
  const android = load.refused.filter((r) => ['status', 'poll', 'result', 'enroll'].includes(r.what));
  t.ok(android.length > 0 && android.every((r) => r.body?.next?.action === 'retry_later'), 'the Android agent is told retry_later, never to drop its enrollment');
  t.equal(health.status, 200, '/healthz still answers while the disk is full');
  t.comment(`while full: ${refusedWhileFull} refused, ${answeredWhileFull.length} answered (reads, and writes that fit in the WAL)`);

  fs.unlinkSync(path.join(dataDir, 'filler'));
  await waitFor(async () => (await load.admin('POST', '/enrollment/challenges', {})).status === 201, 30_000, 'a write to succeed once space returned');
  load.expectRefusals = false;
  for (const request of scep) await load.sendScep(request);
  load.start();
  await waitFor(() => load.answeredCount >= 40 || load.unexpected.length > 0, 60_000, '40 answered requests after space returned');
  await load.stop();
  const answeredAfter = load.take().answered;
  t.same(load.unexpected, [], 'after space returned every request is answered as before (the refused SCEP transactions too)');
  t.equal(answeredAfter.filter((a) => a.kind === 'scep.enroll').length >= scep.length, true, 'the SCEP requests refused while full were issued when sent again');

  const dbFile = disk.database(pid, file, dir);
  const db = openReadOnly(dbFile);
  const audit = new AuditIndex(db);
  t.same(sqliteProblems(db), [], 'PRAGMA integrity_check and foreign_key_check pass');
  t.same(halfWritten(db, audit), [], 'no record without the audit event of its making');
  t.same(duplicateIdentities(db), [], 'no duplicate live identity');
  t.same(unkeptAnswers(db, audit, [...answeredWhileFull, ...answeredAfter]), [], 'every answered request is kept');
  db.close();
  const store = await checkAuditStore(dbFile, caPem);
  t.ok(store.ok, `the audit store matches its signed tree heads ${store.ok ? `(${store.treeSize} events)` : store.reason}`);
  exportAuditBundle(file, path.join(dir, 'after.tar'), wardctl);
  const v = verifyAuditBundle(path.join(dir, 'after.tar'), path.join(dir, 'before.tar'));
  t.equal(v.status, 0, `the exported bundle verifies and is consistent with the one from before the disk filled: ${v.output}`);
  t.notMatch(daemon.output(), /"level":(50|60)/, 'nothing logged as an error: the refusals are warnings');
  t.equal(await daemon.stop(), 0, 'a clean shutdown');
});
