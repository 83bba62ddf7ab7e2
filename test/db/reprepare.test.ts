// No statement on Ward's paths may be re-prepared on every call. SQLite re-prepares a statement
// whose plan it made depend on a bound value each time that binding changes (partial indexes with
// ORDER BY ... LIMIT, LIKE, STAT4): invisible in results, 17 us of a 21 us lookup on the Idle poll
// of every Apple device before it was found. gdb counts sqlite3Reprepare calls per SQL text while
// reprepare-workload.js runs every store statement with changing bindings.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../../src/db';

const script = [
  'set pagination off',
  'set confirm off',
  'set breakpoint pending on',
  'break sqlite3Reprepare',
  'commands',
  'silent',
  'printf "REPREPARE<<%s>>\\n", (const char*)sqlite3_sql($rdi)',
  'continue',
  'end',
  'run',
].join('\n');

t.test('every store statement runs with changing bindings without being re-prepared', async (t) => {
  const gdb = spawnSync('gdb', ['--version'], { encoding: 'utf8' });
  if (gdb.status !== 0) {
    t.fail('gdb is not installed (make test installs it: scripts/system-tools.sh)');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-gdb-'));
  const commands = path.join(dir, 'commands.gdb');
  fs.writeFileSync(commands, script);
  const file = path.join(dir, 'ward.db');
  openDatabase(file).close();
  const r = spawnSync('gdb', ['-batch', '-x', commands, '--args', process.execPath, path.join(__dirname, 'reprepare-workload.js'), file], {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000,
  });
  fs.rmSync(dir, { recursive: true, force: true });
  const out = `${r.stdout}\n${r.stderr}`;
  // A sandbox that forbids ptrace stops gdb itself, not Ward: said plainly, not counted as a pass.
  const denied = /ptrace: Operation not permitted|Could not trace the inferior process/.exec(out);
  if (denied) {
    t.skip(`gdb cannot trace processes on this machine (${denied[0]}); the check did not run`, () => {});
    return;
  }
  const ran = /statements (\d+)/.exec(out);
  t.ok(ran && Number(ran[1]) > 100, `the workload ran every prepared statement (${ran?.[1] ?? 'none'})`);
  const counts = new Map<string, number>();
  for (const m of out.matchAll(/REPREPARE<<([\s\S]*?)>>/g)) {
    const sql = m[1]!.replace(/\s+/g, ' ').trim();
    counts.set(sql, (counts.get(sql) ?? 0) + 1);
  }
  // One re-prepare of a statement can follow a schema load; every binding change means a plan that
  // depends on bound values.
  const offenders = [...counts].filter(([, n]) => n > 1).map(([sql, n]) => `${n}x ${sql}`);
  t.same(offenders, [], 'no statement re-prepared when its bindings change');
});
