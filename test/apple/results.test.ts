import t from 'tap';
import { parsePlistDict } from '../../src/apple/plist';
import { factsFromResult, inventoryFacts } from '../../src/apple/results';
import { fixture } from './fixture';

const ids = { UDID: '00008120-001A2D3C0E88802E', CommandUUID: 'c0ffee00-0000-4000-8000-000000000001' };

t.test('DeviceInformation fills the inventory', async (t) => {
  const r = parsePlistDict(fixture('result-deviceinformation', { ...ids, DeviceName: 'ICU iPhone 7', OSVersion: '18.1', SerialNumber: 'F2LXK0ABCD12', ProductName: 'iPhone15,2', ModelName: 'iPhone', IsMultiUser: false, WiFiMAC: 'a4:c3:f0:11:22:34' }));
  t.same(factsFromResult('DeviceInformation', r), {
    udid: ids.UDID,
    deviceName: 'ICU iPhone 7',
    model: 'MQ6J3ZD/A',
    modelName: 'iPhone',
    modelNumber: 'MQ6J3',
    productName: 'iPhone15,2',
    osVersion: '18.1',
    buildVersion: '22B83',
    serialNumber: 'F2LXK0ABCD12',
    imei: '35 391710 123456 7',
    meid: '35391710123456',
    wifiMac: 'a4:c3:f0:11:22:34',
    bluetoothMac: 'a4:c3:f0:11:22:33',
    capacityGb: 119.2,
    availableCapacityGb: 93.41,
    batteryLevel: 0.8500000238418579,
    isSupervised: true,
    isMultiUser: false,
    activationLockEnabled: false,
    lostModeEnabled: false,
  });
});

t.test('SecurityInfo: iOS Data Protection needs both encryption caps and a passcode', async (t) => {
  const withPasscode = parsePlistDict(fixture('result-securityinfo', { ...ids, PasscodePresent: true, PasscodeCompliant: true }));
  t.same(factsFromResult('SecurityInfo', withPasscode).security, {
    hardwareEncryptionCaps: 3,
    passcodePresent: true,
    passcodeCompliant: true,
    passcodeCompliantWithProfiles: true,
    encrypted: true,
  });
  const noPasscode = parsePlistDict(fixture('result-securityinfo', { ...ids, PasscodePresent: false, PasscodeCompliant: false }));
  t.same(factsFromResult('SecurityInfo', noPasscode).security, {
    hardwareEncryptionCaps: 3,
    passcodePresent: false,
    passcodeCompliant: false,
    passcodeCompliantWithProfiles: false,
    encrypted: false,
  });
  const mac = parsePlistDict(fixture('result-securityinfo-macos', ids));
  t.same(factsFromResult('SecurityInfo', mac).security, { fileVaultEnabled: true, encrypted: true });
});

t.test('ProfileList, InstalledApplicationList and UserList', async (t) => {
  t.same(factsFromResult('ProfileList', parsePlistDict(fixture('result-profilelist', ids))).profiles, [
    {
      identifier: 'org.example.hospital.ward.enroll',
      uuid: '6F0C2A0E-0D2B-4C55-9A11-000000000001',
      displayName: 'Example Hospital enrollment',
      isManaged: true,
    },
    { identifier: 'org.example.hospital.wifi', uuid: '0A7D1E55-2B6C-4D8E-9F00-1234567890AB', displayName: 'Ward Wi-Fi', isManaged: true },
  ]);
  t.same(factsFromResult('InstalledApplicationList', parsePlistDict(fixture('result-installedapplicationlist', ids))).apps, [
    { identifier: 'org.example.hospital.charting', name: 'Bedside Charting', version: '420', shortVersion: '4.2' },
    { identifier: 'com.apple.mobilesafari', name: 'Safari', version: '8620.1.15', shortVersion: '18.1' },
  ]);
  t.same(factsFromResult('UserList', parsePlistDict(fixture('result-userlist', ids))).users, [
    { userName: 'nurse@example.org', fullName: 'Night Nurse', isLoggedIn: true },
  ]);
});

t.test('values of the wrong type from a device are dropped, never stored', async (t) => {
  t.same(
    inventoryFacts({ UDID: 7, OSVersion: ['18'], SerialNumber: 'x'.repeat(1000), IsSupervised: 'yes', BatteryLevel: Number.NaN, DeviceName: 'ok' }),
    { deviceName: 'ok' },
  );
  t.same(factsFromResult('DeviceInformation', { QueryResponses: 'nope' }), {});
  t.same(factsFromResult('SecurityInfo', { SecurityInfo: [1] }), {});
  t.same(factsFromResult('ProfileList', { ProfileList: [{ PayloadIdentifier: 5 }, 'x', { PayloadIdentifier: 'a' }] }).profiles, [{ identifier: 'a' }]);
  t.same(factsFromResult('InstalledApplicationList', { InstalledApplicationList: 'x' }).apps, []);
  t.same(factsFromResult('DeviceLock', { MessageResult: 'ok' }), {}, 'commands without device state give nothing');
});
