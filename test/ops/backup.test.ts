// wardctl backup under load (HTTP requests against a spawned daemon, audit writes from another
// process), wardctl restore onto a fresh install, a daemon started on it: same CA, same audit trail.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AuditLog, AuditTrail, SYSTEM_ACTOR } from '../../src/audit';
import { openDatabase } from '../../src/db';
import { createBackup, restoreBackup } from '../../src/ops';
import { CertificateAuthority } from '../../src/pki';
import { type Daemon, loadTestConfig, repoRoot, request, spawnDaemon, tempDir, tool, waitFor, wardctl, wardctlAsync, writeTestConfig } from '../support/ward';

// Real daemons, wardctl processes and tarballs: allow for a busy two-core machine.
t.setTimeout(240_000);

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

function leafHashes(dbFile: string): Buffer[] {
  const db = openDatabase(dbFile, { migrate: false });
  try {
    return db.sqlite.prepare('SELECT leaf_hash FROM audit_events ORDER BY seq').pluck().all() as Buffer[];
  } finally {
    db.close();
  }
}

async function verifiedTree(dbFile: string, certsDir: string) {
  const db = openDatabase(dbFile, { migrate: false });
  const caChain = ['root', 'issuing'].map((n) => new crypto.X509Certificate(fs.readFileSync(path.join(certsDir, `${n}.crt.pem`))));
  const trail = new AuditTrail(db, new AuditLog(db), { signer: () => { throw new Error('no signing here'); }, caChain: () => caChain });
  try {
    trail.restore();
    return await trail.checkStore();
  } finally {
    trail.stop();
    db.close();
  }
}

function archiveEntry(archive: string, name: string): Buffer {
  const r = tool('tar', ['-xzOf', archive, name]);
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  return r.raw;
}

t.test('backup under load, restore elsewhere, same CA and audit trail', async (t) => {
  const a = writeTestConfig();
  const daemonA = await spawnDaemon(a.file);
  let stopA: Daemon | undefined = daemonA;
  t.teardown(() => stopA?.stop());
  const base = `http://127.0.0.1:${daemonA.httpPort}`;
  const rootA = (await request(`${base}/ca/root.crt`)).body;
  t.equal(rootA[0], 0x30, 'the root CA certificate (DER) is served');

  // A signed tree head exists, so the restored trail is checked against a signature, not only hashes.
  const head = wardctl(['audit', 'tree-head', '--config', a.file]);
  t.equal(head.status, 0, `wardctl audit tree-head: ${head.stderr}`);

  // Load: HTTP requests against the daemon, and audit writes from this process (another writer).
  const writer = openDatabase(path.join(a.dir, 'var', 'ward.db'), { migrate: false });
  const audit = new AuditLog(writer);
  let running = true;
  let writes = 0;
  let answered = 0;
  const writeLoop = (async () => {
    while (running) {
      audit.record({ action: 'test.load.written', actor: SYSTEM_ACTOR, details: { n: writes } });
      writes++;
      await new Promise((r) => setImmediate(r));
    }
  })();
  const httpLoop = (async () => {
    const paths = ['/healthz', '/ca.pem', '/crl'];
    while (running) {
      const r = await request(`${base}${paths[answered % 3]}`);
      if (r.status !== 200) throw new Error(`GET ${paths[answered % 3]}: ${r.status}`);
      answered++;
    }
  })();
  const issueLoop = (async () => {
    // wardctl writes through the CA too (certificate + audit event per issuance).
    const csrKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = path.join(a.dir, 'k.pem');
    fs.writeFileSync(keyFile, csrKey.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const csrFile = path.join(a.dir, 'req.csr');
    const csr = tool('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=load-device', '-out', csrFile]);
    if (csr.status !== 0) throw new Error(csr.stderr);
    let n = 0;
    while (running) {
      const r = await wardctlAsync(['cert', 'issue', csrFile, '--profile', 'device', '--config', a.file]);
      if (r.status !== 0) throw new Error(`wardctl cert issue: ${r.stderr}`);
      n++;
    }
    return n;
  })();

  const archive = path.join(tempDir(), 'ward-backup.tar.gz');
  const atStart = { writes, answered };
  // Let the load get going first (a condition, not a delay).
  await waitFor(() => writes > atStart.writes + 50 && answered > atStart.answered + 5, 30_000, 'the load to start');
  const beforeBackup = { writes, answered, events: leafHashes(path.join(a.dir, 'var', 'ward.db')).length };
  const b = await wardctlAsync(['backup', '--out', archive, '--config', a.file]);
  const duringBackup = { writes: writes - beforeBackup.writes, answered: answered - beforeBackup.answered };
  running = false;
  await writeLoop;
  await httpLoop;
  const issued = await issueLoop;
  writer.close();
  t.equal(b.status, 0, `wardctl backup: ${b.stderr}`);
  t.match(b.stdout, /^backup: \d+ bytes, sha256 [0-9a-f]{64}, schema \d+, \d+ audit events, root CA [0-9a-f]{64}\n/);
  t.ok(duringBackup.writes > 0, `${duringBackup.writes} audit writes committed while the backup ran`);
  t.ok(duringBackup.answered > 0, `${duringBackup.answered} HTTP requests answered while the backup ran`);
  t.ok(issued > 0, `${issued} certificates issued by wardctl during the load`);

  // The archive: a consistent snapshot that is a prefix of the live log; no passphrase, no raw key.
  const manifest = JSON.parse(archiveEntry(archive, 'MANIFEST.json').toString());
  t.equal(manifest.format, 'ward-backup/1');
  t.ok(manifest.audit.events >= beforeBackup.events, `snapshot holds ${manifest.audit.events} events (>= ${beforeBackup.events} before the backup)`);
  const names: string[] = manifest.files.map((f: { path: string }) => f.path);
  t.notOk(names.some((n) => /passphrase/.test(n)), 'the passphrase is not in the archive');
  t.ok(names.includes('pki/root.key.pem') && names.includes('db/ward.db') && names.includes('config/appliance.config.yaml'));
  t.match(archiveEntry(archive, 'pki/root.key.pem').toString(), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, 'CA key still encrypted');
  for (const n of names.filter((n) => n.startsWith('pki/') && !n.endsWith('.sealed'))) {
    t.notMatch(archiveEntry(archive, n).toString(), /BEGIN (RSA |EC )?PRIVATE KEY/, `${n}: no plaintext key`);
  }
  const passphrase = fs.readFileSync(path.join(a.dir, 'certs', 'passphrase'));
  t.notOk(fs.readFileSync(archive).includes(passphrase.subarray(0, 20)), 'passphrase bytes are not in the archive');

  await daemonA.stop();
  stopA = undefined;
  const live = leafHashes(path.join(a.dir, 'var', 'ward.db'));
  t.ok(live.length > manifest.audit.events, 'the live log grew after the snapshot');
  t.equal(live[0].length, 32);

  // backup verify: the archive checks out on its own (no passphrase needed).
  const v = wardctl(['backup', 'verify', archive, '--config', a.file]);
  t.equal(v.status, 0, v.stderr);
  t.match(v.stdout, new RegExp(`^ok: backup of localhost taken .* ${manifest.audit.events} audit events, root CA sha256 ${manifest.ca.rootSha256}`));

  // A fresh install: restore needs the original passphrase first.
  const fresh = writeTestConfig();
  const noPass = wardctl(['restore', archive, '--config', fresh.file]);
  t.equal(noPass.status, 1);
  t.match(noPass.stderr, /^wardctl: cannot read the CA passphrase .*passphrase: ENOENT; a restore needs the backed-up appliance's passphrase there first/);
  fs.mkdirSync(path.join(fresh.dir, 'certs'), { mode: 0o700 });
  fs.writeFileSync(path.join(fresh.dir, 'certs', 'passphrase'), 'not-the-original-passphrase\n', { mode: 0o600 });
  const wrongPass = wardctl(['restore', archive, '--config', fresh.file]);
  t.equal(wrongPass.status, 1);
  t.match(wrongPass.stderr, /does not open with the CA passphrase configured here|do not open with this install's passphrase/);
  t.notOk(fs.existsSync(path.join(fresh.dir, 'var', 'ward.db')), 'nothing restored with a wrong passphrase');
  fs.copyFileSync(path.join(a.dir, 'certs', 'passphrase'), path.join(fresh.dir, 'certs', 'passphrase'));
  const restored = wardctl(['restore', archive, '--config', fresh.file]);
  t.equal(restored.status, 0, restored.stderr);
  t.match(restored.stdout, /^restored: backup of localhost/);
  t.equal(fs.statSync(path.join(fresh.dir, 'certs', 'root.key.pem')).mode & 0o777, 0o600);
  t.equal(fs.statSync(path.join(fresh.dir, 'var', 'ward.db')).mode & 0o777, 0o600);

  // Restoring over an existing CA is refused; --force moves the current files aside.
  const again = wardctl(['restore', archive, '--config', fresh.file]);
  t.equal(again.status, 1);
  t.match(again.stderr, new RegExp(`^wardctl: a CA already exists in .* \\(root sha256 ${manifest.ca.rootSha256}\\); restoring would replace it: stop Ward and run restore again with --force`));
  const forced = wardctl(['restore', archive, '--force', '--config', fresh.file]);
  t.equal(forced.status, 0, forced.stderr);
  const aside = /the replaced files are in (\S+)/.exec(forced.stdout)?.[1];
  t.ok(aside && fs.existsSync(path.join(aside, 'pki', 'root.key.pem')) && fs.existsSync(path.join(aside, 'db', 'ward.db')), 'replaced files kept');

  // A daemon on the restored install: same CA, audit trail intact and extended.
  const daemonB = await spawnDaemon(fresh.file);
  const busy = wardctl(['restore', archive, '--force', '--config', fresh.file]);
  t.equal(busy.status, 1);
  t.match(busy.stderr, /^wardctl: the database .*ward\.db is in use \(is Ward running\?\): stop it first/, 'no restore under a running daemon');
  const rootB = (await request(`http://127.0.0.1:${daemonB.httpPort}/ca/root.crt`)).body;
  const health = (await request(`http://127.0.0.1:${daemonB.httpPort}/healthz`)).json();
  t.equal(await daemonB.stop(), 0);
  t.equal(sha256(rootB), sha256(rootA), 'same root CA (fingerprint)');
  t.equal(sha256(rootB), manifest.ca.rootSha256);
  t.equal(health.status, 'ok', JSON.stringify(health.checks));
  t.equal(health.checks.audit.ok, true, 'the audit trail checks out on the restored install');

  const restoredLeaves = leafHashes(path.join(fresh.dir, 'var', 'ward.db'));
  t.ok(restoredLeaves.length > manifest.audit.events, 'restore and the new start appended events');
  t.ok(
    restoredLeaves.slice(0, manifest.audit.events).every((h, i) => h.equals(live[i])),
    `the first ${manifest.audit.events} leaf hashes equal the original's`,
  );
  const tree = await verifiedTree(path.join(fresh.dir, 'var', 'ward.db'), path.join(fresh.dir, 'certs'));
  t.equal(tree.treeSize, restoredLeaves.length, 'store check over every event, consistent with the signed tree head');
  const db = openDatabase(path.join(fresh.dir, 'var', 'ward.db'), { migrate: false });
  const actions = db.sqlite.prepare('SELECT action FROM audit_events WHERE seq > ? ORDER BY seq').pluck().all(manifest.audit.events) as string[];
  db.close();
  t.equal(actions[0], 'system.backup.restored', 'the restore is the first event after the snapshot');
});

t.test('a damaged or foreign archive is refused', async (t) => {
  const dir = tempDir();
  const cfg = writeTestConfig();
  const notTar = path.join(dir, 'x.tar.gz');
  fs.writeFileSync(notTar, 'hello');
  const r1 = wardctl(['backup', 'verify', notTar, '--config', cfg.file]);
  t.equal(r1.status, 1);
  t.match(r1.stderr, /^wardctl: tar failed/);

  // A well-formed tar whose database does not match its manifest.
  const stage = path.join(dir, 'stage');
  fs.mkdirSync(path.join(stage, 'db'), { recursive: true });
  fs.writeFileSync(path.join(stage, 'db', 'ward.db'), 'not a database');
  fs.writeFileSync(path.join(stage, 'MANIFEST.json'), JSON.stringify({ format: 'ward-backup/1', files: [{ path: 'db/ward.db', size: 3, sha256: '00' }] }));
  const forged = path.join(dir, 'forged.tar.gz');
  t.equal(tool('tar', ['-C', stage, '-czf', forged, 'MANIFEST.json', 'db']).status, 0);
  const r2 = wardctl(['restore', forged, '--config', cfg.file]);
  t.equal(r2.status, 1);
  t.match(r2.stderr, /^wardctl: archive is damaged: db\/ward\.db does not match its SHA-256 in MANIFEST\.json\n$/);
  t.notOk(fs.existsSync(path.join(cfg.dir, 'var', 'ward.db')), 'nothing restored');

  const r3 = wardctl(['backup', '--config', cfg.file]);
  t.equal(r3.status, 2, 'usage error without --out');
  const r4 = wardctl(['backup', '--out', path.join(dir, 'b.tar.gz'), '--config', cfg.file]);
  t.equal(r4.status, 1);
  t.match(r4.stderr, /^wardctl: no database at .*: has Ward ever started with this config\?\n$/);
});

t.test('a backup from an older schema restores, and the daemon migrates it after a copy', async (t) => {
  // An appliance whose database stopped at migration 0001 (an older release), with a CA and events.
  const old = writeTestConfig();
  const cfg = loadTestConfig(old.file, old.doc);
  const onlyCore = tempDir('ward-mig-');
  fs.copyFileSync(path.join(repoRoot, 'migrations', '0001_core.sql'), path.join(onlyCore, '0001_core.sql'));
  const db = openDatabase(cfg.database.file, { migrationsDir: onlyCore });
  const ca = CertificateAuthority.open(cfg, db, new AuditLog(db));
  const rootSha = ca.rootFingerprint();
  new AuditLog(db).record({ action: 'test.old.event', actor: SYSTEM_ACTOR });
  db.close();

  const archive = path.join(tempDir(), 'old.tar.gz');
  const made = await createBackup(cfg, { out: archive, ctx: { actor: SYSTEM_ACTOR } });
  t.equal(made.manifest.schemaVersion, 1);

  const fresh = writeTestConfig();
  fs.mkdirSync(path.join(fresh.dir, 'certs'), { mode: 0o700 });
  fs.copyFileSync(path.join(old.dir, 'certs', 'passphrase'), path.join(fresh.dir, 'certs', 'passphrase'));
  fs.writeFileSync(fresh.file, fs.readFileSync(fresh.file, 'utf8').replace('Test Hospital', 'Other Hospital'));
  const restored = await restoreBackup(loadTestConfig(fresh.file, fresh.doc), archive, { withConfig: true, ctx: { actor: SYSTEM_ACTOR } });
  t.equal(restored.manifest.ca.rootSha256, rootSha);
  t.equal(fs.readFileSync(fresh.file, 'utf8'), fs.readFileSync(old.file, 'utf8'), '--with-config put the backed-up config in place');
  const installed = openDatabase(path.join(fresh.dir, 'var', 'ward.db'), { migrate: false });
  t.equal(installed.sqlite.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 1, 'installed as archived (schema 1)');
  installed.close();

  const daemon = await spawnDaemon(fresh.file);
  const root = (await request(`http://127.0.0.1:${daemon.httpPort}/ca/root.crt`)).body;
  const health = (await request(`http://127.0.0.1:${daemon.httpPort}/healthz`)).json();
  t.equal(await daemon.stop(), 0);
  t.equal(sha256(root), rootSha, 'same root CA');
  t.equal(health.status, 'ok');
  const copies = fs.readdirSync(path.join(fresh.dir, 'var', 'backups')).filter((f) => /^ward-schema1-before-\d+-.*\.db$/.test(f));
  t.equal(copies.length, 1, 'the daemon copied the restored database before migrating it');
});
