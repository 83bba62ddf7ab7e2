// Template -> Apple configuration profile: the payloads and keys Apple documents, serialized with
// the Apple domain's plist writer, parsed back by plistutil (libplist), signed with Ward's profile
// signer and verified by `openssl cms -verify` against Ward's root.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { buildPlist, parsePlist, signCms } from '../../src/apple';
import { AuditLog } from '../../src/audit';
import { openDatabase } from '../../src/db';
import { CertificateAuthority } from '../../src/pki';
import {
  TEMPLATES, compileApple, mobileconfig, nameBasedUuid, resolvePolicy, scepIdentityPayload, type AppleCompiled, type PolicySettings, type ProfileDict,
} from '../../src/policy';
import { loadTestConfig, tool, writeTestConfig } from '../support/ward';

const { file, doc, dir } = writeTestConfig();
const cfg = loadTestConfig(file, doc);
const db = openDatabase(cfg.database.file);
const ca = CertificateAuthority.open(cfg, db, new AuditLog(db));
const signer = ca.serviceIdentity('profileSigner');
const rootPath = path.join(dir, 'root.pem');
fs.writeFileSync(rootPath, ca.root.pem);
t.teardown(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const encoder = {
  serialize: (p: ProfileDict) => buildPlist(p as Parameters<typeof buildPlist>[0]),
  sign: (content: Buffer) => signCms(content, { key: signer.key, certificate: signer.der, chain: signer.chainDer.slice(1) }),
};

const IDENTITY_UUID = '0F6B1D2E-3A4B-4C5D-8E9F-A0B1C2D3E4F5';
const effective = (settings: PolicySettings) => resolvePolicy([{ scope: 'default', target: '', policy: 'p', version: 1, settings }]);
const tpl = (name: string) => TEMPLATES.find((x) => x.name === name)!.settings;
const payloadOf = (c: AppleCompiled, type: string) => (c.profile.PayloadContent as ProfileDict[]).find((p) => p.PayloadType === type);

function scep(uuid = IDENTITY_UUID) {
  return scepIdentityPayload({
    identifier: 'org.ward.policy',
    payloadUuid: uuid,
    url: 'http://ward.test:8080/scep',
    challenge: 'one-time-challenge',
    subject: [['O', 'Test Hospital'], ['CN', 'wifi-device-1']],
  });
}

t.test('clinician corporate phone: passcode, restrictions, EAP-TLS Wi-Fi with the SCEP identity, per-app VPN, app config', async (t) => {
  const c = compileApple(effective(tpl('hipaa-clinician-corporate-phone')), {
    organization: 'Test Hospital',
    identity: { payloadUuid: IDENTITY_UUID, scepPayload: scep(), localIdentifier: 'device-1' },
    rootCertificate: ca.root.der,
  });
  t.same((c.profile.PayloadContent as ProfileDict[]).map((p) => p.PayloadType), [
    'com.apple.mobiledevice.passwordpolicy',
    'com.apple.applicationaccess',
    'com.apple.security.scep',
    'com.apple.security.root',
    'com.apple.wifi.managed',
    'com.apple.vpn.managed.applayer',
  ]);
  t.match(payloadOf(c, 'com.apple.mobiledevice.passwordpolicy'), {
    forcePIN: true, minLength: 6, allowSimple: false, maxInactivity: 5, maxFailedAttempts: 10, pinHistory: 5,
  });
  t.same(payloadOf(c, 'com.apple.applicationaccess'), {
    PayloadType: 'com.apple.applicationaccess',
    PayloadVersion: 1,
    PayloadIdentifier: 'org.ward.policy.restrictions',
    PayloadUUID: payloadOf(c, 'com.apple.applicationaccess')!.PayloadUUID,
    PayloadDisplayName: 'Restrictions',
    allowCamera: true,
    allowScreenShot: false,
    allowFilesUSBDriveAccess: false,
    allowHostPairing: false,
    allowEnterpriseAppTrust: false,
    allowCloudBackup: false,
    allowManagedAppsCloudSync: false,
    allowEnterpriseBookBackup: false,
    allowOpenFromManagedToUnmanaged: false,
  });
  const root = payloadOf(c, 'com.apple.security.root')!;
  const wifi = payloadOf(c, 'com.apple.wifi.managed')!;
  t.match(wifi, { SSID_STR: 'Clinical', AutoJoin: true, EncryptionType: 'WPA2', PayloadCertificateUUID: IDENTITY_UUID });
  t.same(wifi.EAPClientConfiguration, {
    AcceptEAPTypes: [13],
    TLSTrustedServerNames: ['radius.hospital.internal'],
    PayloadCertificateAnchorUUID: [root.PayloadUUID],
    TLSMinimumVersion: '1.2',
  });
  const vpn = payloadOf(c, 'com.apple.vpn.managed.applayer')!;
  t.match(vpn, { VPNType: 'IKEv2', IKEv2: { RemoteAddress: 'vpn.hospital.internal', AuthenticationMethod: 'Certificate', PayloadCertificateUUID: IDENTITY_UUID, LocalIdentifier: 'device-1' } });
  t.same(c.settings, [
    { Item: 'ApplicationAttributes', Identifier: 'org.example.ehr', Attributes: { VPNUUID: vpn.VPNUUID } },
    { Item: 'ApplicationAttributes', Identifier: 'org.example.securechat', Attributes: { VPNUUID: vpn.VPNUUID } },
    { Item: 'ApplicationConfiguration', Identifier: 'org.example.ehr', Configuration: { fhirBaseUrl: 'https://fhir.hospital.internal/R4' } },
  ]);
  t.same(c.notApplied, [{ setting: 'auditing.deviceSecurityLog', reason: "Apple devices have no security log upload; Ward's audit log records every MDM command and result" }]);
  t.equal(c.profile.PayloadRemovalDisallowed, true);
  t.equal(c.profileUuid, nameBasedUuid(`org.ward.policy/${effective(tpl('hipaa-clinician-corporate-phone')).hash}/profile`));
  t.match(c.profileUuid, /^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/, 'RFC 9562 version 5 UUID');
});

t.test('shared nursing tablet: no passcode payload (Shared iPad forbids it), SharedDeviceConfiguration instead', async (t) => {
  const c = compileApple(effective(tpl('hipaa-shared-nursing-tablet')), { organization: 'Test Hospital' });
  t.notOk(payloadOf(c, 'com.apple.mobiledevice.passwordpolicy'));
  t.same(c.settings.find((s) => s.Item === 'SharedDeviceConfiguration'), {
    Item: 'SharedDeviceConfiguration',
    UserSessionTimeout: 900,
    TemporarySessionOnly: false,
    PasscodePolicy: { AutoLockTime: 120, PasscodeLockGracePeriod: 0 },
  });
  t.same(payloadOf(c, 'com.apple.applicationaccess')!.allowListedAppBundleIDs, ['org.example.ehr', 'org.example.securechat']);
  t.ok(c.notApplied.some((n) => n.setting === 'wifi' && /no device identity/.test(n.reason)), 'Wi-Fi without an identity is reported, not compiled');
  t.ok(c.notApplied.some((n) => n.setting === 'passcode.minLength'));
});

t.test('patient kiosk: Single App Mode on the check-in app, screen kept on', async (t) => {
  const c = compileApple(effective(tpl('hipaa-patient-checkin-kiosk')), { organization: 'Test Hospital' });
  t.same(payloadOf(c, 'com.apple.app.lock')!.App, { Identifier: 'org.example.checkin', Options: { DisableAutoLock: true } });
  const unsupervised = compileApple(effective(tpl('hipaa-patient-checkin-kiosk')), { organization: 'Test Hospital', supervised: false });
  t.notOk(payloadOf(unsupervised, 'com.apple.app.lock'));
  t.ok(unsupervised.notApplied.some((n) => n.setting === 'kiosk' && /supervised/.test(n.reason)));
});

t.test('BYOD (User Enrollment): only what Apple allows, the rest reported', async (t) => {
  const c = compileApple(effective(tpl('hipaa-clinician-byod-phone')), { organization: 'Test Hospital' });
  t.notOk(payloadOf(c, 'com.apple.mobiledevice.passwordpolicy'));
  const r = payloadOf(c, 'com.apple.applicationaccess')!;
  t.equal(r.allowScreenShot, false);
  t.equal(r.allowManagedAppsCloudSync, false);
  t.equal(r.allowOpenFromManagedToUnmanaged, false);
  t.notOk('allowCloudBackup' in r, 'allowCloudBackup is forbidden in User Enrollment');
  t.notOk('allowEnterpriseAppTrust' in r);
  t.ok(c.notApplied.some((n) => n.setting === 'restrictions.cloudBackup' && n.reason === 'Apple User Enrollment does not allow allowCloudBackup'));
  t.equal(c.profile.PayloadRemovalDisallowed, false, 'a personal device can always leave');
});

t.test('every template: serialized, parsed back by plistutil, signed, verified by openssl', async (t) => {
  for (const tmpl of TEMPLATES) {
    const c = compileApple(effective(tmpl.settings), {
      organization: 'Test Hospital',
      identity: { payloadUuid: IDENTITY_UUID, scepPayload: scep(), localIdentifier: 'device-1' },
      rootCertificate: ca.root.der,
    });
    const signed = mobileconfig(c, encoder);
    const signedPath = path.join(dir, `${tmpl.name}.mobileconfig`);
    const contentPath = path.join(dir, `${tmpl.name}.plist`);
    fs.writeFileSync(signedPath, signed);
    const v = tool('openssl', ['cms', '-verify', '-inform', 'DER', '-in', signedPath, '-CAfile', rootPath, '-purpose', 'any', '-out', contentPath]);
    t.equal(v.status, 0, `${tmpl.name}: openssl cms -verify: ${v.stderr}`);
    const xml = fs.readFileSync(contentPath);
    t.ok(xml.equals(Buffer.from(encoder.serialize(c.profile))), `${tmpl.name}: signed content is the profile`);

    // libplist reads it (XML -> binary -> XML) and gives back the same document.
    const bin = path.join(dir, `${tmpl.name}.bin`);
    const again = path.join(dir, `${tmpl.name}.again.plist`);
    t.equal(tool('plistutil', ['-i', contentPath, '-o', bin, '-f', 'bin']).status, 0, `${tmpl.name}: plistutil parses it`);
    t.equal(tool('plistutil', ['-i', bin, '-o', again, '-f', 'xml']).status, 0);
    const ours = parsePlist(xml) as Record<string, unknown>;
    const theirs = parsePlist(fs.readFileSync(again)) as Record<string, unknown>;
    t.same(theirs, ours, `${tmpl.name}: libplist round trip preserves every key`);
    t.equal(theirs.PayloadType, 'Configuration');
    t.equal(theirs.PayloadIdentifier, 'org.ward.policy');
    const types = (theirs.PayloadContent as Array<{ PayloadType: string }>).map((p) => p.PayloadType);
    if (tmpl.settings.mode === 'kiosk') t.ok(types.includes('com.apple.app.lock'), 'kiosk has app lock');
    if (tmpl.settings.wifi) t.ok(types.includes('com.apple.wifi.managed'), `${tmpl.name} has Wi-Fi`);

    // The signer certificate is Ward's profile signer.
    const printed = tool('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', signedPath]).stdout;
    t.match(printed, /algorithm: sha256/);
  }

  // Tampering is caught.
  const c = compileApple(effective(tpl('hipaa-clinician-corporate-phone')), { organization: 'Test Hospital' });
  const signed = Buffer.from(mobileconfig(c, encoder));
  const at = signed.indexOf(Buffer.from('allowScreenShot'));
  signed[at + 20] ^= 0x01;
  const bad = path.join(dir, 'tampered.mobileconfig');
  fs.writeFileSync(bad, signed);
  t.not(tool('openssl', ['cms', '-verify', '-inform', 'DER', '-in', bad, '-CAfile', rootPath, '-purpose', 'any', '-out', '/dev/null']).status, 0, 'tampered profile refused');
});

t.test('compilation is pure: same policy, same bytes; another version, another profile UUID', async (t) => {
  const ctx = { organization: 'Test Hospital' };
  const a = compileApple(effective(tpl('hipaa-clinician-corporate-phone')), ctx);
  const b = compileApple(effective(tpl('hipaa-clinician-corporate-phone')), ctx);
  t.equal(encoder.serialize(a.profile), encoder.serialize(b.profile));
  const changed = structuredClone(tpl('hipaa-clinician-corporate-phone'));
  changed.passcode!.minLength = 8;
  const c = compileApple(effective(changed), ctx);
  t.not(c.profileUuid, a.profileUuid);
  t.equal(c.identifier, a.identifier, 'same PayloadIdentifier: InstallProfile replaces the old version');
  t.throws(() => compileApple(effective(tpl('hipaa-clinician-corporate-phone')), { organization: 'x', identity: { payloadUuid: IDENTITY_UUID, scepPayload: scep('00000000-0000-5000-8000-000000000000') } }), /must equal identity.payloadUuid/);
});
