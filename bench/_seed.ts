// Bench fleets: a Ward data folder and its devices, made in the bench process before (or between)
// daemon runs, through the domains' own services (CA issuance, Apple check-in service behind
// cert-auth, AndroidService.enroll), never through HTTP, so 100,000 devices take minutes, not hours.
// Device keys come from a small pool (each certificate still has its own serial and subject, bound
// to its own device), so making them takes seconds.
// (The leading underscore keeps bench/index.ts from running it as a bench of its own.)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { AndroidService, staticPolicySource } from '../src/android';
import { AppleMdm } from '../src/apple';
import { decodeCheckin, resolveEnrollment } from '../src/apple/messages';
import { buildPlistBuffer } from '../src/apple/plist';
import { AuditLog } from '../src/audit';
import type { PolicyConfig } from '../src/config/sections/policy';
import type { WardConfig } from '../src/config';
import { openDatabase, type WardDb } from '../src/db';
import { CertificateAuthority, parseCertificationRequest } from '../src/pki';
import { ComplianceService, type ComplianceSummary, PolicyService, androidFactsSource, appleFactsSource } from '../src/policy';
import { buildCsr } from '../test/android/agent-simulator';
import { type ConfigDoc, loadTestConfig, writeTestConfig } from '../test/support/ward';

export const BENCH_TOPIC = 'com.apple.mgmt.External.00000000-0000-4000-8000-00000000bench';
const SYSTEM = { actor: { type: 'system' as const, id: 'bench' }, source: null, requestId: null };

/** The config every bench Ward starts from: an ECDSA P-256 CA (quick to make, quick to sign with). */
export function writeBenchConfig(overrides: ConfigDoc = {}): { dir: string; file: string; doc: ConfigDoc } {
  return writeTestConfig({
    organization: 'Bench Hospital',
    logging: { level: 'info' },
    pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'ecdsa-p256', issuingKeyAlgorithm: 'ecdsa-p256' },
    ...overrides,
  });
}

/** The database, audit log and CA of a bench Ward, opened in this process while no daemon runs. */
export interface BenchStore {
  cfg: WardConfig;
  db: WardDb;
  audit: AuditLog;
  ca: CertificateAuthority;
}

export function openBenchStore(file: string, doc: ConfigDoc): BenchStore {
  const cfg = loadTestConfig(file, doc);
  const db = openDatabase(cfg.database.file);
  const audit = new AuditLog(db);
  return { cfg, db, audit, ca: CertificateAuthority.open(cfg, db, audit) };
}

/** `n` device keys: RSA-2048 like an iPhone's SCEP identity, or P-256 like the Android agent's. */
export function keyPool(kind: 'rsa' | 'ec', n = 8): crypto.KeyObject[] {
  return Array.from({ length: n }, () =>
    kind === 'rsa' ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  );
}

/** The server identity and CA chain as a file the koa baseline (bench/_koa-baseline.ts) serves with. */
export function writeBaselineTls(dir: string, ca: CertificateAuthority): string {
  const server = ca.serviceIdentity('server');
  const file = path.join(dir, 'baseline-tls.json');
  fs.writeFileSync(file, JSON.stringify({ key: server.key.export({ type: 'pkcs8', format: 'pem' }), cert: server.pem + ca.issuing.pem, ca: ca.chainPem() }), { mode: 0o600 });
  return file;
}

// ---- Apple

export interface AppleBenchDevice {
  udid: string;
  key: crypto.KeyObject;
  certDer: Buffer;
}

export const appleUdid = (i: number) => `00008120-${i.toString(16).toUpperCase().padStart(16, '0')}`;

/** Device identities `from`..`from+count-1` issued by the CA (the SCEP step of an enrollment), in one transaction. */
export function issueAppleIdentities(s: BenchStore, from: number, count: number, pool: crypto.KeyObject[]): AppleBenchDevice[] {
  const csrs = pool.map((key) => parseCertificationRequest(buildCsr(key, 'bench')));
  const devices: AppleBenchDevice[] = [];
  s.db.write(() => {
    for (let i = from; i < from + count; i++) {
      const udid = appleUdid(i);
      const issued = s.ca.issue({ csr: csrs[i % pool.length], profile: 'device', subject: [['O', 'Bench Hospital'], ['CN', `bench-${udid}`]] }, SYSTEM);
      devices.push({ udid, key: pool[i % pool.length], certDer: issued.der });
    }
  });
  return devices;
}

/** The Authenticate check-in plist of a bench iPhone. */
export function authenticateMessage(d: AppleBenchDevice): Buffer {
  return buildPlistBuffer({
    BuildVersion: '22B83', DeviceName: `Bench ${d.udid.slice(-4)}`, MessageType: 'Authenticate', Model: 'MQ6J3ZD/A', ModelName: 'iPhone',
    OSVersion: '18.1', ProductName: 'iPhone15,2', SerialNumber: d.udid.slice(-12), Topic: BENCH_TOPIC, UDID: d.udid,
  });
}

/** A TokenUpdate check-in plist (fresh push token and magic each time, as after a restore). */
export function tokenUpdateMessage(d: AppleBenchDevice): Buffer {
  return buildPlistBuffer({
    AwaitingConfiguration: false, MessageType: 'TokenUpdate', PushMagic: crypto.randomUUID(), Token: crypto.randomBytes(32), Topic: BENCH_TOPIC, UDID: d.udid, UnlockToken: crypto.randomBytes(64),
  });
}

const deviceRequest = (d: AppleBenchDevice) => ({
  enrollment: resolveEnrollment({ UDID: d.udid }),
  identity: { der: d.certDer, via: 'mdm-signature' as const },
  ctx: { actor: { type: 'device' as const, id: d.udid }, source: '127.0.0.1', requestId: null },
});

// ---- a fleet: the Apple, Android and policy domains on a bench store, wired as main.ts wires them

export interface AndroidBenchDevice {
  id: string;
  /** TLS context with the device's identity (the agent authenticates with its client certificate); made on first use. */
  readonly context: tls.SecureContext;
}

export class BenchFleet {
  readonly apple: AppleMdm;
  readonly android: AndroidService;
  readonly policy: PolicyService;
  readonly compliance: ComplianceService;

  constructor(readonly store: BenchStore) {
    const { cfg, db, audit, ca } = store;
    this.apple = new AppleMdm({ cfg, db, audit, ca });
    this.android = new AndroidService(cfg, db, audit, ca, staticPolicySource({}));
    this.policy = new PolicyService({ db, audit });
    this.compliance = new ComplianceService({ db, audit, policies: this.policy });
    this.compliance.addSource(androidFactsSource(this.android));
    this.compliance.addSource(appleFactsSource(this.apple.service, this.policy, { identifier: (cfg.policy as PolicyConfig).profileIdentifier }));
  }

  /**
   * Apple devices `from`..`from+count-1`: identities issued by the CA (the SCEP step), then enrolled
   * as their MDM check-ins would (Authenticate, the first TokenUpdate, one Idle poll) by calling the
   * Apple check-in service behind cert-auth in this process: the same rows and audit events as over
   * HTTPS, minus TLS and the Mdm-Signature.
   */
  async addApple(from: number, count: number, pool: crypto.KeyObject[]): Promise<AppleBenchDevice[]> {
    const checkin = this.apple.checkin;
    const devices: AppleBenchDevice[] = [];
    for (let i = from; i < from + count; i += 5000) {
      const chunk = issueAppleIdentities(this.store, i, Math.min(5000, from + count - i), pool);
      // 256 at a time: the Apple store's group commit puts each such burst in one transaction.
      for (let j = 0; j < chunk.length; j += 256) {
        const burst = chunk.slice(j, j + 256);
        await Promise.all(burst.map((d) => checkin.authenticate(deviceRequest(d), decodeCheckin(authenticateMessage(d)) as never)));
        await Promise.all(burst.map((d) => checkin.tokenUpdate(deviceRequest(d), decodeCheckin(tokenUpdateMessage(d)) as never)));
        await Promise.all(burst.map((d) => checkin.commandAndReportResults(deviceRequest(d), { Status: 'Idle', UDID: d.udid } as never)));
      }
      devices.push(...chunk);
    }
    this.apple.flushLastSeen();
    return devices;
  }

  /** Android agents `from`..`from+count-1` enrolled through AndroidService.enroll (one transaction). */
  addAndroid(from: number, count: number, pool: crypto.KeyObject[]): AndroidBenchDevice[] {
    const system = { actor: { type: 'system' as const, id: 'bench' }, source: null, requestId: null };
    const { token } = this.android.createToken({ maxDevices: null, expiresInHours: 24 }, system);
    // Ward names the certificate after the device id, whatever the CSR subject: one CSR per pooled key.
    const csrs = pool.map((key, k) => buildCsr(key, `bench-key-${k}`));
    const caPem = this.store.ca.chainPem();
    const devices: AndroidBenchDevice[] = [];
    this.store.db.write(() => {
      for (let i = from; i < from + count; i++) {
        const key = pool[i % pool.length];
        const r = this.android.enroll(
          {
            token,
            csr: csrs[i % pool.length],
            facts: { installationId: `bench-${i.toString(16).padStart(8, '0')}`, manufacturer: 'Bench', model: 'Tab 9', androidVersion: '14', sdkInt: 34, securityPatch: '2026-10-05', managementMode: 'device_owner' },
          },
          { source: '127.0.0.1', requestId: null },
        );
        let context: tls.SecureContext | undefined;
        devices.push({
          id: r.deviceId,
          get context() {
            return (context ??= tls.createSecureContext({ key: key.export({ type: 'pkcs8', format: 'pem' }), cert: r.certificate, ca: caPem }));
          },
        });
      }
    });
    return devices;
  }

  /**
   * Brings the policy domain where a running Ward keeps it: each device's facts reported to
   * compliance and judged, and its effective policy recorded as sent (what the publish job does when
   * a device first appears), so a daemon started on this database does not begin by pushing a
   * profile to every device. Answers the compliance counts.
   */
  settlePolicy(deviceIds: string[]): ComplianceSummary {
    for (let i = 0; i < deviceIds.length; i += 1000) {
      // evaluate(): the device's facts read from its platform's source, stored and judged.
      this.store.db.write(() => {
        for (const id of deviceIds.slice(i, i + 1000)) this.compliance.evaluate(id);
      });
    }
    const wanted = new Set(deviceIds);
    const sent = new Map<string, number>();
    this.store.db.write(() => {
      for (const d of this.policy.store.publishStates()) {
        if (!wanted.has(d.deviceId)) continue;
        const hash = this.policy.effectiveFor({ deviceId: d.deviceId, group: d.groupName ?? undefined }).hash;
        this.policy.store.markPublished(d.deviceId, hash);
        sent.set(hash, (sent.get(hash) ?? 0) + 1);
      }
      for (const [hash, devices] of sent) {
        this.store.audit.record({ ...SYSTEM, action: 'policy.policy.published', target: { type: 'effective_policy', id: hash }, details: { hash, devices, via: 'bench seeding' } });
      }
    });
    return this.compliance.summary();
  }

  async close(): Promise<void> {
    await this.apple.close();
    this.store.db.close();
  }
}

/** What an agent posts to /android/agent/v1/status at each check-in. */
export const ANDROID_STATUS = Buffer.from(
  JSON.stringify({
    model: 'Tab 9',
    androidVersion: '14',
    sdkInt: 34,
    securityPatch: '2026-10-05',
    encryption: 'active_per_user',
    passcodeSufficient: true,
    managementMode: 'device_owner',
    installedApps: Array.from({ length: 12 }, (_, i) => ({ packageName: `org.hospital.app${i}`, versionCode: 100 + i })),
    lockTask: { active: false },
    battery: { level: 80, charging: false },
    lastUser: null,
  }),
);
