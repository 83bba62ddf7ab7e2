// systemd/ward.service under a real systemd: the release tarball installed offline into a scratch root
// (scripts/install.sh), that root booted with Debian's systemd as PID 1 (systemd-nspawn, loopback
// only), ward.service started by the boot because install.sh enabled it. From inside: the unit is
// active after READY=1, /healthz answers, `systemctl show` has the hardening, the process runs with
// no capabilities, seccomp and a read-only view of the system, wardctl works as root, a killed
// daemon is restarted, and a stop is clean. The scenario runs in test/ops/systemd-boot.sh.
import path from 'node:path';
import t from 'tap';
import { repoRoot, tempDir, tool } from '../support/ward';
import { buildRelease, keyLines } from './release';

// A tarball, an install and a boot: allow for a busy two-core machine.
t.setTimeout(600_000);

t.test('the installed unit boots under systemd, hardened, and serves /healthz', { skip: process.getuid?.() !== 0 && 'needs root (systemd-nspawn, unshare)' }, async (t) => {
  t.equal(tool('sh', ['-c', 'command -v systemd-nspawn']).status, 0, 'systemd-nspawn is installed (Debian package systemd-container, scripts/system-tools.sh)');
  const work = tempDir();
  const tarball = buildRelease(work);
  const r = tool('bash', [path.join(repoRoot, 'test', 'ops', 'systemd-boot.sh'), tarball, path.join(work, 'root'), repoRoot], { timeout: 500_000 });
  t.equal(r.status, 0, `systemd-boot.sh:\n${r.stdout}\n${r.stderr}`);
  const out = keyLines(r.stdout);
  const show = new Map(r.stdout.split('\n').filter((l) => l.startsWith('SHOW ')).map((l) => l.slice(5).split(/=(.*)/s).slice(0, 2) as [string, string]));
  const proc = new Map(r.stdout.split('\n').filter((l) => l.startsWith('PROC ')).map((l) => l.slice(5).split(': ') as [string, string]));
  t.equal(out.get('INSTALL'), 'ok');
  t.notOk(out.has('NSPAWN'), 'the container powered itself off after the checks');
  t.notOk(out.has('CHECK_ERR'), r.stdout);

  // Started by the boot (enabled by install.sh), active once Ward sent READY=1 with its status.
  t.equal(out.get('ACTIVE'), 'active');
  t.equal(show.get('Type'), 'notify');
  t.equal(show.get('StatusText'), 'listening on 8080 and 8443', 'STATUS= from sd_notify reached systemd');
  t.equal(out.get('HEALTHZ_STATUS'), 'HTTP/1.1 200 OK');
  const health = JSON.parse(out.get('HEALTHZ_BODY') ?? '{}');
  t.equal(health.status, 'ok');
  t.equal(health.runtime?.node, 'v24.21.0', 'the bundled runtime');
  for (const job of ['crl-reissue', 'clock-check', 'certificate-expiry', 'audit-tree-head', 'audit-retention', 'devices-not-seen']) {
    t.ok(health.checks?.jobs?.details?.[job], `job ${job} in /healthz`);
  }

  // The hardening as systemd applied it.
  for (const [k, v] of [
    ['User', 'ward'], ['Group', 'ward'], ['NotifyAccess', 'all'], ['Restart', 'on-failure'], ['UMask', '0077'], ['StateDirectory', 'ward'],
    ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['PrivateDevices', 'yes'], ['PrivateUsers', 'yes'],
    ['NoNewPrivileges', 'yes'], ['CapabilityBoundingSet', ''], ['AmbientCapabilities', ''], ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
    ['RestrictNamespaces', 'yes'], ['ProtectKernelTunables', 'yes'], ['ProtectControlGroups', 'yes'], ['ProtectClock', 'yes'],
    ['LockPersonality', 'yes'], ['SystemCallArchitectures', 'native'], ['MemoryDenyWriteExecute', 'no'],
  ]) {
    t.equal(show.get(k), v, `systemctl show: ${k}=${v}`);
  }
  const score = /^(\d+\.\d+) (\S+)/.exec(out.get('SECURITY') ?? '');
  t.ok(score && Number(score[1]) <= 2.0 && score[2] === 'OK', `systemd-analyze security on the running system: ${out.get('SECURITY')}`);

  // The process as the kernel sees it, and its mount namespace.
  t.match(proc.get('Uid'), /^[1-9]\d* /, 'not root');
  t.equal(proc.get('CapEff'), '0000000000000000', 'no effective capabilities');
  t.equal(proc.get('CapBnd'), '0000000000000000', 'empty bounding set');
  t.equal(proc.get('NoNewPrivs'), '1');
  t.equal(proc.get('Seccomp'), '2', 'seccomp filter on');
  t.equal(out.get('CREDENTIAL'), '400 ward', 'LoadCredential handed the passphrase over, readable by ward only');
  t.equal(out.get('WRITE_OPT'), 'no', '/opt/ward read-only');
  t.equal(out.get('WRITE_ETC'), 'no', '/etc read-only');
  t.equal(out.get('WRITE_STATE'), 'yes', '/var/lib/ward writable');
  t.equal(out.get('HOME_VISIBLE'), 'no', 'homes hidden');
  const wardctl = JSON.parse(out.get('WARDCTL') || '{}');
  t.equal(wardctl.root?.sha256, health.checks?.pki?.details?.root?.sha256, 'wardctl (root, through /usr/local/bin/wardctl) opens the running CA');

  // Restart=on-failure after kill -9, and a clean stop.
  t.equal(out.get('RESTARTS'), '1');
  t.equal(out.get('NEW_PID'), 'yes');
  t.equal(out.get('AFTER_RESTART_STATUS'), 'HTTP/1.1 200 OK', 'serving again after the restart');
  t.equal(out.get('STOPPED'), 'success 0', 'systemctl stop: SIGTERM, exit 0');
});
