#!/usr/bin/env node
// Composition root: the only place that wires the domains together. `node dist/main.js --config FILE`
// (or WARD_CONFIG=FILE) starts the daemon.
import type { Logger } from 'pino';
import { AuditExportError, AuditLog, AuditStore, AuditTrail, SYSTEM_ACTOR, auditConfigOf, verifyBundle, type AuditContext } from './audit';
import { type WardConfig, ConfigError, configPathFromArgs, createLogger, loadConfig } from './config';
import { MigrationError, openDatabase, type WardDb } from './db';
import { Health, type Listeners, Schedule, createListeners, setSqliteVersion } from './http';
import { CertificateAuthority, KeyStoreError, mountPkiRoutes } from './pki';
import { CertificateExpiry, ClockCheck, notifyReady } from './ops';
import { AndroidService, mountAndroidRoutes, provisioningQrPng, staticPolicySource } from './android';
import { createScepService, mountScepRoutes, scepConfigOf } from './scep';
import { AppleMdm, mountAppleRoutes } from './apple';
import { type AdminSurface, androidEnrollmentOf, androidFleetOf, appleEnrollmentOf, appleFleetOf, mountAdmin } from './admin';
import { buildPlist, signCms } from './apple';
import {
  ComplianceService, PolicyService, ShiftChanges, androidBreachResponder, androidFactsSource, androidPolicySource, androidPublisher, appleAppSettings,
  appleBreachResponder, appleDeviceContext, appleFactsSource, applePublisher, appleSessionEnder, certificateStateOf, policyCatalog,
} from './policy';
import type { PolicyConfig } from './config/sections/policy';

export interface RunningWard {
  cfg: WardConfig;
  db: WardDb;
  audit: AuditLog;
  auditTrail: AuditTrail;
  ca: CertificateAuthority;
  android: AndroidService;
  apple: AppleMdm;
  admin: AdminSurface;
  /** The policy catalogue, compliance (NAC answer, breach actions) and shift-change log-outs. */
  policy: PolicyService;
  compliance: ComplianceService;
  shifts: ShiftChanges;
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

export interface WardOptions {
  /** The clock compliance (grace periods) and shift changes read; tests move it. Default: the system clock. */
  clock?: () => Date;
}

export async function startWard(cfg: WardConfig, log: Logger = createLogger(cfg.logging.level), opts: WardOptions = {}): Promise<RunningWard> {
  const auditCfg = auditConfigOf(cfg);
  const policyCfg = cfg.policy as PolicyConfig;
  if (policyCfg.timeZone) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: policyCfg.timeZone });
    } catch {
      throw new ConfigError(`policy.timeZone: ${JSON.stringify(policyCfg.timeZone)} is not an IANA time zone (e.g. America/Chicago)`);
    }
  }
  const db = openDatabase(cfg.database.file, { busyTimeoutMs: cfg.database.busyTimeoutMs });
  setSqliteVersion(db.sqlite.prepare('select sqlite_version()').pluck().get() as string);
  const audit = new AuditLog(db);
  // ops: the clock is compared with the newest audit event before this start records any.
  const clock = new ClockCheck(new AuditStore(db), log);
  clock.check();
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

  // ---- ops (docs/operations.md): clock check hourly, certificate expiry daily, both in /healthz.
  health.register('clock', () => clock.health());
  schedule.add('clock-check', '7 * * * *', () => clock.check());
  const expiry = new CertificateExpiry(log);
  expiry.watch('rootCa', { notAfter: () => ca.root.cert.validToDate, warnDays: 365 });
  expiry.watch('issuingCa', { notAfter: () => ca.issuing.cert.validToDate, warnDays: 180 });
  expiry.watch('server', { notAfter: () => ca.serviceIdentity('server').cert.validToDate, warnDays: 14 });
  health.register('expiry', () => expiry.health());
  schedule.add('certificate-expiry', '23 5 * * *', () => expiry.check());

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
  // Retention: bodies past audit.retentionYears go only once a verified export holds them.
  schedule.add('audit-retention', auditCfg.retentionSchedule, () => auditTrail.prune({ years: auditCfg.retentionYears }));

  // scep: /scep on the plain-HTTP listener (RFC 8894), device identities through the CA.
  const scepConfig = scepConfigOf(cfg);
  // One SCEP service: it also issues the one-time challenges Apple profiles, the admin API and
  // policy Wi-Fi identities hand out.
  const scep = scepConfig.enabled ? createScepService(cfg, db, audit, ca) : undefined;
  if (scep) {
    scep.registrationAuthority(); // the RA exists, and the runtime's RSA decryption is checked, before listening
    mountScepRoutes(listeners.plainExchanges, scep, scepConfig);
    health.register('scep', () => ({ ok: true, details: { ra: scep.registrationAuthority().certificate.serialHex, approval: scepConfig.approval.mode } }));
    schedule.add('scep-challenge-purge', '41 4 * * *', () => ({ purged: scep.purgeExpiredChallenges({ actor: SYSTEM_ACTOR }) }));
  }

  // android: DPC APK and PAC on plain HTTP, the agent API on HTTPS, long polls woken by queued commands.
  const android = new AndroidService(cfg, db, audit, ca, staticPolicySource((cfg.android as { defaultPolicy: Record<string, unknown> }).defaultPolicy), log);
  mountAndroidRoutes(listeners, android, { bodyLimit: cfg.limits.bodyBytes, shuttingDown: listeners.shuttingDown, log });
  android.start(listeners.shuttingDown);
  health.register('android', () => android.health());

  // apple: enrollment profiles, check-in and command endpoints on HTTPS, APNs wake-ups.
  const apple = new AppleMdm({ cfg, db, audit, ca, challenges: scep, log });
  mountAppleRoutes(listeners.secure, apple);
  health.register('apple', () => apple.health());
  schedule.add('apple-last-seen', '*/5 * * * *', () => ({ devices: apple.flushLastSeen() }));

  // admin: /api/v1 (route table: src/admin/routes.ts) and /console on HTTPS. A domain's routes are
  // served once it is attached here (docs/admin-api.md lists the interfaces).
  const admin = mountAdmin(listeners.secure, { cfg, db, audit, ca, health, log });
  admin.attach({
    auditEvents: audit,
    auditBundles: {
      exportBundle: (range, ctx) => auditTrail.exportBundle(range, ctx),
      verifyBundle: async (bytes, previous, ctx) => {
        const report = verifyBundle(bytes, { previous, trustAnchors: [ca.root.cert] });
        if (!report.ok || !ctx) return report;
        try {
          const confirmed = await auditTrail.confirmExport(bytes, ctx, report);
          return { ...report, export: { id: confirmed.export.id, verifiedAt: confirmed.export.verifiedAt, newlyVerified: confirmed.newlyVerified } };
        } catch (e) {
          if (e instanceof AuditExportError) return report; // a good bundle, but not one this Ward recorded
          throw e;
        }
      },
    },
    challenges: scep && {
      issue: (o, ctx) => scep.createChallenge({ ttl: o.ttlMinutes ? `${o.ttlMinutes}m` : undefined, boundTo: o.boundTo }, ctx),
    },
    fleets: [appleFleetOf(apple.service), androidFleetOf(android)],
    appleEnrollment: appleEnrollmentOf(apple.service),
    androidEnrollment: androidEnrollmentOf(android, (payload) => provisioningQrPng(payload)),
  });
  health.register('admin', () => admin.health());
  schedule.add('admin-housekeeping', '*/5 * * * *', () => admin.housekeeping());

  // policy: HIPAA baselines compiled per device, compliance from reported facts, the NAC answer
  // (docs/policy.md). Android serves the compiled policy and is woken on change; Apple devices get
  // InstallProfile + push; the admin API answers GET /api/v1/compliance/{key} for the nac role.
  const policy = new PolicyService({ db, audit, log, clock: opts.clock });
  const compliance = new ComplianceService({
    db, audit, policies: policy, log, clock: opts.clock, refreshMs: policyCfg.factsRefreshSeconds * 1000,
    certificateStatus: certificateStateOf((serial) => ca.certificate(serial), opts.clock),
  });
  android.setPolicySource(androidPolicySource(policy, staticPolicySource((cfg.android as { defaultPolicy: Record<string, unknown> }).defaultPolicy)));
  compliance.addSource(androidFactsSource(android));
  compliance.addSource(appleFactsSource(apple.service, policy, { identifier: policyCfg.profileIdentifier }));
  policy.addPublisher(androidPublisher(android));
  const policyScep = policyCfg.wifiIdentity ? scep : undefined;
  const appleQueue = (id: string, type: string, params: unknown, ctx: AuditContext) => apple.service.queueCommand(id, type, params, ctx);
  policy.addPublisher(applePublisher({
    queueCommand: appleQueue,
    encoder: {
      serialize: (p) => buildPlist(p as Parameters<typeof buildPlist>[0]),
      sign: (content) => {
        const s = ca.serviceIdentity('profileSigner');
        return signCms(content, { key: s.key, certificate: s.der, chain: s.chainDer.slice(1) });
      },
    },
    deviceContext: (id, compiled) => {
      const d = apple.service.device(id);
      return d && appleDeviceContext(d, compiled, {
        organization: cfg.organization, identifier: policyCfg.profileIdentifier, rootCertificate: ca.root.der, scepUrl: `${cfg.http.publicUrl}/scep`,
        newChallenge: policyScep && ((cn) => policyScep.createChallenge({ ttl: '7d', boundTo: cn }, { actor: SYSTEM_ACTOR }).challenge),
      });
    },
    log,
  }));
  // InstallApplication of a catalog app carries the policy's managed configuration and per-app VPN.
  apple.service.appSettings = (deviceId, bundleId) => {
    const d = apple.service.device(deviceId);
    return d && appleAppSettings(d, policy.compiledFor({ deviceId, group: d.group }), bundleId, { organization: cfg.organization, identifier: policyCfg.profileIdentifier, identity: !!policyScep });
  };
  // Breach: lock through the platform (DeviceLock + push, LOCK through the agent's poll).
  compliance.addBreachResponder(appleBreachResponder({ queueCommand: appleQueue, message: policyCfg.breachLockMessage }));
  compliance.addBreachResponder(androidBreachResponder(android, { message: policyCfg.breachLockMessage }));
  // Shared iPads: LogOutUser at each shift change of their policy.
  const shifts = new ShiftChanges({ policies: policy, timeZone: policyCfg.timeZone, clock: opts.clock, log });
  shifts.addSessionEnder(appleSessionEnder({ queueCommand: appleQueue }));
  admin.attach({ compliance, policies: policyCatalog(policy) });
  health.register('policy', () => {
    const { reasons: _reasons, ...counts } = compliance.summary(); // /healthz is unauthenticated: counts only
    return { ok: true, details: { generation: policy.generation(), compliance: counts } };
  });
  schedule.add('policy-publish', policyCfg.publishSchedule, () => policy.publishPending());
  schedule.add('compliance-evaluate', policyCfg.complianceSchedule, () => compliance.sync());
  schedule.add('policy-shift-change', '* * * * *', () => shifts.run());
  // ops: devices not seen within their offline limit (default 7 days) flagged non-compliant, hourly, counted in /healthz.
  schedule.add('devices-not-seen', '13 * * * *', () => compliance.notSeenSweep());

  // ops: the APNs push certificate (renewed at Apple yearly) joins the expiry watch.
  expiry.watch('apnsPush', { notAfter: () => apple.service.pushCertificate()?.notAfter, warnDays: 30 });
  expiry.check();

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
  void notifyReady(`listening on ${ports.httpPort} and ${ports.httpsPort}`, log); // ops: Type=notify unit

  let stopped = false;
  return {
    cfg, db, audit, auditTrail, ca, android, apple, admin, policy, compliance, shifts, health, schedule, listeners, ports, log,
    async stop() {
      if (stopped) return;
      stopped = true;
      await schedule.stop();
      await listeners.stop();
      await compliance.settled();
      await apple.close();
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
