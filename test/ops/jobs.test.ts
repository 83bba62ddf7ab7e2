// The clock check, certificate expiry warnings, the not-seen and audit retention jobs, their runs in
// /healthz, and sd_notify readiness through the real systemd-notify.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AuditLog, AuditStore, SYSTEM_ACTOR, canonicalJson, leafHash } from '../../src/audit';
import { openDatabase } from '../../src/db';
import { startWard } from '../../src/main';
import { CertificateExpiry, ClockCheck } from '../../src/ops';
import { loadTestConfig, memoryLog, request, spawnDaemon, tempDir, tool, waitFor, writeTestConfig } from '../support/ward';

// Real daemons, wardctl processes and tarballs: allow for a busy two-core machine.
t.setTimeout(120_000);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

t.test('ClockCheck: a clock earlier than the newest audit event is reported loudly', async (t) => {
  const db = openDatabase(path.join(tempDir(), 'ward.db'));
  t.teardown(() => db.close());
  const { logger, lines } = memoryLog();
  const empty = new ClockCheck(new AuditStore(db), logger).check();
  t.same({ ok: empty.ok, newest: empty.newestAuditEvent, behind: empty.behindMs }, { ok: true, newest: null, behind: 0 }, 'an empty log says nothing');
  const event = new AuditLog(db).record({ action: 'test.clock.reference', actor: SYSTEM_ACTOR });
  const fine = new ClockCheck(new AuditStore(db), logger).check();
  t.equal(fine.ok, true);
  t.equal(fine.newestAuditEvent, event.time);
  t.equal(lines.length, 0, 'nothing logged while the clock is fine');

  const behind = new ClockCheck(new AuditStore(db), logger, () => new Date(Date.parse(event.time) - HOUR));
  const r = behind.check();
  t.equal(r.ok, false);
  t.equal(r.behindMs, HOUR);
  const line = JSON.parse(lines.at(-1)!);
  t.equal(line.level, 50, 'logged as an error');
  t.match(line.msg, /^CLOCK IS WRONG: system time .* is earlier than the newest audit event/);
  t.same(behind.health(), { ok: false, details: r });

  const slightly = new ClockCheck(new AuditStore(db), logger, () => new Date(Date.parse(event.time) - 60_000)).check();
  t.equal(slightly.ok, true, 'within the 2-minute tolerance');
});

t.test('CertificateExpiry: warnings before the end, failure after it', async (t) => {
  const now = new Date('2030-01-01T00:00:00Z');
  const { logger, lines } = memoryLog();
  const e = new CertificateExpiry(logger, () => now);
  e.watch('fine', { notAfter: () => new Date(now.getTime() + 400 * DAY), warnDays: 365 });
  e.watch('soon', { notAfter: () => new Date(now.getTime() + 10 * DAY).toISOString(), warnDays: 14 });
  e.watch('absent', { notAfter: () => undefined, warnDays: 30 });
  let states = e.check();
  t.same(Object.keys(states).sort(), ['fine', 'soon'], 'an absent certificate (no APNs certificate imported) is skipped');
  t.same(states.fine, { notAfter: '2031-02-05T00:00:00.000Z', daysLeft: 400, status: 'ok' });
  t.same(states.soon, { notAfter: '2030-01-11T00:00:00.000Z', daysLeft: 10, status: 'warning' });
  t.equal(JSON.parse(lines.at(-1)!).level, 40);
  t.match(JSON.parse(lines.at(-1)!).msg, 'certificate soon expires in 10 days');
  t.equal(e.health().ok, true, 'a warning does not fail /healthz');
  t.same(e.health().details!.warnings, ['soon: warning (2030-01-11T00:00:00.000Z)']);

  e.watch('gone', { notAfter: () => new Date(now.getTime() - 1000), warnDays: 30 });
  states = e.check();
  t.equal(states.gone.status, 'expired');
  t.equal(JSON.parse(lines.at(-1)!).level, 50);
  t.equal(e.health().ok, false, 'an expired certificate fails /healthz');
});

t.test('the daemon: clock and expiry jobs in /healthz; a clock behind the audit log fails it', async (t) => {
  const { file, doc, dir } = writeTestConfig();
  const first = await startWard(loadTestConfig(file, doc), memoryLog().logger);
  const report = first.health.report();
  for (const job of ['crl-reissue', 'clock-check', 'certificate-expiry', 'audit-tree-head', 'audit-retention', 'devices-not-seen']) {
    t.ok(job in report.checks.jobs.details!, `job ${job} in /healthz`);
  }
  t.equal(report.checks.clock.ok, true);
  const expiry = report.checks.expiry.details as { certificates: Record<string, { status: string; daysLeft: number }> };
  t.same(Object.keys(expiry.certificates).sort(), ['issuingCa', 'rootCa', 'server'], 'CA, issuing CA and server certificate watched (no APNs certificate imported)');
  t.ok(expiry.certificates.server.daysLeft > 300);
  t.equal(await first.schedule.runNow('certificate-expiry') !== undefined, true);

  // Devices not seen for N days (default 7) are flagged and counted by their own job.
  const quiet = first.compliance.report({ deviceId: 'quiet-phone', platform: 'android', factsVersion: 1, lastSeenAt: new Date(Date.now() - 8 * DAY).toISOString() });
  t.equal(quiet.status, 'noncompliant');
  t.match(await first.schedule.runNow('devices-not-seen'), { devices: 1, notSeen: 1, defaultLimitDays: 7 });
  t.match(first.health.report().checks.jobs.details!['devices-not-seen'], { lastOutcome: 'ok', lastResult: { notSeen: 1 }, expression: '13 * * * *' });

  // Audit retention: six years by default; nothing here is that old, so nothing is due or pruned.
  const retention = await first.schedule.runNow('audit-retention');
  t.match(retention, { retentionYears: 6, pruned: 0, prunedThrough: 0, notExported: 0 });
  t.match(first.health.report().checks.jobs.details!['audit-retention'], { lastOutcome: 'ok', expression: '29 2 * * *' });
  await first.stop();

  // An event stamped a day ahead: what the log looks like after the clock jumped back a day.
  const db = openDatabase(path.join(dir, 'var', 'ward.db'), { migrate: false });
  const seq = (db.sqlite.prepare('SELECT max(seq) FROM audit_events').pluck().get() as number) + 1;
  const event = { seq, time: new Date(Date.now() + DAY).toISOString(), action: 'test.clock.ahead', actor: SYSTEM_ACTOR, target: null, outcome: 'success', reason: null, source: null, requestId: null, details: {} };
  const line = canonicalJson(event);
  db.sqlite
    .prepare('INSERT INTO audit_events (seq, time, action, actor_type, actor_id, outcome, line, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
    .run(seq, event.time, event.action, 'system', 'ward', 'success', line, leafHash(line));
  db.close();

  const { logger, lines } = memoryLog();
  const second = await startWard(loadTestConfig(file, doc), logger);
  t.teardown(() => second.stop());
  const wrong = lines.map((l) => JSON.parse(l)).find((l) => /^CLOCK IS WRONG/.test(l.msg));
  t.ok(wrong, 'logged at start');
  t.equal(wrong.level, 50);
  const res = await request(`http://127.0.0.1:${second.ports.httpPort}/healthz`);
  t.equal(res.status, 503, '/healthz fails while the clock is behind');
  const clock = res.json().checks.clock;
  t.equal(clock.ok, false);
  t.equal(clock.details.newestAuditEvent, event.time);
  t.ok(clock.details.behindMs > 23 * HOUR);
  const run = (await second.schedule.runNow('clock-check')) as { ok: boolean };
  t.equal(run.ok, false, 'the hourly job sees it too');
  t.equal(second.health.report().checks.jobs.details!['clock-check'] && (second.health.report().checks.jobs.details!['clock-check'] as { runs: number }).runs, 1);
});

t.test('sd_notify: READY=1 reaches $NOTIFY_SOCKET through systemd-notify once the listeners accept', async (t) => {
  const which = tool('sh', ['-c', 'command -v systemd-notify && command -v python3']);
  t.equal(which.status, 0, 'systemd-notify (Debian systemd) and python3 are installed');
  const dir = tempDir();
  const socketPath = path.join(dir, 'notify.sock');
  // A datagram listener standing where systemd's notify socket would; it closes the barrier fd
  // systemd-notify passes, as systemd does.
  const receiver = spawn('python3', ['-c', `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('BOUND', flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array('i')
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print('MSG ' + data.decode().replace(chr(10), '|'), flush=True)
`, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => receiver.kill());
  let received = '';
  receiver.stdout!.on('data', (d) => (received += d));
  await waitFor(() => received.includes('BOUND'), 10_000, 'the notify socket');

  const { file } = writeTestConfig();
  const daemon = await spawnDaemon(file, { NOTIFY_SOCKET: socketPath });
  await waitFor(() => received.includes('READY=1'), 15_000, 'READY=1');
  t.match(received, new RegExp(`MSG READY=1\\|STATUS=listening on ${daemon.httpPort} and ${daemon.httpsPort}`));
  await waitFor(() => daemon.output().includes('sd_notify: READY=1 sent'), 10_000, 'the daemon to log it');
  t.equal(await daemon.stop(), 0);
  t.ok(fs.existsSync(socketPath));
});
