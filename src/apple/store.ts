// SQL of the Apple MDM domain (tables in migrations/0004_apple.sql): prepared better-sqlite3
// statements, since check-ins and command fetches are the appliance's hottest path.
//
// Group commit: with synchronous=FULL every COMMIT waits for the disk. commit(fn) queues a unit of
// work (state change + its audit event); all units queued while the event loop was busy run in ONE
// transaction, and each caller's promise settles only after that transaction is durable. The audit
// guarantee holds per unit: its change and its event commit together or not at all. If a unit
// throws, the whole batch rolls back and every unit is re-run in its own transaction, so one bad
// request cannot take others with it.
import type Database from 'better-sqlite3';
import { type DeviceListKey, type DeviceListStatements, type DevicePageOptions, GroupCommit, type WardDb, deviceKeysOf, devicePageOf, prepareDeviceList } from '../db';

export interface TokenRow {
  id: string;
  tokenSha256: string;
  groupName: string;
  oneTime: boolean;
  expiresAt: string;
  createdAt: string;
  createdBy: string;
  uses: number;
  revokedAt: string | null;
}

export interface ProfileRow {
  id: string;
  tokenId: string | null;
  groupName: string;
  createdAt: string;
  source: string;
}

export type DeviceStatus = 'authenticated' | 'enrolled' | 'checked-out';

export interface DeviceRow {
  id: string;
  enrollmentType: string;
  status: DeviceStatus;
  groupName: string;
  profileId: string | null;
  certSerial: string;
  topic: string;
  pushToken: Buffer | null;
  pushMagic: string | null;
  pushDeadAt: string | null;
  unlockToken: Buffer | null;
  bootstrapToken: Buffer | null;
  serialNumber: string | null;
  model: string | null;
  modelName: string | null;
  productName: string | null;
  osVersion: string | null;
  buildVersion: string | null;
  deviceName: string | null;
  encrypted: boolean | null;
  passcodePresent: boolean | null;
  passcodeCompliant: boolean | null;
  facts: Record<string, unknown>;
  authenticatedAt: string;
  enrolledAt: string | null;
  checkedOutAt: string | null;
  lastSeenAt: string | null;
}

export interface UserChannelRow {
  id: string;
  deviceId: string;
  userId: string;
  userShortName: string | null;
  userLongName: string | null;
  pushToken: Buffer | null;
  pushMagic: string | null;
  pushDeadAt: string | null;
  updatedAt: string;
}

export type CommandRowStatus = 'queued' | 'sent' | 'acknowledged' | 'error' | 'command-format-error' | 'not-now' | 'expired';

export interface CommandRow {
  seq: number;
  uuid: string;
  enrollmentId: string;
  deviceId: string;
  requestType: string;
  body: Buffer;
  status: CommandRowStatus;
  queuedAt: string;
  queuedBy: string;
  sentAt: string | null;
  answeredAt: string | null;
  notNowCount: number;
  errorChain: unknown[] | null;
}

export interface AppRow {
  id: string;
  bundleId: string;
  version: string;
  title: string;
  sha256: string;
  size: number;
  file: string;
  addedAt: string;
  addedBy: string;
}

export interface PushCertificateRow {
  id: number;
  topic: string;
  serial: string;
  sha256: string;
  notAfter: string;
  certificatePem: string;
  sealedKey: Buffer;
  importedAt: string;
}

/** Inventory and security columns a command result or Authenticate may set. */
export interface DeviceFactsUpdate {
  serialNumber?: string;
  model?: string;
  modelName?: string;
  productName?: string;
  osVersion?: string;
  buildVersion?: string;
  deviceName?: string;
  encrypted?: boolean;
  passcodePresent?: boolean;
  passcodeCompliant?: boolean;
  /** Merged into the facts JSON (top-level keys replaced). */
  facts?: Record<string, unknown>;
}

type Raw = Record<string, unknown>;
const bool = (v: unknown): boolean | null => (v === null || v === undefined ? null : v === 1);
const boolInt = (v: boolean | undefined): number | null => (v === undefined ? null : v ? 1 : 0);

function tokenOf(r: Raw): TokenRow {
  return {
    id: r.id as string,
    tokenSha256: r.token_sha256 as string,
    groupName: r.group_name as string,
    oneTime: r.one_time === 1,
    expiresAt: r.expires_at as string,
    createdAt: r.created_at as string,
    createdBy: r.created_by as string,
    uses: r.uses as number,
    revokedAt: (r.revoked_at as string | null) ?? null,
  };
}

function deviceOf(r: Raw): DeviceRow {
  return {
    id: r.id as string,
    enrollmentType: r.enrollment_type as string,
    status: r.status as DeviceStatus,
    groupName: r.group_name as string,
    profileId: (r.profile_id as string | null) ?? null,
    certSerial: r.cert_serial as string,
    topic: r.topic as string,
    pushToken: (r.push_token as Buffer | null) ?? null,
    pushMagic: (r.push_magic as string | null) ?? null,
    pushDeadAt: (r.push_dead_at as string | null) ?? null,
    unlockToken: (r.unlock_token as Buffer | null) ?? null,
    bootstrapToken: (r.bootstrap_token as Buffer | null) ?? null,
    serialNumber: (r.serial_number as string | null) ?? null,
    model: (r.model as string | null) ?? null,
    modelName: (r.model_name as string | null) ?? null,
    productName: (r.product_name as string | null) ?? null,
    osVersion: (r.os_version as string | null) ?? null,
    buildVersion: (r.build_version as string | null) ?? null,
    deviceName: (r.device_name as string | null) ?? null,
    encrypted: bool(r.encrypted),
    passcodePresent: bool(r.passcode_present),
    passcodeCompliant: bool(r.passcode_compliant),
    facts: JSON.parse((r.facts as string) || '{}') as Record<string, unknown>,
    authenticatedAt: r.authenticated_at as string,
    enrolledAt: (r.enrolled_at as string | null) ?? null,
    checkedOutAt: (r.checked_out_at as string | null) ?? null,
    lastSeenAt: (r.last_seen_at as string | null) ?? null,
  };
}

function userChannelOf(r: Raw): UserChannelRow {
  return {
    id: r.id as string,
    deviceId: r.device_id as string,
    userId: r.user_id as string,
    userShortName: (r.user_short_name as string | null) ?? null,
    userLongName: (r.user_long_name as string | null) ?? null,
    pushToken: (r.push_token as Buffer | null) ?? null,
    pushMagic: (r.push_magic as string | null) ?? null,
    pushDeadAt: (r.push_dead_at as string | null) ?? null,
    updatedAt: r.updated_at as string,
  };
}

function commandOf(r: Raw): CommandRow {
  return {
    seq: r.seq as number,
    uuid: r.uuid as string,
    enrollmentId: r.enrollment_id as string,
    deviceId: r.device_id as string,
    requestType: r.request_type as string,
    body: r.body as Buffer,
    status: r.status as CommandRowStatus,
    queuedAt: r.queued_at as string,
    queuedBy: r.queued_by as string,
    sentAt: (r.sent_at as string | null) ?? null,
    answeredAt: (r.answered_at as string | null) ?? null,
    notNowCount: r.not_now_count as number,
    errorChain: r.error_chain ? (JSON.parse(r.error_chain as string) as unknown[]) : null,
  };
}

/** The admin list's free-text match (src/admin/fleets.ts summary fields: name, serial, model, id). */
const APPLE_MATCH = `(@needle IS NULL OR instr(lower(display_name), @needle) > 0 OR instr(lower(serial_number), @needle) > 0
  OR instr(lower(coalesce(model_name, product_name, model)), @needle) > 0 OR instr(lower(id), @needle) > 0)`;


export class AppleStore {
  /** The admin device list's pages (migration 0010, src/db/device-list.ts). */
  private readonly list: DeviceListStatements;
  private readonly s: Record<string, Database.Statement>;
  /** Check-ins arriving within 2 ms share one durable transaction (src/db/group-commit.ts). */
  private readonly batch: GroupCommit;
  /** last_seen_at is telemetry, not an audited state change: kept in memory, written in bulk. */
  private readonly seen = new Map<string, string>();

  constructor(readonly db: WardDb) {
    this.batch = new GroupCommit(db, { windowMs: 2, maxBatch: 256 });
    const p = (sql: string) => db.sqlite.prepare(sql);
    this.list = prepareDeviceList(db, 'apple_devices', APPLE_MATCH);
    this.s = {
      insertToken: p(`INSERT INTO apple_enrollment_tokens (id, token_sha256, group_name, one_time, expires_at, created_at, created_by)
                      VALUES (?, ?, ?, ?, ?, ?, ?)`),
      tokenByHash: p('SELECT * FROM apple_enrollment_tokens WHERE token_sha256 = ?'),
      tokenById: p('SELECT * FROM apple_enrollment_tokens WHERE id = ?'),
      useToken: p('UPDATE apple_enrollment_tokens SET uses = uses + 1 WHERE id = ? AND revoked_at IS NULL AND (one_time = 0 OR uses = 0)'),
      revokeToken: p('UPDATE apple_enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      listTokens: p('SELECT * FROM apple_enrollment_tokens ORDER BY created_at DESC LIMIT CAST(? AS INTEGER)'),
      insertProfile: p('INSERT INTO apple_profiles (id, token_id, group_name, created_at, source) VALUES (?, ?, ?, ?, ?)'),
      profile: p('SELECT * FROM apple_profiles WHERE id = ?'),
      device: p('SELECT * FROM apple_devices WHERE id = ?'),
      deviceByCert: p('SELECT * FROM apple_devices WHERE cert_serial = ?'),
      deviceAuth: p('SELECT cert_serial, status, group_name FROM apple_devices WHERE id = ?'),
      pushTarget: p(`SELECT status, push_token, push_magic, push_dead_at FROM apple_devices WHERE id = ?
                     UNION ALL SELECT 'enrolled', push_token, push_magic, push_dead_at FROM apple_user_channels WHERE id = ?`),
      upsertAuthenticated: p(`INSERT INTO apple_devices (id, enrollment_type, status, group_name, profile_id, cert_serial, topic,
                                serial_number, model, model_name, product_name, os_version, build_version, device_name, authenticated_at)
                              VALUES (@id, @enrollmentType, 'authenticated', @groupName, @profileId, @certSerial, @topic,
                                @serialNumber, @model, @modelName, @productName, @osVersion, @buildVersion, @deviceName, @at)
                              ON CONFLICT (id) DO UPDATE SET enrollment_type = excluded.enrollment_type, status = 'authenticated',
                                group_name = excluded.group_name, profile_id = excluded.profile_id, cert_serial = excluded.cert_serial,
                                topic = excluded.topic, push_token = NULL, push_magic = NULL, push_dead_at = NULL,
                                serial_number = coalesce(excluded.serial_number, serial_number), model = coalesce(excluded.model, model),
                                model_name = coalesce(excluded.model_name, model_name), product_name = coalesce(excluded.product_name, product_name),
                                os_version = coalesce(excluded.os_version, os_version), build_version = coalesce(excluded.build_version, build_version),
                                device_name = coalesce(excluded.device_name, device_name), authenticated_at = excluded.authenticated_at,
                                checked_out_at = NULL`),
      tokenUpdate: p(`UPDATE apple_devices SET status = 'enrolled', push_token = ?, push_magic = ?, push_dead_at = NULL,
                        unlock_token = coalesce(?, unlock_token), enrolled_at = coalesce(enrolled_at, ?), topic = ? WHERE id = ?`),
      checkOut: p(`UPDATE apple_devices SET status = 'checked-out', push_token = NULL, push_magic = NULL, checked_out_at = ? WHERE id = ?`),
      setBootstrap: p('UPDATE apple_devices SET bootstrap_token = ? WHERE id = ?'),
      updateFacts: p(`UPDATE apple_devices SET serial_number = coalesce(@serialNumber, serial_number), model = coalesce(@model, model),
                        model_name = coalesce(@modelName, model_name), product_name = coalesce(@productName, product_name),
                        os_version = coalesce(@osVersion, os_version), build_version = coalesce(@buildVersion, build_version),
                        device_name = coalesce(@deviceName, device_name), encrypted = coalesce(@encrypted, encrypted),
                        passcode_present = coalesce(@passcodePresent, passcode_present),
                        passcode_compliant = coalesce(@passcodeCompliant, passcode_compliant),
                        facts = json_patch(facts, @facts) WHERE id = @id`),
      markDevicePushDead: p('UPDATE apple_devices SET push_dead_at = ? WHERE id = ? AND push_token = ?'),
      touch: p('UPDATE apple_devices SET last_seen_at = ? WHERE id = ?'),
      listDevices: p(`SELECT * FROM apple_devices WHERE (@group IS NULL OR group_name = CAST(@group AS TEXT))
                        AND (@status IS NULL OR status = CAST(@status AS TEXT))
                      ORDER BY authenticated_at DESC LIMIT CAST(@limit AS INTEGER) OFFSET CAST(@offset AS INTEGER)`),
      countDevices: p('SELECT count(*) FROM apple_devices'),
      devicesAfter: p('SELECT * FROM apple_devices WHERE id > CAST(? AS TEXT) ORDER BY id LIMIT CAST(? AS INTEGER)'),
      deviceByWifiMac: p("SELECT * FROM apple_devices WHERE lower(json_extract(facts, '$.wifiMac')) = CAST(? AS TEXT) ORDER BY id LIMIT 1"),
      upsertUser: p(`INSERT INTO apple_user_channels (id, device_id, user_id, user_short_name, user_long_name, push_token, push_magic, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (id) DO UPDATE SET user_short_name = excluded.user_short_name, user_long_name = excluded.user_long_name,
                       push_token = excluded.push_token, push_magic = excluded.push_magic, push_dead_at = NULL, updated_at = excluded.updated_at`),
      userChannel: p('SELECT * FROM apple_user_channels WHERE id = ?'),
      userChannelsOf: p('SELECT * FROM apple_user_channels WHERE device_id = CAST(? AS TEXT) ORDER BY id'),
      markUserPushDead: p('UPDATE apple_user_channels SET push_dead_at = ? WHERE id = ? AND push_token = ?'),
      insertCommand: p(`INSERT INTO apple_commands (uuid, enrollment_id, device_id, request_type, body, status, queued_at, queued_by)
                        VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)`),
      // The status list must be the partial index's own (SQLite uses a partial index only when the
      // query repeats its WHERE terms); whether NotNow'd commands count is a separate term.
      // Two statements, not one with `(status <> 'not-now' OR ?)`: a host parameter that decides
      // whether the partial index applies makes SQLite re-prepare the statement whenever its binding
      // changes (seen in a profile of Idle polls as the SQL parser on every request).
      // CAST(? AS TEXT), not a bare ?: with a bare parameter SQLite (3.54) marks this plan (ORDER BY
      // ... LIMIT over the partial index) as depending on the bound value and re-prepares the
      // statement on every call, 17 us of a 21 us lookup on every Idle poll (found with a breakpoint
      // on sqlite3Reprepare in the daemon under bench/apple.ts; test/db/reprepare checks it).
      nextCommand: p(`SELECT * FROM apple_commands WHERE enrollment_id = CAST(? AS TEXT) AND status IN ('queued', 'sent', 'not-now')
                      ORDER BY seq LIMIT 1`),
      nextCommandSkippingNotNow: p(`SELECT * FROM apple_commands WHERE enrollment_id = CAST(? AS TEXT) AND status IN ('queued', 'sent', 'not-now')
                      AND status <> 'not-now' ORDER BY seq LIMIT 1`),
      markSent: p(`UPDATE apple_commands SET status = 'sent', sent_at = ? WHERE uuid = ?`),
      commandStatus: p('SELECT status FROM apple_commands WHERE uuid = ?'),
      commandOfEnrollment: p('SELECT * FROM apple_commands WHERE uuid = ? AND enrollment_id = ?'),
      command: p('SELECT * FROM apple_commands WHERE uuid = ?'),
      answer: p('UPDATE apple_commands SET status = ?, answered_at = ?, error_chain = ? WHERE uuid = ?'),
      notNow: p(`UPDATE apple_commands SET status = ?, not_now_count = not_now_count + 1, answered_at = ? WHERE uuid = ?`),
      commandsOfDevice: p('SELECT * FROM apple_commands WHERE device_id = CAST(? AS TEXT) ORDER BY seq DESC LIMIT CAST(? AS INTEGER)'),
      pendingCount: p(`SELECT count(*) FROM apple_commands WHERE enrollment_id = ? AND status IN ('queued', 'sent', 'not-now')`),
      insertPushCert: p(`INSERT INTO apple_push_certificates (topic, serial, sha256, not_after, certificate_pem, sealed_key, imported_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?)`),
      currentPushCert: p('SELECT * FROM apple_push_certificates ORDER BY id DESC LIMIT 1'),
      currentPushCertId: p('SELECT id FROM apple_push_certificates ORDER BY id DESC LIMIT 1'),
      insertApp: p(`INSERT INTO apple_apps (id, bundle_id, version, title, sha256, size, file, added_at, added_by)
                    VALUES (@id, @bundleId, @version, @title, @sha256, @size, @file, @addedAt, @addedBy)`),
      app: p(`SELECT id, bundle_id AS bundleId, version, title, sha256, size, file, added_at AS addedAt, added_by AS addedBy
              FROM apple_apps WHERE id = ?`),
      appByBundle: p('SELECT id FROM apple_apps WHERE bundle_id = ? AND version = ?'),
      listApps: p(`SELECT id, bundle_id AS bundleId, version, title, sha256, size, file, added_at AS addedAt, added_by AS addedBy
                   FROM apple_apps ORDER BY bundle_id, added_at DESC`),
    };
  }

  // ---- group commit ----

  /** Runs fn in a write transaction shared with other units queued meanwhile; settles after COMMIT. */
  commit<T>(fn: () => T): Promise<T> {
    return this.batch.commit(fn);
  }

  // ---- enrollment tokens and profiles ----

  insertToken(t: Omit<TokenRow, 'uses' | 'revokedAt'>): void {
    this.s.insertToken.run(t.id, t.tokenSha256, t.groupName, t.oneTime ? 1 : 0, t.expiresAt, t.createdAt, t.createdBy);
  }

  tokenByHash(sha256: string): TokenRow | undefined {
    const r = this.s.tokenByHash.get(sha256) as Raw | undefined;
    return r && tokenOf(r);
  }

  tokenById(id: string): TokenRow | undefined {
    const r = this.s.tokenById.get(id) as Raw | undefined;
    return r && tokenOf(r);
  }

  /** Counts a use; false when a one-time token was already used (or revoked) meanwhile. */
  useToken(id: string): boolean {
    return this.s.useToken.run(id).changes === 1;
  }

  revokeToken(id: string, at: string): boolean {
    return this.s.revokeToken.run(at, id).changes === 1;
  }

  listTokens(limit = 100): TokenRow[] {
    return (this.s.listTokens.all(limit) as Raw[]).map(tokenOf);
  }

  insertProfile(p: ProfileRow): void {
    this.s.insertProfile.run(p.id, p.tokenId, p.groupName, p.createdAt, p.source);
  }

  profile(id: string): ProfileRow | undefined {
    const r = this.s.profile.get(id) as Raw | undefined;
    return r && { id: r.id as string, tokenId: (r.token_id as string | null) ?? null, groupName: r.group_name as string, createdAt: r.created_at as string, source: r.source as string };
  }

  // ---- devices ----

  device(id: string): DeviceRow | undefined {
    const r = this.s.device.get(id) as Raw | undefined;
    return r && deviceOf(r);
  }

  deviceByCert(serial: string): DeviceRow | undefined {
    const r = this.s.deviceByCert.get(serial) as Raw | undefined;
    return r && deviceOf(r);
  }

  /** The identity bound to a device channel, its status and group (hot path: no facts JSON). */
  deviceBinding(id: string): { certSerial: string; status: DeviceStatus; groupName: string } | undefined {
    const r = this.s.deviceAuth.get(id) as Raw | undefined;
    return r && { certSerial: r.cert_serial as string, status: r.status as DeviceStatus, groupName: r.group_name as string };
  }

  /** Push token and PushMagic of a device or user channel (enrollment id). */
  pushTarget(enrollmentId: string): { status: DeviceStatus; pushToken: Buffer | null; pushMagic: string | null; pushDeadAt: string | null } | undefined {
    const r = this.s.pushTarget.get(enrollmentId, enrollmentId) as Raw | undefined;
    return (
      r && {
        status: r.status as DeviceStatus,
        pushToken: (r.push_token as Buffer | null) ?? null,
        pushMagic: (r.push_magic as string | null) ?? null,
        pushDeadAt: (r.push_dead_at as string | null) ?? null,
      }
    );
  }

  upsertAuthenticated(d: {
    id: string;
    enrollmentType: string;
    groupName: string;
    profileId: string | null;
    certSerial: string;
    topic: string;
    at: string;
    inventory: DeviceFactsUpdate;
  }): void {
    const i = d.inventory;
    this.s.upsertAuthenticated.run({
      id: d.id,
      enrollmentType: d.enrollmentType,
      groupName: d.groupName,
      profileId: d.profileId,
      certSerial: d.certSerial,
      topic: d.topic,
      at: d.at,
      serialNumber: i.serialNumber ?? null,
      model: i.model ?? null,
      modelName: i.modelName ?? null,
      productName: i.productName ?? null,
      osVersion: i.osVersion ?? null,
      buildVersion: i.buildVersion ?? null,
      deviceName: i.deviceName ?? null,
    });
  }

  tokenUpdate(id: string, pushToken: Buffer, pushMagic: string, sealedUnlockToken: Buffer | null, topic: string, at: string): void {
    this.s.tokenUpdate.run(pushToken, pushMagic, sealedUnlockToken, at, topic, id);
  }

  checkOut(id: string, at: string): void {
    this.s.checkOut.run(at, id);
  }

  setBootstrapToken(id: string, sealed: Buffer | null): void {
    this.s.setBootstrap.run(sealed, id);
  }

  updateFacts(id: string, u: DeviceFactsUpdate): void {
    this.s.updateFacts.run({
      id,
      serialNumber: u.serialNumber ?? null,
      model: u.model ?? null,
      modelName: u.modelName ?? null,
      productName: u.productName ?? null,
      osVersion: u.osVersion ?? null,
      buildVersion: u.buildVersion ?? null,
      deviceName: u.deviceName ?? null,
      encrypted: boolInt(u.encrypted),
      passcodePresent: boolInt(u.passcodePresent),
      passcodeCompliant: boolInt(u.passcodeCompliant),
      facts: JSON.stringify(u.facts ?? {}),
    });
  }

  /** Marks a push token dead (APNs 410) unless the device sent a new one meanwhile. */
  markPushDead(enrollmentId: string, token: Buffer, at: string): boolean {
    const a = this.s.markDevicePushDead.run(at, enrollmentId, token).changes;
    const b = this.s.markUserPushDead.run(at, enrollmentId, token).changes;
    return a + b > 0;
  }

  listDevices(opts: { group?: string; status?: DeviceStatus; limit?: number; offset?: number } = {}): DeviceRow[] {
    return (this.s.listDevices.all({ group: opts.group ?? null, status: opts.status ?? null, limit: opts.limit ?? 1000, offset: opts.offset ?? 0 }) as Raw[]).map(deviceOf);
  }

  /** Devices in id order after `after` (keyset paging on the primary key: each page is an index range, not a sort of the table). */
  devicesAfter(after: string, limit: number): DeviceRow[] {
    return (this.s.devicesAfter.all(after, limit) as Raw[]).map(deviceOf);
  }

  /** The device reporting this Wi-Fi MAC (aa:bb:cc:dd:ee:ff, lowercase), through apple_devices_wifi_mac. */
  deviceByWifiMac(mac: string): DeviceRow | undefined {
    const r = this.s.deviceByWifiMac.get(mac) as Raw | undefined;
    return r && deviceOf(r);
  }

  /**
   * One page of the admin device list (src/admin/fleets.ts), in its order: display_name (migration
   * 0010) case-insensitive then id, an index walk; or last check-in first (a scan, SQLite's top-N
   * sort). `search`: already ASCII-lowercased; matched in the name, serial number, model and id.
   */
  devicePage(opts: DevicePageOptions): { devices: DeviceRow[]; total: number } {
    return devicePageOf(this.list, opts, (r: Raw) => deviceOf(r));
  }

  /** The same page's sort keys only, for merging the platforms' lists without building every device. */
  deviceKeys(opts: DevicePageOptions): { keys: DeviceListKey[]; total: number } {
    return deviceKeysOf(this.list, opts);
  }


  countDevices(): number {
    return this.s.countDevices.pluck().get() as number;
  }

  /** Notes a device was seen now; written by flushSeen(), not per request. */
  noteSeen(deviceId: string, at: string): void {
    this.seen.set(deviceId, at);
  }

  flushSeen(): number {
    if (this.seen.size === 0) return 0;
    const entries = [...this.seen];
    this.seen.clear();
    this.db.write(() => {
      for (const [id, at] of entries) this.s.touch.run(at, id);
    });
    return entries.length;
  }

  // ---- user channels ----

  upsertUserChannel(u: Omit<UserChannelRow, 'pushDeadAt'>): void {
    this.s.upsertUser.run(u.id, u.deviceId, u.userId, u.userShortName, u.userLongName, u.pushToken, u.pushMagic, u.updatedAt);
  }

  userChannel(id: string): UserChannelRow | undefined {
    const r = this.s.userChannel.get(id) as Raw | undefined;
    return r && userChannelOf(r);
  }

  userChannelsOf(deviceId: string): UserChannelRow[] {
    return (this.s.userChannelsOf.all(deviceId) as Raw[]).map(userChannelOf);
  }

  // ---- commands ----

  insertCommand(c: { uuid: string; enrollmentId: string; deviceId: string; requestType: string; body: Buffer; at: string; by: string }): void {
    this.s.insertCommand.run(c.uuid, c.enrollmentId, c.deviceId, c.requestType, c.body, c.at, c.by);
  }

  /** Oldest pending command; NotNow'd ones only when the device starts a new session (Idle). */
  nextCommand(enrollmentId: string, includeNotNow: boolean): CommandRow | undefined {
    const r = (includeNotNow ? this.s.nextCommand : this.s.nextCommandSkippingNotNow).get(enrollmentId) as Raw | undefined;
    return r && commandOf(r);
  }

  /** Whether a command still waits for an answer (queued, sent or NotNow'd). */
  commandPending(uuid: string): boolean {
    const status = this.s.commandStatus.pluck().get(uuid) as string | undefined;
    return status === 'queued' || status === 'sent' || status === 'not-now';
  }

  markSent(uuid: string, at: string): void {
    this.s.markSent.run(at, uuid);
  }

  /** A command only if it belongs to this enrollment: one device never answers another's. */
  commandOfEnrollment(uuid: string, enrollmentId: string): CommandRow | undefined {
    const r = this.s.commandOfEnrollment.get(uuid, enrollmentId) as Raw | undefined;
    return r && commandOf(r);
  }

  command(uuid: string): CommandRow | undefined {
    const r = this.s.command.get(uuid) as Raw | undefined;
    return r && commandOf(r);
  }

  answerCommand(uuid: string, status: 'acknowledged' | 'error' | 'command-format-error', at: string, errorChain: unknown[] | undefined): void {
    this.s.answer.run(status, at, errorChain ? JSON.stringify(errorChain) : null, uuid);
  }

  notNow(uuid: string, at: string, expire: boolean): void {
    this.s.notNow.run(expire ? 'expired' : 'not-now', at, uuid);
  }

  commandsOfDevice(deviceId: string, limit = 100): CommandRow[] {
    return (this.s.commandsOfDevice.all(deviceId, limit) as Raw[]).map(commandOf);
  }

  pendingCount(enrollmentId: string): number {
    return this.s.pendingCount.pluck().get(enrollmentId) as number;
  }

  // ---- push certificate ----

  insertPushCertificate(c: Omit<PushCertificateRow, 'id'>): number {
    return Number(this.s.insertPushCert.run(c.topic, c.serial, c.sha256, c.notAfter, c.certificatePem, c.sealedKey, c.importedAt).lastInsertRowid);
  }

  currentPushCertificate(): PushCertificateRow | undefined {
    const r = this.s.currentPushCert.get() as Raw | undefined;
    return (
      r && {
        id: r.id as number,
        topic: r.topic as string,
        serial: r.serial as string,
        sha256: r.sha256 as string,
        notAfter: r.not_after as string,
        certificatePem: r.certificate_pem as string,
        sealedKey: r.sealed_key as Buffer,
        importedAt: r.imported_at as string,
      }
    );
  }

  // ---- in-house apps ----

  insertApp(a: AppRow): void {
    this.s.insertApp.run(a);
  }

  app(id: string): AppRow | undefined {
    return this.s.app.get(id) as AppRow | undefined;
  }

  appExists(bundleId: string, version: string): boolean {
    return this.s.appByBundle.get(bundleId, version) !== undefined;
  }

  listApps(): AppRow[] {
    return this.s.listApps.all() as AppRow[];
  }

  currentPushCertificateId(): number | undefined {
    return this.s.currentPushCertId.pluck().get() as number | undefined;
  }
}
