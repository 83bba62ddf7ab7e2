import t from 'tap';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { signCms } from '../../src/apple/cms';
import { COMMAND_TYPES, commandPlist, commandRequest, CommandFormatError, DEFAULT_DEVICE_QUERIES } from '../../src/apple/commands';
import { parsePlistDict, type PlistDict } from '../../src/apple/plist';
import { enrollmentProfile, enrollmentProfileBytes, type EnrollmentProfileInput } from '../../src/apple/profile';
import { makeLeaf, makeRoot, opensslStatus } from './openssl';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

/** plistutil (libplist) reads the file and writes it back as XML; its reading is what we check. */
function viaPlistutil(bytes: Buffer, name: string): PlistDict {
  const input = path.join(dir, `${name}.plist`);
  const output = path.join(dir, `${name}.libplist.plist`);
  fs.writeFileSync(input, bytes);
  fs.rmSync(output, { force: true });
  const r = spawnSync('plistutil', ['-i', input, '-o', output, '-f', 'xml'], { encoding: 'utf8' });
  if (r.status !== 0 || /ERROR/.test(r.stderr) || !fs.existsSync(output)) throw new Error(`plistutil refused ${name}: ${r.stderr}`);
  return parsePlistDict(fs.readFileSync(output));
}

const root = makeRoot(dir);
const signer = makeLeaf(dir, root, 'ward-profile-signer');

const input: EnrollmentProfileInput = {
  identifier: 'org.example.hospital.ward.enroll',
  organization: 'Example Hospital',
  uuids: {
    profile: '6F0C2A0E-0D2B-4C55-9A11-000000000001',
    root: '6F0C2A0E-0D2B-4C55-9A11-000000000002',
    scep: '6F0C2A0E-0D2B-4C55-9A11-000000000003',
    mdm: '6F0C2A0E-0D2B-4C55-9A11-000000000004',
  },
  rootCertificate: root.certDer,
  scep: {
    url: 'http://ward.example.org:8080/scep',
    challenge: 'one-time-challenge-value',
    subject: [
      ['O', 'Example Hospital'],
      ['CN', 'Ward device'],
    ],
    name: 'Ward CA',
    caFingerprint: crypto.createHash('sha256').update(root.certDer).digest(),
  },
  mdm: {
    serverUrl: 'https://ward.example.org:8443/mdm/command',
    checkInUrl: 'https://ward.example.org:8443/mdm/checkin',
    topic: 'com.apple.mgmt.External.1c0a5e3b-1111-2222-3333-444455556666',
  },
};

t.test('enrollment profile has the payloads Apple documents, and libplist reads them', async (t) => {
  const bytes = enrollmentProfileBytes(input);
  const p = viaPlistutil(bytes, 'enroll');
  t.equal(p.PayloadType, 'Configuration');
  t.equal(p.PayloadVersion, 1);
  t.equal(p.PayloadUUID, input.uuids.profile);
  const [rootPayload, scep, mdm] = p.PayloadContent as PlistDict[];
  t.equal(rootPayload.PayloadType, 'com.apple.security.root');
  t.ok((rootPayload.PayloadContent as Buffer).equals(root.certDer), 'root certificate DER embedded');
  t.equal(scep.PayloadType, 'com.apple.security.scep');
  t.same(scep.PayloadContent, {
    URL: 'http://ward.example.org:8080/scep',
    Name: 'Ward CA',
    Subject: [[['O', 'Example Hospital']], [['CN', 'Ward device']]],
    Challenge: 'one-time-challenge-value',
    Keysize: 2048,
    'Key Type': 'RSA',
    'Key Usage': 5,
    CAFingerprint: input.scep.caFingerprint,
  });
  t.equal(mdm.PayloadType, 'com.apple.mdm');
  t.equal(mdm.IdentityCertificateUUID, scep.PayloadUUID, 'MDM identity points at the SCEP payload');
  t.equal(mdm.ServerURL, input.mdm.serverUrl);
  t.equal(mdm.CheckInURL, input.mdm.checkInUrl);
  t.equal(mdm.Topic, input.mdm.topic);
  t.equal(mdm.AccessRights, 8191);
  t.equal(mdm.CheckOutWhenRemoved, true);
  t.equal(mdm.SignMessage, true);
  t.same(mdm.ServerCapabilities, ['com.apple.mdm.per-user-connections', 'com.apple.mdm.bootstraptoken']);
  t.notOk('UseDevelopmentAPNS' in mdm, 'production APNs unless asked');
  // Payload UUIDs are distinct (a device refuses duplicates).
  const uuids = [p.PayloadUUID, rootPayload.PayloadUUID, scep.PayloadUUID, mdm.PayloadUUID];
  t.equal(new Set(uuids).size, 4);
});

t.test('the profile is a pure function of its inputs', async (t) => {
  t.ok(enrollmentProfileBytes(input).equals(enrollmentProfileBytes(structuredClone(input))), 'same input, same bytes');
  const other = enrollmentProfileBytes({ ...input, scep: { ...input.scep, challenge: 'another' } });
  t.notOk(other.equals(enrollmentProfileBytes(input)), 'the challenge is in the bytes');
  t.equal((enrollmentProfile({ ...input, mdm: { ...input.mdm, signMessage: false } }).PayloadContent as PlistDict[])[2].SignMessage, false);
});

t.test('signed profile: openssl cms -verify accepts it and returns the same plist', async (t) => {
  const signed = signCms(enrollmentProfileBytes(input), { key: signer.key, certificate: signer.certDer, chain: [root.certDer] });
  const file = path.join(dir, 'enroll.mobileconfig');
  const out = path.join(dir, 'enroll.out');
  fs.writeFileSync(file, signed);
  const r = opensslStatus(['cms', '-verify', '-inform', 'DER', '-in', file, '-CAfile', root.certPath, '-purpose', 'any', '-out', out]);
  t.equal(r.status, 0, r.stderr);
  t.ok(fs.readFileSync(out).equals(enrollmentProfileBytes(input)));
});

t.test('every command type builds a plist libplist reads back identically', async (t) => {
  const params: Record<string, unknown> = {
    InstallProfile: { Payload: Buffer.from('<plist><dict/></plist>').toString('base64') },
    RemoveProfile: { Identifier: 'org.example.wifi' },
    InstallApplication: {
      ManifestURL: 'https://ward.example.org:8443/apple/apps/app.plist', ManagementFlags: 1,
      Configuration: { fhirBaseUrl: 'https://fhir.example.org/R4', sharedDevice: true, retries: 3, wards: ['4B', 'ICU'] },
      Attributes: { VPNUUID: '6E0B5C3A-1D2F-5A4B-8C7D-0E1F2A3B4C5D', Removable: false },
    },
    RemoveApplication: { Identifier: 'org.example.app' },
    DeviceLock: { Message: 'Property of Example Hospital — call IT', PhoneNumber: '+1 555 0100' },
    EraseDevice: { PIN: '123456' },
    EnableLostMode: { Message: 'Lost device', PhoneNumber: '+1 555 0100', Footnote: 'IT desk' },
    Settings: {
      Settings: [
        { Item: 'DeviceName', DeviceName: 'ICU-iPad-7' },
        { Item: 'Bluetooth', Enabled: false },
        // settings.yaml: the items policy sends (managed app configuration, per-app VPN, Shared iPad).
        { Item: 'ApplicationConfiguration', Identifier: 'org.example.ehr', Configuration: { fhirBaseUrl: 'https://fhir.example.org/R4', timeoutSeconds: 30, sso: { realm: 'HOSP' } } },
        { Item: 'ApplicationAttributes', Identifier: 'org.example.ehr', Attributes: { VPNUUID: '6E0B5C3A-1D2F-5A4B-8C7D-0E1F2A3B4C5D' } },
        { Item: 'SharedDeviceConfiguration', UserSessionTimeout: 900, TemporarySessionOnly: false, PasscodePolicy: { AutoLockTime: 120, PasscodeLockGracePeriod: 0 } },
      ],
    },
    DeleteUser: { UserName: 'nurse@example.org', ForceDeletion: true },
    RestartDevice: { NotifyUser: true },
    ProfileList: { ManagedOnly: true },
  };
  const unlockToken = crypto.randomBytes(48);
  t.equal(COMMAND_TYPES.length, 18);
  for (const type of COMMAND_TYPES) {
    const uuid = crypto.randomUUID();
    const request = commandRequest(type, params[type], { unlockToken });
    const bytes = commandPlist(uuid, request);
    const back = viaPlistutil(bytes, `cmd-${type}`);
    t.equal(back.CommandUUID, uuid, `${type}: CommandUUID`);
    const command = back.Command as PlistDict;
    t.equal(command.RequestType, type, `${type}: RequestType`);
    t.same(command, parsePlistDict(bytes).Command, `${type}: libplist and we read the same thing`);
  }
  const info = parsePlistDict(commandPlist('u', commandRequest('DeviceInformation'))).Command as PlistDict;
  t.same(info.Queries, [...DEFAULT_DEVICE_QUERIES], 'DeviceInformation asks the default queries');
  const clear = parsePlistDict(commandPlist('u', commandRequest('ClearPasscode', {}, { unlockToken }))).Command as PlistDict;
  t.ok((clear.UnlockToken as Buffer).equals(unlockToken), 'ClearPasscode carries the escrowed UnlockToken');
  const settings = viaPlistutil(commandPlist('u', commandRequest('Settings', params.Settings)), 'cmd-settings-items').Command as PlistDict;
  t.same((settings.Settings as PlistDict[]).slice(2), [
    { Item: 'ApplicationConfiguration', Identifier: 'org.example.ehr', Configuration: { fhirBaseUrl: 'https://fhir.example.org/R4', timeoutSeconds: 30, sso: { realm: 'HOSP' } } },
    { Item: 'ApplicationAttributes', Identifier: 'org.example.ehr', Attributes: { VPNUUID: '6E0B5C3A-1D2F-5A4B-8C7D-0E1F2A3B4C5D' } },
    { Item: 'SharedDeviceConfiguration', UserSessionTimeout: 900, TemporarySessionOnly: false, PasscodePolicy: { AutoLockTime: 120, PasscodeLockGracePeriod: 0 } },
  ], 'libplist reads the policy items back as sent');
  const app = viaPlistutil(commandPlist('u', commandRequest('InstallApplication', params.InstallApplication)), 'cmd-install-app-config').Command as PlistDict;
  t.same(app.Configuration, { fhirBaseUrl: 'https://fhir.example.org/R4', sharedDevice: true, retries: 3, wards: ['4B', 'ICU'] }, 'InstallApplication carries the managed configuration');
  t.same(app.Attributes, { VPNUUID: '6E0B5C3A-1D2F-5A4B-8C7D-0E1F2A3B4C5D', Removable: false });
  const install = parsePlistDict(commandPlist('u', commandRequest('InstallProfile', params.InstallProfile))).Command as PlistDict;
  t.equal((install.Payload as Buffer).toString(), '<plist><dict/></plist>', 'InstallProfile Payload is data, not base64 text');
});

t.test('bad command parameters get CommandFormatError with a readable reason', async (t) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['Reboot', {}, /unknown RequestType/],
    ['DeviceLock', { Foo: 1 }, /unknown parameter "Foo"/],
    ['DeviceLock', { PIN: '12' }, /PIN/],
    ['EnableLostMode', {}, /needs Message or PhoneNumber/],
    ['RemoveProfile', {}, /Identifier/],
    ['InstallApplication', { ManifestURL: 'http://plain.example.org/app.plist' }, /ManifestURL/],
    ['InstallProfile', { Payload: 'not base64 at all!' }, /Payload/],
    ['Settings', { Settings: [{ Item: 'Wallpaper' }] }, /Item must be one of/],
    ['Settings', { Settings: [{ Item: 'Bluetooth', Enabled: 'yes' }] }, /Enabled must be boolean/],
    ['Settings', { Settings: [] }, /fewer than 1/],
    ['Settings', { Settings: [{ Item: 'ApplicationConfiguration', Configuration: {} }] }, /Identifier/],
    ['Settings', { Settings: [{ Item: 'ApplicationConfiguration', Identifier: 'org.example.ehr', Configuration: { url: null } }] }, /Configuration/],
    ['Settings', { Settings: [{ Item: 'ApplicationAttributes', Identifier: 'org.example.ehr', Attributes: { VPNUUID: 'not-a-uuid' } }] }, /VPNUUID/],
    ['Settings', { Settings: [{ Item: 'SharedDeviceConfiguration', PasscodePolicy: { AutoLockTime: 60 } }] }, /AutoLockTime must be >= 120/],
    ['InstallApplication', { ManifestURL: 'https://ward.example.org/app.plist', Attributes: { Color: 'red' } }, /unknown parameter "Color"/],
    ['DeleteUser', {}, /needs UserName/],
    ['ClearPasscode', {}, /not escrowed an UnlockToken/],
    ['DeviceInformation', { Queries: 'UDID' }, /must be array/],
    ['SecurityInfo', [], /must be object/],
  ];
  for (const [type, p, message] of cases) {
    t.throws(() => commandRequest(type, p), CommandFormatError, `${type} ${JSON.stringify(p)}`);
    try {
      commandRequest(type, p);
    } catch (e) {
      t.match((e as Error).message, message, `${type}: message`);
    }
  }
});
