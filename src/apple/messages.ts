// The device's side of the protocol, decoded and checked: check-in messages (Apple "Device
// Management" check-in protocol, apple/device-management mdm/checkin/*.yaml) and command reports
// (the body of every PUT to ServerURL). Only shape is checked here; identity is cert-auth's job.
import { clipText } from '../audit';
import { parsePlistDict, PlistError, type PlistDict, type PlistLimits, type PlistValue } from './plist';

/** Shared iPad's user-channel UserID (tokenupdate.yaml: "always FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"). */
export const SHARED_IPAD_USER_ID = 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF';

export const CHECKIN_MESSAGE_TYPES = [
  'Authenticate',
  'TokenUpdate',
  'CheckOut',
  'UserAuthenticate',
  'SetBootstrapToken',
  'GetBootstrapToken',
  'DeclarativeManagement',
] as const;
export type CheckinMessageType = (typeof CHECKIN_MESSAGE_TYPES)[number];

export const COMMAND_STATUSES = ['Acknowledged', 'Error', 'CommandFormatError', 'Idle', 'NotNow'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

export type EnrollmentType = 'device' | 'user' | 'user-enrollment-device' | 'user-enrollment' | 'shared-ipad-user';

/** Which enrollment (and channel) a message speaks for, as NanoMDM resolves it. */
export interface ResolvedEnrollment {
  type: EnrollmentType;
  /** UDID, or EnrollmentID for a User Enrollment. */
  deviceId: string;
  /** Set on the user channel: UserID (macOS), UserShortName (Shared iPad), EnrollmentUserID. */
  userId?: string;
  /** deviceId, or deviceId:userId on a user channel: the key of the command queue. */
  id: string;
}

export class MdmProtocolError extends Error {
  override readonly name = 'MdmProtocolError';
  constructor(
    readonly reason: 'malformed-plist' | 'too-large' | 'unknown-message-type' | 'missing-key' | 'bad-value' | 'no-enrollment-id',
    message: string,
    readonly httpStatus = reason === 'too-large' ? 413 : 400,
  ) {
    super(message);
  }
}

interface EnrollmentKeys {
  UDID?: string;
  EnrollmentID?: string;
  EnrollmentUserID?: string;
  UserID?: string;
  UserShortName?: string;
  UserLongName?: string;
}

export interface Authenticate extends EnrollmentKeys {
  MessageType: 'Authenticate';
  Topic: string;
  /** The whole message, for inventory (DeviceName, Model, OSVersion, SerialNumber...). */
  raw: PlistDict;
}
export interface TokenUpdate extends EnrollmentKeys {
  MessageType: 'TokenUpdate';
  Topic: string;
  Token: Buffer;
  PushMagic: string;
  UnlockToken?: Buffer;
  AwaitingConfiguration?: boolean;
  NotOnConsole?: boolean;
}
export interface CheckOut extends EnrollmentKeys {
  MessageType: 'CheckOut';
  Topic?: string;
}
export interface UserAuthenticate extends EnrollmentKeys {
  MessageType: 'UserAuthenticate';
  DigestResponse?: string;
}
export interface SetBootstrapToken extends EnrollmentKeys {
  MessageType: 'SetBootstrapToken';
  /** Missing or empty: the device asks for the stored token to be removed. */
  BootstrapToken?: Buffer;
  AwaitingConfiguration?: boolean;
}
export interface GetBootstrapToken extends EnrollmentKeys {
  MessageType: 'GetBootstrapToken';
  AwaitingConfiguration?: boolean;
}
export interface DeclarativeManagement extends EnrollmentKeys {
  MessageType: 'DeclarativeManagement';
  Endpoint: string;
  Data?: Buffer;
}
export type CheckinMessage = Authenticate | TokenUpdate | CheckOut | UserAuthenticate | SetBootstrapToken | GetBootstrapToken | DeclarativeManagement;

export interface ErrorChainItem {
  ErrorCode?: number;
  ErrorDomain?: string;
  LocalizedDescription?: string;
  USEnglishDescription?: string;
}

export interface CommandReport extends EnrollmentKeys {
  Status: CommandStatus;
  /** Absent only when Status is Idle. */
  CommandUUID?: string;
  ErrorChain?: ErrorChainItem[];
  /** The whole report, for result parsing (QueryResponses, SecurityInfo, ...). */
  raw: PlistDict;
}

// Check-ins and reports are small except command results such as InstalledApplicationList.
export const CHECKIN_LIMITS: PlistLimits = { maxBytes: 256 * 1024, maxDepth: 16, maxNodes: 20_000 };
export const REPORT_LIMITS: PlistLimits = { maxBytes: 4 * 1024 * 1024, maxDepth: 32, maxNodes: 500_000 };

function parse(body: Buffer, limits: PlistLimits): PlistDict {
  try {
    return parsePlistDict(body, limits);
  } catch (e) {
    if (e instanceof PlistError) {
      throw new MdmProtocolError(e.reason === 'too-large' ? 'too-large' : 'malformed-plist', `plist: ${e.message}`);
    }
    throw e;
  }
}

function optString(d: PlistDict, key: string, max = 1024): string | undefined {
  const v = d[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > max) throw new MdmProtocolError('bad-value', `${key} must be a string of at most ${max} characters`);
  return v;
}

function reqString(d: PlistDict, key: string, max = 1024): string {
  const v = optString(d, key, max);
  if (v === undefined || v === '') throw new MdmProtocolError('missing-key', `${key} is required`);
  return v;
}

function optData(d: PlistDict, key: string): Buffer | undefined {
  const v = d[key];
  if (v === undefined) return undefined;
  if (!(v instanceof Uint8Array)) throw new MdmProtocolError('bad-value', `${key} must be <data>`);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function optBool(d: PlistDict, key: string): boolean | undefined {
  const v = d[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new MdmProtocolError('bad-value', `${key} must be <true/> or <false/>`);
  return v;
}

function enrollmentKeys(d: PlistDict): EnrollmentKeys {
  return {
    UDID: optString(d, 'UDID', 128),
    EnrollmentID: optString(d, 'EnrollmentID', 128),
    EnrollmentUserID: optString(d, 'EnrollmentUserID', 128),
    UserID: optString(d, 'UserID', 128),
    UserShortName: optString(d, 'UserShortName', 256),
    UserLongName: optString(d, 'UserLongName', 256),
  };
}

/** Resolves which enrollment and channel a message is for (device, user, Shared iPad user...). */
export function resolveEnrollment(k: EnrollmentKeys): ResolvedEnrollment {
  if (k.UDID) {
    if (k.UserID) {
      const shared = k.UserID === SHARED_IPAD_USER_ID;
      const userId = shared ? k.UserShortName : k.UserID;
      if (!userId) throw new MdmProtocolError('no-enrollment-id', 'Shared iPad user channel without UserShortName');
      return { type: shared ? 'shared-ipad-user' : 'user', deviceId: k.UDID, userId, id: `${k.UDID}:${userId}` };
    }
    return { type: 'device', deviceId: k.UDID, id: k.UDID };
  }
  if (k.EnrollmentID) {
    if (k.EnrollmentUserID) {
      return { type: 'user-enrollment', deviceId: k.EnrollmentID, userId: k.EnrollmentUserID, id: `${k.EnrollmentID}:${k.EnrollmentUserID}` };
    }
    return { type: 'user-enrollment-device', deviceId: k.EnrollmentID, id: k.EnrollmentID };
  }
  throw new MdmProtocolError('no-enrollment-id', 'neither UDID nor EnrollmentID present');
}

/** Decodes a check-in body (PUT CheckInURL, application/x-apple-aspen-mdm-checkin). */
export function decodeCheckin(body: Buffer): CheckinMessage {
  const d = parse(body, CHECKIN_LIMITS);
  const type = d.MessageType;
  if (typeof type !== 'string') throw new MdmProtocolError('missing-key', 'MessageType is required');
  const keys = enrollmentKeys(d);
  switch (type) {
    case 'Authenticate':
      return { MessageType: type, ...keys, Topic: reqString(d, 'Topic', 255), raw: d };
    case 'TokenUpdate': {
      const token = optData(d, 'Token');
      if (!token || token.length === 0 || token.length > 256) throw new MdmProtocolError('missing-key', 'Token is required');
      return {
        MessageType: type,
        ...keys,
        Topic: reqString(d, 'Topic', 255),
        Token: token,
        PushMagic: reqString(d, 'PushMagic', 255),
        UnlockToken: optData(d, 'UnlockToken'),
        AwaitingConfiguration: optBool(d, 'AwaitingConfiguration'),
        NotOnConsole: optBool(d, 'NotOnConsole'),
      };
    }
    case 'CheckOut':
      return { MessageType: type, ...keys, Topic: optString(d, 'Topic', 255) };
    case 'UserAuthenticate':
      return { MessageType: type, ...keys, DigestResponse: optString(d, 'DigestResponse', 4096) };
    case 'SetBootstrapToken':
      return { MessageType: type, ...keys, BootstrapToken: optData(d, 'BootstrapToken'), AwaitingConfiguration: optBool(d, 'AwaitingConfiguration') };
    case 'GetBootstrapToken':
      return { MessageType: type, ...keys, AwaitingConfiguration: optBool(d, 'AwaitingConfiguration') };
    case 'DeclarativeManagement':
      return { MessageType: type, ...keys, Endpoint: reqString(d, 'Endpoint', 512), Data: optData(d, 'Data') };
    default:
      throw new MdmProtocolError('unknown-message-type', `unknown MessageType ${JSON.stringify(type.slice(0, 64))}`);
  }
}

function errorChain(v: PlistValue | undefined): ErrorChainItem[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new MdmProtocolError('bad-value', 'ErrorChain must be an <array>');
  // clipText: the chain goes into audit records, whose canonical JSON cannot hold half a surrogate pair (found by fuzzing).
  return v.slice(0, 32).flatMap((item) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item) || item instanceof Date || item instanceof Uint8Array) return [];
    const d = item as PlistDict;
    const out: ErrorChainItem = {};
    // a <real>nan</real> or infinity is a number too, and canonical JSON has no such number (found by fuzzing)
    if (typeof d.ErrorCode === 'number' && Number.isFinite(d.ErrorCode)) out.ErrorCode = d.ErrorCode;
    if (typeof d.ErrorDomain === 'string') out.ErrorDomain = clipText(d.ErrorDomain, 256);
    if (typeof d.LocalizedDescription === 'string') out.LocalizedDescription = clipText(d.LocalizedDescription, 2048);
    if (typeof d.USEnglishDescription === 'string') out.USEnglishDescription = clipText(d.USEnglishDescription, 2048);
    return [out];
  });
}

/** Decodes a command report (PUT ServerURL, application/x-apple-aspen-mdm). */
export function decodeCommandReport(body: Buffer): CommandReport {
  const d = parse(body, REPORT_LIMITS);
  const status = d.Status;
  if (typeof status !== 'string') throw new MdmProtocolError('missing-key', 'Status is required');
  if (!(COMMAND_STATUSES as readonly string[]).includes(status)) {
    throw new MdmProtocolError('bad-value', `unknown Status ${JSON.stringify(status.slice(0, 64))}`);
  }
  const report: CommandReport = { ...enrollmentKeys(d), Status: status as CommandStatus, raw: d };
  if (status !== 'Idle') report.CommandUUID = reqString(d, 'CommandUUID', 128);
  else report.CommandUUID = optString(d, 'CommandUUID', 128);
  const chain = errorChain(d.ErrorChain);
  if (chain) report.ErrorChain = chain;
  return report;
}
