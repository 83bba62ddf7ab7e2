// The fleet adapters: Apple and Android device views mapped to the admin surface, actions mapped to
// the platform's commands (or refused with a reason), and, end to end, a device enrolled through
// Ward's real Android service found, locked and wiped through /api/v1.
import t from 'tap';
import { type AppleDeviceSource, DeviceActionRefused, androidFleetOf, appleFleetOf } from '../../src/admin';
import { ADMIN_CTX, call, enrollAndroid, eventsOf, startAdminWard, tokenCredential } from './support';

t.setTimeout(120_000);

const base = {
  enrollmentType: 'device', status: 'enrolled', group: 'default', certificateSerial: 'abc123', serialNumber: 'F9FXK0LXQ1GC', model: 'iPad13,18',
  modelName: 'iPad', productName: 'iPad13,18', osVersion: '17.5', deviceName: 'Ward 4B iPad', encrypted: true, passcodePresent: true,
  passcodeCompliant: true, facts: { BatteryLevel: 0.5 }, authenticatedAt: '2026-01-01T00:00:00.000Z', enrolledAt: '2026-01-01T00:00:01.000Z', lastSeenAt: '2026-01-02T00:00:00.000Z',
};

function appleSource() {
  const queued: { type: string; params: unknown }[] = [];
  const devices = [
    { ...base, id: 'UDID-1' },
    { ...base, id: 'ENR-2', enrollmentType: 'user-enrollment-device', deviceName: null, serialNumber: null, modelName: null },
    { ...base, id: 'UDID-3', status: 'checked-out', deviceName: 'Old iPad' },
  ];
  const commands = new Map<string, { uuid: string; requestType: string; status: string; queuedAt: string; queuedBy: string; sentAt: null; answeredAt: null; errorChain: null }>();
  const source: AppleDeviceSource = {
    devices: () => devices,
    device: (id) => {
      const d = devices.find((x) => x.id === id);
      return d && { ...d, commands: [...commands.values()] };
    },
    command: (uuid) => commands.get(uuid),
    queueCommand: async (deviceId, type, params, ctx) => {
      queued.push({ type, params });
      const uuid = `uuid-${queued.length}`;
      commands.set(uuid, { uuid, requestType: type, status: 'not-now', queuedAt: new Date().toISOString(), queuedBy: `${ctx.actor.type}:${ctx.actor.id}`, sentAt: null, answeredAt: null, errorChain: null });
      return { uuid };
    },
  };
  return { source, queued };
}

t.test('Apple: names, BYOD limits, commands', async (t) => {
  const { source, queued } = appleSource();
  const fleet = appleFleetOf(source);
  const list = await fleet.list({ limit: 10, offset: 0 });
  t.same(list.devices.map((d) => d.name), ['iPad13,18 ENR-2', 'Old iPad', 'Ward 4B iPad'], 'device name, else model and id; sorted by name');
  t.same((await fleet.list({ q: 'f9fxk', limit: 10, offset: 0 })).devices.map((d) => d.id), ['UDID-3', 'UDID-1'], 'search by serial number');
  const byod = (await fleet.device('ENR-2'))!;
  t.same([byod.mode, byod.wipeModes], ['byod', []], 'User Enrollment: BYOD, no wipe Ward may send');
  t.same((await fleet.device('UDID-3'))!.wipeModes, [], 'a checked-out device takes no wipe');
  t.same((await fleet.device('UDID-1'))!.certificates, ['abc123']);
  const lock = await fleet.queue('UDID-1', { kind: 'lock', message: 'Call 4B', phoneNumber: '+1 555 0100' }, ADMIN_CTX);
  t.match(lock, { id: 'uuid-1', type: 'DeviceLock', status: 'notnow', requestedBy: 'cli:test' }, 'NotNow shows as notnow');
  t.same(queued[0], { type: 'DeviceLock', params: { Message: 'Call 4B', PhoneNumber: '+1 555 0100' } }, 'DeviceLock with Message and PhoneNumber');
  await fleet.queue('UDID-1', { kind: 'wipe', mode: 'full', reason: 'stolen' }, ADMIN_CTX);
  await fleet.queue('UDID-1', { kind: 'refresh' }, ADMIN_CTX);
  t.same(queued.slice(1).map((q) => q.type), ['EraseDevice', 'DeviceInformation']);
  await t.rejects(async () => fleet.queue('ENR-2', { kind: 'lock' }, ADMIN_CTX), DeviceActionRefused, 'no DeviceLock for User Enrollment');
  const refusal = async (p: Promise<unknown> | unknown) => {
    try {
      await p;
    } catch (e) {
      return e as DeviceActionRefused;
    }
    return undefined;
  };
  t.match(await refusal(fleet.queue('UDID-3', { kind: 'restart' }, ADMIN_CTX)), { status: 409, code: 'checked_out' }, 'a checked-out device: 409');
  t.match(await refusal(fleet.queue('nope', { kind: 'restart' }, ADMIN_CTX)), { status: 404 }, 'unknown device: 404');
  t.equal(queued.length, 3, 'nothing queued for the refusals');
});

t.test('a fleet of more than 100,000 devices is listed whole, in name order', async (t) => {
  // The source honours limit and offset as the Apple store does; the adapter used to read one
  // 100,000-device page and stop there.
  const n = 100_050;
  const name = (i: number) => `Bed ${String(n - i).padStart(6, '0')}`; // listed in reverse of the source's order
  const source: AppleDeviceSource = {
    devices: ({ limit = 1000, offset = 0 }) => Array.from({ length: Math.max(0, Math.min(limit, n - offset)) }, (_, k) => ({ ...base, id: `UDID-${offset + k}`, deviceName: name(offset + k) })),
    device: () => undefined,
    command: () => undefined,
    queueCommand: async () => ({ uuid: 'unused' }),
  };
  const first = await appleFleetOf(source).list({ limit: 3, offset: 0 });
  t.equal(first.total, n, 'every device counted');
  t.same(first.devices.map((d) => d.name), [name(n - 1), name(n - 2), name(n - 3)], 'the first page holds devices past the first 100,000 read');
});

t.test("Android, end to end: a device enrolled through Ward's Android service, found, locked and wiped through the API", async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  if (!ward.admin.attached().includes('devices')) ward.admin.attach({ fleets: [androidFleetOf(ward.android)] });
  const enrolled = { deviceId: enrollAndroid(ward, { model: 'Pixel 8', serialNumber: 'ANDR4B0001' }) };
  const op = tokenCredential(ward, 'operator');

  const found = (await call(ward, op, 'GET', '/devices?q=andr4b')).json();
  t.same(found.devices.map((d: { id: string; name: string; platform: string; mode: string }) => [d.id, d.name, d.platform, d.mode]), [[enrolled.deviceId, 'Google Pixel 8 ANDR4B0001', 'android', 'corporate']], 'found by serial');
  const detail = (await call(ward, op, 'GET', `/devices/${enrolled.deviceId}`)).json();
  t.same(detail.wipeModes, ['full'], 'a fully managed device takes a full wipe');
  t.equal(detail.certificates.length, 1, 'its identity certificate serial');

  const lock = await call(ward, op, 'POST', `/devices/${enrolled.deviceId}/lock`, { message: 'Return to ward 4B' });
  t.equal(lock.status, 202);
  t.match(lock.json(), { type: 'LOCK', status: 'queued', requestedBy: `admin:token:${op.id}` }, 'LOCK queued by the operator');
  t.match(eventsOf(ward, lock.requestId), [{ action: 'android.command.queued', details: { type: 'LOCK' } }], "the Android domain's own audit event");
  t.same(ward.android.commandsOf(enrolled.deviceId).map((c) => [c.type, c.payload.message]), [['LOCK', 'Return to ward 4B']], 'the agent will receive it');

  const wipe = await call(ward, op, 'POST', `/devices/${enrolled.deviceId}/wipe`, { mode: 'full', reason: 'left in a taxi' });
  t.equal(wipe.status, 202);
  t.same(eventsOf(ward, wipe.requestId).map((e) => e.action), ['admin.wipe.requested', 'android.command.queued', 'admin.wipe.queued', 'admin.token.used'], 'reason on record, then the platform command, then the token use');
  t.match(ward.android.commandsOf(enrolled.deviceId)[0], { type: 'WIPE', payload: { scope: 'full', reason: 'left in a taxi' } });
  const refresh = await call(ward, op, 'POST', `/devices/${enrolled.deviceId}/refresh`);
  t.same([refresh.status, refresh.json().error], [409, 'unsupported'], 'Android has no refresh command: said so');
  const cmds = (await call(ward, op, 'GET', `/devices/${enrolled.deviceId}/commands`)).json().commands;
  t.same(cmds.map((c: { type: string }) => c.type).sort(), ['LOCK', 'WIPE'], 'both commands listed');
  // Its history: Ward's audit log, newest first, enrollment through the wipe.
  const history = (await call(ward, op, 'GET', `/devices/${enrolled.deviceId}/history?limit=50`)).json().events as { seq: number; action: string; details: { type?: string } }[];
  const seqs = history.map((e) => e.seq);
  t.same(seqs, [...seqs].sort((a, b) => b - a), 'newest first');
  const queued = history.filter((e) => e.action === 'android.command.queued').map((e) => e.details.type);
  t.same(queued, ['WIPE', 'LOCK'], 'the lock and the wipe are in the device history');
  t.ok(history.some((e) => e.action.startsWith('android.device.enrolled') || e.action.startsWith('android.enrollment')), 'and how it enrolled');
  const paged = (await call(ward, op, 'GET', `/devices/${enrolled.deviceId}/history?limit=1&beforeSeq=${seqs[0]}`)).json().events;
  t.same(paged.map((e: { seq: number }) => e.seq), [seqs[1]], 'paging backwards by beforeSeq');
});
