// Command results parsed into what Ward keeps about a device: inventory (DeviceInformation),
// security state for compliance (SecurityInfo), profiles, apps and Shared iPad users. Keys follow
// the response keys of apple/device-management mdm/commands/*.yaml. Device input is untrusted:
// a value of the wrong type is ignored, never stored.
import type { PlistDict, PlistValue } from './plist';

export interface DeviceFacts {
  udid?: string;
  deviceName?: string;
  model?: string;
  modelName?: string;
  modelNumber?: string;
  productName?: string;
  osVersion?: string;
  buildVersion?: string;
  serialNumber?: string;
  imei?: string;
  meid?: string;
  wifiMac?: string;
  bluetoothMac?: string;
  /** Bytes would overflow nothing here: Apple reports capacity in GB as a real. */
  capacityGb?: number;
  availableCapacityGb?: number;
  batteryLevel?: number;
  isSupervised?: boolean;
  isMultiUser?: boolean;
  activationLockEnabled?: boolean;
  lostModeEnabled?: boolean;
  /** SecurityInfo: what compliance needs. */
  security?: SecurityFacts;
  profiles?: ProfileFact[];
  apps?: AppFact[];
  users?: UserFact[];
}

export interface SecurityFacts {
  /** iOS HardwareEncryptionCaps bitfield: 1 block-level, 2 file-level. */
  hardwareEncryptionCaps?: number;
  /** macOS FileVault (FDE_Enabled). */
  fileVaultEnabled?: boolean;
  passcodePresent?: boolean;
  passcodeCompliant?: boolean;
  passcodeCompliantWithProfiles?: boolean;
  /** Data at rest is protected: iOS Data Protection (both caps and a passcode) or FileVault on. */
  encrypted: boolean;
}

export interface ProfileFact {
  identifier: string;
  uuid?: string;
  displayName?: string;
  isManaged?: boolean;
}

export interface AppFact {
  identifier: string;
  name?: string;
  version?: string;
  shortVersion?: string;
}

export interface UserFact {
  userName: string;
  fullName?: string;
  isLoggedIn?: boolean;
}

const str = (v: PlistValue | undefined, max = 512): string | undefined =>
  typeof v === 'string' && v.length <= max ? v : undefined;
const bool = (v: PlistValue | undefined): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const num = (v: PlistValue | undefined): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const dict = (v: PlistValue | undefined): PlistDict | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array)
    ? (v as PlistDict)
    : undefined;
const list = (v: PlistValue | undefined): PlistValue[] => (Array.isArray(v) ? v : []);

function compact<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

/** Inventory keys shared by Authenticate check-ins and DeviceInformation QueryResponses. */
export function inventoryFacts(d: PlistDict): DeviceFacts {
  return compact({
    udid: str(d.UDID, 128),
    deviceName: str(d.DeviceName, 255),
    model: str(d.Model, 64),
    modelName: str(d.ModelName, 128),
    modelNumber: str(d.ModelNumber, 64),
    productName: str(d.ProductName, 64),
    osVersion: str(d.OSVersion, 32),
    buildVersion: str(d.BuildVersion, 32),
    serialNumber: str(d.SerialNumber, 64),
    imei: str(d.IMEI, 64),
    meid: str(d.MEID, 64),
    wifiMac: str(d.WiFiMAC, 32),
    bluetoothMac: str(d.BluetoothMAC, 32),
    capacityGb: num(d.DeviceCapacity),
    availableCapacityGb: num(d.AvailableDeviceCapacity),
    batteryLevel: num(d.BatteryLevel),
    isSupervised: bool(d.IsSupervised),
    isMultiUser: bool(d.IsMultiUser),
    activationLockEnabled: bool(d.IsActivationLockEnabled),
    lostModeEnabled: bool(d.IsMDMLostModeEnabled),
  });
}

export function securityFacts(info: PlistDict): SecurityFacts {
  const caps = num(info.HardwareEncryptionCaps);
  const passcodePresent = bool(info.PasscodePresent);
  const fileVault = bool(info.FDE_Enabled);
  // Apple (SecurityInfo): iOS Data Protection is in effect when the hardware supports both block-
  // and file-level encryption (caps 3) and a passcode is set; on macOS FileVault is FDE_Enabled.
  const encrypted = fileVault === true || (caps !== undefined && (caps & 3) === 3 && passcodePresent === true);
  return compact({
    hardwareEncryptionCaps: caps,
    fileVaultEnabled: fileVault,
    passcodePresent,
    passcodeCompliant: bool(info.PasscodeCompliant),
    passcodeCompliantWithProfiles: bool(info.PasscodeCompliantWithProfiles),
    encrypted,
  });
}

/**
 * What an Acknowledged result of `requestType` tells about the device. Results of commands that
 * carry no device state (DeviceLock, RemoveProfile, ...) give an empty object.
 */
export function factsFromResult(requestType: string, result: PlistDict): DeviceFacts {
  switch (requestType) {
    case 'DeviceInformation': {
      const q = dict(result.QueryResponses);
      return q ? inventoryFacts(q) : {};
    }
    case 'SecurityInfo': {
      const s = dict(result.SecurityInfo);
      return s ? { security: securityFacts(s) } : {};
    }
    case 'ProfileList':
      return {
        profiles: list(result.ProfileList).flatMap((p) => {
          const d = dict(p);
          const identifier = d && str(d.PayloadIdentifier, 255);
          return d && identifier
            ? [compact({ identifier, uuid: str(d.PayloadUUID, 64), displayName: str(d.PayloadDisplayName, 255), isManaged: bool(d.IsManaged) })]
            : [];
        }),
      };
    case 'InstalledApplicationList':
      return {
        apps: list(result.InstalledApplicationList).flatMap((a) => {
          const d = dict(a);
          const identifier = d && str(d.Identifier, 255);
          return d && identifier
            ? [compact({ identifier, name: str(d.Name, 255), version: str(d.Version, 64), shortVersion: str(d.ShortVersion, 64) })]
            : [];
        }),
      };
    case 'UserList':
      return {
        users: list(result.Users).flatMap((u) => {
          const d = dict(u);
          const userName = d && str(d.UserName, 255);
          return d && userName ? [compact({ userName, fullName: str(d.FullName, 255), isLoggedIn: bool(d.IsLoggedIn) })] : [];
        }),
      };
    default:
      return {};
  }
}
