// apple.apns.enabled: false — no push ever leaves Ward; queued commands wait for the device's next
// check-in.
import t from 'tap';
import { request } from '../support/ward';
import { startAppleWard, type AppleHarness } from './harness';
import { typicalAnswer } from './simulator';
import type { PlistDict } from '../../src/apple/plist';

// Enrollments run scepclient and openssl: slow when the machine is busy.
t.setTimeout(240_000);

let h: AppleHarness;
t.before(async () => {
  h = await startAppleWard({ apple: { apns: { enabled: false } } });
});
t.teardown(() => h?.stop());

t.test('pushes disabled: nothing sent, commands delivered at the next check-in', async (t) => {
  const d = await h.enroll();
  const cmd = await h.apple.service.queueCommand(d.udid, 'EnableLostMode', { Message: 'Found? Call the ICU desk' }, { actor: { type: 'cli', id: 'test' } });
  t.same(await cmd.push, { status: 'disabled' });
  const seen = await d.session(typicalAnswer(d));
  t.same(
    seen.map((c) => (c.Command as PlistDict).RequestType),
    ['DeviceInformation', 'SecurityInfo', 'EnableLostMode'],
    'initial commands and the queued one, in order, when the device checks in',
  );
  t.equal(h.apns.requests.length, 0, 'the APNs stand-in never heard from Ward');
  const health = (await request(`${h.ward.httpsUrl}/healthz`, { agent: h.ward.agent() })).json();
  t.equal(health.checks.apple.details.apns, 'disabled');
});
