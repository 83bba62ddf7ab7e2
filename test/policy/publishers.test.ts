// The Apple publisher hands a policy to many devices: every device gets its InstallProfile, a device
// that cannot take it is reported as failed without stopping the others, and devices are queued a
// burst at a time (so the Apple store's group commit writes a burst in one transaction) but never
// all at once.
import fs from 'node:fs';
import t from 'tap';
import { AuditLog } from '../../src/audit';
import { openDatabase } from '../../src/db';
import { PolicyService, applePublisher } from '../../src/policy';
import { loadTestConfig, writeTestConfig } from '../support/ward';

t.test('InstallProfile for every device, a burst at a time; failures reported, the rest still queued', async (t) => {
  const { file, doc, dir } = writeTestConfig();
  const db = openDatabase(loadTestConfig(file, doc).database.file);
  t.teardown(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const policies = new PolicyService({ db, audit: new AuditLog(db) });
  const devices = Array.from({ length: 100 }, (_, i) => `UDID-${i}`);
  const queued: Array<{ id: string; type: string }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const publisher = applePublisher({
    encoder: { serialize: (p) => JSON.stringify(p), sign: (content) => content },
    deviceContext: (id) => (id === 'UDID-7' ? undefined : { organization: 'Test Hospital' }),
    queueCommand: async (id, type) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Settles on a later turn of the event loop, as a group commit does.
      await new Promise((r) => setImmediate(r));
      inFlight--;
      if (id === 'UDID-42') throw new Error('no such device');
      queued.push({ id, type });
      return { uuid: `cmd-${queued.length}` };
    },
  });
  const reply = await publisher.onPolicyChanged(devices, policies.compiledFor({ deviceId: 'UDID-0' }));
  t.same(reply, { failed: ['UDID-42'] }, 'the device whose command could not be queued is reported');
  t.same(
    queued.map((q) => q.id).sort(),
    devices.filter((id) => id !== 'UDID-7' && id !== 'UDID-42').sort(),
    'every other device got its profile (a device that is gone is skipped)',
  );
  t.ok(queued.every((q) => q.type === 'InstallProfile'), 'InstallProfile each');
  t.ok(maxInFlight > 1, `devices queued together (${maxInFlight} at once), not one after the other`);
  t.ok(maxInFlight < devices.length, `but a burst at a time (${maxInFlight} of ${devices.length})`);
});
