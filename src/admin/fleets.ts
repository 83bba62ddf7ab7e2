// DeviceFleet (domains.ts) over the Apple MDM and Android services, typed by the shape of what they
// already expose (device views, command views, queueCommand) so the admin surface does not import
// either module. The mapping of an admin action to a platform command lives here, with the reason
// when a device cannot take it.
import { type AuditContext, clipText } from '../audit';
import {
  type DeviceAction, DeviceActionRefused, type DeviceCommandView, type DeviceDetail, type DeviceFleet, type DeviceQuery, type DeviceSummary,
} from './domains';

const LIST_ALL = 100_000;

/** Free-text match, filter and order shared by both platforms (their stores list by enrollment). */
function page(all: DeviceSummary[], q: DeviceQuery): { devices: DeviceSummary[]; total: number } {
  const needle = q.q?.trim().toLowerCase();
  const hits = all
    .filter((d) => !needle || [d.name, d.serialNumber, d.model, d.id].some((v) => v?.toLowerCase().includes(needle)))
    .filter((d) => q.compliant === undefined || d.compliant === q.compliant)
    .sort((a, b) => {
      if (q.sort === 'lastSeen' && a.lastSeenAt !== b.lastSeenAt) return (a.lastSeenAt ?? '') < (b.lastSeenAt ?? '') ? 1 : -1;
      return a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
  return { devices: hits.slice(q.offset, q.offset + q.limit), total: hits.length };
}

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
    list: (q) => page(source.devices({ limit: LIST_ALL }).map((d) => summaryOf(appleDetail(d))), q),
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
    name: `${maker && model && !model.toLowerCase().startsWith(maker.toLowerCase()) ? `${maker} ` : ''}${model ?? 'Android device'} ${serial ?? d.id.slice(0, 8)}`,
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
    list: (q) => page(source.devices(LIST_ALL, 0).map((d) => summaryOf(androidDetail(d))), q),
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
