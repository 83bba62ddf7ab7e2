#!/usr/bin/env node
// Composition root: the only place that wires the domains together. `node dist/main.js --config FILE`
// (or WARD_CONFIG=FILE) starts the daemon.
import type { Logger } from 'pino';
import { AuditLog, AuditTrail, SYSTEM_ACTOR, auditConfigOf, verifyBundle } from './audit';
import { type WardConfig, ConfigError, configPathFromArgs, createLogger, loadConfig } from './config';
import { MigrationError, openDatabase, type WardDb } from './db';
import { Health, type Listeners, Schedule, createListeners, setSqliteVersion } from './http';
import { CertificateAuthority, KeyStoreError, mountPkiRoutes } from './pki';
import { AndroidService, mountAndroidRoutes, staticPolicySource } from './android';
import { type AdminSurface, mountAdmin } from './admin';

export interface RunningWard {
  cfg: WardConfig;
  db: WardDb;
  audit: AuditLog;
  auditTrail: AuditTrail;
  ca: CertificateAuthority;
  android: AndroidService;
  admin: AdminSurface;
  health: Health;
  schedule: Schedule;
  listeners: Listeners;
  ports: { httpPort: number; httpsPort: number };
  log: Logger;
  stop(): Promise<void>;
}

const MIN_NODE_MAJOR = 24;

export function runtimeProblem(version = process.versions.node): string | undefined {
  const major = Number(version.split('.')[0]);
  if (major < MIN_NODE_MAJOR) {
    return `ward: Node ${version} is too old (needs >= ${MIN_NODE_MAJOR}, OpenSSL 3.2+ for SCEP); run node_modules/.bin/node`;
  }
  return undefined;
}

export async function startWard(cfg: WardConfig, log: Logger = createLogger(cfg.logging.level)): Promise<RunningWard> {
  const auditCfg = auditConfigOf(cfg);
  const db = openDatabase(cfg.database.file, { busyTimeoutMs: cfg.database.busyTimeoutMs });
  setSqliteVersion(db.sqlite.prepare('select sqlite_version()').pluck().get() as string);
  const audit = new AuditLog(db);
  let ca: CertificateAuthority;
  try {
    ca = CertificateAuthority.open(cfg, db, audit, log);
  } catch (e) {
    db.close();
    throw e;
  }
  const health = new Health();
  const schedule = new Schedule(log, health);
  const server = ca.serviceIdentity('server');
  const listeners = createListeners(cfg, log, health, { key: server.key, certPem: server.pem, chainPem: ca.chainPem() });

  mountPkiRoutes(listeners.plain, ca);
  health.register('pki', () => ({
    ok: true,
    details: {
      root: { sha256: ca.rootFingerprint(), notAfter: ca.root.cert.validToDate.toISOString() },
      issuing: { notAfter: ca.issuing.cert.validToDate.toISOString() },
      server: { serial: server.serial, notAfter: server.cert.validToDate.toISOString() },
    },
  }));
  schedule.add('crl-reissue', '*/15 * * * *', () => ({ reissued: ca.reissueDueCrls() }));
  schedule.add('server-certificate', '17 3 * * *', () => {
    const id = ca.serviceIdentity('server');
    listeners.setTlsIdentity({ key: id.key, certPem: id.pem, chainPem: ca.chainPem() });
    return { serial: id.serial };
  });

  // ---- domains: each mounts its routes on listeners.plain / listeners.secure and registers its
  // ---- health checks and scheduled jobs here.

  // audit: Merkle state restored from the last signed head, heads signed on schedule, alarm in /healthz.
  const auditTrail = new AuditTrail(db, audit, {
    signer: () => {
      const id = ca.serviceIdentity('auditSigner');
      return { key: id.key, certificate: id.cert, chain: [ca.issuing.cert, ca.root.cert] };
    },
    caChain: () => [ca.root.cert, ca.issuing.cert],
    log,
    alarmRetryMs: auditCfg.alarmRetrySeconds * 1000,
  });
  auditTrail.restore();
  health.register('audit', () => auditTrail.health());
  schedule.add('audit-tree-head', auditCfg.treeHeadSchedule, async () => {
    const head = await auditTrail.signTreeHead('schedule');
    return { treeSize: head.treeSize, rootHash: head.rootHash.toString('hex') };
  });

  // android: DPC APK and PAC on plain HTTP, the agent API on HTTPS, long polls woken by queued commands.
  const android = new AndroidService(cfg, db, audit, ca, staticPolicySource((cfg.android as { defaultPolicy: Record<string, unknown> }).defaultPolicy), log);
  mountAndroidRoutes(listeners, android, { bodyLimit: cfg.limits.bodyBytes, shuttingDown: listeners.shuttingDown, log });
  android.start(listeners.shuttingDown);
  health.register('android', () => android.health());

  // admin: /api/v1 (route table: src/admin/routes.ts) and /console on HTTPS. A domain's routes are
  // served once it is attached here (docs/admin-api.md lists the interfaces).
  const admin = mountAdmin(listeners.secure, { cfg, db, audit, ca, health, log });
  admin.attach({
    auditBundles: {
      exportBundle: (range, ctx) => auditTrail.exportBundle(range, ctx),
      verifyBundle: (bytes, previous) => verifyBundle(bytes, { previous, trustAnchors: [ca.root.cert] }),
    },
  });
  health.register('admin', () => admin.health());
  schedule.add('admin-housekeeping', '*/5 * * * *', () => admin.housekeeping());

  ca.reissueDueCrls();
  const ports = await listeners.start();
  // Port 0 (tests): URLs handed out from now on carry the port actually bound.
  cfg.http.publicUrl = cfg.http.publicUrl!.replace(/:0$/, `:${ports.httpPort}`);
  cfg.https.publicUrl = cfg.https.publicUrl!.replace(/:0$/, `:${ports.httpsPort}`);
  schedule.start();
  // Re-read every stored event against the last signed head in the background (alarm on mismatch).
  auditTrail.checkStore().catch(() => undefined);
  audit.record({ action: 'system.started', actor: SYSTEM_ACTOR, details: { version: process.env.npm_package_version ?? null, node: process.version, ...ports } });
  log.info({ ...ports, node: process.version, openssl: process.versions.openssl }, 'ready');

  let stopped = false;
  return {
    cfg, db, audit, auditTrail, ca, android, admin, health, schedule, listeners, ports, log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await schedule.stop();
      await listeners.stop();
      audit.record({ action: 'system.stopped', actor: SYSTEM_ACTOR });
      auditTrail.stop();
      db.close();
    },
  };
}

/** Problems a hospital operator must act on: one clear line on stderr, no stack trace. */
function fatalLine(e: unknown): { line: string; code: number } | undefined {
  if (e instanceof ConfigError) return { line: e.message, code: 2 };
  if (e instanceof KeyStoreError) return { line: e.message, code: 1 };
  if (e instanceof MigrationError) return { line: `ward: database: ${e.message}`, code: 1 };
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return { line: `ward: cannot listen: ${(e as Error).message}`, code: 1 };
  }
  return undefined;
}

async function main(): Promise<void> {
  const problem = runtimeProblem();
  if (problem) {
    process.stderr.write(problem + '\n');
    process.exit(2);
  }
  let ward: RunningWard;
  try {
    const cfg = loadConfig(configPathFromArgs(process.argv.slice(2)));
    ward = await startWard(cfg);
  } catch (e) {
    const fatal = fatalLine(e);
    if (!fatal) throw e;
    process.stderr.write(fatal.line + '\n');
    process.exit(fatal.code);
  }
  const shutdown = (signal: string) => {
    ward.log.info({ signal }, 'shutting down');
    ward.stop().then(
      () => process.exit(0),
      (e) => {
        ward.log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) void main();
