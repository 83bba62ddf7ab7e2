import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { readTar, writeTar } from '../../src/audit/tar';
import { cliJs, nodeBin, spawnDaemon, tempDir, wardctl, writeTestConfig } from '../support/ward';
import { makeTestCa } from './openssl-ca';

// Many real processes: allow for a loaded 2-core machine (tap's default is 30 s).
t.test('wardctl audit export / verify / tree-head / status against a running daemon', { timeout: 240_000 }, async (t) => {
  const { dir, file } = writeTestConfig();
  const daemon = await spawnDaemon(file);
  t.teardown(() => daemon.stop());
  const out = (name: string) => path.join(dir, name);

  const a = wardctl(['audit', 'export', '--out', out('a.tar'), '--config', file]);
  t.equal(a.status, 0, a.stderr);
  t.match(a.stdout, /^wrote .*a\.tar: entries seq 1\.\.\d+ \(\d+\) of \d+, root [0-9a-f]{64}/);
  t.equal(fs.statSync(out('a.tar')).mode & 0o777, 0o600, 'bundle written 0600');
  t.match(a.stdout, /\nverified .*a\.tar \(export #1, sha256 [0-9a-f]{64}\)\n$/, 'the written file is read back, verified and recorded (retention may prune what it holds)');

  const v = wardctl(['audit', 'verify', out('a.tar')]);
  t.equal(v.status, 0, v.stderr);
  t.match(v.stdout, /^OK .*a\.tar: entries seq 1\.\.\d+/);
  t.match(v.stdout, /root CA sha256 [0-9A-F:]{95}/);

  // Stock tools, exactly as VERIFY.txt says.
  const x = tempDir();
  spawnSync('tar', ['-xf', out('a.tar'), '-C', x]);
  const text = fs.readFileSync(path.join(x, 'VERIFY.txt'), 'utf8');
  const cms = spawnSync('bash', ['-c', text.split('\n').find((l) => l.startsWith('openssl cms -verify'))!], { cwd: x, encoding: 'utf8' });
  t.equal(cms.status, 0, `openssl cms -verify: ${cms.stderr.trim()}`);
  const py = spawnSync('bash', ['-c', /^python3 - <<'EOF'\n[\s\S]*?\nEOF$/m.exec(text)![0]], { cwd: x, encoding: 'utf8' });
  t.match(py.stdout, /^root OK [0-9a-f]{64}/, 'python recomputes the signed root');

  const th = wardctl(['audit', 'tree-head', '--config', file]);
  t.equal(th.status, 0, th.stderr);
  t.match(th.stdout, /^tree head #\d+: size \d+, root [0-9a-f]{64}/);

  const since = new Date(Date.now() - 1000).toISOString();
  const b = wardctl(['audit', 'export', '--out', out('b.tar'), '--since', since, '--config', file]);
  t.equal(b.status, 0, b.stderr);
  const prev = wardctl(['audit', 'verify', out('b.tar'), '--previous', out('a.tar')]);
  t.equal(prev.status, 0, prev.stderr + prev.stdout);
  t.match(prev.stdout, /consistent with the tree head of .*a\.tar/);

  const st = wardctl(['audit', 'status', '--check', '--config', file]);
  t.equal(st.status, 0, st.stderr);
  t.match(JSON.parse(st.stdout), { treeSize: Number, latestTreeHead: { reason: 'export' }, alarm: null });

  // Tampered copy: exit 1 and the reason, naming the line.
  const entries = readTar(fs.readFileSync(out('a.tar')));
  const changed = writeTar(entries.map((e) => ({
    name: e.name,
    data: e.name === 'entries.jsonl' ? Buffer.from(e.data.toString().replace('"system.started"', '"system.stopped"')) : e.data,
  })));
  fs.writeFileSync(out('bad.tar'), changed);
  const bad = wardctl(['audit', 'verify', out('bad.tar')]);
  t.equal(bad.status, 1, 'verification failed: exit 1');
  t.match(bad.stderr, /^wardctl: verification failed \(\d+ problems; first: entries: line \d+ \(seq \d+\) differs from the signed entry seq \d+ \(bytes changed\)\)/);
  t.match(bad.stdout, /root: Merkle root: recomputed root differs from the signed root/);

  const json = wardctl(['audit', 'verify', out('bad.tar'), '--json']);
  t.equal(json.status, 1);
  t.equal(JSON.parse(json.stdout).ok, false, '--json prints the report');

  const other = makeTestCa('Impostor');
  fs.writeFileSync(out('other.pem'), other.root.toString());
  const wrongCa = wardctl(['audit', 'verify', out('a.tar'), '--ca', out('other.pem')]);
  t.equal(wrongCa.status, 1, 'a bundle not under the CA given with --ca fails');
  t.match(wrongCa.stderr, /signature: tree-head\.json\.p7s: CMS: no trusted issuer/);
  fs.rmSync(other.dir, { recursive: true, force: true });
  fs.writeFileSync(out('root.pem'), fs.readFileSync(path.join(dir, 'certs', 'root.crt.pem')));
  t.equal(wardctl(['audit', 'verify', out('a.tar'), '--ca', out('root.pem')]).status, 0, 'and passes with Ward\'s root');
  t.equal(wardctl(['audit', 'verify', out('a.tar'), '--previous', out('b.tar')]).status, 1, 'newer bundle given as --previous fails');

  // --record: the copy at hand is one of this Ward's exports (what retention needs); others are refused.
  const again = wardctl(['audit', 'verify', out('a.tar'), '--record', '--config', file]);
  t.equal(again.status, 0, again.stderr);
  t.match(again.stdout, /\nrecorded: .*a\.tar is export #1, verified \S+ \(already recorded\)\n$/);
  fs.writeFileSync(out('foreign.tar'), fs.readFileSync(out('a.tar')));
  fs.appendFileSync(out('foreign.tar'), Buffer.alloc(512)); // another file: a different SHA-256, still a valid tar
  const notOurs = wardctl(['audit', 'verify', out('foreign.tar'), '--record', '--config', file]);
  t.equal(notOurs.status, 1, 'a file that is not a recorded export: exit 1');
  t.match(notOurs.stderr, /^wardctl: no export with SHA-256 [0-9a-f]{64} is recorded/);
});

// Many real processes: allow for a loaded 2-core machine (tap's default is 30 s).
t.test('wardctl audit usage errors exit 2; verify needs no config', { timeout: 240_000 }, async (t) => {
  const dir = tempDir();
  const bare = (args: string[]) => spawnSync(nodeBin, [cliJs, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, WARD_CONFIG: '' } });
  for (const [args, re] of [
    [['audit', 'verify'], /usage: wardctl audit verify FILE/],
    [['audit', 'verify', 'a.tar', 'b.tar'], /usage/],
    [['audit', 'verify', path.join(dir, 'missing.tar')], /cannot read bundle .*missing\.tar: ENOENT/],
    [['audit', 'verify', path.join(dir, 'missing.tar'), '--bogus'], /Unknown option '--bogus'/],
    [['audit', 'export'], /usage: wardctl audit export --out FILE/],
    [['audit', 'export', '--out', 'x.tar', '--since', 'yesterday'], /--since must be an ISO 8601 time/],
    [['audit', 'export', '--out', 'x.tar', '--since', '2026-02-01T00:00:00Z', '--until', '2026-01-01T00:00:00Z'], /--since is after --until/],
  ] as [string[], RegExp][]) {
    const r = bare(args);
    t.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, re);
  }
  fs.writeFileSync(path.join(dir, 'junk.tar'), 'not a tar');
  const junk = bare(['audit', 'verify', 'junk.tar']);
  t.equal(junk.status, 1, 'an unreadable bundle fails verification (exit 1), without any Ward config around');
  t.match(junk.stderr, /archive: tar: archive is 9 bytes, not a whole number of 512-byte blocks/);
});
