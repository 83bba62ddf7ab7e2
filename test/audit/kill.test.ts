import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { bundleEntries, exportAuditBundle, verifyAuditBundle } from '../support/audit';
import { nodeBin, request, spawnDaemon, writeTestConfig } from '../support/ward';

function post(agent: http.Agent, port: number, n: number): Promise<{ seq: number; n: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/test/audit-event?n=${n}`, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks).toString())) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

// Many real processes: allow for a loaded 2-core machine (tap's default is 30 s).
t.test('SIGKILL under write load: every answered event survives and the tree verifies', { timeout: 240_000 }, async (t) => {
  const { dir, file } = writeTestConfig();
  const out = (f: string) => path.join(dir, f);
  // A signed export before the load, to check the log after the crash only grew.
  exportAuditBundle(file, out('before.tar'));

  const proc = spawn(nodeBin, [path.join(__dirname, 'load-target.js'), file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      output += d.toString();
      const m = /\{"ready":true,"port":(\d+)\}/.exec(output);
      if (m) resolve(Number(m[1]));
    });
    proc.stderr.on('data', (d) => (output += d.toString()));
    proc.once('exit', (code) => reject(new Error(`load target exited ${code}: ${output}`)));
  });
  const exited = new Promise((r) => proc.once('exit', r));

  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const answered = new Map<number, number>(); // n -> seq
  let next = 0;
  let killed = false;
  const worker = async () => {
    while (!killed) {
      const n = ++next;
      try {
        const r = await post(agent, port, n);
        answered.set(r.n, r.seq);
      } catch {
        // in flight when the process died: not answered, so no promise was made
      }
    }
  };
  const workers = Array.from({ length: 6 }, worker);
  const deadline = Date.now() + 60_000;
  while (answered.size < 600 && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setImmediate(r));
  t.ok(answered.size >= 600, `${answered.size} events answered before the kill`);
  proc.kill('SIGKILL');
  killed = true;
  await exited;
  await Promise.all(workers);
  agent.destroy();
  t.equal(proc.signalCode, 'SIGKILL', 'killed, not stopped');

  // Restart the real daemon on the same files: it restores the tree and /healthz is green.
  const daemon = await spawnDaemon(file);
  const health = await request(`http://127.0.0.1:${daemon.httpPort}/healthz`);
  t.equal(health.status, 200, 'healthy after the crash');
  t.equal(health.json().checks.audit.ok, true);
  exportAuditBundle(file, out('after.tar'));
  await daemon.stop();

  const v = verifyAuditBundle(out('after.tar'), out('before.tar'));
  t.equal(v.status, 0, `the tree verifies and is consistent with the pre-crash bundle: ${v.output}`);
  const entries = bundleEntries(out('after.tar'));
  const bySeq = new Map(entries.map((e) => [e.seq, e]));
  let missing = 0;
  for (const [n, seq] of answered) {
    const e = bySeq.get(seq);
    if (!e || e.action !== 'test.load.recorded' || e.details.n !== n) missing++;
  }
  t.equal(missing, 0, `all ${answered.size} answered events are in the exported log, at the seq they were answered with`);
  t.same(entries.map((e) => e.seq), entries.map((_, i) => i + 1), 'sequence numbers have no gap');
});
