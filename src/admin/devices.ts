// Device actions across platforms: one list over every attached fleet (Apple, Android), lock /
// restart / refresh straight to the platform's queue, and wipes, which always carry a reason and,
// when admin.wipe.requireSecondAdmin is on, wait for a second admin before a full wipe is queued.
import crypto from 'node:crypto';
import { type AuditContext, type AuditLog, SYSTEM_ACTOR, clipText } from '../audit';
import type { WardDb } from '../db';
import { type ComplianceLookup, type DeviceAction, type DeviceCommandView, type DeviceDetail, type DeviceFleet, type DeviceKey, type DeviceQuery, type DeviceSummary } from './domains';
import { AdminError } from './errors';
import type { AdminStore, WipeRequestRecord } from './store';

export interface WipePolicy {
  requireSecondAdmin: boolean;
  approvalMinutes: number;
}

export type WipeOutcome = { status: 'queued'; command: DeviceCommandView; wipeRequest?: WipeRequestRecord } | { status: 'pending'; wipeRequest: WipeRequestRecord };

/** ASCII letters to lower case, nothing else: what SQLite's lower() and NOCASE do (no ICU). */
export const foldCase = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

const SURROGATE = (c: number) => c >= 0xd800 && c <= 0xdfff;

/**
 * SQLite's order for text, which the platform stores page by (migrations/0010): code point order
 * (SQLite compares UTF-8 bytes; JS strings are UTF-16, where U+10000 and up would sort before
 * U+E000..U+FFFF), shorter first on a common prefix; `nocase`: COLLATE NOCASE, ASCII letters folded
 * to lower case first.
 */
export function compareText(a: string, b: string, nocase: boolean): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (nocase && x >= 65 && x <= 90) x += 32;
    if (nocase && y >= 65 && y <= 90) y += 32;
    if (x === y) continue;
    if (SURROGATE(x) !== SURROGATE(y) && (x >= 0xe000 || y >= 0xe000)) return SURROGATE(x) ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** ORDER BY display_name COLLATE NOCASE, id. */
const byName = (a: DeviceKey, b: DeviceKey) => compareText(a.name, b.name, true) || compareText(a.id, b.id, false);
const byLastSeen = (a: DeviceKey, b: DeviceKey) => {
  const x = a.lastSeenAt ?? '';
  const y = b.lastSeenAt ?? '';
  return x !== y ? (x < y ? 1 : -1) : byName(a, b);
};

/** The device list's order: by name (ASCII case-insensitive, then id), or most recent check-in first. */
export const deviceOrder = (sort: DeviceQuery['sort']) => (sort === 'lastSeen' ? byLastSeen : byName);

export class DeviceOperations {
  private readonly fleets: DeviceFleet[] = [];

  constructor(
    private readonly db: WardDb,
    private readonly store: AdminStore,
    private readonly audit: AuditLog,
    private readonly wipe: WipePolicy,
  ) {}

  /** Where device compliance comes from when the platform itself has no verdict (src/policy). */
  compliance?: ComplianceLookup;

  addFleet(fleet: DeviceFleet): void {
    if (this.fleets.includes(fleet)) throw new Error(`admin: this ${fleet.platform} fleet is already attached`);
    this.fleets.push(fleet);
  }

  get platforms(): string[] {
    return [...new Set(this.fleets.map((f) => f.platform))];
  }

  /** Fills in the compliance verdict from the compliance domain where the platform gave none. */
  private async withCompliance<T extends DeviceSummary>(d: T): Promise<T> {
    if (d.compliant !== null || !this.compliance) return d;
    const c = await this.compliance.lookup(d.id);
    if (!c) return d;
    const detail = 'facts' in d ? { compliance: { compliant: c.compliant, reasons: c.reasons, evaluatedAt: c.evaluatedAt ?? new Date(0).toISOString() } } : {};
    return { ...d, compliant: c.compliant, ...detail };
  }

  /**
   * The list over every fleet, each paging in SQL in the order deviceOrder sorts by. A single fleet
   * pages on its own. Several: each gives the sort keys of its first offset+limit matches, the
   * merged keys tell each fleet's share of the page (how many of its devices come before it, how
   * many in it), and only those devices are listed. A fleet without keys() lists its first
   * offset+limit devices whole and the page is cut from the merge.
   */
  async list(query: DeviceQuery): Promise<{ devices: DeviceSummary[]; total: number }> {
    const fleets = query.platform ? this.fleets.filter((f) => f.platform === query.platform) : this.fleets;
    const order = deviceOrder(query.sort);
    const end = query.offset + query.limit;
    let page: { devices: DeviceSummary[]; total: number };
    if (fleets.length === 1) {
      page = await fleets[0].list(query);
    } else if (fleets.every((f) => f.keys)) {
      const keyed = await Promise.all(fleets.map((f) => f.keys!({ ...query, offset: 0, limit: end })));
      const before = fleets.map(() => 0);
      const inPage = fleets.map(() => 0);
      keyed.flatMap((k, i) => k.keys.map((key) => ({ ...key, fleet: i }))).sort(order).slice(0, end)
        .forEach((key, n) => (n < query.offset ? before : inPage)[key.fleet]++);
      const shares = await Promise.all(fleets.map((f, i) => (inPage[i] ? f.list({ ...query, offset: before[i], limit: inPage[i] }) : { devices: [] })));
      page = { devices: shares.flatMap((s) => s.devices).sort(order), total: keyed.reduce((n, k) => n + k.total, 0) };
    } else {
      const pages = await Promise.all(fleets.map((f) => f.list({ ...query, offset: 0, limit: end })));
      page = { devices: pages.flatMap((p) => p.devices).sort(order).slice(query.offset, end), total: pages.reduce((n, p) => n + p.total, 0) };
    }
    return { devices: await Promise.all(page.devices.map((d) => this.withCompliance(d))), total: page.total };
  }

  async find(id: string): Promise<{ fleet: DeviceFleet; device: DeviceDetail } | undefined> {
    for (const fleet of this.fleets) {
      const device = await fleet.device(id);
      if (device) return { fleet, device: await this.withCompliance(device) };
    }
    return undefined;
  }

  async need(id: string): Promise<{ fleet: DeviceFleet; device: DeviceDetail }> {
    const found = await this.find(id);
    if (!found) throw new AdminError('not_found', 'no_such_device', `no device ${JSON.stringify(id.slice(0, 128))}`);
    return found;
  }

  async commands(id: string, limit: number): Promise<DeviceCommandView[]> {
    const { fleet } = await this.need(id);
    return fleet.commands(id, { limit });
  }

  pendingWipe(deviceId: string): WipeRequestRecord | null {
    return this.store.pendingWipeFor(deviceId, new Date().toISOString()) ?? null;
  }

  /** Lock, restart, refresh: the platform queues the command and records it. */
  async act(id: string, action: Exclude<DeviceAction, { kind: 'wipe' }>, ctx: AuditContext): Promise<DeviceCommandView> {
    const { fleet } = await this.need(id);
    return fleet.queue(id, action, ctx);
  }

  /**
   * A wipe: always with a reason. A full wipe under the two-person rule becomes a pending request
   * (audit event admin.wipe.requested) that another admin must approve; otherwise it is queued now
   * (admin.wipe.requested, the platform's own event, admin.wipe.queued).
   */
  async requestWipe(id: string, input: { mode: 'full' | 'selective'; reason: string }, ctx: AuditContext): Promise<WipeOutcome> {
    const { fleet, device } = await this.need(id);
    if (!device.wipeModes.includes(input.mode)) {
      throw new AdminError('conflict', 'wipe_mode_unsupported', `${device.name} supports only ${device.wipeModes.join(' or ') || 'no'} wipe`);
    }
    const reason = input.reason.trim();
    if (reason.length < 3) throw new AdminError('invalid', 'reason_required', 'a wipe needs a reason');
    const now = new Date();
    const twoPerson = this.wipe.requireSecondAdmin && input.mode === 'full';
    const requestedBy = `${ctx.actor.type}:${ctx.actor.id}`;
    const rec: WipeRequestRecord = {
      id: crypto.randomBytes(16).toString('hex'), deviceId: id, deviceName: device.name, platform: fleet.platform, mode: input.mode, reason,
      requestedBy, requestedAt: now.toISOString(), expiresAt: new Date(now.getTime() + this.wipe.approvalMinutes * 60_000).toISOString(),
      status: twoPerson ? 'pending' : 'queued', decidedBy: twoPerson ? null : requestedBy, decidedAt: twoPerson ? null : now.toISOString(), commandId: null,
    };
    // The request and its reason are on record before anything reaches the device.
    this.db.write(() => {
      const pending = this.store.pendingWipeFor(id, now.toISOString());
      if (pending) throw new AdminError('conflict', 'wipe_pending', `a wipe of ${device.name} is already waiting for approval (${pending.id})`);
      this.store.insertWipeRequest(rec);
      this.audit.record({
        ...ctx, action: 'admin.wipe.requested', target: { type: 'device', id },
        details: { wipeRequest: rec.id, device: device.name, platform: fleet.platform, mode: input.mode, reason, needsSecondAdmin: twoPerson },
      });
    });
    if (twoPerson) return { status: 'pending', wipeRequest: rec };
    const command = await this.dispatch(rec, fleet, ctx);
    return { status: 'queued', command, wipeRequest: { ...rec, commandId: command.id } };
  }

  /**
   * The second admin. The approval is recorded first (it claims the request: a second approval
   * finds it decided), then the platform queues the wipe.
   */
  async approveWipe(requestId: string, ctx: AuditContext): Promise<WipeOutcome> {
    this.expireOverdue();
    const rec = this.needRequest(requestId);
    const fleet = (await this.find(rec.deviceId))?.fleet;
    if (!fleet) throw new AdminError('conflict', 'device_gone', `${rec.deviceName} (${rec.deviceId}) is no longer on this Ward`);
    const approver = `${ctx.actor.type}:${ctx.actor.id}`;
    if (rec.status === 'pending' && rec.requestedBy === approver) {
      this.audit.record({
        ...ctx, action: 'admin.wipe.approved', outcome: 'failure', reason: 'the requester cannot approve their own wipe',
        target: { type: 'device', id: rec.deviceId }, details: { wipeRequest: rec.id },
      });
      throw new AdminError('forbidden', 'same_person', 'a wipe must be approved by a second admin, not by the one who asked for it');
    }
    const now = new Date().toISOString();
    const approved = this.db.write(() => {
      const cur = this.needPending(requestId);
      this.store.decideWipeRequest(cur.id, { status: 'queued', decidedBy: approver, decidedAt: now, commandId: null });
      this.audit.record({
        ...ctx, action: 'admin.wipe.approved', target: { type: 'device', id: cur.deviceId },
        details: { wipeRequest: cur.id, device: cur.deviceName, mode: cur.mode, requestedBy: cur.requestedBy },
      });
      return { ...cur, status: 'queued' as const, decidedBy: approver, decidedAt: now };
    });
    const command = await this.dispatch(approved, fleet, ctx);
    return { status: 'queued', command, wipeRequest: { ...approved, commandId: command.id } };
  }

  /** Hands a decided wipe to the platform; a refusal marks the request rejected (by Ward) and is recorded. */
  private async dispatch(rec: WipeRequestRecord, fleet: DeviceFleet, ctx: AuditContext): Promise<DeviceCommandView> {
    let command: DeviceCommandView;
    try {
      command = await fleet.queue(rec.deviceId, { kind: 'wipe', mode: rec.mode, reason: rec.reason }, ctx);
    } catch (e) {
      this.db.write(() => {
        this.store.failWipeRequest(rec.id, new Date().toISOString());
        this.audit.record({
          ...ctx, action: 'admin.wipe.failed', outcome: 'failure', reason: clipText(`the ${rec.platform} domain refused it: ${(e as Error).message}`, 300),
          target: { type: 'device', id: rec.deviceId }, details: { wipeRequest: rec.id, device: rec.deviceName },
        });
      });
      throw e;
    }
    this.db.write(() => {
      this.store.setWipeCommand(rec.id, command.id);
      this.audit.record({
        ...ctx, action: 'admin.wipe.queued', target: { type: 'device', id: rec.deviceId },
        details: { wipeRequest: rec.id, device: rec.deviceName, mode: rec.mode, command: command.id, type: command.type },
      });
    });
    return command;
  }

  rejectWipe(requestId: string, reason: string | undefined, ctx: AuditContext): WipeRequestRecord {
    this.expireOverdue();
    const now = new Date().toISOString();
    return this.db.write(() => {
      const cur = this.needPending(requestId);
      const by = `${ctx.actor.type}:${ctx.actor.id}`;
      this.store.decideWipeRequest(cur.id, { status: 'rejected', decidedBy: by, decidedAt: now, commandId: null });
      this.audit.record({
        ...ctx, action: 'admin.wipe.rejected', target: { type: 'device', id: cur.deviceId },
        details: { wipeRequest: cur.id, device: cur.deviceName, requestedBy: cur.requestedBy, why: reason ?? null },
      });
      return { ...cur, status: 'rejected', decidedBy: by, decidedAt: now };
    });
  }

  wipeRequests(opts: { status?: WipeRequestRecord['status']; limit: number }): WipeRequestRecord[] {
    this.expireOverdue();
    return this.store.wipeRequests(opts);
  }

  /** Marks pending requests past their time as expired (each an audit event). */
  expireOverdue(now = new Date().toISOString()): number {
    const overdue = this.store.overdueWipeRequests(now);
    if (overdue.length === 0) return 0;
    this.db.write(() => {
      for (const r of overdue) {
        this.store.decideWipeRequest(r.id, { status: 'expired', decidedBy: null, decidedAt: now, commandId: null });
        this.audit.record({
          actor: SYSTEM_ACTOR, action: 'admin.wipe.expired', target: { type: 'device', id: r.deviceId },
          details: { wipeRequest: r.id, device: r.deviceName, requestedBy: r.requestedBy },
        });
      }
    });
    return overdue.length;
  }

  private needRequest(id: string): WipeRequestRecord {
    const rec = this.store.wipeRequest(id);
    if (!rec) throw new AdminError('not_found', 'no_such_wipe_request', `no wipe request ${JSON.stringify(id.slice(0, 64))}`);
    return rec;
  }

  private needPending(id: string): WipeRequestRecord {
    const cur = this.needRequest(id);
    if (cur.status !== 'pending') throw new AdminError('conflict', 'wipe_request_decided', `wipe request ${cur.id} is ${cur.status}`);
    return cur;
  }
}
