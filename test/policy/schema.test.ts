// The policy model: the schema validates, every setting names real safeguards, the templates are
// valid, and explain maps settings to 45 CFR 164.3xx (in code and through wardctl).
import t from 'tap';
import fs from 'node:fs';
import {
  COMPLIANCE_RULES, SAFEGUARDS, SETTING_SPECS, TEMPLATES, explainSettings, explanationText, policyProblems, policySettingsSchema,
} from '../../src/policy';
import { createAjv } from '../../src/policy/schema';
import { wardctl, writeTestConfig } from '../support/ward';

t.test('every setting has a merge rule and names safeguards of the catalogue', async (t) => {
  const ids = new Set(SAFEGUARDS.map((g) => g.id));
  t.ok(SETTING_SPECS.length >= 35, `${SETTING_SPECS.length} settings`);
  for (const s of SETTING_SPECS) {
    t.ok(s.safeguards.length > 0, `${s.path} names a safeguard`);
    for (const id of s.safeguards) t.ok(ids.has(id), `${s.path}: ${id} is in the catalogue`);
    t.match(s.merge, /^(specific|max|min|maxVersion|or|and|union)$/, `${s.path} merge rule`);
  }
  // The settings the issue lists are all in the model.
  const paths = SETTING_SPECS.map((s) => s.path);
  for (const p of [
    'passcode.minLength', 'passcode.complexity', 'passcode.maxInactivityMinutes', 'passcode.maxFailedAttempts', 'passcode.historyCount', 'passcode.maxAgeDays',
    'encryption.required', 'os.minVersion', 'os.maxSecurityPatchAgeDays', 'restrictions.camera', 'restrictions.screenCapture', 'apps.allow', 'apps.block',
    'restrictions.unknownSources', 'restrictions.cloudBackup', 'restrictions.usbFileTransfer', 'managedAppConfig', 'wifi', 'vpn', 'mode',
  ]) {
    t.ok(paths.includes(p), `model has ${p}`);
  }
  // Every safeguard the issue names is served by at least one setting.
  const served = new Set(SETTING_SPECS.flatMap((s) => s.safeguards));
  for (const id of ['164.312(a)(1)', '164.312(a)(2)(iii)', '164.312(a)(2)(iv)', '164.312(b)', '164.312(c)(1)', '164.312(e)(1)', '164.310(d)(1)']) {
    t.ok(served.has(id), `${id} is served`);
  }
  t.same(COMPLIANCE_RULES.length, 7);
});

t.test('the schema is a valid JSON Schema for a strict ajv and documents each setting', async (t) => {
  const ajv = createAjv();
  t.doesNotThrow(() => ajv.compile(policySettingsSchema));
  for (const s of SETTING_SPECS) t.ok(s.description.length > 5 || s.schema.type === 'object', `${s.path} has a description`);
});

t.test('the four HIPAA templates are valid, one per mode', async (t) => {
  t.same(TEMPLATES.map((x) => x.name), ['hipaa-shared-nursing-tablet', 'hipaa-clinician-corporate-phone', 'hipaa-clinician-byod-phone', 'hipaa-patient-checkin-kiosk']);
  t.same(TEMPLATES.map((x) => x.settings.mode), ['sharedClinicalTablet', 'corporate', 'byod', 'kiosk']);
  for (const tpl of TEMPLATES) {
    t.same(policyProblems(tpl.settings), [], `${tpl.name} is valid`);
    t.equal(tpl.settings.passcode?.required, true, `${tpl.name} requires a passcode`);
    t.equal(tpl.settings.encryption?.required, true, `${tpl.name} requires encryption`);
    t.equal(tpl.settings.restrictions?.cloudBackup, false, `${tpl.name} blocks cloud backup of managed data`);
  }
});

t.test('invalid policies are refused with every problem named', async (t) => {
  t.same(policyProblems({ passcode: { minLength: 2, colour: 'red' } }), ['/passcode: unknown setting "colour"', '/passcode/minLength: must be >= 4']);
  t.same(policyProblems({ mode: 'tablet' }), ['/mode: must be one of corporate, sharedClinicalTablet, kiosk, byod']);
  t.same(policyProblems({ mode: 'kiosk' }), ['/kiosk: mode kiosk needs kiosk.app, the one app the device runs']);
  t.same(policyProblems({ mode: 'corporate', kiosk: { app: { name: 'X', apple: 'org.x.app' } } }), ['/kiosk: only for mode kiosk (this policy sets mode corporate)']);
  t.same(policyProblems({ os: { updates: { type: 'windowed' } } }), ['/os/updates: windowed needs windowStartMinute and windowEndMinute']);
  t.same(policyProblems({ os: { minVersion: { ios: 'seventeen' } } }), ['/os/minVersion/ios: must match pattern "^[0-9]{1,4}(\\.[0-9]{1,4}){0,3}$"']);
  t.same(policyProblems({ managedAppConfig: [{ app: { name: 'EHR', apple: 'org.x.ehr' }, config: { serverUrl: 'https://x', apiToken: 'abc' } }] }), [
    '/managedAppConfig/0/config/apiToken: managed configuration is readable on the device; never put a secret in it',
  ]);
  t.ok(policyProblems({ apps: { block: [{ name: 'nameless' }] } }).some((p) => p.includes("must have required property 'apple'")), 'an app needs an identifier');
  t.same(policyProblems({ sharedDevice: { shiftChanges: ['7:00'] } }), ['/sharedDevice/shiftChanges/0: must match pattern "^([01][0-9]|2[0-3]):[0-5][0-9]$"']);
  t.same(policyProblems({ compliance: { onBreachByRule: { passcode: 'wipe' } } }), ['/compliance/onBreachByRule/passcode: must be one of mark, quarantine, lock']);
  t.same(policyProblems({ compliance: { onBreachByRule: { battery: 'lock' } } }), ['/compliance/onBreachByRule: unknown setting "battery"']);
  t.same(policyProblems({ compliance: { onBreachByRule: { lastSeen: 'quarantine', blockedApps: 'lock' } } }), [], 'every rule, the offline limit included, can have its own action');
  t.ok(policyProblems([]).length > 0, 'not an object');
  t.ok(policyProblems(null).length > 0, 'null');
  t.same(policyProblems({}), [], 'an empty policy (sets nothing) is valid');
});

t.test('explain maps each setting to its safeguards', async (t) => {
  const kiosk = TEMPLATES.find((x) => x.name === 'hipaa-patient-checkin-kiosk')!;
  const e = explainSettings(kiosk.settings);
  const row = (p: string) => e.settings.find((r) => r.path === p);
  t.same(row('encryption.required')?.safeguards, ['164.310(d)(1)', '164.312(a)(2)(iv)']);
  t.same(row('kiosk')?.safeguards, ['164.310(b)', '164.310(c)', '164.312(a)(1)']);
  t.same(row('wifi')?.safeguards, ['164.312(d)', '164.312(e)(1)', '164.312(e)(2)(ii)']);
  t.notOk(row('sharedDevice.sessionTimeoutMinutes'), 'settings the policy does not set are not listed');
  t.ok(e.bySafeguard.find((g) => g.id === '164.310(c)')?.settings.includes('kiosk'));
  // The kiosk sets no idle lock (the screen stays on in Single App Mode): automatic logoff is not addressed.
  t.ok(e.notAddressed.includes('164.312(a)(2)(iii)'));
  const text = explanationText('kiosk', e);
  t.match(text, /encryption\.required\s+true\s+164\.310\(d\)\(1\) Device and media controls; 164\.312\(a\)\(2\)\(iv\) Encryption and decryption/);
  t.match(text, /not addressed by this policy's settings:\n( {2}.*\n)* {2}164\.312\(a\)\(2\)\(iii\) Automatic logoff/);
});

t.test('wardctl policy explain prints the mapping for a template and a stored policy', async (t) => {
  const { file, dir } = writeTestConfig();
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tpl = wardctl(['policy', 'explain', 'hipaa-shared-nursing-tablet', '--config', file]);
  t.equal(tpl.status, 0, tpl.stderr);
  t.match(tpl.stdout, /^template hipaa-shared-nursing-tablet \(sharedClinicalTablet\)/);
  t.match(tpl.stdout, /passcode\.maxInactivityMinutes\s+2\s+164\.312\(a\)\(2\)\(iii\) Automatic logoff/);
  t.match(tpl.stdout, /sharedDevice\.clearDataOnLogout\s+true\s+164\.310\(d\)\(2\)\(ii\) Media re-use; 164\.312\(a\)\(1\) Access control/);
  t.match(tpl.stdout, /164\.312\(a\)\(2\)\(iii\) Automatic logoff: passcode\.maxInactivityMinutes, sharedDevice\.sessionTimeoutMinutes/);

  t.equal(wardctl(['policy', 'create', 'byod', '--template', 'hipaa-clinician-byod-phone', '--config', file]).status, 0);
  const json = wardctl(['policy', 'explain', 'byod', '--json', '--config', file]);
  t.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  t.equal(parsed.title, 'byod version 1 (byod)');
  t.same(parsed.settings.find((r: { path: string }) => r.path === 'restrictions.managedDataSharing').safeguards, ['164.310(d)(1)', '164.312(a)(1)']);

  const missing = wardctl(['policy', 'explain', 'nope', '--config', file]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /no policy or template nope/);
});
