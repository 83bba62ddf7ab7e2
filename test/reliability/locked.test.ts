// The database locked by another process. A connection that holds the write lock (an operator's
// sqlite3 shell left in a transaction) makes writes wait database.busyTimeoutMs, then answer 503
// {error: busy} with Retry-After; because the wait holds up the whole event loop, only the first
// writer waits and the next ones are refused at once until the lock is gone, so reads (/healthz,
// polls) keep being answered. A `wardctl backup` (SQLite's online backup, one read transaction) while
// the load runs refuses nothing. After the lock is released everything answered is kept.
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { request, spawnDaemon, waitFor, wardctl, wardctlAsync, writeTestConfig } from '../support/ward';
import { latencies, percentiles } from './measure';
import { type Answered, MixedLoad, seededRandom } from './mixed-load';
import { AuditIndex, halfWritten, openReadOnly, sqliteProblems, unkeptAnswers } from './store-checks';

// This process blocks in spawnSync (wardctl, openssl) longer than the daemon's keep-alive timeout.
http.globalAgent = new http.Agent({ keepAlive: false });
t.setTimeout(300_000);

const BUSY_TIMEOUT_MS = 2000;

t.test('database locked by another process, and a backup under load', async (t) => {
  const { dir, file } = writeTestConfig({ database: { busyTimeoutMs: BUSY_TIMEOUT_MS } });
  const daemon = await spawnDaemon(file);
  t.teardown(() => daemon.stop('SIGKILL'));
  const httpUrl = `http://127.0.0.1:${daemon.httpPort}`;
  const caPem = (await request(`${httpUrl}/ca.pem`)).body.toString();
  const load = await MixedLoad.prepare({ configFile: file, httpUrl, httpsUrl: `https://127.0.0.1:${daemon.httpsPort}`, caPem, dir }, seededRandom(11), { apple: 0, android: 2 });
  t.teardown(() => load.close());
  const dbFile = path.join(dir, 'var', 'ward.db');
  const kept: Answered[] = [];

  await t.test('a held write lock: wait once, then 503 busy at once; reads go on', async (t) => {
    const holder = new Database(dbFile);
    holder.exec('BEGIN IMMEDIATE');
    load.expectRefusals = true;
    load.start();
    await waitFor(() => load.refused.length >= 20, 60_000, '20 refused writes');
    const health = await latencies(`${httpUrl}/healthz`, 20);
    const writes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      const a = await load.admin('POST', '/enrollment/challenges', {});
      t.equal(a.status, 503, `write ${i + 1} while locked: 503`);
      writes.push(Date.now() - started);
    }
    await load.stop();
    holder.exec('ROLLBACK');
    holder.close();
    kept.push(...load.take().answered);

    t.same(load.unexpected, [], 'no 500, no dropped connection');
    const wrong = load.refused.filter((r) => r.body?.error !== 'busy' || !r.body?.reason || r.retryAfter !== '2');
    t.same(wrong, [], `all ${load.refused.length} refusals are 503 {error: busy, reason} with Retry-After: 2`);
    t.ok(load.refused.filter((r) => ['status', 'result', 'enroll'].includes(r.what)).every((r) => r.body?.next?.action === 'retry_later'), 'Android agents are told retry_later');
    t.same(health.statuses, Array(20).fill(200), '/healthz answered throughout');
    // Each write would wait the whole busy timeout if every writer waited: ten take ten timeouts or more.
    const total = writes.reduce((a, b) => a + b, 0);
    t.ok(total < 5 * BUSY_TIMEOUT_MS, `ten writes while locked were refused without each waiting ${BUSY_TIMEOUT_MS} ms (${total} ms in all)`);
    t.comment(JSON.stringify({ lockedHealthzMs: percentiles(health.ms), lockedWriteMs: percentiles(writes), refused: load.refused.length }));

    load.expectRefusals = false;
    await waitFor(async () => (await load.admin('POST', '/enrollment/challenges', {})).status === 201, 10_000, 'a write to succeed once the lock is gone');
    load.start();
    await waitFor(() => load.answeredCount >= 30 || load.unexpected.length > 0, 60_000, '30 answered requests');
    await load.stop();
    kept.push(...load.take().answered);
    t.same(load.unexpected, [], 'once the lock is gone, writes are answered again');
  });

  await t.test('wardctl backup under load: nothing refused, the archive verifies', async (t) => {
    const archive = path.join(dir, 'under-load.tar.gz');
    load.start();
    await waitFor(() => load.answeredCount >= 5, 30_000, 'load running');
    const backup = await wardctlAsync(['backup', '--out', archive, '--config', file]);
    const during = load.answeredCount;
    await load.stop();
    kept.push(...load.take().answered);
    t.equal(backup.status, 0, `wardctl backup: ${backup.stderr}`);
    t.same(load.unexpected, [], `no refusal and no error while the backup ran (${during} answered)`);
    const verify = wardctl(['backup', 'verify', archive, '--config', file]);
    t.equal(verify.status, 0, `the archive verifies: ${verify.stderr}`);
  });

  const db = openReadOnly(dbFile);
  const audit = new AuditIndex(db);
  t.same([...sqliteProblems(db), ...halfWritten(db, audit), ...unkeptAnswers(db, audit, kept)], [], `integrity, nothing half-written, all ${kept.length} answered requests kept`);
  db.close();
});
