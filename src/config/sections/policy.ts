// Config section `policy`: policy publishing and compliance evaluation (docs/policy.md).
// The schema is the documentation (`wardctl config schema`).

export interface PolicyConfig {
  profileIdentifier: string;
  publishSchedule: string;
  complianceSchedule: string;
  factsRefreshSeconds: number;
  wifiIdentity: boolean;
  timeZone: string;
  breachLockMessage: string;
}

export const policySection = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Device policies (HIPAA baselines), how changes reach devices, and compliance evaluation for the NAC answer.',
  properties: {
    profileIdentifier: {
      type: 'string',
      pattern: '^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$',
      default: 'org.ward.policy',
      description: 'PayloadIdentifier of the policy profile Apple devices get (payloads get .passcode, .restrictions, .wifi.N... appended). Keep it stable: a device replaces a profile with the same identifier.',
    },
    publishSchedule: {
      type: 'string',
      default: '* * * * *',
      description: 'Cron expression: how often devices whose effective policy changed are sent it (catches changes made with wardctl and retries failed hand-overs; changes made through the API go out at once).',
    },
    complianceSchedule: {
      type: 'string',
      default: '*/5 * * * *',
      description: 'Cron expression: how often every device\'s facts are re-read from the Apple and Android domains and re-evaluated (grace periods ending, devices going quiet).',
    },
    factsRefreshSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: 3600,
      default: 15,
      description: 'A compliance look-up re-reads the device\'s facts from its platform when they are older than this.',
    },
    wifiIdentity: {
      type: 'boolean',
      default: true,
      description: 'Apple: give the policy profile its own SCEP identity (a one-time challenge per profile) so EAP-TLS Wi-Fi and the per-app VPN can authenticate with it. false: Wi-Fi and VPN payloads are left out for Apple devices.',
    },
    timeZone: {
      type: 'string',
      maxLength: 64,
      pattern: '^([A-Za-z_]+(/[A-Za-z0-9_+-]+)*)?$',
      default: '',
      description: 'IANA time zone of the hospital (e.g. America/Chicago) for shift-change times (sharedDevice.shiftChanges): Ward logs Shared iPad users out at those local times. Empty: the appliance\'s own zone (TZ).',
    },
    breachLockMessage: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      default: 'Locked by the hospital: this device no longer meets its security policy ({reason}). Call the service desk.',
      description: 'Lock-screen message when a compliance breach locks a device (onBreach lock); {reason} is the first reason.',
    },
  },
};
