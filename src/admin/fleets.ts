// DeviceFleet (domains.ts) over the Apple MDM and Android services, typed by the shape of what they
// already expose (device views, command views, queueCommand) so the admin surface does not import
// either module. The mapping of an admin action to a platform command lives here, with the reason
// when a device cannot take it.
import { type AuditContext, clipText } from '../audit';
import { deviceOrder, foldCase } from './devices';
import {
  type DeviceAction, DeviceActionRefused, type DeviceCommandView, type DeviceDetail, type DeviceFleet, type DeviceKey, type DeviceQuery, type DeviceSummary,
} from './domains';

const LIST_CHUNK = 100_000;

/** Every device of a source, LIST_CHUNK at a time: a fleet larger than one chunk is listed whole. */
function everyDevice<T>(read: (limit: number, offset: number) => T[]): T[] {
  const all: T[] = [];
  for (let offset = 0; ; offset += LIST_CHUNK) {
    const chunk = read(LIST_CHUNK, offset);
    for (const d of chunk) all.push(d);
    if (chunk.length < LIST_CHUNK) return all;
  }
}

/** A page of a platform's devices in the list's order, filtered in SQL (the stores' devicePage). */
export interface DevicePageQuery {
  /** ASCII-lowercased free text, matched in name, serial number, model and id. */
  search?: string;
  sort: 'name' | 'lastSeen';
  limit: number;
  offset: number;
}

const needleOf = (q: DeviceQuery) => foldCase(q.q?.trim() ?? '') || undefined;

/** Free-text match, filter and order over a whole listing: for a source that cannot page. */
function page(all: DeviceSummary[], q: DeviceQuery): { devices: DeviceSummary[]; total: number } {
  const needle = needleOf(q);
  const hits = all
    .filter((d) => !needle || [d.name, d.serialNumber, d.model, d.id].some((v) => v != null && foldCase(v).includes(needle)))
    .filter((d) => q.compliant === undefined || d.compliant === q.compliant)
    .sort(deviceOrder(q.sort));
  return { devices: hits.slice(q.offset, q.offset + q.limit), total: hits.length };
}

/**
 * The fleet's list: the platform's SQL page when it has one, else every device read and sorted.
 * Both platforms give no compliance verdict of their own (compliant: null, the admin side fills
 * it in from src/policy after paging), so a compliant filter matches none of their devices.
 */
function listOf<T>(
  q: DeviceQuery,
  summary: (d: T) => DeviceSummary,
  all: (limit: number, offset: number) => T[],
  paged?: (p: DevicePageQuery) => { devices: T[]; total: number },
): { devices: DeviceSummary[]; total: number } {
  if (!paged) return page(everyDevice((limit, offset) => all(limit, offset).map(summary)), q);
  if (q.compliant !== undefined) return { devices: [], total: 0 };
  const p = paged(pageOf(q));
  return { devices: p.devices.map(summary), total: p.total };
}

const pageOf = (q: DeviceQuery): DevicePageQuery => ({ search: needleOf(q), sort: q.sort ?? 'name', limit: q.limit, offset: q.offset });

type KeySource = (p: DevicePageQuery) => { keys: DeviceKey[]; total: number };

/** DeviceFleet.keys over a source that pages (the same compliant rule as listOf). */
const keysOf = (keys: KeySource | undefined): Pick<DeviceFleet, 'keys'> =>
  keys ? { keys: (q) => (q.compliant !== undefined ? { keys: [], total: 0 } : keys(pageOf(q))) } : {};

const summaryOf = ({ facts: _f, compliance: _c, wipeModes: _w, certificates: _x, ...s }: DeviceDetail): DeviceSummary => s;

// ---- Apple (src/apple AppleMdmService)

export interface AppleDeviceLike {
  id: string;
  enrollmentType: string;
  status: string;
  group: string;
  certificateSerial: string;
  serialNumber: string | null;
  model: string | null;
  modelName: string | null;
  productName: string | null;
  osVersion: string | null;
  deviceName: string | null;
  encrypted: boolean | null;
  passcodePresent: boolean | null;
  passcodeCompliant: boolean | null;
  facts: Record<string, unknown>;
  authenticatedAt: string;
  enrolledAt: string | null;
  lastSeenAt: string | null;
}

export interface AppleCommandLike {
  uuid: string;
  requestType: string;
  status: string;
  queuedAt: string;
  queuedBy: string;
  sentAt: string | null;
  answeredAt: string | null;
  errorChain: unknown[] | null;
}

export interface AppleDeviceSource {
  devices(opts: { limit?: number; offset?: number }): AppleDeviceLike[];
  /** AppleMdmService.devicePage; a source without it is listed whole. */
  devicePage?(opts: DevicePageQuery): { devices: AppleDeviceLike[]; total: number };
  deviceKeys?(opts: DevicePageQuery): { keys: DeviceKey[]; total: number };
  device(id: string): (AppleDeviceLike & { commands: AppleCommandLike[] }) | undefined;
  command(uuid: string): AppleCommandLike | undefined;
  queueCommand(deviceId: string, type: string, params: unknown, ctx: AuditContext): Promise<{ uuid: string }>;
}

const APPLE_STATUS: Record<string, DeviceCommandView['status']> = {
  queued: 'queued', sent: 'sent', acknowledged: 'acknowledged', error: 'error', 'command-format-error': 'error', 'not-now': 'notnow', expired: 'canceled',
};

/** Apple User Enrollment (BYOD): Apple allows neither DeviceLock nor EraseDevice there. */
const isUserEnrollment = (d: AppleDeviceLike) => d.enrollmentType.startsWith('user-enrollment');

function appleDetail(d: AppleDeviceLike): DeviceDetail {
  const label = d.modelName ?? d.productName ?? 'Apple device';
  return {
    id: d.id,
    platform: 'apple',
    // Migration 0010 computes the same name in SQL (apple_devices.display_name) to page by it.
    name: d.deviceName ?? `${label} ${d.serialNumber ?? d.id.slice(0, 8)}`,
    model: d.modelName ?? d.productName ?? d.model,
    osVersion: d.osVersion,
    serialNumber: d.serialNumber,
    mode: isUserEnrollment(d) ? 'byod' : null,
    enrolledAt: d.enrolledAt ?? d.authenticatedAt,
    lastSeenAt: d.lastSeenAt,
    compliant: null,
    facts: {
      status: d.status, enrollmentType: d.enrollmentType, group: d.group, encrypted: d.encrypted, passcodePresent: d.passcodePresent,
      passcodeCompliant: d.passcodeCompliant, ...d.facts,
    },
    compliance: null,
    wipeModes: d.status === 'checked-out' || isUserEnrollment(d) ? [] : ['full'],
    certificates: [d.certificateSerial],
  };
}

function appleCommand(deviceId: string, c: AppleCommandLike): DeviceCommandView {
  return {
    id: c.uuid, deviceId, type: c.requestType, status: APPLE_STATUS[c.status] ?? 'queued', queuedAt: c.queuedAt, updatedAt: c.answeredAt ?? c.sentAt,
    requestedBy: c.queuedBy, result: c.errorChain ? { errorChain: c.errorChain } : null,
  };
}

export function appleFleetOf(source: AppleDeviceSource): DeviceFleet {
  return {
    platform: 'apple',
    list: (q) => listOf(q, (d: AppleDeviceLike) => summaryOf(appleDetail(d)), (limit, offset) => source.devices({ limit, offset }), source.devicePage?.bind(source)),
    ...keysOf(source.deviceKeys?.bind(source)),
    device: (id) => {
      const d = source.device(id);
      return d && appleDetail(d);
    },
    commands: (id, { limit }) => (source.device(id)?.commands ?? []).slice(0, limit).map((c) => appleCommand(id, c)),
    async queue(id, action: DeviceAction, ctx) {
      const d = source.device(id);
      if (!d) throw new DeviceActionRefused(404, 'no_such_device', `no Apple device ${id}`);
      if (d.status === 'checked-out') throw new DeviceActionRefused(409, 'checked_out', `${appleDetail(d).name} has checked out (unenrolled)`);
      let type: string;
      let params: Record<string, unknown> = {};
      switch (action.kind) {
        case 'lock':
          if (isUserEnrollment(d)) throw new DeviceActionRefused(409, 'unsupported', 'Apple does not allow locking a User Enrollment (BYOD) device');
          type = 'DeviceLock';
          params = { ...(action.message ? { Message: action.message } : {}), ...(action.phoneNumber ? { PhoneNumber: action.phoneNumber } : {}) };
          break;
        case 'wipe':
          if (isUserEnrollment(d) || action.mode !== 'full') throw new DeviceActionRefused(409, 'wipe_mode_unsupported', 'this Apple device takes only a full wipe (EraseDevice)');
          type = 'EraseDevice';
          break;
        case 'restart':
          type = 'RestartDevice';
          break;
        case 'refresh':
          type = 'DeviceInformation';
          break;
      }
      const { uuid } = await source.queueCommand(id, type, params, ctx);
      const c = source.command(uuid);
      return c ? appleCommand(id, c) : { id: uuid, deviceId: id, type, status: 'queued', queuedAt: new Date().toISOString(), updatedAt: null, requestedBy: `${ctx.actor.type}:${ctx.actor.id}`, result: null };
    },
  };
}

// ---- Android (src/android AndroidService)

export interface AndroidDeviceLike {
  id: string;
  mode: string;
  policyGroup: string;
  state: string;
  certSerial: string;
  facts: Record<string, unknown>;
  status: Record<string, unknown> | null;
  statusAt: string | null;
  lastSeenAt: string;
  enrolledAt: string;
}

export interface AndroidCommandLike {
  id: string;
  deviceId: string;
  type: string;
  status: string;
  queuedAt: string;
  queuedBy: string;
  sentAt: string | null;
  acknowledgedAt: string | null;
  completedAt: string | null;
  result: Record<string, unknown> | null;
}

export interface AndroidDeviceSource {
  devices(limit?: number, offset?: number): AndroidDeviceLike[];
  /** AndroidService.devicePage; a source without it is listed whole. */
  devicePage?(opts: DevicePageQuery): { devices: AndroidDeviceLike[]; total: number };
  deviceKeys?(opts: DevicePageQuery): { keys: DeviceKey[]; total: number };
  device(id: string): AndroidDeviceLike | undefined;
  commandsOf(deviceId: string, limit?: number): AndroidCommandLike[];
  queueCommand(deviceId: string, type: string, params: unknown, ctx: AuditContext): AndroidCommandLike;
}

const ANDROID_STATUS: Record<string, DeviceCommandView['status']> = {
  queued: 'queued', sent: 'sent', acknowledged: 'acknowledged', done: 'acknowledged', failed: 'error', not_supported: 'error', cancelled: 'canceled',
};

const text = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

function androidDetail(d: AndroidDeviceLike): DeviceDetail {
  const model = text(d.status?.model) ?? text(d.facts.model);
  const serial = text(d.facts.serialNumber);
  const maker = text(d.facts.manufacturer);
  return {
    id: d.id,
    platform: 'android',
    // Migration 0010 computes the same name in SQL (android_devices.display_name) to page by it.
    name: `${maker && model && !foldCase(model).startsWith(foldCase(maker)) ? `${maker} ` : ''}${model ?? 'Android device'} ${serial ?? d.id.slice(0, 8)}`,
    model,
    osVersion: text(d.status?.androidVersion) ?? text(d.facts.androidVersion),
    serialNumber: serial,
    mode: d.mode === 'work_profile' ? 'byod' : 'corporate',
    enrolledAt: d.enrolledAt,
    lastSeenAt: d.lastSeenAt,
    compliant: null,
    facts: { state: d.state, enrollmentMode: d.mode, policyGroup: d.policyGroup, ...d.facts, ...(d.status ?? {}), statusAt: d.statusAt },
    compliance: null,
    wipeModes: d.state !== 'active' ? [] : d.mode === 'work_profile' ? ['selective'] : ['full'],
    certificates: [d.certSerial],
  };
}

function androidCommand(c: AndroidCommandLike): DeviceCommandView {
  return {
    id: c.id, deviceId: c.deviceId, type: c.type, status: ANDROID_STATUS[c.status] ?? 'queued', queuedAt: c.queuedAt,
    updatedAt: c.completedAt ?? c.acknowledgedAt ?? c.sentAt, requestedBy: c.queuedBy,
    result: c.result || c.status !== ANDROID_STATUS[c.status] ? { agentStatus: c.status, ...(c.result ?? {}) } : null,
  };
}

export function androidFleetOf(source: AndroidDeviceSource): DeviceFleet {
  return {
    platform: 'android',
    list: (q) => listOf(q, (d: AndroidDeviceLike) => summaryOf(androidDetail(d)), (limit, offset) => source.devices(limit, offset), source.devicePage?.bind(source)),
    ...keysOf(source.deviceKeys?.bind(source)),
    device: (id) => {
      const d = source.device(id);
      return d && androidDetail(d);
    },
    commands: (id, { limit }) => source.commandsOf(id, limit).map(androidCommand),
    queue(id, action: DeviceAction, ctx) {
      const d = source.device(id);
      if (!d) throw new DeviceActionRefused(404, 'no_such_device', `no Android device ${id}`);
      switch (action.kind) {
        case 'lock':
          return androidCommand(source.queueCommand(id, 'LOCK', action.message ? { message: action.message } : {}, ctx));
        case 'wipe':
          return androidCommand(source.queueCommand(id, 'WIPE', { scope: action.mode === 'full' ? 'full' : 'work_profile', reason: clipText(action.reason, 200) }, ctx));
        case 'restart':
          return androidCommand(source.queueCommand(id, 'REBOOT', {}, ctx));
        case 'refresh':
          throw new DeviceActionRefused(409, 'unsupported', 'Android agents report their status on their own schedule; there is no refresh command');
      }
    },
  };
}
