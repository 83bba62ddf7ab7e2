// kill -9 of the real daemon at random moments (a seeded PRNG picks after how many answered requests)
// while SCEP enrollments, Apple check-ins, Android agent syncs and admin actions run together, 20 times.
// After each restart: every answered request's effect and audit events are in the database, no record
// lacks the audit event of its making, SQLite's own checks pass, the audit store matches its signed
// tree heads, and no device holds two live identity certificates by accident. The requests the daemon
// died under are sent again as real clients would (SCEP: the same transactionID; Android: the same
// installation) and must not leave a second identity. At the end an auditor's bundle verifies and is
// consistent with one exported before the first kill.
// WARD_KILL_SEED and WARD_KILL_ITERATIONS replay or stretch a run.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { checkAuditStore, exportAuditBundle, verifyAuditBundle } from '../support/audit';
import { type Daemon, request, spawnDaemon, waitFor, writeTestConfig } from '../support/ward';
import { type Answered, MixedLoad, seededRandom } from './mixed-load';
import { AuditIndex, duplicateIdentities, halfWritten, openReadOnly, sqliteProblems, unkeptAnswers } from './store-checks';

const SEED = Number(process.env.WARD_KILL_SEED ?? 0x5eed);
const ITERATIONS = Number(process.env.WARD_KILL_ITERATIONS ?? 20);
// This process blocks in spawnSync (wardctl, openssl) longer than the daemon's keep-alive timeout: a
// pooled connection the daemon closed meanwhile would fail the next request (a client-side race).
http.globalAgent = new http.Agent({ keepAlive: false });
// Dozens of real processes (daemon restarts, openssl, scepclient, wardctl) on a shared 2-core machine.
t.setTimeout(600_000);

t.test(`SIGKILL under mixed load, ${ITERATIONS} times (seed ${SEED})`, { timeout: 600_000 }, async (t) => {
  // Two streams: the kill moments (reproducible from the seed) and the load's mix (whose use depends
  // on how the workers interleave).
  const moments = seededRandom(SEED);
  // An RSA root: scepclient (the Apple devices' enrollment) encrypts to every certificate of GetCACert.
  const { dir, file, doc } = writeTestConfig({
    pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'rsa-3072', issuingKeyAlgorithm: 'rsa-2048' },
    apple: { apns: { enabled: false } },
  });
  const dbFile = path.join(dir, 'var', 'ward.db');
  // The first start picks free ports; every restart keeps them (profiles and agents hold the URLs).
  const first = await spawnDaemon(file);
  await first.stop();
  fs.writeFileSync(file, YAML.stringify({ ...doc, http: { host: '127.0.0.1', port: first.httpPort }, https: { host: '127.0.0.1', port: first.httpsPort } }));
  let daemon: Daemon = await spawnDaemon(file);
  t.teardown(() => daemon.stop('SIGKILL'));
  const httpUrl = `http://127.0.0.1:${daemon.httpPort}`;
  const caPem = (await request(`${httpUrl}/ca.pem`)).body.toString();
  exportAuditBundle(file, path.join(dir, 'before.tar'));

  const setupStarted = Date.now();
  const load = await MixedLoad.prepare({ configFile: file, httpUrl, httpsUrl: `https://127.0.0.1:${daemon.httpsPort}`, caPem, dir }, seededRandom(SEED + 1));
  t.teardown(() => load.close());
  const setupMs = Date.now() - setupStarted;
  t.comment(`setup: ${setupMs} ms`);

  const kept: Answered[] = [];
  const figures: Record<string, unknown>[] = [];
  const loopStarted = Date.now();
  for (let i = 1; i <= ITERATIONS; i++) {
    const killAfter = 3 + Math.floor(moments() * 37);
    load.start();
    await waitFor(() => load.answeredCount >= killAfter || daemon.proc.exitCode !== null, 60_000, `${killAfter} answered requests`);
    const stopped = load.stop(); // no new requests; the ones in flight die with the daemon
    daemon.proc.kill('SIGKILL');
    await daemon.stop();
    await stopped;
    t.equal(daemon.proc.signalCode, 'SIGKILL', `iteration ${i}: killed after ${killAfter} answered requests`);

    const restartStarted = Date.now();
    daemon = await spawnDaemon(file);
    const restartMs = Date.now() - restartStarted;
    load.reconnect();
    const { answered, unanswered } = load.take();
    // What a client does with a lost answer: the same request again.
    for (const u of unanswered) await (u.kind === 'scep.enroll' ? load.sendScep(u) : load.enrollAndroid(u.agent));
    const resent = load.take();
    kept.push(...answered, ...resent.answered);

    const db = openReadOnly(dbFile);
    const audit = new AuditIndex(db);
    const problems = [...sqliteProblems(db), ...halfWritten(db, audit), ...duplicateIdentities(db), ...unkeptAnswers(db, audit, kept)];
    db.close();
    t.same(problems, [], `iteration ${i}: ${kept.length} answered requests kept, nothing half-written, no duplicate identity`);
    t.equal(resent.unanswered.length, 0, `iteration ${i}: the ${unanswered.length} requests cut off by the kill were answered when sent again`);
    const store = await checkAuditStore(dbFile, caPem);
    t.ok(store.ok, `iteration ${i}: the audit store matches its signed tree heads ${store.ok ? `(${store.treeSize} events)` : store.reason}`);

    const byKind: Record<string, number> = {};
    for (const a of answered) byKind[a.kind] = (byKind[a.kind] ?? 0) + 1;
    const inFlight = { scep: unanswered.filter((u) => u.kind === 'scep.enroll').length, androidEnroll: unanswered.filter((u) => u.kind === 'android.enroll').length };
    figures.push({ iteration: i, killAfter, answered: answered.length, resentAnswered: resent.answered.length, inFlight, restartMs, auditEvents: audit.size, byKind });
  }
  const loopMs = Date.now() - loopStarted;
  t.same(load.unexpected, [], 'every answer before a kill was the one a client expects (no 500, no refusal)');

  exportAuditBundle(file, path.join(dir, 'after.tar'));
  await daemon.stop();
  const v = verifyAuditBundle(path.join(dir, 'after.tar'), path.join(dir, 'before.tar'));
  t.equal(v.status, 0, `after ${ITERATIONS} kills the bundle verifies and is consistent with the one before: ${v.output}`);

  t.comment(JSON.stringify({ seed: SEED, iterations: ITERATIONS, setupMs, loopMs, answeredKept: kept.length }));
  for (const f of figures) t.comment(JSON.stringify(f));
});
