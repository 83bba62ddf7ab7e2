// Precedence (docs/policy.md): default < unit < ward < role < device; floors take the strictest
// value of every layer, everything else the most specific layer that sets it.
import t from 'tap';
import { applyJsonPatch, compareVersions, diffJson, resolvePolicy, type PolicyLayer, type PolicySettings, type Scope } from '../../src/policy';

const layer = (scope: Scope, policy: string, settings: PolicySettings, target = scope === 'default' ? '' : `${scope}-x`): PolicyLayer => ({ scope, target, policy, version: 1, settings });

t.test('most specific wins for functional settings: device > role > ward > unit > default', async (t) => {
  const cam = (v: boolean) => ({ restrictions: { camera: v } });
  const all = [layer('default', 'd', cam(false)), layer('unit', 'u', cam(true)), layer('ward', 'w', cam(false)), layer('role', 'r', cam(true)), layer('device', 'dev', cam(false))];
  for (let n = 1; n <= all.length; n++) {
    const layers = all.slice(0, n);
    const e = resolvePolicy([...layers].reverse()); // input order does not matter
    const top = layers[layers.length - 1];
    t.equal(e.settings.restrictions?.camera, top.settings.restrictions!.camera, `${top.scope} wins with ${n} layers`);
    t.same(e.sources['restrictions.camera'].map((s) => s.policy), [top.policy]);
  }
  // A ward re-enables the camera its unit blocked (wound photography).
  const e = resolvePolicy([layer('unit', 'u', cam(false)), layer('ward', 'w', cam(true))]);
  t.equal(e.settings.restrictions?.camera, true);
});

t.test('floors: the strictest value of every layer wins; a narrower scope can tighten, never loosen', async (t) => {
  const unit: PolicySettings = { passcode: { required: true, minLength: 8, complexity: 'alphanumeric', maxInactivityMinutes: 5, maxFailedAttempts: 10, historyCount: 3, maxAgeDays: 90 }, encryption: { required: true } };
  const ward: PolicySettings = { passcode: { required: false, minLength: 6, complexity: 'numeric', maxInactivityMinutes: 2, maxFailedAttempts: 15, historyCount: 5, maxAgeDays: 180 }, encryption: { required: false } };
  const e = resolvePolicy([layer('unit', 'unit-policy', unit), layer('ward', 'ward-policy', ward)]);
  t.same(e.settings.passcode, { required: true, minLength: 8, complexity: 'alphanumeric', maxInactivityMinutes: 2, maxFailedAttempts: 10, historyCount: 5, maxAgeDays: 90 });
  t.equal(e.settings.encryption?.required, true);
  t.same(e.sources['passcode.minLength'].map((s) => s.policy), ['unit-policy'], 'loosening ignored: the unit floor stays');
  t.same(e.sources['passcode.maxInactivityMinutes'].map((s) => s.policy), ['ward-policy'], 'tightening taken');
  t.same(e.sources['passcode.historyCount'].map((s) => s.policy), ['ward-policy']);
  // Ties name the most specific layer.
  const tie = resolvePolicy([layer('default', 'd', { passcode: { minLength: 6 } }), layer('role', 'r', { passcode: { minLength: 6 } })]);
  t.same(tie.sources['passcode.minLength'].map((s) => s.scope), ['role']);
});

t.test('permissions that leak data: false anywhere wins', async (t) => {
  const e = resolvePolicy([
    layer('default', 'd', { restrictions: { screenCapture: false, usbFileTransfer: true, unknownSources: false } }),
    layer('device', 'dev', { restrictions: { screenCapture: true, usbFileTransfer: false, unknownSources: true, cloudBackup: true } }),
  ]);
  t.same(e.settings.restrictions, { screenCapture: false, usbFileTransfer: false, unknownSources: false, cloudBackup: true });
  t.same(e.sources['restrictions.screenCapture'].map((s) => s.scope), ['default']);
  t.same(e.sources['restrictions.usbFileTransfer'].map((s) => s.scope), ['device']);
});

t.test('minimum OS versions: the highest per platform, each from its own layer', async (t) => {
  const e = resolvePolicy([
    layer('default', 'd', { os: { minVersion: { ios: '16.4', android: '13' } } }),
    layer('ward', 'w', { os: { minVersion: { ios: '16.10', macos: '14.0' } } }),
    layer('role', 'r', { os: { minVersion: { ios: '16.9.1', android: '12' } } }),
  ]);
  t.same(e.settings.os?.minVersion, { ios: '16.10', macos: '14.0', android: '13' });
  t.same(e.sources['os.minVersion'].map((s) => s.policy).sort(), ['d', 'w']);
  t.ok(compareVersions('16.10', '16.9.1') > 0);
  t.equal(compareVersions('17', '17.0.0'), 0);
  t.ok(compareVersions('16.1', '17.0') < 0);
});

t.test('blocklists: every scope\'s entries apply; allowlists: the most specific one', async (t) => {
  const a = { name: 'A', apple: 'org.a.app' };
  const b = { name: 'B', android: 'org.b.app' };
  const c = { name: 'C', apple: 'org.c.app', android: 'org.c.app' };
  const e = resolvePolicy([
    layer('default', 'd', { apps: { block: [a, b], allow: [a, b, c] } }),
    layer('role', 'r', { apps: { block: [b, c], allow: [c] } }),
  ]);
  t.same(e.settings.apps?.block, [a, b, c], 'union without duplicates');
  t.same(e.settings.apps?.allow, [c]);
  t.same(e.sources['apps.block'].map((s) => s.policy), ['d', 'r']);
});

t.test('shift changes add up across scopes; breach actions come from the most specific policy', async (t) => {
  const e = resolvePolicy([
    layer('default', 'd', { mode: 'sharedClinicalTablet', sharedDevice: { shiftChanges: ['07:00', '19:00'] }, compliance: { onBreach: 'lock', onBreachByRule: { passcode: 'lock', osVersion: 'quarantine' } } }),
    layer('ward', 'w', { sharedDevice: { shiftChanges: ['19:00', '23:00'] }, compliance: { onBreach: 'mark', onBreachByRule: { passcode: 'quarantine' } } }),
  ]);
  t.same(e.settings.sharedDevice?.shiftChanges, ['07:00', '19:00', '23:00'], 'a ward adds its night shift to the hospital\'s');
  t.same(e.settings.compliance, { onBreach: 'mark', onBreachByRule: { passcode: 'quarantine' } }, 'the ward\'s breach actions replace the default\'s whole');
  t.same(e.sources['compliance.onBreachByRule'].map((s) => s.policy), ['w']);
});

t.test('mode sections do not follow a device into another mode', async (t) => {
  const shared: PolicySettings = { mode: 'sharedClinicalTablet', sharedDevice: { sessionTimeoutMinutes: 10, clearDataOnLogout: true } };
  const kiosk: PolicySettings = { mode: 'kiosk', kiosk: { app: { name: 'Check-in', apple: 'org.x.checkin' } } };
  const e = resolvePolicy([layer('unit', 'u', shared), layer('device', 'k', kiosk)]);
  t.equal(e.settings.mode, 'kiosk');
  t.ok(e.settings.kiosk);
  t.notOk(e.settings.sharedDevice, 'the unit\'s shared-device settings are dropped');
  t.notOk(e.sources['sharedDevice.sessionTimeoutMinutes']);
  const back = resolvePolicy([layer('unit', 'k', kiosk), layer('ward', 'u', shared)]);
  t.notOk(back.settings.kiosk);
  t.equal(back.settings.sharedDevice?.sessionTimeoutMinutes, 10);
});

t.test('the effective hash names the settings, not the way they were assembled', async (t) => {
  const one = resolvePolicy([layer('default', 'd', { passcode: { minLength: 6, required: true } })]);
  const two = resolvePolicy([layer('unit', 'u', { passcode: { required: true } }), layer('ward', 'w', { passcode: { minLength: 6 } })]);
  t.equal(one.hash, two.hash);
  t.match(one.hash, /^[0-9a-f]{32}$/);
  t.not(resolvePolicy([layer('default', 'd', { passcode: { minLength: 7, required: true } })]).hash, one.hash);
  t.same(resolvePolicy([]).settings, {});
  t.throws(() => resolvePolicy([layer('ward', 'a', {}), layer('ward', 'b', {})]), /two policies at scope ward/);
});

t.test('JSON Patch diff (RFC 6902) round-trips and escapes keys (RFC 6901)', async (t) => {
  const before = { passcode: { minLength: 6, required: true }, apps: { block: [{ name: 'A', apple: 'a.b' }] }, 'a/b~c': 1 };
  const after = { passcode: { minLength: 8, required: true }, apps: { block: [] }, encryption: { required: true } };
  const ops = diffJson(before, after);
  t.same(ops, [
    { op: 'remove', path: '/a~1b~0c' },
    { op: 'replace', path: '/passcode/minLength', value: 8 },
    { op: 'replace', path: '/apps/block', value: [] },
    { op: 'add', path: '/encryption', value: { required: true } },
  ]);
  t.same(applyJsonPatch(before, ops), after);
  t.same(diffJson(after, structuredClone(after)), []);
  t.same(applyJsonPatch({}, diffJson({}, after)), after);
  t.throws(() => applyJsonPatch({}, [{ op: 'replace', path: '/x/y', value: 1 }]), /does not exist/);
});
