// Public face of the Android domain: DPC APK reading and checks, the provisioning QR payload.
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
export type { ProvisioningInput, WifiSecurityType, EnrollmentMode } from './provisioning';
