// Public face of the Android domain: DPC APK reading and checks, the provisioning QR payload, the agent
// API service and its routes, and the API schemas (also published as OpenAPI components).
export {
  readApk,
  readManifest,
  checkDpc,
  androidChecksum,
  resolveClassName,
  defaultApkLimits,
  ApkFormatError,
  BIND_DEVICE_ADMIN,
  ACTION_DEVICE_ADMIN_ENABLED,
  ACTION_GET_PROVISIONING_MODE,
  ACTION_ADMIN_POLICY_COMPLIANCE,
} from './apk';
export type { ApkInfo, ApkLimits, AndroidManifest, ManifestComponent, IntentFilter, DpcCheck, DpcWarning, DpcWarningCode, SignatureScheme } from './apk';
export { parseAxml } from './axml';
export type { AxmlElement, AxmlAttribute, AxmlValue } from './axml';
export {
  provisioningPayload,
  provisioningJson,
  provisioningQrPng,
  ProvisioningInputError,
  EXTRA as PROVISIONING_EXTRA,
  ADMIN_EXTRA,
} from './provisioning';
export type { ProvisioningInput, WifiSecurityType } from './provisioning';
export { AndroidService, AgentError, AndroidRequestError, staticPolicySource, policyEtag } from './service';
export type { AndroidPolicySource, Next, DeviceFacts, EnrollRequest, StatusReport, CommandResultInput, SecurityLogEvent, AgentCommand, TokenOptions } from './service';
export type { ApkRecord, TokenRecord, DeviceRecord, CommandRecord, EnrollmentMode, CommandStatus, DeviceState } from './store';
export { mountAndroidRoutes, AGENT_PREFIX } from './routes';
export { CommandWaiters } from './long-poll';
export { openApiSchemas as androidOpenApiSchemas, openApiPaths as androidOpenApiPaths, COMMAND_TYPES as ANDROID_COMMAND_TYPES, COMMAND_PARAMETER_SCHEMAS as ANDROID_COMMAND_PARAMETER_SCHEMAS, NEXT_ACTIONS } from './schemas';
export type { CommandType as AndroidCommandType, NextAction } from './schemas';
