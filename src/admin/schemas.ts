// The JSON Schemas of the admin API: ajv validates request bodies and queries with them, and the
// OpenAPI 3.1 document (/api/v1/openapi.json) is built from the same objects. Only keywords that
// mean the same in JSON Schema draft-07 (ajv) and 2020-12 (OpenAPI 3.1) are used.

export type JsonSchema = Record<string, unknown>;

const str = (description: string, extra: JsonSchema = {}): JsonSchema => ({ type: 'string', description, ...extra });
const time = (description: string): JsonSchema => ({ type: 'string', format: 'date-time', description });
const nullable = (s: JsonSchema): JsonSchema => ({ ...s, type: [s.type as string, 'null'] });
const obj = (properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties), extra: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
  ...extra,
});
const list = (items: JsonSchema, description?: string): JsonSchema => ({ type: 'array', items, ...(description ? { description } : {}) });

const role = { type: 'string', enum: ['admin', 'operator', 'auditor', 'nac'], description: 'admin | operator | auditor | nac' };
const platform = { type: 'string', enum: ['apple', 'android'] };
const username = str('User name: a letter, then letters, digits, dot, dash or underscore (2-64).', { pattern: '^[A-Za-z][A-Za-z0-9._-]{1,63}$' });
const password = str('A password (length is what counts: at least admin.password.minLength characters).', { minLength: 1, maxLength: 1024 });

export const ErrorAnswer = obj(
  { error: str('Stable error code, e.g. forbidden, invalid_body.'), reason: str('What went wrong, for a person.'), requestId: str('X-Request-Id of the request.') },
  ['error', 'reason'],
);

export const Login = obj({
  username,
  password,
  code: str('The current 6-digit TOTP code (RFC 6238).', { pattern: '^[0-9]{6}$' }),
});

export const Session = obj(
  {
    kind: { type: 'string', enum: ['session', 'token'] },
    username: str('Signed-in user, or the API token name.'),
    role,
    csrfToken: str('Send as X-CSRF-Token on every POST/PUT/PATCH/DELETE made with the session cookie.'),
    expiresAt: time('End of the session (or of the token).'),
    idleMinutes: { type: 'integer', description: 'The session ends after this long without a request.' },
  },
  ['kind', 'username', 'role', 'expiresAt'],
);

export const OwnPassword = obj({ current: password, password });
export const PasswordSet = obj({ password });

export const User = obj({
  username,
  role,
  createdAt: time('When the account was created.'),
  createdBy: str('Who created it (admin:<name> or cli:<shell user>).'),
  lastLoginAt: nullable(time('Last successful sign-in.')),
  passwordChangedAt: time('Last password change.'),
  failedLogins: { type: 'integer', description: 'Consecutive failed sign-ins.' },
  lockedUntil: nullable(time('Locked after repeated failures until then.')),
  disabled: { type: 'boolean' },
});
export const UserList = obj({ users: list(User) });
export const UserCreate = obj({ username, role, password });
export const UserCreated = obj({ user: User, otpauthUri: str('TOTP secret as an otpauth:// URI: shown this once only.') });
export const UserPatch = obj({ role, disabled: { type: 'boolean' } }, [], { minProperties: 1 });
export const TotpReset = obj({ otpauthUri: str('The new TOTP secret as an otpauth:// URI: shown this once only.') });

const tokenProps = {
  id: str('Public id of the token (the part after ward_).', { pattern: '^[0-9a-f]{16}$' }),
  name: str('What the token is for.'),
  role,
  createdAt: time('Created.'),
  createdBy: str('Who created it.'),
  expiresAt: time('Stops working then.'),
  revokedAt: nullable(time('Revoked.')),
  revokedBy: nullable(str('Who revoked it.')),
  lastUsedAt: nullable(time('Last request made with it.')),
  status: { type: 'string', enum: ['active', 'expired', 'revoked'] },
};
export const Token = obj(tokenProps);
export const TokenList = obj({ tokens: list(Token) });
export const TokenCreate = obj(
  {
    name: str('What the token is for (shown in audit events).', { minLength: 1, maxLength: 64 }),
    role,
    days: { type: 'integer', minimum: 1, maximum: 3650, description: 'Lifetime in days (default admin.tokens.defaultDays).' },
  },
  ['name', 'role'],
);
export const TokenCreated = obj({ ...tokenProps, token: str('The bearer token: shown this once only (Authorization: Bearer <token>).') });

export const REVOCATION_REASON_NAMES = [
  'unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise',
];
const certificateProps = {
  serial: str('Serial number, lowercase hex.'),
  profile: str('Certificate profile (device, server, adminClient, scepRa, ...).'),
  subject: str('Subject distinguished name.'),
  issuer: str('root or issuing.'),
  notBefore: time('Valid from.'),
  notAfter: time('Valid until.'),
  sha256: str('SHA-256 fingerprint of the DER certificate, hex.'),
  issuedAt: time('Issued.'),
  requestedBy: str('Who asked for it.'),
  revokedAt: nullable(time('Revoked.')),
  revocationReason: nullable({ type: 'integer', description: 'RFC 5280 CRLReason code.' }),
  status: { type: 'string', enum: ['valid', 'revoked', 'expired', 'not-yet-valid', 'unknown', 'ca'] },
};
export const Certificate = obj(certificateProps);
export const CertificateWithPem = obj({ ...certificateProps, pem: str('The certificate, PEM.') });
export const CertificateList = obj({ certificates: list(Certificate), limit: { type: 'integer' }, offset: { type: 'integer' } });
export const CertificateQuery = obj(
  {
    profile: str('Only this profile.', { pattern: '^[A-Za-z]{1,32}$' }),
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    offset: { type: 'integer', minimum: 0, default: 0 },
  },
  [],
);
export const Revoke = obj({ reason: { type: 'string', enum: REVOCATION_REASON_NAMES, description: 'RFC 5280 section 5.3.1 reason.' } }, []);

const deviceProps = {
  id: str('Device id (unique across platforms).'),
  platform,
  name: str('Device name.'),
  model: nullable(str('Model.')),
  osVersion: nullable(str('OS version.')),
  serialNumber: nullable(str('Hardware serial number.')),
  mode: nullable(str('corporate | shared | kiosk | byod.')),
  enrolledAt: nullable(time('Enrolled.')),
  lastSeenAt: nullable(time('Last check-in.')),
  compliant: nullable({ type: 'boolean', description: 'null: not evaluated yet.' }),
};
export const Device = obj(deviceProps);
export const DeviceList = obj({ devices: list(Device), total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } });
export const DeviceQuery = obj(
  {
    q: str('Search: name, serial number, model or id (A-Z matched case-insensitively).', { maxLength: 128 }),
    platform,
    compliant: { type: 'boolean' },
    sort: { type: 'string', enum: ['name', 'lastSeen'], default: 'name', description: 'name (A-Z case-insensitive, then id), or lastSeen (most recent check-in first, then by name).' },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    offset: { type: 'integer', minimum: 0, maximum: 100000, default: 0 },
  },
  [],
);
const complianceState = obj(
  { compliant: { type: 'boolean' }, reasons: list({ type: 'string' }), evaluatedAt: nullable(time('Evaluated.')) },
  ['compliant', 'reasons'],
);
export const WipeRequest = obj({
  id: str('Wipe request id.'),
  deviceId: str('Device id.'),
  deviceName: str('Device name when requested.'),
  platform,
  mode: { type: 'string', enum: ['full', 'selective'] },
  reason: str('Why.'),
  requestedBy: str('Who asked.'),
  requestedAt: time('Asked.'),
  expiresAt: time('Expires unless approved.'),
  status: { type: 'string', enum: ['pending', 'queued', 'rejected', 'expired'] },
  decidedBy: nullable(str('Who approved or rejected it.')),
  decidedAt: nullable(time('When.')),
  commandId: nullable(str('The queued wipe command.')),
});
export const DeviceDetail = obj({
  ...deviceProps,
  facts: { type: 'object', description: 'Inventory as the device reported it.' },
  compliance: { oneOf: [complianceState, { type: 'null' }] },
  wipeModes: list({ type: 'string', enum: ['full', 'selective'] }),
  certificates: list({ type: 'string' }, 'Serials of its identity certificates.'),
  pendingWipe: { oneOf: [WipeRequest, { type: 'null' }] },
});
export const Command = obj(
  {
    id: str('Command id.'),
    deviceId: str('Device id.'),
    type: str('The platform command (DeviceLock, EraseDevice, LOCK, WIPE...).'),
    status: { type: 'string', enum: ['queued', 'sent', 'acknowledged', 'error', 'notnow', 'canceled'] },
    queuedAt: time('Queued.'),
    updatedAt: nullable(time('Last status change.')),
    requestedBy: nullable(str('Who queued it.')),
    result: { oneOf: [{ type: 'object' }, { type: 'null' }] },
  },
  ['id', 'deviceId', 'type', 'status', 'queuedAt'],
);
export const CommandList = obj({ commands: list(Command) });
export const Lock = obj(
  {
    message: str('Shown on the lock screen (Apple).', { maxLength: 200 }),
    phoneNumber: str('Shown on the lock screen (Apple).', { maxLength: 40, pattern: '^[0-9+() .-]*$' }),
  },
  [],
);
export const Wipe = obj({
  mode: { type: 'string', enum: ['full', 'selective'], description: 'full: factory reset; selective: managed data only (BYOD work profile).' },
  reason: str('Why (recorded in the audit log).', { minLength: 3, maxLength: 500 }),
});
export const WipeRequestList = obj({ wipeRequests: list(WipeRequest) });
export const WipeAnswer = obj(
  {
    status: { type: 'string', enum: ['queued', 'pending'], description: 'pending: a second admin must approve (two-person rule).' },
    command: Command,
    wipeRequest: WipeRequest,
  },
  ['status'],
);
export const Reject = obj({ reason: str('Why not.', { minLength: 1, maxLength: 500 }) }, []);

export const ComplianceAnswer = obj(
  {
    key: str('What was asked: device id, certificate serial or MAC.'),
    known: { type: 'boolean', description: 'false: no device matches the key (then compliant is false).' },
    matchedBy: nullable({ type: 'string', enum: ['device', 'certificate', 'mac', null], description: 'Which kind of identifier the key matched.' }),
    deviceId: nullable(str('The device the key matched.')),
    compliant: { type: 'boolean', description: 'Let the device on (true also while a failing rule is within its grace period).' },
    quarantine: { type: 'boolean', description: 'Put the device on the quarantine network: its policy\'s breach action (quarantine or lock) stands.' },
    status: { type: 'string', enum: ['compliant', 'grace', 'noncompliant', 'unknown'], description: 'grace: something fails, within its grace period.' },
    reasons: list({ type: 'string' }, 'Every failing rule (enforced first; "(grace until ...)" within grace). Empty when compliant.'),
    policy: nullable(str('The effective policy (hash) the device was judged against.')),
    evaluatedAt: nullable(time('When the device was last evaluated.')),
    validUntil: nullable(time('The answer holds until then unless the device reports something new (Cache-Control never reaches past it).')),
  },
  ['key', 'known', 'matchedBy', 'deviceId', 'compliant', 'quarantine', 'status', 'reasons', 'policy', 'evaluatedAt', 'validUntil'],
);
export const ComplianceSummary = obj({
  total: { type: 'integer' },
  compliant: { type: 'integer' },
  nonCompliant: { type: 'integer' },
  unknown: { type: 'integer' },
  reasons: list(obj({ reason: { type: 'string' }, devices: { type: 'integer' } })),
});

export const HipaaReport = obj({
  deviceId: str('The device.'),
  platform: { type: 'string', enum: ['ios', 'ipados', 'macos', 'android'] },
  generatedAt: time('When the device was evaluated (from the facts it last reported).'),
  status: { type: 'string', enum: ['compliant', 'grace', 'noncompliant'], description: 'The compliance verdict the report belongs to.' },
  policy: obj({
    hash: str('The effective policy (hash) the device was judged against.'),
    layers: list(obj({ scope: str('default | unit | ward | role | device.'), target: str('The unit, ward, role or device ("" for default).'), policy: str('Policy name.'), version: { type: 'integer' } }), 'The assigned policies combined, least specific first.'),
  }),
  safeguards: list(obj({
    id: str('45 CFR citation, e.g. 164.312(a)(2)(iii).'),
    title: str('Its title in the rule, e.g. Automatic logoff.'),
    status: {
      type: 'string', enum: ['met', 'not_met', 'in_grace', 'configured', 'not_addressed'],
      description: 'met: the device reported it in force (or Ward provides it); in_grace: failing within its grace period; configured: set in policy, not yet confirmed by the device; not_addressed: nothing serves it.',
    },
    settings: list(obj({ path: str('Policy setting, e.g. passcode.maxInactivityMinutes.'), value: { description: 'Its effective value.' } }), 'Policy settings serving the safeguard.'),
    evidence: list({ type: 'string' }, 'What the device reported and what Ward itself does, one line each.'),
  }), 'Every safeguard of the catalogue, in citation order.'),
});
export const HipaaReportQuery = obj(
  { format: { type: 'string', enum: ['json', 'text'], description: 'text: the report as wardctl policy report prints it (the same as Accept: text/plain).' } },
  [],
);

const policyProps = {
  id: str('Policy id.'),
  name: str('Name.'),
  version: { type: 'integer' },
  mode: nullable(str('corporate | shared | kiosk | byod.')),
  platforms: list(platform),
  updatedAt: time('Last change.'),
  groups: list({ type: 'string' }, 'Groups it is assigned to.'),
};
export const Policy = obj(policyProps);
export const PolicyList = obj({ policies: list(Policy) });
export const PolicyDetail = obj({ ...policyProps, settings: { type: 'object' }, safeguards: { type: 'object', description: '45 CFR 164.3xx safeguard -> settings serving it.' } });
export const Assignment = obj({ groups: list(str('Group name.', { minLength: 1, maxLength: 128 })) });

export const Enrollment = obj({
  caFingerprint: str('SHA-256 of Ward root CA, hex.'),
  caUrl: str('Where devices fetch the CA chain (plain HTTP).'),
  scepUrl: str('SCEP endpoint (plain HTTP).'),
  available: obj({ challenges: { type: 'boolean' }, apple: { type: 'boolean' }, android: { type: 'boolean' } }),
});
export const ChallengeRequest = obj(
  {
    ttlMinutes: { type: 'integer', minimum: 1, maximum: 43200 },
    boundTo: str('Only a request with this subject (or common name) may use it.', { minLength: 1, maxLength: 200 }),
  },
  [],
);
export const Challenge = obj({
  id: str('Challenge id (for the audit log).'),
  challenge: str('The one-time challenge password: shown this once only.'),
  expiresAt: time('Expires.'),
});
export const AppleEnrollmentRequest = obj(
  { singleUse: { type: 'boolean', default: true }, ttlMinutes: { type: 'integer', minimum: 1, maximum: 43200 }, group: str('Policy group.', { maxLength: 128 }) },
  [],
);
export const AppleEnrollmentLink = obj({ url: str('Enrollment link (.mobileconfig download).'), expiresAt: time('Expires.') });
export const AndroidEnrollmentRequest = obj(
  {
    mode: { type: 'string', enum: ['fullyManaged', 'workProfile'], default: 'fullyManaged' },
    ttlMinutes: { type: 'integer', minimum: 1, maximum: 43200 },
    maxDevices: { type: 'integer', minimum: 1, maximum: 100000 },
    group: str('Policy group.', { maxLength: 128 }),
  },
  [],
);
export const AndroidProvisioning = obj({
  payload: { type: 'object', description: 'The provisioning JSON the QR code carries.' },
  png: str('The QR code, PNG, base64 (or ask with Accept: image/png for the image itself).'),
  expiresAt: time('Expires.'),
});

export const AuditExport = obj({ since: time('From (inclusive).'), until: time('Until (inclusive).') }, []);
export const AuditReport = obj(
  {
    ok: { type: 'boolean' },
    failures: list(obj({ check: { type: 'string' }, message: { type: 'string' }, line: { type: 'integer' } }, ['check', 'message'])),
    lines: { type: 'integer' },
    treeHead: { type: 'object' },
  },
  ['ok', 'failures', 'lines'],
  { additionalProperties: true },
);
export const AuditQuery = obj(
  {
    since: time('From.'),
    until: time('Until.'),
    action: str('Action prefix, e.g. admin.login.', { pattern: '^[a-z0-9_.]{1,64}$' }),
    actor: str('Actor id.', { maxLength: 128 }),
    beforeSeq: { type: 'integer', minimum: 1 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  [],
);
const auditEvent = obj(
  {
    seq: { type: 'integer' },
    time: time('When.'),
    action: { type: 'string' },
    actor: obj({ type: { type: 'string' }, id: { type: 'string' } }),
    target: { oneOf: [obj({ type: { type: 'string' }, id: { type: 'string' } }), { type: 'null' }] },
    outcome: { type: 'string' },
    reason: nullable({ type: 'string' }),
    source: nullable({ type: 'string' }),
    details: { type: 'object' },
  },
  ['seq', 'time', 'action', 'actor', 'outcome'],
  { additionalProperties: true },
);
export const AuditEventList = obj({ events: list(auditEvent) });
export const Limit = obj({ limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } }, []);
export const WipeRequestQuery = obj(
  { status: { type: 'string', enum: ['pending', 'queued', 'rejected', 'expired'] }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
  [],
);

export const Dashboard = obj({
  devices: nullable({ type: 'object', description: 'total and per platform; null without device domains' }),
  compliance: { oneOf: [ComplianceSummary, { type: 'null' }] },
  recentCheckins: list(Device),
  alarms: list(obj({ check: { type: 'string' }, details: { type: 'object' } })),
  pushCertificate: {
    description: 'The APNs push certificate (topic, expiry); null when none is imported or Apple MDM is not attached.',
    oneOf: [obj({ topic: { type: 'string' }, notAfter: { type: 'string' }, daysLeft: { type: 'integer' }, serial: { type: 'string' } }), { type: 'null' }],
  },
  pendingWipeRequests: { type: 'integer' },
  available: { type: 'object', description: 'Which domains this Ward serves (routes exist only for those).' },
});

/** Query strings, by name (documented as OpenAPI parameters, not as components). */
export const QUERY_SCHEMAS: Record<string, JsonSchema> = { CertificateQuery, DeviceQuery, Limit, AuditQuery, WipeRequestQuery, HipaaReportQuery };

/** Path parameters, by name. */
export const PARAMS: Record<string, JsonSchema> = {
  username: str('User name.', { pattern: '^[A-Za-z][A-Za-z0-9._-]{1,63}$' }),
  tokenId: str('API token id.', { pattern: '^[0-9a-f]{16}$' }),
  serial: str('Certificate serial, hex (colons allowed).', { pattern: '^[0-9A-Fa-f:]{1,128}$' }),
  deviceId: str('Device id.', { pattern: '^[A-Za-z0-9._:-]{1,128}$' }),
  policyId: str('Policy id.', { pattern: '^[A-Za-z0-9._:-]{1,128}$' }),
  wipeRequestId: str('Wipe request id.', { pattern: '^[0-9a-f]{32}$' }),
  key: str('Device id, certificate serial or Wi-Fi MAC address.', { pattern: '^[A-Za-z0-9._:-]{1,128}$' }),
};

/** Everything named, for components.schemas of the OpenAPI document. */
export const NAMED_SCHEMAS: Record<string, JsonSchema> = {
  Error: ErrorAnswer, Login, Session, OwnPassword, PasswordSet, User, UserList, UserCreate, UserCreated, UserPatch, TotpReset,
  Token, TokenList, TokenCreate, TokenCreated, Certificate, CertificateWithPem, CertificateList, Revoke,
  Device, DeviceList, DeviceDetail, Command, CommandList, Lock, Wipe, WipeRequest, WipeRequestList, WipeAnswer, Reject,
  ComplianceAnswer, ComplianceSummary, HipaaReport, Policy, PolicyList, PolicyDetail, Assignment, Enrollment, ChallengeRequest, Challenge,
  AppleEnrollmentRequest, AppleEnrollmentLink, AndroidEnrollmentRequest, AndroidProvisioning, AuditExport, AuditReport,
  AuditEventList, Dashboard,
};
