// The device-owner provisioning QR code: a JSON object of DevicePolicyManager EXTRA_PROVISIONING_* extras
// that the setup wizard reads after six taps on the welcome screen
// (https://developer.android.com/work/dpc/build-dpc#qr-code and AOSP ManagedProvisioning's
// ExtrasProvisioningDataParser, which reads booleans as booleans and the admin extras as a PersistableBundle).
import QRCode from 'qrcode';

export const EXTRA = {
  COMPONENT_NAME: 'android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME',
  DOWNLOAD_LOCATION: 'android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION',
  SIGNATURE_CHECKSUM: 'android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM',
  PACKAGE_CHECKSUM: 'android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_CHECKSUM',
  WIFI_SSID: 'android.app.extra.PROVISIONING_WIFI_SSID',
  WIFI_SECURITY_TYPE: 'android.app.extra.PROVISIONING_WIFI_SECURITY_TYPE',
  WIFI_PASSWORD: 'android.app.extra.PROVISIONING_WIFI_PASSWORD',
  WIFI_HIDDEN: 'android.app.extra.PROVISIONING_WIFI_HIDDEN',
  WIFI_PAC_URL: 'android.app.extra.PROVISIONING_WIFI_PAC_URL',
  SKIP_ENCRYPTION: 'android.app.extra.PROVISIONING_SKIP_ENCRYPTION',
  LEAVE_ALL_SYSTEM_APPS_ENABLED: 'android.app.extra.PROVISIONING_LEAVE_ALL_SYSTEM_APPS_ENABLED',
  LOCALE: 'android.app.extra.PROVISIONING_LOCALE',
  TIME_ZONE: 'android.app.extra.PROVISIONING_TIME_ZONE',
  ADMIN_EXTRAS_BUNDLE: 'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE',
} as const;

/** Keys Ward puts in the admin extras bundle; the agent reads them in GET_PROVISIONING_MODE and onProfileProvisioningComplete. */
export const ADMIN_EXTRA = {
  SERVER_URL: 'ward.server_url',
  ENROLLMENT_TOKEN: 'ward.enrollment_token',
  CA_SHA256: 'ward.ca_sha256',
  ENROLLMENT_MODE: 'ward.enrollment_mode',
} as const;

export type WifiSecurityType = 'NONE' | 'WPA' | 'WEP' | 'EAP';
export type EnrollmentMode = 'fully_managed' | 'work_profile';

export interface ProvisioningInput {
  dpc: {
    /** "package/.Receiver" (see checkDpc().componentName). */
    componentName: string;
    /** Where the device downloads the APK: Ward's plain-HTTP /android/dpc.apk. */
    downloadUrl: string;
    /** SHA-256 of the signing certificate, URL-safe base64 with padding. Preferred: it survives APK updates. */
    signatureChecksum?: string;
    /** SHA-256 of the APK file, same encoding. */
    packageChecksum?: string;
  };
  ward: {
    /** Ward's HTTPS base URL for the agent API. */
    serverUrl: string;
    enrollmentToken: string;
    /** SHA-256 of Ward's CA certificate (DER), lowercase hex, so the agent pins it before trusting anything. */
    caSha256: string;
    enrollmentMode?: EnrollmentMode;
  };
  wifi?: {
    ssid: string;
    securityType?: WifiSecurityType;
    password?: string;
    hidden?: boolean;
    /** PAC file URL: the known way past setup stalls on networks without internet. */
    pacUrl?: string;
  };
  /** "en_US" (java.util.Locale form, ManagedProvisioning StoreUtils.stringToLocale). */
  locale?: string;
  /** IANA time zone, e.g. "Europe/Paris". */
  timeZone?: string;
  leaveAllSystemAppsEnabled?: boolean;
}

export class ProvisioningInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProvisioningInputError';
  }
}

const CHECKSUM = /^[A-Za-z0-9_-]{43}=$/;

function check(ok: boolean, message: string): void {
  if (!ok) throw new ProvisioningInputError(message);
}

function isUrl(s: string, protocols: string[]): boolean {
  try {
    return protocols.includes(new URL(s).protocol);
  } catch {
    return false;
  }
}

/**
 * WifiConfiguration.SSID takes a UTF-8 name in double quotes (an unquoted value is read as hex), and
 * ManagedProvisioning's WifiConfigurationProvider copies the extra into it unchanged.
 */
function quoteSsid(ssid: string): string {
  const raw = ssid.length >= 2 && ssid.startsWith('"') && ssid.endsWith('"') ? ssid.slice(1, -1) : ssid;
  check(raw.length > 0 && Buffer.byteLength(raw) <= 32, 'Wi-Fi SSID must be 1 to 32 bytes');
  return `"${raw}"`;
}

/** Builds the provisioning JSON object. Pure: same input, same output, key order included. */
export function provisioningPayload(input: ProvisioningInput): Record<string, unknown> {
  const { dpc, ward, wifi } = input;
  check(/^[A-Za-z][\w.]*\/[\w.$]+$/.test(dpc.componentName), `component name "${dpc.componentName}" is not package/class`);
  check(isUrl(dpc.downloadUrl, ['http:', 'https:']), `download URL "${dpc.downloadUrl}" is not an http(s) URL`);
  check(Boolean(dpc.signatureChecksum || dpc.packageChecksum), 'a signature checksum or a package checksum is required');
  if (dpc.signatureChecksum) check(CHECKSUM.test(dpc.signatureChecksum), 'signature checksum is not URL-safe base64 SHA-256 with padding');
  if (dpc.packageChecksum) check(CHECKSUM.test(dpc.packageChecksum), 'package checksum is not URL-safe base64 SHA-256 with padding');
  check(isUrl(ward.serverUrl, ['https:']), `Ward server URL "${ward.serverUrl}" is not an https URL`);
  check(ward.enrollmentToken.length > 0, 'enrollment token is empty');
  check(/^[0-9a-f]{64}$/.test(ward.caSha256), 'CA fingerprint is not 64 lowercase hex digits');

  const out: Record<string, unknown> = {
    [EXTRA.COMPONENT_NAME]: dpc.componentName,
    [EXTRA.DOWNLOAD_LOCATION]: dpc.downloadUrl,
  };
  if (dpc.signatureChecksum) out[EXTRA.SIGNATURE_CHECKSUM] = dpc.signatureChecksum;
  if (dpc.packageChecksum) out[EXTRA.PACKAGE_CHECKSUM] = dpc.packageChecksum;
  if (wifi) {
    const security = wifi.securityType ?? (wifi.password ? 'WPA' : 'NONE');
    check(['NONE', 'WPA', 'WEP', 'EAP'].includes(security), `Wi-Fi security type ${security} is not NONE, WPA, WEP or EAP`);
    check(security === 'NONE' || Boolean(wifi.password), `Wi-Fi security type ${security} needs a password`);
    out[EXTRA.WIFI_SSID] = quoteSsid(wifi.ssid);
    out[EXTRA.WIFI_SECURITY_TYPE] = security;
    if (wifi.password && security !== 'NONE') out[EXTRA.WIFI_PASSWORD] = wifi.password;
    out[EXTRA.WIFI_HIDDEN] = wifi.hidden ?? false;
    if (wifi.pacUrl) {
      check(isUrl(wifi.pacUrl, ['http:', 'https:']), `PAC URL "${wifi.pacUrl}" is not an http(s) URL`);
      out[EXTRA.WIFI_PAC_URL] = wifi.pacUrl;
    }
  }
  // Hospital devices hold patient data: never let provisioning skip encryption.
  out[EXTRA.SKIP_ENCRYPTION] = false;
  out[EXTRA.LEAVE_ALL_SYSTEM_APPS_ENABLED] = input.leaveAllSystemAppsEnabled ?? false;
  if (input.locale) {
    check(/^[a-z]{2,3}(_[A-Z]{2})?$/.test(input.locale), `locale "${input.locale}" is not like en_US`);
    out[EXTRA.LOCALE] = input.locale;
  }
  if (input.timeZone) {
    let valid = true;
    try {
      new Intl.DateTimeFormat('en', { timeZone: input.timeZone });
    } catch {
      valid = false;
    }
    check(valid, `time zone "${input.timeZone}" is not an IANA time zone`);
    out[EXTRA.TIME_ZONE] = input.timeZone;
  }
  // PersistableBundle values: strings only, so every agent reads them with getString().
  const extras: Record<string, string> = {
    [ADMIN_EXTRA.SERVER_URL]: ward.serverUrl,
    [ADMIN_EXTRA.ENROLLMENT_TOKEN]: ward.enrollmentToken,
    [ADMIN_EXTRA.CA_SHA256]: ward.caSha256,
  };
  if (ward.enrollmentMode) extras[ADMIN_EXTRA.ENROLLMENT_MODE] = ward.enrollmentMode;
  out[EXTRA.ADMIN_EXTRAS_BUNDLE] = extras;
  return out;
}

/** The exact text encoded in the QR code (compact JSON). */
export function provisioningJson(payload: Record<string, unknown>): string {
  return JSON.stringify(payload);
}

/** PNG of the QR code. Error correction M and a 4-module quiet zone read reliably off a screen or paper. */
export async function provisioningQrPng(payload: Record<string, unknown>, scale = 6): Promise<Buffer> {
  return QRCode.toBuffer(provisioningJson(payload), { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale });
}
