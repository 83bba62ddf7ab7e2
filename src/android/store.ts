// The Android domain's records (migrations/0005_android.sql). All of its SQL lives here, as prepared
// better-sqlite3 statements: the agent API reads a device and its commands on every call.
//
// Group commit for the agent's hot writes (status reports, deliveries, results, security logs): with
// synchronous=FULL each COMMIT waits for the disk, so units queued while the event loop is busy share
// one transaction and each caller resumes only once it is durable. A unit's change and its audit event
// still commit together; if one unit throws, the batch rolls back and each unit runs alone.
import { type DeviceListKey, type DeviceListStatements, type DevicePageOptions, GroupCommit, type WardDb, deviceKeysOf, devicePageOf, prepareDeviceList } from '../db';

export type EnrollmentMode = 'fully_managed' | 'work_profile';
export type DeviceState = 'active' | 'unenrolled';
export type CommandStatus = 'queued' | 'sent' | 'acknowledged' | 'done' | 'failed' | 'not_supported' | 'cancelled';

export interface ApkRecord {
  sha256: string;
  role: 'dpc' | 'app';
  packageName: string;
  versionCode: number;
  versionName: string | null;
  signingCertSha256: string;
  signatureChecksum: string;
  packageChecksum: string;
  signatureScheme: string;
  componentName: string | null;
  size: number;
  warnings: { code: string; message: string }[];
  importedAt: string;
  importedBy: string;
}

export interface TokenRecord {
  id: string;
  tokenHash: string;
  label: string | null;
  mode: EnrollmentMode;
  policyGroup: string;
  maxDevices: number | null;
  devices: number;
  expiresAt: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
}

export interface DeviceRecord {
  id: string;
  installationId: string;
  tokenId: string;
  mode: EnrollmentMode;
  policyGroup: string;
  state: DeviceState;
  certSerial: string;
  previousCertSerial: string | null;
  facts: Record<string, unknown>;
  status: Record<string, unknown> | null;
  statusAt: string | null;
  lastSeenAt: string;
  enrolledAt: string;
  unenrolledAt: string | null;
  unenrollReason: string | null;
  securityLogLastTime: number | null;
  securityLogLastId: number | null;
}

export interface CommandRecord {
  seq: number;
  id: string;
  deviceId: string;
  type: string;
  payload: Record<string, unknown>;
  status: CommandStatus;
  queuedAt: string;
  queuedBy: string;
  sentAt: string | null;
  acknowledgedAt: string | null;
  completedAt: string | null;
  result: Record<string, unknown> | null;
}

type Row = Record<string, unknown>;
const json = <T>(v: unknown): T => (v === null || v === undefined ? (null as T) : (JSON.parse(v as string) as T));

function apkOf(r: Row): ApkRecord {
  return {
    sha256: r.sha256 as string,
    role: r.role as 'dpc' | 'app',
    packageName: r.package_name as string,
    versionCode: r.version_code as number,
    versionName: r.version_name as string | null,
    signingCertSha256: r.signing_cert_sha256 as string,
    signatureChecksum: r.signature_checksum as string,
    packageChecksum: r.package_checksum as string,
    signatureScheme: r.signature_scheme as string,
    componentName: r.component_name as string | null,
    size: r.size as number,
    warnings: json(r.warnings),
    importedAt: r.imported_at as string,
    importedBy: r.imported_by as string,
  };
}

function tokenOf(r: Row): TokenRecord {
  return {
    id: r.id as string,
    tokenHash: r.token_hash as string,
    label: r.label as string | null,
    mode: r.mode as EnrollmentMode,
    policyGroup: r.policy_group as string,
    maxDevices: r.max_devices as number | null,
    devices: r.devices as number,
    expiresAt: r.expires_at as string,
    createdAt: r.created_at as string,
    createdBy: r.created_by as string,
    revokedAt: r.revoked_at as string | null,
  };
}

function deviceOf(r: Row): DeviceRecord {
  return {
    id: r.id as string,
    installationId: r.installation_id as string,
    tokenId: r.token_id as string,
    mode: r.mode as EnrollmentMode,
    policyGroup: r.policy_group as string,
    state: r.state as DeviceState,
    certSerial: r.cert_serial as string,
    previousCertSerial: r.previous_cert_serial as string | null,
    facts: json(r.facts),
    status: json(r.status),
    statusAt: r.status_at as string | null,
    lastSeenAt: r.last_seen_at as string,
    enrolledAt: r.enrolled_at as string,
    unenrolledAt: r.unenrolled_at as string | null,
    unenrollReason: r.unenroll_reason as string | null,
    securityLogLastTime: r.security_log_last_time as number | null,
    securityLogLastId: r.security_log_last_id as number | null,
  };
}

function commandOf(r: Row): CommandRecord {
  return {
    seq: r.seq as number,
    id: r.id as string,
    deviceId: r.device_id as string,
    type: r.type as string,
    payload: json(r.payload),
    status: r.status as CommandStatus,
    queuedAt: r.queued_at as string,
    queuedBy: r.queued_by as string,
    sentAt: r.sent_at as string | null,
    acknowledgedAt: r.acknowledged_at as string | null,
    completedAt: r.completed_at as string | null,
    result: json(r.result),
  };
}

/** The admin list's free-text match (src/admin/fleets.ts summary fields: name, serial, model, id; migration 0010). */
const ANDROID_MATCH = `(@needle IS NULL OR instr(lower(display_name), @needle) > 0 OR instr(lower(serial_number), @needle) > 0
  OR instr(lower(model_name), @needle) > 0 OR instr(lower(id), @needle) > 0)`;


export class AndroidStore {
  /** The admin device list's pages (migration 0010, src/db/device-list.ts). */
  private readonly list: DeviceListStatements;
  private readonly s;
  /** Agent writes share one durable transaction per turn of the event loop (src/db/group-commit.ts):
   * no added wait when idle, large batches under load. */
  private readonly batch: GroupCommit;

  constructor(readonly db: WardDb) {
    this.batch = new GroupCommit(db, { windowMs: 0, maxBatch: 256 });
    const p = (sql: string) => db.sqlite.prepare(sql);
    this.list = prepareDeviceList(db, 'android_devices', ANDROID_MATCH);
    this.s = {
      insertApk: p(`INSERT INTO android_apks (sha256, role, package_name, version_code, version_name, signing_cert_sha256, signature_checksum,
        package_checksum, signature_scheme, component_name, size, warnings, imported_at, imported_by, seq)
        VALUES (@sha256, @role, @packageName, @versionCode, @versionName, @signingCertSha256, @signatureChecksum, @packageChecksum,
        @signatureScheme, @componentName, @size, @warnings, @importedAt, @importedBy, (SELECT coalesce(max(seq), 0) + 1 FROM android_apks))
        ON CONFLICT (sha256) DO UPDATE SET role = excluded.role, component_name = excluded.component_name, warnings = excluded.warnings,
        imported_at = excluded.imported_at, imported_by = excluded.imported_by, seq = excluded.seq`),
      apk: p('SELECT * FROM android_apks WHERE sha256 = ?'),
      currentDpc: p("SELECT * FROM android_apks WHERE role = 'dpc' ORDER BY seq DESC LIMIT 1"),
      latestApp: p("SELECT * FROM android_apks WHERE role = 'app' AND package_name = CAST(? AS TEXT) ORDER BY seq DESC LIMIT 1"),
      apps: p("SELECT * FROM android_apks WHERE role = 'app' ORDER BY package_name, seq DESC"),

      insertToken: p(`INSERT INTO android_enrollment_tokens (id, token_hash, label, mode, policy_group, max_devices, devices, expires_at, created_at, created_by)
        VALUES (@id, @tokenHash, @label, @mode, @policyGroup, @maxDevices, 0, @expiresAt, @createdAt, @createdBy)`),
      tokenByHash: p('SELECT * FROM android_enrollment_tokens WHERE token_hash = ?'),
      token: p('SELECT * FROM android_enrollment_tokens WHERE id = ?'),
      tokens: p('SELECT * FROM android_enrollment_tokens ORDER BY created_at DESC LIMIT CAST(? AS INTEGER)'),
      countTokenUse: p('UPDATE android_enrollment_tokens SET devices = devices + 1 WHERE id = ?'),
      revokeToken: p('UPDATE android_enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),

      insertDevice: p(`INSERT INTO android_devices (id, installation_id, token_id, mode, policy_group, state, cert_serial, facts, last_seen_at, enrolled_at)
        VALUES (@id, @installationId, @tokenId, @mode, @policyGroup, 'active', @certSerial, @facts, @now, @now)`),
      device: p('SELECT * FROM android_devices WHERE id = ?'),
      deviceByCert: p('SELECT * FROM android_devices WHERE cert_serial = @serial OR previous_cert_serial = @serial'),
      deviceByInstallation: p('SELECT * FROM android_devices WHERE token_id = ? AND installation_id = ?'),
      devices: p('SELECT * FROM android_devices ORDER BY enrolled_at DESC LIMIT CAST(? AS INTEGER) OFFSET CAST(? AS INTEGER)'),
      devicesAfter: p('SELECT * FROM android_devices WHERE id > CAST(? AS TEXT) ORDER BY id LIMIT CAST(? AS INTEGER)'),
      countDevices: p("SELECT state, count(*) AS n FROM android_devices GROUP BY state"),
      reissueDevice: p('UPDATE android_devices SET cert_serial = ?, previous_cert_serial = ?, facts = ?, last_seen_at = ? WHERE id = ?'),
      dropPreviousCert: p('UPDATE android_devices SET previous_cert_serial = NULL WHERE id = ?'),
      saveStatus: p('UPDATE android_devices SET status = ?, status_at = ?, last_seen_at = ? WHERE id = ?'),
      unenroll: p("UPDATE android_devices SET state = 'unenrolled', unenrolled_at = ?, unenroll_reason = ? WHERE id = ? AND state = 'active'"),
      securityLogMark: p('UPDATE android_devices SET security_log_last_time = ?, security_log_last_id = ?, last_seen_at = ? WHERE id = ?'),

      insertCommand: p(`INSERT INTO android_commands (id, device_id, type, payload, status, queued_at, queued_by)
        VALUES (@id, @deviceId, @type, @payload, 'queued', @queuedAt, @queuedBy)`),
      command: p('SELECT * FROM android_commands WHERE id = ?'),
      openCommands: p("SELECT * FROM android_commands WHERE device_id = CAST(? AS TEXT) AND status IN ('queued', 'sent', 'acknowledged') ORDER BY seq LIMIT CAST(? AS INTEGER)"),
      hasOpenCommand: p("SELECT 1 FROM android_commands WHERE device_id = ? AND status IN ('queued', 'sent') LIMIT 1").pluck(),
      countOpen: p("SELECT count(*) FROM android_commands WHERE device_id = ? AND status IN ('queued', 'sent', 'acknowledged')").pluck(),
      commandsOf: p('SELECT * FROM android_commands WHERE device_id = CAST(? AS TEXT) ORDER BY seq DESC LIMIT CAST(? AS INTEGER)'),
      markSent: p("UPDATE android_commands SET status = 'sent', sent_at = ? WHERE id = ? AND status = 'queued'"),
      markAcknowledged: p("UPDATE android_commands SET status = 'acknowledged', acknowledged_at = ?, payload = ? WHERE id = ?"),
      markFinished: p('UPDATE android_commands SET status = ?, completed_at = ?, result = ?, payload = ? WHERE id = ?'),
      cancelOpen: p("UPDATE android_commands SET status = 'cancelled', completed_at = ? WHERE device_id = ? AND status IN ('queued', 'sent')"),
      queuedSince: p("SELECT seq, device_id FROM android_commands WHERE seq > ? AND status = 'queued' ORDER BY seq"),
      maxCommandSeq: p('SELECT coalesce(max(seq), 0) FROM android_commands').pluck(),
      dataVersion: p('PRAGMA data_version').pluck(),
    };
  }

  /** Runs fn in a write transaction shared with the units queued meanwhile; settles after COMMIT. */
  commit<T>(fn: () => T): Promise<T> {
    return this.batch.commit(fn);
  }

  insertApk(a: ApkRecord): void {
    this.s.insertApk.run({ ...a, warnings: JSON.stringify(a.warnings) });
  }

  apk(sha256: string): ApkRecord | undefined {
    const r = this.s.apk.get(sha256) as Row | undefined;
    return r && apkOf(r);
  }

  currentDpc(): ApkRecord | undefined {
    const r = this.s.currentDpc.get() as Row | undefined;
    return r && apkOf(r);
  }

  latestApp(packageName: string): ApkRecord | undefined {
    const r = this.s.latestApp.get(packageName) as Row | undefined;
    return r && apkOf(r);
  }

  apps(): ApkRecord[] {
    return (this.s.apps.all() as Row[]).map(apkOf);
  }

  insertToken(t: Omit<TokenRecord, 'devices' | 'revokedAt'>): void {
    this.s.insertToken.run(t);
  }

  tokenByHash(hash: string): TokenRecord | undefined {
    const r = this.s.tokenByHash.get(hash) as Row | undefined;
    return r && tokenOf(r);
  }

  token(id: string): TokenRecord | undefined {
    const r = this.s.token.get(id) as Row | undefined;
    return r && tokenOf(r);
  }

  tokens(limit = 200): TokenRecord[] {
    return (this.s.tokens.all(limit) as Row[]).map(tokenOf);
  }

  countTokenUse(id: string): void {
    this.s.countTokenUse.run(id);
  }

  revokeToken(id: string, at: string): boolean {
    return this.s.revokeToken.run(at, id).changes === 1;
  }

  insertDevice(d: { id: string; installationId: string; tokenId: string; mode: EnrollmentMode; policyGroup: string; certSerial: string; facts: unknown; now: string }): void {
    this.s.insertDevice.run({ ...d, facts: JSON.stringify(d.facts) });
  }

  device(id: string): DeviceRecord | undefined {
    const r = this.s.device.get(id) as Row | undefined;
    return r && deviceOf(r);
  }

  deviceByCertificate(serial: string): DeviceRecord | undefined {
    const r = this.s.deviceByCert.get({ serial }) as Row | undefined;
    return r && deviceOf(r);
  }

  deviceByInstallation(tokenId: string, installationId: string): DeviceRecord | undefined {
    const r = this.s.deviceByInstallation.get(tokenId, installationId) as Row | undefined;
    return r && deviceOf(r);
  }

  devices(limit = 100, offset = 0): DeviceRecord[] {
    return (this.s.devices.all(limit, offset) as Row[]).map(deviceOf);
  }

  /** Devices in id order after `after` (keyset paging on the primary key: each page is an index range, not a sort of the table). */
  devicesAfter(after: string, limit: number): DeviceRecord[] {
    return (this.s.devicesAfter.all(after, limit) as Row[]).map(deviceOf);
  }

  /**
   * One page of the admin device list (src/admin/fleets.ts), in its order: display_name (migration
   * 0010) case-insensitive then id, an index walk; or last check-in first (a scan, SQLite's top-N
   * sort). `search`: already ASCII-lowercased; matched in the name, serial number, model and id.
   */
  devicePage(opts: DevicePageOptions): { devices: DeviceRecord[]; total: number } {
    return devicePageOf(this.list, opts, (r: Row) => deviceOf(r));
  }

  /** The same page's sort keys only, for merging the platforms' lists without building every device. */
  deviceKeys(opts: DevicePageOptions): { keys: DeviceListKey[]; total: number } {
    return deviceKeysOf(this.list, opts);
  }


  deviceCounts(): Record<DeviceState, number> {
    const out: Record<DeviceState, number> = { active: 0, unenrolled: 0 };
    for (const r of this.s.countDevices.all() as { state: DeviceState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  reissueDevice(id: string, certSerial: string, previousCertSerial: string | null, facts: unknown, now: string): void {
    this.s.reissueDevice.run(certSerial, previousCertSerial, JSON.stringify(facts), now, id);
  }

  dropPreviousCertificate(id: string): void {
    this.s.dropPreviousCert.run(id);
  }

  saveStatus(id: string, status: unknown, now: string): void {
    this.s.saveStatus.run(JSON.stringify(status), now, now, id);
  }

  unenroll(id: string, at: string, reason: string): boolean {
    return this.s.unenroll.run(at, reason, id).changes === 1;
  }

  markSecurityLog(id: string, last: { time: number; id: number }, now: string): void {
    this.s.securityLogMark.run(last.time, last.id, now, id);
  }

  insertCommand(c: { id: string; deviceId: string; type: string; payload: unknown; queuedAt: string; queuedBy: string }): void {
    this.s.insertCommand.run({ ...c, payload: JSON.stringify(c.payload) });
  }

  command(id: string): CommandRecord | undefined {
    const r = this.s.command.get(id) as Row | undefined;
    return r && commandOf(r);
  }

  /** Commands the agent still has to finish: queued, sent, or acknowledged (redelivered until a final result). */
  openCommands(deviceId: string, limit = 50): CommandRecord[] {
    return (this.s.openCommands.all(deviceId, limit) as Row[]).map(commandOf);
  }

  /** Whether a command waits to be delivered: the cheap check a held poll makes. */
  hasUndelivered(deviceId: string): boolean {
    return this.s.hasOpenCommand.get(deviceId) === 1;
  }

  countOpen(deviceId: string): number {
    return this.s.countOpen.get(deviceId) as number;
  }

  commandsOf(deviceId: string, limit = 100): CommandRecord[] {
    return (this.s.commandsOf.all(deviceId, limit) as Row[]).map(commandOf);
  }

  markSent(id: string, at: string): boolean {
    return this.s.markSent.run(at, id).changes === 1;
  }

  markAcknowledged(id: string, at: string, payload: unknown): void {
    this.s.markAcknowledged.run(at, JSON.stringify(payload), id);
  }

  markFinished(id: string, status: CommandStatus, at: string, result: unknown, payload: unknown): void {
    this.s.markFinished.run(status, at, JSON.stringify(result), JSON.stringify(payload), id);
  }

  cancelOpen(deviceId: string, at: string): number {
    return this.s.cancelOpen.run(at, deviceId).changes;
  }

  /** Commands queued after seq (by any process), for waking held polls. */
  queuedSince(seq: number): { seq: number; deviceId: string }[] {
    return (this.s.queuedSince.all(seq) as { seq: number; device_id: string }[]).map((r) => ({ seq: r.seq, deviceId: r.device_id }));
  }

  maxCommandSeq(): number {
    return this.s.maxCommandSeq.get() as number;
  }

  /** PRAGMA data_version: changes when another connection commits (https://sqlite.org/pragma.html#pragma_data_version). */
  dataVersion(): number {
    return this.s.dataVersion.get() as number;
  }
}
