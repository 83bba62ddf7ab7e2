// Backups of a running appliance and restores onto a fresh install (docs/operations.md, "Backup").
//
// Archive: a gzip-compressed tar (GNU tar) holding
//   MANIFEST.json               format ward-backup/1: what, when, schema version, audit facts, root CA
//                               fingerprint, and the size + SHA-256 of every other file
//   config/appliance.config.yaml  the config file as it was
//   db/ward.db                  the database, copied with SQLite's online backup API in one step (one
//                               read transaction: a consistent snapshot while the daemon keeps writing)
//   pki/...                     pki.dir: certificates and PKCS#8 keys already encrypted under the CA
//                               passphrase, copied as they are; any other file there (raw keys such as
//                               the Apple escrow key or the admin TOTP key) sealed under the passphrase
//                               (scrypt + AES-256-GCM) as NAME.sealed
//   data/...                    every other file under dataDir (imported APKs...)
// The passphrase itself is never in the archive: a restore needs it separately.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import YAML from 'yaml';
import { AuditLog, AuditStore, AuditTrail, type AuditContext, type AuditFacts } from '../audit';
import { type WardConfig, configFromObject, packageRoot } from '../config';
import { openDatabase, preMigrationBackupDir, readMigrations, type WardDb } from '../db';
import { CertificateAuthority, PkiStore } from '../pki';
import { OpsStore } from './store';

export const BACKUP_FORMAT = 'ward-backup/1';
const SEALED_FORMAT = 'ward-sealed/1';
const CONFIG_ENTRY = 'config/appliance.config.yaml';
const DB_ENTRY = 'db/ward.db';

export interface BackupFile {
  path: string;
  size: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  createdAt: string;
  ward: { version: string; node: string };
  hostname: string;
  organization: string;
  schemaVersion: number;
  audit: AuditFacts;
  ca: { rootSha256: string };
  /** Where the pieces came from on the backed-up machine (informational). */
  sources: { config: string; database: string; pkiDir: string; dataDir: string };
  /** scrypt parameters of the *.sealed files (one salt per backup). */
  sealing: { kdf: 'scrypt'; N: number; r: number; p: number; salt: string };
  files: BackupFile[];
}

/** A backup or restore that cannot go on: one clear line for the operator. */
export class BackupError extends Error {
  override name = 'BackupError';
}

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');
const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

/**
 * The CA passphrase, read the way the daemon reads it (pki.passphrase: a systemd credential when
 * configured, else the file; one trailing newline dropped). Seals and unseals the raw key files.
 */
export function readCaPassphrase(cfg: WardConfig, env: NodeJS.ProcessEnv = process.env): Buffer {
  const src = cfg.pki.passphrase;
  let file = src.file;
  if (src.credential) {
    if (!env.CREDENTIALS_DIRECTORY) {
      throw new BackupError(`pki.passphrase.credential=${src.credential} but $CREDENTIALS_DIRECTORY is not set: run wardctl through /opt/ward/bin/wardctl (it hands the credential over)`);
    }
    file = path.join(env.CREDENTIALS_DIRECTORY, src.credential);
  }
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw new BackupError(`cannot read the CA passphrase ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  return Buffer.from(raw.toString('utf8').replace(/\r?\n$/, ''), 'utf8');
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
function sealingKey(passphrase: Buffer, s: BackupManifest['sealing']): Buffer {
  return crypto.scryptSync(passphrase, Buffer.from(s.salt, 'base64'), 32, { N: s.N, r: s.r, p: s.p, maxmem: 256 * s.N * s.r });
}

function seal(data: Buffer, key: Buffer, name: string): Buffer {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(name));
  const ct = Buffer.concat([c.update(data), c.final()]);
  return Buffer.from(JSON.stringify({ format: SEALED_FORMAT, cipher: 'aes-256-gcm', name, iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: ct.toString('base64') }) + '\n');
}

function unseal(sealed: Buffer, key: Buffer, name: string): Buffer {
  const j = JSON.parse(sealed.toString('utf8')) as { format: string; name: string; iv: string; tag: string; data: string };
  if (j.format !== SEALED_FORMAT || j.name !== name) throw new BackupError(`pki/${name}.sealed: not a ${SEALED_FORMAT} file for ${name}`);
  const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(j.iv, 'base64'));
  d.setAAD(Buffer.from(name));
  d.setAuthTag(Buffer.from(j.tag, 'base64'));
  try {
    return Buffer.concat([d.update(Buffer.from(j.data, 'base64')), d.final()]);
  } catch {
    throw new BackupError(`pki/${name}.sealed does not open with the CA passphrase configured here (is it the original passphrase?)`);
  }
}

/** Certificates and encrypted PKCS#8 keys travel as they are; anything else in pki.dir is sealed. */
function safeAsIs(data: Buffer): boolean {
  const text = data.toString('latin1');
  const labels = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]);
  return labels.length > 0 && labels.every((l) => l === 'CERTIFICATE' || l === 'ENCRYPTED PRIVATE KEY' || l === 'X509 CRL');
}

function walkFiles(dir: string, skip: (abs: string) => boolean, rel = ''): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    const abs = path.join(dir, r);
    if (skip(abs)) continue;
    if (e.isDirectory()) out.push(...walkFiles(dir, skip, r));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

const within = (parent: string, p: string) => p === parent || p.startsWith(parent + path.sep);
const isTemp = (name: string) => /\.tmp-\d+$|\.restore-\d+$|\.partial-\d+$/.test(name);

function wardVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Runs GNU tar; with `sink`, its stdout (the archive) streams through a SHA-256 into the sink. */
async function runTar(args: string[], sink?: { to: NodeJS.WritableStream; end: boolean; hash: crypto.Hash; bytes: { n: number } }): Promise<void> {
  const p = spawn('tar', args, { stdio: ['ignore', sink ? 'pipe' : 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    p.on('error', (e) => reject(new BackupError(`cannot run tar: ${e.message}`)));
    p.on('close', resolve);
  });
  if (sink) {
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        sink.hash.update(chunk);
        sink.bytes.n += chunk.length;
        cb(null, chunk);
      },
    });
    await pipeline(p.stdout!, counter, sink.to, { end: sink.end });
  }
  const code = await exited;
  if (code !== 0) throw new BackupError(`tar failed (${code}): ${err.trim().split('\n')[0]}`);
}

/** Run as root for the service user (wardctl without its wrapper): give what we made to the state folder's owner. */
function adopt(paths: string[], owner: fs.Stats): void {
  if (process.getuid?.() !== 0 || owner.uid === 0) return;
  const chown = (p: string) => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    fs.lchownSync(p, owner.uid, owner.gid);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) chown(path.join(p, e));
  };
  paths.forEach(chown);
}

async function fileSha256(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

export interface BackupOptions {
  /** Archive file, or a stream (stdout) for `--out -`. */
  out: string | NodeJS.WritableStream;
  ctx: AuditContext;
  now?: Date;
}

export interface BackupResult {
  manifest: BackupManifest;
  /** SHA-256 of the archive bytes written. */
  archiveSha256: string;
  bytes: number;
}

/** Backs up a (possibly running) appliance; records system.backup.created afterwards. */
export async function createBackup(cfg: WardConfig, opts: BackupOptions): Promise<BackupResult> {
  const now = opts.now ?? new Date();
  if (!fs.existsSync(cfg.database.file)) throw new BackupError(`no database at ${cfg.database.file}: has Ward ever started with this config?`);
  if (!fs.existsSync(path.join(cfg.pki.dir, 'root.crt.pem'))) throw new BackupError(`no CA in ${cfg.pki.dir}: has Ward ever started with this config?`);
  const passphrase = readCaPassphrase(cfg);
  if (typeof opts.out === 'string') {
    try {
      fs.accessSync(path.dirname(opts.out), fs.constants.W_OK);
    } catch (e) {
      throw new BackupError(`cannot write ${opts.out}: ${(e as NodeJS.ErrnoException).code} (wardctl runs as the ward user: use --out - > FILE)`);
    }
  }
  const workDir = preMigrationBackupDir(cfg.database.file);
  if (!fs.existsSync(workDir)) {
    fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
    adopt([workDir], fs.statSync(cfg.dataDir));
  }
  const stage = fs.mkdtempSync(path.join(workDir, '.backup-'));
  const db = openDatabase(cfg.database.file, { migrate: false, busyTimeoutMs: cfg.database.busyTimeoutMs });
  try {
    for (const d of ['config', 'db', 'pki', 'data']) fs.mkdirSync(path.join(stage, d), { mode: 0o700 });
    // One step with every page (sqlite3_backup_step(-1)): the copy is one read transaction, so
    // concurrent writers neither restart it nor leave it half old, half new.
    await db.sqlite.backup(path.join(stage, DB_ENTRY), { progress: () => 0x7fffffff });

    const snapshot = openDatabase(path.join(stage, DB_ENTRY), { migrate: false });
    let facts: AuditFacts;
    let schemaVersion: number;
    try {
      facts = AuditStore.factsOf(snapshot);
      schemaVersion = OpsStore.of(snapshot).schemaVersion();
    } finally {
      snapshot.close();
    }

    fs.copyFileSync(cfg.file, path.join(stage, CONFIG_ENTRY));

    const sealing = { kdf: 'scrypt' as const, ...SCRYPT, salt: crypto.randomBytes(16).toString('base64') };
    const key = sealingKey(passphrase, sealing);
    const skipPki = (abs: string) => abs === cfg.pki.passphrase.file || /passphrase/i.test(path.basename(abs)) || isTemp(abs);
    for (const rel of walkFiles(cfg.pki.dir, skipPki)) {
      const data = fs.readFileSync(path.join(cfg.pki.dir, rel));
      fs.mkdirSync(path.dirname(path.join(stage, 'pki', rel)), { recursive: true, mode: 0o700 });
      if (safeAsIs(data)) fs.writeFileSync(path.join(stage, 'pki', rel), data, { mode: 0o600 });
      else fs.writeFileSync(path.join(stage, 'pki', rel + '.sealed'), seal(data, key, rel), { mode: 0o600 });
    }
    const dbFile = cfg.database.file;
    const skipData = (abs: string) =>
      [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`, cfg.pki.passphrase.file].includes(abs) ||
      within(workDir, abs) || within(cfg.pki.dir, abs) || isTemp(abs);
    for (const rel of walkFiles(cfg.dataDir, skipData)) {
      fs.mkdirSync(path.dirname(path.join(stage, 'data', rel)), { recursive: true, mode: 0o700 });
      fs.copyFileSync(path.join(cfg.dataDir, rel), path.join(stage, 'data', rel));
    }

    const rootPem = fs.readFileSync(path.join(stage, 'pki', 'root.crt.pem'));
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      createdAt: now.toISOString(),
      ward: { version: wardVersion(), node: process.version },
      hostname: cfg.hostname,
      organization: cfg.organization,
      schemaVersion,
      audit: facts,
      ca: { rootSha256: sha256(new crypto.X509Certificate(rootPem).raw) },
      sources: { config: cfg.file, database: cfg.database.file, pkiDir: cfg.pki.dir, dataDir: cfg.dataDir },
      sealing,
      files: [],
    };
    for (const rel of walkFiles(stage, () => false)) {
      const file = path.join(stage, rel);
      manifest.files.push({ path: rel.split(path.sep).join('/'), size: fs.statSync(file).size, sha256: await fileSha256(file) });
    }
    fs.writeFileSync(path.join(stage, 'MANIFEST.json'), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });

    const hash = crypto.createHash('sha256');
    const bytes = { n: 0 };
    const toFile = typeof opts.out === 'string';
    const partial = toFile ? `${opts.out}.partial-${process.pid}` : '';
    const sink = toFile ? fs.createWriteStream(partial, { mode: 0o600 }) : (opts.out as NodeJS.WritableStream);
    try {
      const args = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-C', stage, '-czf', '-', 'MANIFEST.json', 'config', 'db', 'pki', 'data'];
      await runTar(args, { to: sink, end: toFile, hash, bytes });
      if (toFile) {
        const fd = fs.openSync(partial, 'r');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fs.renameSync(partial, opts.out as string);
      }
    } catch (e) {
      if (toFile) fs.rmSync(partial, { force: true });
      throw e;
    }
    const archiveSha256 = hash.digest('hex');
    new AuditLog(db).record({
      ...opts.ctx,
      action: 'system.backup.created',
      target: { type: 'backup', id: archiveSha256 },
      details: {
        file: toFile ? path.resolve(opts.out as string) : 'stdout', bytes: bytes.n, schemaVersion, auditEvents: facts.events,
        rootSha256: manifest.ca.rootSha256, files: manifest.files.length,
      },
    });
    return { manifest, archiveSha256, bytes: bytes.n };
  } finally {
    db.close();
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

export interface VerifiedArchive {
  manifest: BackupManifest;
  archiveSha256: string;
  /** Where the archive was unpacked. */
  dir: string;
  /** The archive's database, or for an older schema a migrated scratch copy: what the checks ran on. */
  currentDb: string;
  /** Removes the unpacked copy. */
  cleanup(): void;
}

/**
 * Unpacks an archive (a file, or a stream such as stdin) into a fresh folder under `workDir` and
 * checks it: every file against the manifest, the database, the audit leaves, the root CA.
 */
export async function unpackBackup(archive: string | Readable, workDir: string): Promise<VerifiedArchive> {
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const dir = fs.mkdtempSync(path.join(workDir, '.restore-'));
  try {
    let file = archive as string;
    if (typeof archive !== 'string') {
      file = path.join(dir, 'incoming.tar.gz');
      await pipeline(archive, fs.createWriteStream(file, { mode: 0o600 }));
    } else if (!fs.existsSync(archive)) {
      throw new BackupError(`no such file: ${archive}`);
    }
    const archiveSha256 = await fileSha256(file);
    const unpacked = path.join(dir, 'archive');
    fs.mkdirSync(unpacked, { mode: 0o700 });
    await runTar(['-xzf', file, '-C', unpacked, '--no-same-owner', '--no-same-permissions']);
    if (file !== archive) fs.rmSync(file);
    const { manifest, currentDb } = await checkUnpacked(unpacked, path.join(dir, 'current'));
    return { manifest, archiveSha256, dir: unpacked, currentDb, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

async function checkUnpacked(dir: string, scratch: string): Promise<{ manifest: BackupManifest; currentDb: string }> {
  const present: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) present.push(r);
      else throw new BackupError(`archive entry ${r} is neither a file nor a folder`);
    }
  };
  walk('');
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'MANIFEST.json'), 'utf8'));
  } catch {
    throw new BackupError('not a Ward backup: MANIFEST.json is missing or not JSON');
  }
  if (manifest.format !== BACKUP_FORMAT) throw new BackupError(`not a ${BACKUP_FORMAT} archive (format ${JSON.stringify(manifest.format)})`);
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const f of manifest.files) {
    if (!/^(config|db|pki|data)\//.test(f.path) || f.path.split('/').includes('..')) throw new BackupError(`manifest lists an odd path ${JSON.stringify(f.path)}`);
    const file = path.join(dir, f.path);
    if (!fs.existsSync(file)) throw new BackupError(`archive is incomplete: ${f.path} is missing`);
    if (fs.statSync(file).size !== f.size || (await fileSha256(file)) !== f.sha256) {
      throw new BackupError(`archive is damaged: ${f.path} does not match its SHA-256 in MANIFEST.json`);
    }
  }
  const extra = present.filter((p) => p !== 'MANIFEST.json' && !listed.has(p));
  if (extra.length) throw new BackupError(`archive holds files the manifest does not list: ${extra.slice(0, 3).join(', ')}`);
  for (const needed of [DB_ENTRY, CONFIG_ENTRY, 'pki/root.crt.pem', 'pki/issuing.crt.pem']) {
    if (!listed.has(needed)) throw new BackupError(`archive is incomplete: no ${needed}`);
  }
  const caChain = ['root', 'issuing'].map((n) => new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'pki', `${n}.crt.pem`))));
  if (sha256(caChain[0].raw) !== manifest.ca.rootSha256) throw new BackupError('pki/root.crt.pem is not the root CA the manifest names');
  const currentDb = await checkDatabase(path.join(dir, DB_ENTRY), manifest, caChain, scratch);
  return { manifest, currentDb };
}

/**
 * Integrity of the copied database: SQLite's own check, the schema version, and the audit trail's
 * store check (every line hashes to its leaf, no gap, the leaves hash to the latest signed tree head,
 * whose signature chains to the archive's CA).
 */
async function checkDatabase(file: string, manifest: BackupManifest, caChain: crypto.X509Certificate[], scratch: string): Promise<string> {
  const archived = openDatabase(file, { migrate: false });
  let version: number;
  try {
    const store = OpsStore.of(archived);
    const integrity = store.integrityCheck();
    if (integrity !== 'ok') throw new BackupError(`database in the archive fails SQLite's integrity check: ${integrity}`);
    version = store.schemaVersion();
  } finally {
    archived.close();
  }
  const newest = readMigrations(path.join(packageRoot(), 'migrations')).at(-1)?.version ?? 0;
  if (version > newest) throw new BackupError(`the backup comes from a newer Ward (schema ${version}, this one knows up to ${newest}): install that version first`);
  // A backup from an older release is checked the way this release will read it: on a scratch copy
  // brought to the current schema (the install itself gets the archived file; Ward migrates it at start).
  let current = file;
  if (version < newest) {
    fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
    current = path.join(scratch, 'ward.db');
    fs.copyFileSync(file, current);
    try {
      openDatabase(current).close();
    } catch (e) {
      throw new BackupError(`the database in the archive (schema ${version}) does not migrate to this release: ${(e as Error).message}`);
    }
  }
  const db = openDatabase(current, { migrate: false });
  try {
    const trail = new AuditTrail(db, new AuditLog(db), {
      signer: () => {
        throw new BackupError('a backup check signs nothing');
      },
      caChain: () => caChain,
    });
    let tree: { treeSize: number };
    try {
      trail.restore();
      tree = await trail.checkStore();
    } catch (e) {
      throw new BackupError(`audit log in the archive does not verify: ${(e as Error).message}`);
    } finally {
      trail.stop();
    }
    const a = manifest.audit;
    const facts = AuditStore.factsOf(db);
    if (tree.treeSize !== a.events || facts.lastSeq !== a.lastSeq || facts.lastLeafHash !== a.lastLeafHash) {
      throw new BackupError(`audit log in the archive holds ${tree.treeSize} events, the manifest says ${a.events}`);
    }
    if (!new PkiStore(db).rootFingerprints().includes(manifest.ca.rootSha256)) throw new BackupError('the database in the archive does not record the root CA of pki/root.crt.pem');
    return current;
  } finally {
    db.close();
  }
}

export interface RestoreOptions {
  /** Replace an existing CA / database (moved aside, never deleted). */
  force?: boolean;
  /** Also put the backup's config in place of this install's (its paths then decide where things go). */
  withConfig?: boolean;
  ctx: AuditContext;
  now?: Date;
}

export interface RestoreResult {
  manifest: BackupManifest;
  archiveSha256: string;
  /** Where the replaced files went (with --force). */
  movedAside?: string;
  restored: string[];
}

function existingInstall(cfg: WardConfig): string | undefined {
  const rootFile = path.join(cfg.pki.dir, 'root.crt.pem');
  if (fs.existsSync(rootFile)) {
    let fp = '?';
    try {
      fp = sha256(new crypto.X509Certificate(fs.readFileSync(rootFile)).raw);
    } catch {
      // unreadable: still an existing CA
    }
    return `a CA already exists in ${cfg.pki.dir} (root sha256 ${fp})`;
  }
  if (fs.existsSync(cfg.database.file) && fs.statSync(cfg.database.file).size > 0) return `a database already exists at ${cfg.database.file}`;
  return undefined;
}

/** Restores an archive onto this install (stop the daemon first). */
export async function restoreBackup(cfg: WardConfig, archive: string | Readable, opts: RestoreOptions): Promise<RestoreResult> {
  const now = opts.now ?? new Date();
  if (opts.withConfig) {
    try {
      fs.accessSync(cfg.file, fs.constants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new BackupError(`cannot replace ${cfg.file} (${code}); as root, put the backed-up one in place first (tar -xzOf ARCHIVE ${CONFIG_ENTRY} > ${cfg.file}) and restore without --with-config`);
    }
  }
  const made = [cfg.dataDir, preMigrationBackupDir(cfg.database.file)].filter((d) => !fs.existsSync(d));
  fs.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  const workDir = preMigrationBackupDir(cfg.database.file);
  const unpacked = await unpackBackup(archive, workDir);
  const { manifest, dir } = unpacked;
  try {
    const target = opts.withConfig ? configFromObject(YAML.parse(fs.readFileSync(path.join(dir, CONFIG_ENTRY), 'utf8')), cfg.file) : cfg;
    const existing = existingInstall(target);
    if (fs.existsSync(target.database.file) && OpsStore.inUse(target.database.file)) {
      throw new BackupError(`the database ${target.database.file} is in use (is Ward running?): stop it first (systemctl stop ward)`);
    }
    if (existing && !opts.force) throw new BackupError(`${existing}; restoring would replace it: stop Ward and run restore again with --force (the current files are moved aside, not deleted)`);

    // Open everything with this install's passphrase before touching the install.
    let passphrase: Buffer;
    try {
      passphrase = readCaPassphrase(target);
    } catch (e) {
      throw new BackupError(`${(e as Error).message}; a restore needs the backed-up appliance's passphrase there first (docs/operations.md, "Restore")`);
    }
    const key = sealingKey(passphrase, manifest.sealing);
    const pkiFiles = manifest.files.filter((f) => f.path.startsWith('pki/'));
    const stagedPki = path.join(dir, 'pki');
    for (const f of pkiFiles.filter((f) => f.path.endsWith('.sealed'))) {
      const rel = f.path.slice('pki/'.length, -'.sealed'.length);
      fs.writeFileSync(path.join(stagedPki, rel), unseal(fs.readFileSync(path.join(dir, f.path)), key, rel), { mode: 0o600 });
      fs.rmSync(path.join(dir, f.path));
    }
    const staged = openDatabase(unpacked.currentDb, { migrate: false });
    try {
      CertificateAuthority.open({ ...target, pki: { ...target.pki, dir: stagedPki } }, staged, new AuditLog(staged));
    } catch (e) {
      if ((e as Error).name === 'KeyStoreError') {
        throw new BackupError(`the CA keys in the backup do not open with this install's passphrase (${(e as Error).message}); put the original passphrase in place first (docs/operations.md, "Restore")`);
      }
      throw e;
    } finally {
      staged.close();
    }

    const restoredFiles: [string, string][] = [];
    for (const rel of walkFiles(stagedPki, () => false)) restoredFiles.push([path.join(stagedPki, rel), path.join(target.pki.dir, rel)]);
    for (const f of manifest.files.filter((f) => f.path.startsWith('data/'))) {
      restoredFiles.push([path.join(dir, f.path), path.join(target.dataDir, ...f.path.split('/').slice(1))]);
    }
    if (opts.withConfig) restoredFiles.push([path.join(dir, CONFIG_ENTRY), cfg.file]);
    const dbFile = target.database.file;

    let movedAside: string | undefined;
    if (existing) {
      movedAside = path.join(preMigrationBackupDir(dbFile), `replaced-${stamp(now)}`);
      const aside = (from: string, as: string) => {
        if (!fs.existsSync(from)) return;
        fs.mkdirSync(path.dirname(path.join(movedAside!, as)), { recursive: true, mode: 0o700 });
        fs.renameSync(from, path.join(movedAside!, as));
      };
      for (const suffix of ['', '-wal', '-shm', '-journal']) aside(dbFile + suffix, `db/${path.basename(dbFile)}${suffix}`);
      for (const rel of walkFiles(target.pki.dir, (abs) => abs === target.pki.passphrase.file || /passphrase/i.test(path.basename(abs)))) {
        aside(path.join(target.pki.dir, rel), `pki/${rel}`);
      }
      for (const [, to] of restoredFiles) if (within(target.dataDir, to) && !within(target.pki.dir, to)) aside(to, `data/${path.relative(target.dataDir, to)}`);
    }

    const owner = fs.statSync(target.dataDir);
    const written: string[] = [];
    const place = (from: string, to: string) => {
      for (let d = path.dirname(to); !fs.existsSync(d); d = path.dirname(d)) written.push(d);
      fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
      const tmp = `${to}.restore-${process.pid}`;
      fs.copyFileSync(from, tmp);
      fs.chmodSync(tmp, 0o600);
      const fd = fs.openSync(tmp, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(tmp, to);
      written.push(to);
    };
    for (const [from, to] of restoredFiles) place(from, to);
    // The database last: its presence is what makes the install a restored one.
    place(path.join(dir, DB_ENTRY), dbFile);

    const db: WardDb = openDatabase(dbFile, { migrate: false });
    try {
      new AuditLog(db).record({
        ...opts.ctx,
        action: 'system.backup.restored',
        target: { type: 'backup', id: unpacked.archiveSha256 },
        details: {
          createdAt: manifest.createdAt, fromHostname: manifest.hostname, schemaVersion: manifest.schemaVersion,
          auditEvents: manifest.audit.events, rootSha256: manifest.ca.rootSha256, replacedExisting: Boolean(existing),
        },
      });
    } finally {
      db.close();
    }
    adopt([...made, ...written, ...(movedAside ? [path.dirname(movedAside), movedAside] : [])], owner);
    return { manifest, archiveSha256: unpacked.archiveSha256, movedAside, restored: written.filter((p) => fs.statSync(p).isFile()) };
  } finally {
    unpacked.cleanup();
  }
}
