// Device actions through the API against a fleet stand-in: lock queues the platform command, a wipe
// needs a reason, and with admin.wipe.requireSecondAdmin a full wipe waits for a second admin (a
// person, not the requester, not a token) before anything reaches the device.
import t from 'tap';
import { DeviceActionRefused } from '../../src/admin';
import {
  attachMissing, call, createPerson, eventsNamed, eventsOf, memoryDomains, signIn, startAdminWard, tokenCredential,
} from './support';

// Real servers (and for some, real processes) on a shared two-core machine.
t.setTimeout(120_000);

t.test('lock, search, commands; a platform refusal is a 4xx', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const d = memoryDomains(ward);
  attachMissing(ward, d.all);
  const ipad = d.apple.add({ name: 'Ward 4B nurse station iPad', serialNumber: 'DMPXK2ABCD' });
  d.android.add({ name: 'ICU tablet 2' });
  d.android.add({ name: 'ward 4b kiosk' });
  const op = await signIn(ward, await createPerson(ward, 'operator'));

  const found = (await call(ward, op, 'GET', '/devices?q=4b')).json();
  t.same(found.devices.map((x: { name: string }) => x.name), ['ward 4b kiosk', 'Ward 4B nurse station iPad'], 'search across both platforms, sorted by name (case-insensitive)');
  t.equal(found.total, 2);
  t.same((await call(ward, op, 'GET', '/devices?q=DMPXK2')).json().devices.map((x: { id: string }) => x.id), [ipad.id], 'by serial number');
  const paged = (await call(ward, op, 'GET', '/devices?limit=1&offset=1')).json();
  t.same([paged.devices.length, paged.total, paged.devices[0].name], [1, 3, 'ward 4b kiosk'], 'paging over the merged list');
  d.android.devices.get([...d.android.devices.keys()][0])!.lastSeenAt = new Date(Date.now() + 1000).toISOString();
  const recent = (await call(ward, op, 'GET', '/devices?sort=lastSeen&limit=1')).json().devices;
  t.same(recent.map((x: { name: string }) => x.name), ['ICU tablet 2'], 'sort=lastSeen: most recent check-in first');
  t.equal((await call(ward, op, 'GET', '/devices?limit=0')).status, 400, 'limit must be at least 1');
  t.equal((await call(ward, op, 'GET', '/devices?platform=windows')).status, 400, 'unknown platform');

  const lock = await call(ward, op, 'POST', `/devices/${ipad.id}/lock`, { message: 'Return to the 4B desk' });
  t.equal(lock.status, 202);
  t.match(lock.json(), { deviceId: ipad.id, type: 'DeviceLock', status: 'queued' }, 'the platform command is queued');
  t.match(eventsOf(ward, lock.requestId), [{ action: 'test.command.queued', actor: { id: op.name }, source: '127.0.0.1' }], 'recorded with who and from where');
  const cmds = (await call(ward, op, 'GET', `/devices/${ipad.id}/commands`)).json().commands;
  t.same(cmds.map((c: { type: string }) => c.type), ['DeviceLock'], 'and listed with the device');
  t.equal((await call(ward, op, 'POST', '/devices/nope-123/lock', {})).status, 404, 'unknown device');
  t.equal((await call(ward, op, 'POST', `/devices/${ipad.id}/lock`, { message: 'x'.repeat(201) })).status, 400, 'message too long');

  d.apple.queue = () => {
    throw new DeviceActionRefused(409, 'not_enrolled', 'the device checked out');
  };
  const refused = await call(ward, op, 'POST', `/devices/${ipad.id}/restart`);
  t.same([refused.status, refused.json().error], [409, 'not_enrolled'], 'DeviceActionRefused becomes its 4xx');
});

t.test('wipe: reason required, modes the device supports, queued at once without the two-person rule', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const d = memoryDomains(ward);
  attachMissing(ward, d.all);
  const byod = d.android.add({ name: 'Dr Who personal phone', mode: 'byod', wipeModes: ['selective'] });
  const op = await signIn(ward, await createPerson(ward, 'operator'));
  t.equal((await call(ward, op, 'POST', `/devices/${byod.id}/wipe`, { mode: 'selective' })).status, 400, 'no reason: 400');
  t.equal((await call(ward, op, 'POST', `/devices/${byod.id}/wipe`, { mode: 'selective', reason: '  ' })).status, 400, 'a blank reason: 400');
  const full = await call(ward, op, 'POST', `/devices/${byod.id}/wipe`, { mode: 'full', reason: 'left the hospital' });
  t.same([full.status, full.json().error], [409, 'wipe_mode_unsupported'], 'a BYOD phone only takes a selective wipe');
  const sel = await call(ward, op, 'POST', `/devices/${byod.id}/wipe`, { mode: 'selective', reason: 'left the hospital' });
  t.equal(sel.status, 202);
  t.match(sel.json(), { status: 'queued', command: { type: 'WIPE', status: 'queued' }, wipeRequest: { status: 'queued', reason: 'left the hospital' } });
  t.equal(sel.json().wipeRequest.commandId, sel.json().command.id, 'the request names the queued command');
  t.same(eventsOf(ward, sel.requestId).map((e) => e.action), ['admin.wipe.requested', 'test.command.queued', 'admin.wipe.queued'], 'reason on record before the command is queued');
  t.match(eventsNamed(ward, 'admin.wipe.requested'), [{ actor: { id: op.name }, details: { reason: 'left the hospital', mode: 'selective', needsSecondAdmin: false } }]);
});

t.test('two-person rule: requester cannot approve, tokens cannot, a second admin can; expiry', async (t) => {
  const ward = await startAdminWard({ wipe: { requireSecondAdmin: true, approvalMinutes: 30 } });
  t.teardown(() => ward.stop());
  const d = memoryDomains(ward);
  attachMissing(ward, d.all);
  const ipad = d.apple.add({ name: 'OR 3 anaesthesia iPad' });
  const ann = await signIn(ward, await createPerson(ward, 'admin', 'ann'));
  const ben = await signIn(ward, await createPerson(ward, 'admin', 'ben'));
  const op = await signIn(ward, await createPerson(ward, 'operator'));
  const adminToken = tokenCredential(ward, 'admin');

  const asked = await call(ward, ann, 'POST', `/devices/${ipad.id}/wipe`, { mode: 'full', reason: 'stolen from OR 3' });
  t.equal(asked.status, 202);
  const req = asked.json().wipeRequest;
  t.match(asked.json(), { status: 'pending', wipeRequest: { status: 'pending', requestedBy: 'admin:ann', deviceName: 'OR 3 anaesthesia iPad' } });
  t.notOk(asked.json().command, 'nothing queued yet');
  t.equal(d.apple.commands(ipad.id, { limit: 10 }).length, 0, 'the device has no command');
  t.match((await call(ward, op, 'GET', `/devices/${ipad.id}`)).json().pendingWipe, { id: req.id }, 'the device page shows the pending wipe');
  t.equal((await call(ward, op, 'POST', `/devices/${ipad.id}/wipe`, { mode: 'full', reason: 'again' })).status, 409, 'one pending wipe a device');

  const self = await call(ward, ann, 'POST', `/wipe-requests/${req.id}/approve`);
  t.same([self.status, self.json().error], [403, 'same_person'], 'the requester cannot approve');
  t.match(eventsOf(ward, self.requestId), [{ action: 'admin.wipe.approved', outcome: 'failure', actor: { id: 'ann' } }], 'the attempt is recorded');
  const byToken = await call(ward, adminToken, 'POST', `/wipe-requests/${req.id}/approve`);
  t.same([byToken.status, byToken.json().error], [403, 'person_required'], 'an admin API token cannot approve');
  t.equal((await call(ward, op, 'POST', `/wipe-requests/${req.id}/approve`)).status, 403, 'an operator cannot approve');
  t.equal(d.apple.commands(ipad.id, { limit: 10 }).length, 0, 'still nothing queued');

  const ok = await call(ward, ben, 'POST', `/wipe-requests/${req.id}/approve`);
  t.equal(ok.status, 202);
  t.match(ok.json(), { status: 'queued', command: { type: 'EraseDevice' }, wipeRequest: { status: 'queued', decidedBy: 'admin:ben' } });
  t.same(d.apple.commands(ipad.id, { limit: 10 }).map((c) => [c.type, c.requestedBy]), [['EraseDevice', 'admin:ben']], 'the wipe is queued once, by the approver');
  t.same(eventsOf(ward, ok.requestId).map((e) => e.action), ['admin.wipe.approved', 'test.command.queued', 'admin.wipe.queued'], 'approval on record before the platform queues it');
  t.equal((await call(ward, ben, 'POST', `/wipe-requests/${req.id}/approve`)).status, 409, 'approving twice: conflict');

  const other = d.apple.add({ name: 'Ward 2 iPad' });
  const r2 = (await call(ward, ann, 'POST', `/devices/${other.id}/wipe`, { mode: 'full', reason: 'lost' })).json().wipeRequest;
  const rej = await call(ward, ben, 'POST', `/wipe-requests/${r2.id}/reject`, { reason: 'found in the locker' });
  t.match([rej.status, rej.json().status], [200, 'rejected']);
  t.equal(d.apple.commands(other.id, { limit: 10 }).length, 0, 'a rejected wipe never reaches the device');

  const gone = d.apple.add({ name: 'Ward 5 iPad' });
  const r4 = (await call(ward, ann, 'POST', `/devices/${gone.id}/wipe`, { mode: 'full', reason: 'lost' })).json().wipeRequest;
  const realQueue = d.apple.queue.bind(d.apple);
  d.apple.queue = () => {
    throw new DeviceActionRefused(409, 'checked_out', 'the device has checked out');
  };
  const refused = await call(ward, ben, 'POST', `/wipe-requests/${r4.id}/approve`);
  d.apple.queue = realQueue;
  t.same([refused.status, refused.json().error], [409, 'checked_out'], 'the platform refusing the approved wipe: its 4xx');
  t.same(eventsOf(ward, refused.requestId).map((e) => [e.action, e.outcome]), [['admin.wipe.approved', 'success'], ['admin.wipe.failed', 'failure']], 'recorded as approved, then failed');
  t.match((await call(ward, op, 'GET', '/wipe-requests?status=rejected')).json().wipeRequests, [{ id: r4.id, decidedBy: 'system:ward' }], 'the request ends, decided by Ward');

  const third = d.apple.add({ name: 'Ward 3 iPad' });
  const r3 = (await call(ward, ann, 'POST', `/devices/${third.id}/wipe`, { mode: 'full', reason: 'lost' })).json().wipeRequest;
  ward.db.sqlite.prepare('UPDATE admin_wipe_requests SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), r3.id);
  const late = await call(ward, ben, 'POST', `/wipe-requests/${r3.id}/approve`);
  t.same([late.status, late.json().error], [409, 'wipe_request_decided'], 'an expired request cannot be approved');
  t.equal(eventsNamed(ward, 'admin.wipe.expired').length, 1, 'expiry is an event');
  t.same((await call(ward, op, 'GET', '/wipe-requests')).json().wipeRequests.map((r: { status: string }) => r.status), ['expired', 'rejected', 'rejected', 'queued']);
  t.equal(ward.admin.housekeeping().wipeRequests, 0, 'housekeeping has nothing left to expire');
});
