// The HIPAA baselines Ward ships: one per kind of hospital device. `wardctl policy create NAME
// --template T` copies one into a policy the hospital then edits (app identifiers, SSIDs and server
// names below are placeholders to replace with the hospital's own).
import type { AppRef, PolicySettings, WifiNetwork } from './schema';

export interface PolicyTemplate {
  name: string;
  title: string;
  description: string;
  settings: PolicySettings;
}

const EHR: AppRef = { name: 'EHR client', apple: 'org.example.ehr', android: 'org.example.ehr' };
const SECURE_MESSAGING: AppRef = { name: 'Secure messaging', apple: 'org.example.securechat', android: 'org.example.securechat' };
const CHECK_IN: AppRef = { name: 'Patient check-in', apple: 'org.example.checkin', android: 'org.example.checkin' };
// strongSwan's IKEv2 client for Android, which routes per app by its own managed configuration.
const VPN_CLIENT = 'org.strongswan.android';
const FHIR_BASE_URL = 'https://fhir.hospital.internal/R4';

const CLINICAL_WIFI: WifiNetwork = {
  ssid: 'Clinical',
  security: 'wpa2Enterprise',
  autoJoin: true,
  trustedServerNames: ['radius.hospital.internal'],
};

const DATA_LEAK_CHANNELS_CLOSED = {
  screenCapture: false,
  usbFileTransfer: false,
  unknownSources: false,
  cloudBackup: false,
  managedDataSharing: false,
};

export const TEMPLATES: readonly PolicyTemplate[] = [
  {
    name: 'hipaa-shared-nursing-tablet',
    title: 'Shared nursing-station tablet',
    description:
      'A tablet at the nursing station used by every nurse on the shift: each signs in (unique user), is logged out when idle or at shift change, and the next user never sees the previous one\'s data.',
    settings: {
      mode: 'sharedClinicalTablet',
      passcode: { required: true, minLength: 6, complexity: 'numericComplex', maxInactivityMinutes: 2, maxFailedAttempts: 10 },
      encryption: { required: true },
      os: {
        minVersion: { ios: '17.0', ipados: '17.0', android: '13' },
        maxSecurityPatchAgeDays: 90,
        updates: { type: 'windowed', windowStartMinute: 120, windowEndMinute: 300 },
      },
      restrictions: { camera: false, ...DATA_LEAK_CHANNELS_CLOSED },
      apps: { allow: [EHR, SECURE_MESSAGING] },
      managedAppConfig: [{ app: EHR, config: { fhirBaseUrl: FHIR_BASE_URL, sharedDevice: true } }],
      wifi: [CLINICAL_WIFI],
      sharedDevice: { sessionTimeoutMinutes: 15, temporarySessionOnly: false, clearDataOnLogout: true, shiftChanges: ['07:00', '19:00'] },
      auditing: { deviceSecurityLog: true, inventoryIntervalHours: 8 },
      compliance: { maxOfflineHours: 72, onBreach: 'quarantine' },
    },
  },
  {
    name: 'hipaa-clinician-corporate-phone',
    title: 'Clinician corporate phone',
    description: 'A hospital-owned phone issued to one clinician: fully managed, EHR and secure messaging, clinical Wi-Fi by certificate, per-app VPN for the EHR off site.',
    settings: {
      mode: 'corporate',
      passcode: { required: true, minLength: 6, complexity: 'numericComplex', maxInactivityMinutes: 5, maxFailedAttempts: 10, historyCount: 5 },
      encryption: { required: true },
      os: { minVersion: { ios: '17.0', android: '13' }, maxSecurityPatchAgeDays: 90, updates: { type: 'automatic' } },
      restrictions: { camera: true, ...DATA_LEAK_CHANNELS_CLOSED },
      managedAppConfig: [{ app: EHR, config: { fhirBaseUrl: FHIR_BASE_URL } }],
      wifi: [CLINICAL_WIFI],
      vpn: { name: 'Clinical apps VPN', server: 'vpn.hospital.internal', remoteIdentifier: 'vpn.hospital.internal', apps: [EHR, SECURE_MESSAGING], androidClient: VPN_CLIENT },
      auditing: { deviceSecurityLog: true, inventoryIntervalHours: 24 },
      compliance: { maxOfflineHours: 72, onBreach: 'quarantine' },
    },
  },
  {
    name: 'hipaa-clinician-byod-phone',
    title: 'Clinician BYOD phone',
    description:
      'A clinician\'s own phone: only managed apps and their data are touched (Apple User Enrollment, Android work profile); the device must be locked and encrypted; selective wipe is the only wipe.',
    settings: {
      mode: 'byod',
      passcode: { required: true, minLength: 6, complexity: 'numericComplex', maxInactivityMinutes: 5, maxFailedAttempts: 10 },
      encryption: { required: true },
      os: { minVersion: { ios: '17.0', android: '12' }, maxSecurityPatchAgeDays: 120 },
      restrictions: { screenCapture: false, unknownSources: false, cloudBackup: false, managedDataSharing: false },
      managedAppConfig: [{ app: EHR, config: { fhirBaseUrl: FHIR_BASE_URL } }],
      vpn: { name: 'Clinical apps VPN', server: 'vpn.hospital.internal', remoteIdentifier: 'vpn.hospital.internal', apps: [EHR], androidClient: VPN_CLIENT },
      auditing: { inventoryIntervalHours: 24 },
      compliance: { maxOfflineHours: 168, onBreach: 'mark' },
    },
  },
  {
    name: 'hipaa-patient-checkin-kiosk',
    title: 'Patient check-in kiosk',
    description:
      'A tablet in the waiting room running only the check-in app (Single App Mode / lock task). The passcode guards leaving the app; the check-in app resets itself after each patient.',
    settings: {
      mode: 'kiosk',
      passcode: { required: true, minLength: 6, complexity: 'numericComplex', maxFailedAttempts: 10 },
      encryption: { required: true },
      os: { minVersion: { ios: '17.0', ipados: '17.0', android: '13' }, maxSecurityPatchAgeDays: 90, updates: { type: 'windowed', windowStartMinute: 60, windowEndMinute: 240 } },
      restrictions: { camera: false, ...DATA_LEAK_CHANNELS_CLOSED },
      apps: { allow: [CHECK_IN] },
      managedAppConfig: [{ app: CHECK_IN, config: { serverUrl: 'https://checkin.hospital.internal', idleResetSeconds: 90 } }],
      kiosk: { app: CHECK_IN, autoLock: false, androidLockTaskFeatures: [] },
      wifi: [{ ssid: 'Kiosk', security: 'wpa2Enterprise', autoJoin: true, trustedServerNames: ['radius.hospital.internal'] }],
      auditing: { deviceSecurityLog: true, inventoryIntervalHours: 8 },
      compliance: { maxOfflineHours: 24, graceHours: { kiosk: 1 }, onBreach: 'quarantine' },
    },
  },
];

export function template(name: string): PolicyTemplate | undefined {
  return TEMPLATES.find((t) => t.name === name);
}
