// JSON Schemas of the Android agent API (docs/android-agent-protocol.md). Each shape is written once:
// ajv validates requests with it, and the same objects are exported as OpenAPI components.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

// 9999-12-31T23:59:59.999Z: the last instant an ISO 8601 timestamp with a four-digit year can show.
const MAX_TIME_MILLIS = 253_402_300_799_999;
const str = (maxLength: number, extra: Record<string, unknown> = {}) => ({ type: 'string', maxLength, ...extra });
const int = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum });
const PACKAGE_NAME = { type: 'string', maxLength: 255, pattern: '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)+$' };
const obj = (properties: Record<string, unknown>, required: string[] = [], description?: string) => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  required,
  additionalProperties: false,
});

export const NEXT_ACTIONS = ['continue', 'retry_later', 'reauthenticate', 'unenrolled'] as const;
export type NextAction = (typeof NEXT_ACTIONS)[number];

export const COMMAND_TYPES = [
  'LOCK',
  'REBOOT',
  'RESET_PASSWORD',
  'WIPE',
  'CLEAR_APP_DATA',
  'INSTALL_APP',
  'UNINSTALL_APP',
  'START_LOCK_TASK',
  'STOP_LOCK_TASK',
] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

export const MANAGEMENT_MODES = ['device_owner', 'profile_owner'] as const;
export const ENROLLMENT_MODES = ['fully_managed', 'work_profile'] as const;

export const nextSchema = obj(
  {
    action: {
      enum: [...NEXT_ACTIONS],
      description:
        'continue: carry on. retry_later: a passing problem on Ward\'s side; wait retryAfterSeconds and repeat the call. ' +
        'reauthenticate: present the identity certificate again, or renew it; never a reason to drop the enrollment. ' +
        'unenrolled: Ward has recorded that this device was unenrolled; the only answer that may end management.',
    },
    retryAfterSeconds: int(1, 86_400),
    reason: str(300),
  },
  ['action'],
  'What the agent does next. Present in every answer (body, and the Ward-Next header).',
);

export const deviceFactsSchema = obj(
  {
    installationId: str(64, { pattern: '^[A-Za-z0-9-]{8,64}$', description: 'Random id the agent makes once per provisioning; a repeated enroll with it is the same device.' }),
    manufacturer: str(100),
    model: str(100),
    serialNumber: str(100),
    androidVersion: str(32),
    sdkInt: int(1, 1000),
    securityPatch: str(10, { pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
    managementMode: { enum: [...MANAGEMENT_MODES] },
    agentPackage: PACKAGE_NAME,
    agentVersionCode: int(0, Number.MAX_SAFE_INTEGER),
  },
  ['installationId', 'model', 'androidVersion', 'sdkInt', 'managementMode'],
);

export const caResponseSchema = obj(
  { next: nextSchema, caChain: { type: 'array', items: str(16_384), description: 'Issuing CA then root, PEM.' }, rootSha256: str(64) },
  ['next', 'caChain', 'rootSha256'],
);

export const enrollRequestSchema = obj(
  {
    token: str(200, { minLength: 1, description: 'The enrollment token from the QR code admin extras (ward.enrollment_token).' }),
    csr: str(16_384, { minLength: 1, description: 'PKCS#10 certificate request, PEM. The key stays in the Android Keystore.' }),
    facts: deviceFactsSchema,
  },
  ['token', 'csr', 'facts'],
);

export const enrollResponseSchema = obj(
  {
    next: nextSchema,
    deviceId: str(64),
    mode: { enum: [...ENROLLMENT_MODES] },
    certificate: str(16_384, { description: 'The device identity certificate, PEM.' }),
    caChain: { type: 'array', items: str(16_384), description: 'Issuing CA then root, PEM.' },
    policy: { type: 'object' },
    policyEtag: str(100),
    pollSeconds: int(1, 3600),
  },
  ['next', 'deviceId', 'mode', 'certificate', 'caChain', 'policy', 'policyEtag', 'pollSeconds'],
);

export const renewRequestSchema = obj({ csr: str(16_384, { minLength: 1 }) }, ['csr']);
export const renewResponseSchema = obj({ next: nextSchema, certificate: str(16_384), caChain: { type: 'array', items: str(16_384) } }, ['next', 'certificate', 'caChain']);

export const policyResponseSchema = obj({ next: nextSchema, policy: { type: 'object' }, policyEtag: str(100), pollSeconds: int(1, 3600) }, ['next', 'policy', 'policyEtag']);

const ENCRYPTION = ['unsupported', 'inactive', 'activating', 'active', 'active_default_key', 'active_per_user'];

export const statusReportSchema = obj(
  {
    model: str(100),
    androidVersion: str(32),
    sdkInt: int(1, 1000),
    securityPatch: str(10, { pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
    encryption: { enum: ENCRYPTION, description: 'DevicePolicyManager.getStorageEncryptionStatus().' },
    passcodeSufficient: { type: 'boolean', description: 'DevicePolicyManager.isActivePasswordSufficient().' },
    managementMode: { enum: [...MANAGEMENT_MODES] },
    installedApps: {
      type: 'array',
      maxItems: 5000,
      items: obj({ packageName: PACKAGE_NAME, versionCode: int(0, Number.MAX_SAFE_INTEGER), versionName: str(100) }, ['packageName', 'versionCode']),
    },
    lockTask: obj({ active: { type: 'boolean' }, packages: { type: 'array', maxItems: 100, items: PACKAGE_NAME } }, ['active']),
    battery: obj({ level: int(0, 100), charging: { type: 'boolean' } }, ['level']),
    lastUser: { type: ['string', 'null'], maxLength: 200 },
    policyEtag: str(100, { description: 'The policy the agent has applied.' }),
    reportedAt: str(40, { format: 'date-time' }),
  },
  ['androidVersion', 'securityPatch', 'encryption', 'passcodeSufficient', 'managementMode', 'installedApps', 'lockTask'],
);

export const statusResponseSchema = obj({ next: nextSchema, policyEtag: str(100), pendingCommands: int(0, 1_000_000) }, ['next', 'policyEtag', 'pendingCommands']);

export const commandSchema = obj(
  {
    id: str(64),
    type: { enum: [...COMMAND_TYPES] },
    payload: { type: 'object' },
    queuedAt: str(40),
  },
  ['id', 'type', 'payload', 'queuedAt'],
);

export const commandsResponseSchema = obj({ next: nextSchema, commands: { type: 'array', items: commandSchema } }, ['next', 'commands']);

export const COMMAND_RESULT_STATUSES = ['acknowledged', 'done', 'failed', 'not_supported'] as const;
export type CommandResultStatus = (typeof COMMAND_RESULT_STATUSES)[number];

export const commandResultSchema = obj(
  {
    status: {
      enum: [...COMMAND_RESULT_STATUSES],
      description: 'acknowledged: received and about to run (send it before WIPE or REBOOT); done, failed, not_supported: final.',
    },
    error: str(1000),
    output: { type: 'object', maxProperties: 50 },
  },
  ['status'],
);

export const commandResultResponseSchema = obj({ next: nextSchema, commandId: str(64), status: str(32) }, ['next', 'commandId', 'status']);

export const SECURITY_LOG_LEVELS = ['info', 'warning', 'error'] as const;

export const securityLogBatchSchema = obj(
  {
    events: {
      type: 'array',
      minItems: 1,
      maxItems: 500,
      items: obj(
        {
          // Bounded above: 1e308 is an "integer" to JSON Schema, but neither a SQLite INTEGER nor a Date (found by fuzzing).
          id: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'SecurityEvent.getId(). Ward keeps events after the newest (timeMillis, id) it stored, so a retried upload is harmless.' },
          timeMillis: { type: 'integer', minimum: 0, maximum: MAX_TIME_MILLIS, description: 'SecurityEvent.getTimeNanos() / 1000000 (epoch milliseconds, at most year 9999; nanoseconds overflow JSON numbers).' },
          tag: int(0, 2_147_483_647),
          tagName: str(64, { pattern: '^[A-Z0-9_]+$', description: 'SecurityLog constant name, e.g. TAG_KEYGUARD_DISMISS_AUTH_ATTEMPT.' }),
          level: { enum: [...SECURITY_LOG_LEVELS] },
          data: { type: 'array', maxItems: 32, items: { type: ['string', 'number', 'boolean', 'null'], maxLength: 1024 } },
        },
        ['id', 'timeMillis', 'tag'],
      ),
    },
  },
  ['events'],
);

export const securityLogResponseSchema = obj({ next: nextSchema, accepted: int(0, 500), duplicates: int(0, 500), lastId: { type: ['integer', 'null'] } }, ['next', 'accepted', 'duplicates', 'lastId']);

export const errorSchema = obj({ error: str(64), reason: str(1000), requestId: str(64), next: nextSchema }, ['error', 'reason', 'next']);

// Command parameters as an administrator gives them (admin API, wardctl). Ward completes INSTALL_APP
// from its app catalog and WIPE's scope from the enrollment mode before the agent sees them.
export const COMMAND_PARAMETER_SCHEMAS: Record<CommandType, object> = {
  LOCK: obj({ message: str(200) }),
  REBOOT: obj({}),
  RESET_PASSWORD: obj({ password: str(128, { minLength: 4, description: 'One-time; Ward erases it once the agent has answered.' }) }),
  WIPE: obj({ scope: { enum: ['full', 'work_profile'] }, reason: str(200), keepFactoryResetProtection: { type: 'boolean' } }),
  CLEAR_APP_DATA: obj({ packageName: PACKAGE_NAME }, ['packageName']),
  INSTALL_APP: obj({ packageName: PACKAGE_NAME, sha256: str(64, { pattern: '^[0-9a-f]{64}$' }) }, ['packageName']),
  UNINSTALL_APP: obj({ packageName: PACKAGE_NAME }, ['packageName']),
  START_LOCK_TASK: obj({ packages: { type: 'array', minItems: 1, maxItems: 50, items: PACKAGE_NAME }, launch: PACKAGE_NAME }, ['packages']),
  STOP_LOCK_TASK: obj({}),
};

/** Components for the OpenAPI document (components.schemas). */
export const openApiSchemas = {
  AndroidNext: nextSchema,
  AndroidDeviceFacts: deviceFactsSchema,
  AndroidCaResponse: caResponseSchema,
  AndroidEnrollRequest: enrollRequestSchema,
  AndroidEnrollResponse: enrollResponseSchema,
  AndroidRenewRequest: renewRequestSchema,
  AndroidRenewResponse: renewResponseSchema,
  AndroidPolicyResponse: policyResponseSchema,
  AndroidStatusReport: statusReportSchema,
  AndroidStatusResponse: statusResponseSchema,
  AndroidCommand: commandSchema,
  AndroidCommandsResponse: commandsResponseSchema,
  AndroidCommandResult: commandResultSchema,
  AndroidCommandResultResponse: commandResultResponseSchema,
  AndroidSecurityLogBatch: securityLogBatchSchema,
  AndroidSecurityLogResponse: securityLogResponseSchema,
  AndroidError: errorSchema,
} as const;

const ajv = new Ajv({ allErrors: false, strict: true, strictTypes: false, strictRequired: false, validateFormats: false });

export interface Validator<T> {
  (value: unknown): value is T;
  errors?: ErrorObject[] | null;
}

export function compile<T>(schema: object): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

/** "/facts/sdkInt must be <= 1000" style, naming the first problem only. */
export function describeErrors(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'invalid request';
  const where = e.instancePath || '(body)';
  if (e.keyword === 'additionalProperties') return `${where}: unknown property ${JSON.stringify(e.params.additionalProperty)}`;
  if (e.keyword === 'required') return `${where}: missing ${JSON.stringify(e.params.missingProperty)}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

const ref = (name: keyof typeof openApiSchemas) => ({ $ref: `#/components/schemas/${name}` });
const jsonBody = (name: keyof typeof openApiSchemas) => ({ required: true, content: { 'application/json': { schema: ref(name) } } });
const jsonAnswer = (description: string, name: keyof typeof openApiSchemas) => ({ description, content: { 'application/json': { schema: ref(name) } } });
const failures = {
  '4XX': jsonAnswer('Refused; `next` says whether to carry on, re-authenticate or stop (unenrolled).', 'AndroidError'),
  '5XX': jsonAnswer('A passing failure: `next.action` is retry_later.', 'AndroidError'),
};
const deviceAuth = [{ deviceCertificate: [] }];

/** OpenAPI 3.1 paths of the agent API (servers: Ward's HTTPS URL); security scheme deviceCertificate = mutualTLS. */
export const openApiPaths = {
  '/android/agent/v1/ca': {
    get: { summary: "Ward's CA chain; trust it only if the root's SHA-256 equals ward.ca_sha256", security: [], responses: { '200': jsonAnswer('CA chain', 'AndroidCaResponse'), ...failures } },
  },
  '/android/agent/v1/enroll': {
    post: { summary: 'Enroll with a token, device facts and a CSR', security: [], requestBody: jsonBody('AndroidEnrollRequest'), responses: { '201': jsonAnswer('Enrolled', 'AndroidEnrollResponse'), ...failures } },
  },
  '/android/agent/v1/renew': {
    post: { summary: 'Renew the identity certificate', security: deviceAuth, requestBody: jsonBody('AndroidRenewRequest'), responses: { '201': jsonAnswer('Renewed', 'AndroidRenewResponse'), ...failures } },
  },
  '/android/agent/v1/policy': {
    get: {
      summary: 'Fetch the policy document (If-None-Match: its ETag)',
      security: deviceAuth,
      responses: { '200': jsonAnswer('Policy', 'AndroidPolicyResponse'), '304': { description: 'Unchanged (Ward-Next header carries the directive)' }, ...failures },
    },
  },
  '/android/agent/v1/status': {
    post: { summary: 'Report device status', security: deviceAuth, requestBody: jsonBody('AndroidStatusReport'), responses: { '200': jsonAnswer('Stored', 'AndroidStatusResponse'), ...failures } },
  },
  '/android/agent/v1/commands': {
    get: {
      summary: 'Long poll for commands (held until one is queued or `wait` seconds pass)',
      security: deviceAuth,
      parameters: [{ name: 'wait', in: 'query', required: false, schema: { type: 'integer', minimum: 0, maximum: 3600 } }],
      responses: { '200': jsonAnswer('Commands (possibly none)', 'AndroidCommandsResponse'), ...failures },
    },
  },
  '/android/agent/v1/commands/{id}/result': {
    post: {
      summary: 'Acknowledge or finish a command',
      security: deviceAuth,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: jsonBody('AndroidCommandResult'),
      responses: { '200': jsonAnswer('Recorded', 'AndroidCommandResultResponse'), ...failures },
    },
  },
  '/android/agent/v1/security-logs': {
    post: { summary: 'Upload a batch of the device security log', security: deviceAuth, requestBody: jsonBody('AndroidSecurityLogBatch'), responses: { '200': jsonAnswer('Stored as audit events', 'AndroidSecurityLogResponse'), ...failures } },
  },
  '/android/agent/v1/apps/{sha256}.apk': {
    get: {
      summary: 'Download a clinical app named by INSTALL_APP (check its SHA-256)',
      security: deviceAuth,
      parameters: [{ name: 'sha256', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } }],
      responses: { '200': { description: 'The APK', content: { 'application/vnd.android.package-archive': {} } }, ...failures },
    },
  },
} as const;
