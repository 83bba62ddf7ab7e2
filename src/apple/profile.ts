// The enrollment configuration profile (.mobileconfig), as a pure function of its inputs.
// Payload keys follow Apple's Device Management reference (apple/device-management,
// mdm/profiles/TopLevel.yaml, com.apple.security.root.yaml, com.apple.security.scep.yaml,
// com.apple.mdm.yaml). Signing the result is cms.ts's job; choosing UUIDs, the challenge and the
// URLs is the enrollment service's.
import { buildPlistBuffer, type PlistInputDict } from './plist';

/** AccessRights: every bit Apple defines (1..4096), i.e. full management of a hospital device. */
export const ALL_ACCESS_RIGHTS = 8191;

/** ServerCapabilities Ward implements (com.apple.mdm.yaml): user channels and bootstrap token escrow. */
export const SERVER_CAPABILITIES = ['com.apple.mdm.per-user-connections', 'com.apple.mdm.bootstraptoken'] as const;

/** SCEP "Key Usage" bitmask (com.apple.security.scep.yaml): 1 signing | 4 encryption. */
export const SCEP_KEY_USAGE_SIGN_AND_ENCRYPT = 5;

export interface EnrollmentProfileInput {
  /** PayloadIdentifier of the profile; the payloads get `<identifier>.root|.scep|.mdm`. */
  identifier: string;
  /** PayloadOrganization, shown by the device ("Ward — Example Hospital"). */
  organization: string;
  displayName?: string;
  description?: string;
  /** One UUID per payload; the caller makes them (crypto.randomUUID) so this stays pure. */
  uuids: { profile: string; root: string; scep: string; mdm: string };
  /** Ward's root CA certificate (DER), installed so the device trusts the HTTPS listener. */
  rootCertificate: Uint8Array;
  scep: {
    /** URL of Ward's /scep on the plain-HTTP listener. */
    url: string;
    /** The one-time enrollmentChallenge (RFC 8894 challengePassword). */
    challenge: string;
    /** X.500 subject as [type, value] pairs, most significant first: [['O','Hospital'],['CN','…']]. */
    subject: Array<[string, string]>;
    /** Shown as the identity's name in Settings (Name key, also the GetCACert "message"). */
    name?: string;
    /** Default 2048. */
    keySize?: 2048 | 4096;
    /** Default 5 (signing and encryption). */
    keyUsage?: number;
    /** Fingerprint of the SCEP CA certificate; pins it over the plain-HTTP listener. */
    caFingerprint?: Uint8Array;
  };
  mdm: {
    serverUrl: string;
    checkInUrl: string;
    /** APNs topic: the UID of the push certificate's subject (com.apple.mgmt.External.…). */
    topic: string;
    accessRights?: number;
    signMessage?: boolean;
    checkOutWhenRemoved?: boolean;
    serverCapabilities?: readonly string[];
    useDevelopmentApns?: boolean;
  };
}

/** The enrollment profile as a plist dict (TopLevel with root, SCEP and MDM payloads). */
export function enrollmentProfile(input: EnrollmentProfileInput): PlistInputDict {
  const { uuids } = input;
  const org = input.organization;
  const root: PlistInputDict = {
    PayloadType: 'com.apple.security.root',
    PayloadVersion: 1,
    PayloadIdentifier: `${input.identifier}.root`,
    PayloadUUID: uuids.root,
    PayloadDisplayName: `${org} root certificate`,
    PayloadCertificateFileName: 'ward-root.cer',
    PayloadContent: input.rootCertificate,
  };
  const scep: PlistInputDict = {
    PayloadType: 'com.apple.security.scep',
    PayloadVersion: 1,
    PayloadIdentifier: `${input.identifier}.scep`,
    PayloadUUID: uuids.scep,
    PayloadDisplayName: `${org} device identity`,
    PayloadContent: {
      URL: input.scep.url,
      Name: input.scep.name,
      // Subject is an array of RDNs, each an array of [type, value] pairs.
      Subject: input.scep.subject.map(([type, value]) => [[type, value]]),
      Challenge: input.scep.challenge,
      Keysize: input.scep.keySize ?? 2048,
      'Key Type': 'RSA',
      'Key Usage': input.scep.keyUsage ?? SCEP_KEY_USAGE_SIGN_AND_ENCRYPT,
      CAFingerprint: input.scep.caFingerprint,
    },
  };
  const mdm: PlistInputDict = {
    PayloadType: 'com.apple.mdm',
    PayloadVersion: 1,
    PayloadIdentifier: `${input.identifier}.mdm`,
    PayloadUUID: uuids.mdm,
    PayloadDisplayName: `${org} device management`,
    ServerURL: input.mdm.serverUrl,
    CheckInURL: input.mdm.checkInUrl,
    Topic: input.mdm.topic,
    IdentityCertificateUUID: uuids.scep,
    AccessRights: input.mdm.accessRights ?? ALL_ACCESS_RIGHTS,
    CheckOutWhenRemoved: input.mdm.checkOutWhenRemoved ?? true,
    SignMessage: input.mdm.signMessage ?? true,
    ServerCapabilities: [...(input.mdm.serverCapabilities ?? SERVER_CAPABILITIES)],
    UseDevelopmentAPNS: input.mdm.useDevelopmentApns ? true : undefined,
  };
  return {
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: input.identifier,
    PayloadUUID: uuids.profile,
    PayloadDisplayName: input.displayName ?? `${org} enrollment`,
    PayloadDescription: input.description ?? `Enrolls this device in ${org}'s device management.`,
    PayloadOrganization: org,
    PayloadRemovalDisallowed: false,
    PayloadContent: [root, scep, mdm],
  };
}

/** The unsigned .mobileconfig bytes (XML plist); sign them with cms.signCms. */
export function enrollmentProfileBytes(input: EnrollmentProfileInput): Buffer {
  return buildPlistBuffer(enrollmentProfile(input));
}
