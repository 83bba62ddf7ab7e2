// MDM commands Ward sends, their parameters and their plists. Shapes follow Apple's Device
// Management reference (apple/device-management, mdm/commands/*.yaml): a command is
// { CommandUUID, Command: { RequestType, ...parameters } }.
// Parameters arrive as JSON (admin API, `wardctl device command ID TYPE --json P`); one ajv schema
// per RequestType validates them and is also their documentation.
import Ajv, { type ErrorObject } from 'ajv';
import { buildPlistBuffer, type PlistInput, type PlistInputDict } from './plist';

/** DeviceInformation queries Ward asks for by default: inventory plus what compliance reads. */
export const DEFAULT_DEVICE_QUERIES = [
  'UDID',
  'DeviceName',
  'OSVersion',
  'BuildVersion',
  'ModelName',
  'Model',
  'ModelNumber',
  'ProductName',
  'SerialNumber',
  'DeviceCapacity',
  'AvailableDeviceCapacity',
  'BatteryLevel',
  'IMEI',
  'MEID',
  'WiFiMAC',
  'BluetoothMAC',
  'IsSupervised',
  'IsMultiUser',
  'IsActivationLockEnabled',
  'IsDeviceLocatorServiceEnabled',
  'IsMDMLostModeEnabled',
  'IsCloudBackupEnabled',
  'EASDeviceIdentifier',
] as const;

const BASE64 = '^[A-Za-z0-9+/]*={0,2}$';
const text = (maxLength = 1024) => ({ type: 'string', minLength: 1, maxLength });
const bool = { type: 'boolean' };
const obj = (properties: Record<string, unknown>, required: string[] = [], extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
  ...extra,
});
const settingsItem = (item: string, properties: Record<string, unknown>, required: string[]) =>
  obj({ Item: { const: item }, ...properties }, ['Item', ...required]);

// settings.yaml: the Settings items a hospital fleet uses, [properties, required] each.
const SETTINGS_ITEM_SCHEMAS: Record<string, [Record<string, unknown>, string[]]> = {
  DeviceName: [{ DeviceName: text(255) }, ['DeviceName']],
  HostName: [{ HostName: text(255) }, ['HostName']],
  Bluetooth: [{ Enabled: bool }, ['Enabled']],
  DataRoaming: [{ Enabled: bool }, ['Enabled']],
  VoiceRoaming: [{ Enabled: bool }, ['Enabled']],
  PersonalHotspot: [{ Enabled: bool }, ['Enabled']],
  DiagnosticSubmission: [{ Enabled: bool }, ['Enabled']],
  AppAnalytics: [{ Enabled: bool }, ['Enabled']],
  TimeZone: [{ TimeZone: text(64) }, ['TimeZone']],
  PasscodeLockGracePeriod: [{ PasscodeLockGracePeriod: { enum: [0, 60, 300, 900, 3600, 14400] } }, ['PasscodeLockGracePeriod']],
  MaximumResidentUsers: [{ MaximumResidentUsers: { type: 'integer', minimum: 1, maximum: 64 } }, ['MaximumResidentUsers']],
  OrganizationInfo: [
    {
      OrganizationInfo: obj({
        OrganizationName: text(255),
        OrganizationAddress: text(),
        OrganizationPhone: text(64),
        OrganizationEmail: text(255),
        OrganizationMagic: text(255),
      }),
    },
    ['OrganizationInfo'],
  ],
};

// Managed app configuration and attributes (settings.yaml ApplicationConfiguration /
// ApplicationAttributes; application.install.yaml Configuration / Attributes). The configuration is
// the app's own dictionary (any plist value); the attributes Ward sets are the per-app VPN and friends.
const BUNDLE_ID = { type: 'string', pattern: '^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$', maxLength: 255 };
const UUID = { type: 'string', pattern: '^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$' };
// Plist values have no null: JSON gives scalars, lists and one level of dictionaries.
const SCALAR = { anyOf: [{ type: 'string', maxLength: 4096 }, { type: 'number' }, { type: 'boolean' }] };
const CONFIG_VALUE = { anyOf: [...SCALAR.anyOf, { type: 'array', maxItems: 100, items: SCALAR }, { type: 'object', maxProperties: 100, additionalProperties: SCALAR }] };
const APP_CONFIGURATION = {
  type: 'object',
  maxProperties: 200,
  additionalProperties: CONFIG_VALUE,
  description: 'The app\'s managed configuration (the app reads it from com.apple.configuration.managed).',
};
const APP_ATTRIBUTES = obj({
  VPNUUID: UUID,
  ContentFilterUUID: UUID,
  DNSProxyUUID: UUID,
  RelayUUID: UUID,
  AssociatedDomains: { type: 'array', maxItems: 50, items: text(253) },
  AssociatedDomainsEnableDirectDownloads: bool,
  Removable: bool,
  Hideable: bool,
  Lockable: bool,
});
Object.assign(SETTINGS_ITEM_SCHEMAS, {
  // iOS 7+, macOS 10.15+: omitting Configuration removes the app's configuration.
  ApplicationConfiguration: [{ Identifier: BUNDLE_ID, Configuration: APP_CONFIGURATION }, ['Identifier']],
  // iOS 7+: omitting Attributes removes them.
  ApplicationAttributes: [{ Identifier: BUNDLE_ID, Attributes: APP_ATTRIBUTES }, ['Identifier']],
  // Shared iPad, iOS 13.4+ (UserSessionTimeout and TemporarySession* 14.5+, PasscodePolicy 17+).
  SharedDeviceConfiguration: [
    {
      QuotaSize: { type: 'integer', minimum: 1 },
      ResidentUsers: { type: 'integer', minimum: 1, maximum: 64 },
      UserSessionTimeout: { type: 'integer', minimum: 0, description: 'Seconds idle before the user is logged out (at least 30; 0 removes it).' },
      TemporarySessionTimeout: { type: 'integer', minimum: 0 },
      TemporarySessionOnly: bool,
      ManagedAppleIDDefaultDomains: { type: 'array', maxItems: 10, items: text(253) },
      OnlineAuthenticationGracePeriod: { type: 'integer', minimum: 0 },
      SkipLanguageAndLocaleSetupForNewUsers: bool,
      AwaitUserConfiguration: obj({ Enabled: bool }, ['Enabled']),
      PasscodePolicy: obj({
        PasscodeLockGracePeriod: { enum: [0, 60, 300, 900, 3600, 14400] },
        AutoLockTime: { type: 'integer', minimum: 120, description: 'Seconds idle before the device sleeps (at least 120).' },
      }),
    },
    [],
  ],
} satisfies Record<string, [Record<string, unknown>, string[]]>);
const SETTINGS_ITEMS = Object.keys(SETTINGS_ITEM_SCHEMAS);

/** JSON Schema of the parameters of each RequestType (mdm/commands/<name>.yaml). */
export const COMMAND_SCHEMAS = {
  // information.device.yaml
  DeviceInformation: obj({
    Queries: { type: 'array', items: text(64), minItems: 1, maxItems: 200, uniqueItems: true },
  }),
  // information.security.yaml
  SecurityInfo: obj({}),
  // profile.list.yaml
  ProfileList: obj({ ManagedOnly: bool }),
  // profile.install.yaml: Payload is the .mobileconfig, base64 in JSON.
  InstallProfile: obj({ Payload: { type: 'string', minLength: 4, maxLength: 4 * 1024 * 1024, pattern: BASE64 } }, ['Payload']),
  // profile.remove.yaml
  RemoveProfile: obj({ Identifier: text(255) }, ['Identifier']),
  // application.installed.list.yaml
  InstalledApplicationList: obj({
    Identifiers: { type: 'array', items: text(255), maxItems: 500 },
    ManagedAppsOnly: bool,
  }),
  // application.install.yaml: enterprise (in-house) apps by manifest URL. `App` names an app Ward
  // serves (wardctl apple app add); the service turns it into Ward's own ManifestURL.
  InstallApplication: obj(
    {
      App: { type: 'string', pattern: '^app-[0-9a-f]{16}$' },
      ManifestURL: { type: 'string', pattern: '^https://', maxLength: 2048 },
      ManagementFlags: { enum: [0, 1, 4, 5] },
      InstallAsManaged: bool,
      // The app's managed configuration and attributes from the start (a Settings item would fail
      // while the app is not installed yet).
      Configuration: APP_CONFIGURATION,
      Attributes: APP_ATTRIBUTES,
    },
    [],
    { oneOf: [{ required: ['App'] }, { required: ['ManifestURL'] }] },
  ),
  // application.remove.yaml
  RemoveApplication: obj({ Identifier: text(255) }, ['Identifier']),
  // device.lock.yaml: PIN is the 6-digit Find My PIN macOS requires.
  DeviceLock: obj({ Message: text(), PhoneNumber: text(64), PIN: { type: 'string', pattern: '^[0-9]{6}$' } }),
  // device.erase.yaml
  EraseDevice: obj({
    PIN: { type: 'string', pattern: '^[0-9]{6}$' },
    PreserveDataPlan: bool,
    DisallowProximitySetup: bool,
    ObliterationBehavior: { enum: ['Default', 'DoNotObliterate', 'ObliterateWithWarning', 'Always'] },
  }),
  // passcode.clear.yaml: the UnlockToken is the one the device escrowed at TokenUpdate; the
  // service fills it in, an operator never handles it.
  ClearPasscode: obj({}),
  // device.restart.yaml
  RestartDevice: obj({ NotifyUser: bool }),
  // device.lostmode.enable.yaml: "Message or PhoneNumber is required".
  EnableLostMode: obj({ Message: text(), PhoneNumber: text(64), Footnote: text() }, [], {
    anyOf: [{ required: ['Message'] }, { required: ['PhoneNumber'] }],
  }),
  // device.lostmode.disable.yaml
  DisableLostMode: obj({}),
  // settings.yaml
  Settings: obj(
    {
      Settings: {
        type: 'array',
        minItems: 1,
        maxItems: 20,
        items: {
          type: 'object',
          required: ['Item'],
          discriminator: { propertyName: 'Item' },
          oneOf: Object.entries(SETTINGS_ITEM_SCHEMAS).map(([item, [props, required]]) => settingsItem(item, props, required)),
        },
      },
    },
    ['Settings'],
  ),
  // user.list.yaml (Shared iPad, macOS)
  UserList: obj({}),
  // user.logout.yaml (Shared iPad)
  LogOutUser: obj({}),
  // user.delete.yaml (Shared iPad, macOS)
  DeleteUser: obj({ UserName: text(255), ForceDeletion: bool, DeleteAllUsers: bool }, [], {
    anyOf: [{ required: ['UserName'] }, { required: ['DeleteAllUsers'], properties: { DeleteAllUsers: { const: true } } }],
  }),
} as const;

export type CommandType = keyof typeof COMMAND_SCHEMAS;
export const COMMAND_TYPES = Object.keys(COMMAND_SCHEMAS) as CommandType[];

/** A validated command body: RequestType plus its parameters in plist form. */
export interface CommandRequest extends PlistInputDict {
  readonly RequestType: CommandType;
}

export class CommandFormatError extends Error {
  override readonly name = 'CommandFormatError';
  constructor(
    readonly reason: 'unknown-request-type' | 'invalid-parameters' | 'missing-unlock-token',
    message: string,
  ) {
    super(message);
  }
}

// strictRequired off: the anyOf branches name properties declared one level up. The discriminator
// on Settings items makes a bad item report its own fields, not every other item type's.
const ajv = new Ajv({ allErrors: false, strict: true, strictTuples: false, strictRequired: false, discriminator: true });
const validators = Object.fromEntries(COMMAND_TYPES.map((type) => [type, ajv.compile(COMMAND_SCHEMAS[type])])) as Record<
  CommandType,
  ReturnType<typeof ajv.compile>
>;

export function isCommandType(type: string): type is CommandType {
  return Object.hasOwn(COMMAND_SCHEMAS, type);
}

function describe(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'invalid parameters';
  const where = e.instancePath || '(parameters)';
  // "Message or PhoneNumber is required" style rules: name every alternative.
  const anyOf = errors?.find((x) => x.keyword === 'anyOf' || x.keyword === 'oneOf');
  if (anyOf) {
    const names = errors!.filter((x) => x.keyword === 'required').map((x) => x.params.missingProperty as string);
    if (names.length > 0) return `${anyOf.instancePath || '(parameters)'} needs ${names.join(' or ')}`;
  }
  if (e.keyword === 'additionalProperties') return `${where}: unknown parameter ${JSON.stringify(e.params.additionalProperty)}`;
  if (e.keyword === 'discriminator') return `${where}: Item must be one of ${SETTINGS_ITEMS.join(', ')}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

export interface CommandContext {
  /** The UnlockToken the device escrowed at TokenUpdate (needed by ClearPasscode). */
  unlockToken?: Uint8Array;
  /** Ward's manifest URL of a catalog app (InstallApplication with App); throws if unknown. */
  manifestUrlOf?: (appId: string) => string;
}

/**
 * Validates JSON parameters for `type` and returns the command body. Throws CommandFormatError
 * (unknown type, bad parameters, ClearPasscode without an escrowed token).
 */
export function commandRequest(type: string, params: unknown = {}, context: CommandContext = {}): CommandRequest {
  if (!isCommandType(type)) throw new CommandFormatError('unknown-request-type', `unknown RequestType ${JSON.stringify(type)}`);
  const p = params ?? {};
  if (!validators[type](p)) throw new CommandFormatError('invalid-parameters', `${type}: ${describe(validators[type].errors)}`);
  const body = { ...(p as Record<string, PlistInput>) };
  switch (type) {
    case 'DeviceInformation':
      if (body.Queries === undefined) body.Queries = [...DEFAULT_DEVICE_QUERIES];
      break;
    case 'InstallProfile':
      body.Payload = Buffer.from(body.Payload as string, 'base64');
      break;
    case 'InstallApplication':
      if (body.App !== undefined) {
        if (!context.manifestUrlOf) throw new CommandFormatError('invalid-parameters', 'InstallApplication: App needs Ward\'s app catalog');
        body.ManifestURL = context.manifestUrlOf(body.App as string);
        delete body.App;
      }
      break;
    case 'ClearPasscode':
      if (!context.unlockToken || context.unlockToken.length === 0) {
        throw new CommandFormatError('missing-unlock-token', 'ClearPasscode: the device has not escrowed an UnlockToken');
      }
      body.UnlockToken = context.unlockToken;
      break;
    default:
      break;
  }
  return { RequestType: type, ...body };
}

/** The command plist a device receives in the response to a command poll. */
export function commandPlist(commandUuid: string, request: CommandRequest): Buffer {
  return buildPlistBuffer({ CommandUUID: commandUuid, Command: request });
}
