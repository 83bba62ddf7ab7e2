// Template -> Android agent policy, validated by the ajv schema defined in src/policy/android.ts.
import t from 'tap';
import { TEMPLATES, androidPolicyProblems, androidPolicySchema, compileAndroid, resolvePolicy, type PolicySettings } from '../../src/policy';
import { createAjv } from '../../src/policy/schema';

const effective = (settings: PolicySettings) => resolvePolicy([{ scope: 'default', target: '', policy: 'p', version: 1, settings }]);
const tpl = (name: string) => TEMPLATES.find((x) => x.name === name)!.settings;

t.test('every template compiles to a document the schema accepts', async (t) => {
  t.doesNotThrow(() => createAjv().compile(androidPolicySchema), 'the schema compiles under strict ajv');
  for (const x of TEMPLATES) {
    const { document } = compileAndroid(effective(x.settings));
    t.same(androidPolicyProblems(document), [], `${x.name} is a valid Android policy`);
    t.equal(document.policyId, effective(x.settings).hash, 'policyId is the effective hash (the ETag the agent reports back)');
    t.equal(document.storageEncryptionRequired, true);
    t.equal(document.backupServiceEnabled, false);
  }
});

t.test('clinician corporate phone: device owner, password quality, restrictions, EAP-TLS, always-on VPN', async (t) => {
  const { document: d, notApplied } = compileAndroid(effective(tpl('hipaa-clinician-corporate-phone')));
  t.equal(d.managementMode, 'device_owner');
  t.equal(d.deviceMode, 'fully_managed');
  t.same(d.passwordPolicy, { scope: 'device', quality: 'NUMERIC_COMPLEX', requiredComplexity: 'MEDIUM', minimumLength: 6, maximumFailedPasswordsForWipe: 10, passwordHistoryLength: 5 });
  t.equal(d.maximumTimeToLockMs, 300_000);
  t.equal(d.cameraDisabled, false);
  t.equal(d.screenCaptureDisabled, true);
  t.same(d.userRestrictions, [
    'no_install_unknown_sources', 'no_install_unknown_sources_globally', 'no_usb_file_transfer', 'no_physical_media', 'no_debugging_features', 'no_safe_boot', 'no_factory_reset', 'no_add_user',
  ]);
  t.same(d.systemUpdatePolicy, { type: 'AUTOMATIC' });
  t.same(d.wifiNetworks, [{ ssid: 'Clinical', hidden: false, autoConnect: true, security: 'WPA2_EAP', eap: { method: 'TLS', clientCertificate: 'ward-identity', caCertificate: 'ward-root', domainSuffixMatch: ['radius.hospital.internal'] } }]);
  t.same(d.alwaysOnVpn, { packageName: 'org.strongswan.android', lockdown: false, routedPackages: ['org.example.ehr', 'org.example.securechat'] });
  t.same(d.managedConfigurations, [{ packageName: 'org.example.ehr', restrictions: { fhirBaseUrl: 'https://fhir.hospital.internal/R4' } }]);
  t.same(d.compliance, { minimumAndroidVersion: '13', maxSecurityPatchAgeDays: 90, maxOfflineHours: 72 });
  t.equal(d.securityLoggingEnabled, true);
  t.same(notApplied, []);
});

t.test('BYOD: work profile only, the device lock set through the parent profile, selective wipe', async (t) => {
  const { document: d, notApplied } = compileAndroid(effective(tpl('hipaa-clinician-byod-phone')));
  t.equal(d.managementMode, 'profile_owner');
  t.equal(d.deviceMode, 'work_profile');
  t.equal(d.passwordPolicy?.scope, 'parent');
  t.same(d.workProfile, { crossProfileCopyPasteDisabled: true, crossProfileContactsSearchDisabled: true, wipeScope: 'work_profile' });
  t.same(d.userRestrictions, ['no_install_unknown_sources', 'no_cross_profile_copy_paste', 'no_sharing_into_profile'], 'no device-wide restrictions on a personal phone');
  t.notOk(d.systemUpdatePolicy);
  t.notOk(d.lockTask);
  t.same(notApplied, []);
  // A device-owner-only setting asked of BYOD is reported, not compiled.
  const usb = compileAndroid(effective({ ...tpl('hipaa-clinician-byod-phone'), restrictions: { usbFileTransfer: false }, os: { updates: { type: 'automatic' } } }));
  t.same(usb.notApplied.map((n) => n.setting), ['restrictions.usbFileTransfer', 'os.updates']);
  t.same(androidPolicyProblems(usb.document), []);
});

t.test('kiosk: lock task on the check-in app; shared tablet: sessions that clear app data', async (t) => {
  const k = compileAndroid(effective(tpl('hipaa-patient-checkin-kiosk'))).document;
  t.equal(k.deviceMode, 'kiosk');
  t.same(k.lockTask, { packages: ['org.example.checkin'], features: [], homePackage: 'org.example.checkin', keepScreenOn: true });
  t.same(k.applications, { allowedPackages: ['org.example.checkin'] });
  t.same(k.systemUpdatePolicy, { type: 'WINDOWED', windowStartMinutes: 60, windowEndMinutes: 240 });

  const s = compileAndroid(effective(tpl('hipaa-shared-nursing-tablet'))).document;
  t.equal(s.deviceMode, 'dedicated');
  t.same(s.sharedDevice, { sessionIdleTimeoutMs: 900_000, clearAppDataOnSessionEnd: true, sessionEndTimes: ['07:00', '19:00'] }, 'sessions end at shift change');
  t.equal(s.maximumTimeToLockMs, 120_000);
  t.same(s.applications?.allowedPackages, ['org.example.ehr', 'org.example.securechat']);
});

t.test('the schema refuses malformed documents', async (t) => {
  const good = compileAndroid(effective(tpl('hipaa-clinician-corporate-phone'))).document;
  t.same(androidPolicyProblems({ ...good, userRestrictions: ['no_such_restriction'] }), ['/userRestrictions/0: must be equal to one of the allowed values']);
  t.same(androidPolicyProblems({ ...good, policyId: 'x' }), ['/policyId: must match pattern "^[0-9a-f]{32}$"']);
  t.same(androidPolicyProblems({ ...good, extra: 1 }), ['/: must NOT have additional properties']);
  t.ok(androidPolicyProblems({ ...good, passwordPolicy: { scope: 'device' } }).length > 0);
  t.ok(androidPolicyProblems(null).length > 0);
  const shared = compileAndroid(effective(tpl('hipaa-shared-nursing-tablet'))).document;
  t.same(androidPolicyProblems({ ...shared, sharedDevice: { ...shared.sharedDevice, sessionEndTimes: ['7:00'] } }), ['/sharedDevice/sessionEndTimes/0: must match pattern "^([01][0-9]|2[0-3]):[0-5][0-9]$"']);
});
