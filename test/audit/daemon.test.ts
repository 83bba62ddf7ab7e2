import Database from 'better-sqlite3';
import t from 'tap';
import { leafHash, verifyBundle } from '../../src/audit';
import { loadTestConfig, memoryLog, request, startTestWard, waitFor, writeTestConfig } from '../support/ward';
import { startWard } from '../../src/main';

// Many real processes: allow for a loaded 2-core machine (tap's default is 30 s).
t.test('in the daemon: /healthz shows the tree, the schedule signs heads, tampering fails /healthz', { timeout: 240_000 }, async (t) => {
  const mem = memoryLog();
  const ward = await startTestWard({ audit: { alarmRetrySeconds: 1 } }, { logger: mem.logger });
  t.teardown(() => ward.stop());
  const health = await request(`${ward.httpUrl}/healthz`);
  t.equal(health.status, 200);
  const audit = health.json().checks.audit;
  t.equal(audit.ok, true, 'audit check ok');
  t.ok(audit.details.treeSize >= 1, `tree size ${audit.details.treeSize} in /healthz`);
  t.match(audit.details.rootHash, /^[0-9a-f]{64}$/);

  await waitFor(() => ward.schedule.runNow('audit-tree-head'), 10_000, 'scheduled job');
  const head = ward.db.sqlite.prepare('SELECT tree_size, reason, signer_sha256 FROM audit_tree_heads ORDER BY id DESC').get() as { tree_size: number; reason: string; signer_sha256: string };
  t.equal(head.reason, 'schedule', 'the schedule signed a head');
  const signer = ward.ca.serviceIdentity('auditSigner');
  t.equal(head.signer_sha256, signer.cert.fingerprint256.replace(/:/g, '').toLowerCase(), "signed with the pki service's audit-signer identity");

  const exported = await ward.auditTrail.exportBundle({}, { actor: { type: 'admin', id: 'auditor' }, source: '127.0.0.1', requestId: 'r1' });
  const report = verifyBundle(exported.bundle);
  t.same(report.failures, [], 'a bundle exported from the running daemon verifies');
  t.equal(report.rootFingerprint256, ward.ca.root.cert.fingerprint256, 'chain.pem starts with Ward\'s root');

  // Someone edits an event in the database file while Ward runs.
  const raw = new Database(ward.cfg.database.file);
  raw.exec('DROP TRIGGER audit_events_no_update');
  const line = (raw.prepare('SELECT line FROM audit_events WHERE seq = 1').pluck().get() as string).replace('"system"', '"admin"');
  raw.prepare('UPDATE audit_events SET line = ?, leaf_hash = ? WHERE seq = 1').run(line, leafHash(line));
  raw.close();
  await ward.schedule.runNow('audit-tree-head');
  const after = await request(`${ward.httpUrl}/healthz`);
  t.equal(after.status, 503, '/healthz fails');
  const check = after.json().checks.audit;
  t.equal(check.ok, false);
  t.match(check.details.alarm.reason, /no longer hash to the root signed at/);
  t.match(after.json().checks.jobs.details['audit-tree-head'], { lastOutcome: 'failed' }, 'and the job shows it');
  t.ok(mem.lines.some((l) => JSON.parse(l).level === 50 && /does not match its signed tree heads/.test(l)), 'error logged');
  await waitFor(() => ward.db.sqlite.prepare("SELECT 1 FROM audit_events WHERE action = 'audit.tree.inconsistent'").get(), 5000, 'alarm event');
  t.pass('audit.tree.inconsistent recorded');
});

t.test('a bad schedule in the config is a config error', async (t) => {
  const { file, doc } = writeTestConfig({ audit: { treeHeadSchedule: 'every hour' } });
  await t.rejects(startWard(loadTestConfig(file, doc), memoryLog().logger), { name: 'ConfigError', message: /audit\.treeHeadSchedule: "every hour" is not a cron expression/ });
  const nightly = writeTestConfig({ audit: { retentionSchedule: 'nightly' } });
  await t.rejects(startWard(loadTestConfig(nightly.file, nightly.doc), memoryLog().logger), { name: 'ConfigError', message: /audit\.retentionSchedule: "nightly" is not a cron expression/ });
  const none = writeTestConfig({ audit: { retentionYears: 0 } });
  t.throws(() => loadTestConfig(none.file, none.doc), { name: 'ConfigError', message: /retentionYears/ }, 'a retention shorter than a year is refused');
});
