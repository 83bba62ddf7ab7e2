// Public face of the policy domain (docs/policy.md): the platform-neutral policy model and its
// HIPAA templates, compilation to Apple profiles and the Android agent policy, versioned storage with
// assignment by scope, compliance evaluation and the NAC answer.
export {
  policySettingsSchema, validatePolicySettings, policyProblems, PolicyValidationError, SETTING_SPECS, settingSpec,
  DEVICE_MODES, PASSCODE_COMPLEXITIES, BREACH_ACTIONS, BREACH_RULES, COMPLIANCE_RULES,
} from './schema';
export type {
  PolicySettings, DeviceMode, PasscodeComplexity, BreachAction, BreachRule, GracedRule, AppRef, ManagedAppConfig, WifiNetwork, PerAppVpn,
  KioskSettings, SharedDeviceSettings, ComplianceSettings, MergeRule, SettingSpec,
} from './schema';
export { SAFEGUARDS, safeguard, safeguardLabel } from './safeguards';
export type { Safeguard } from './safeguards';
export { TEMPLATES, template } from './templates';
export type { PolicyTemplate } from './templates';
export { SCOPES, resolvePolicy, policyHash, compareVersions, COMPILER_VERSION } from './resolve';
export type { Scope, PolicyRef, PolicyLayer, EffectivePolicy } from './resolve';
export { explainSettings, explanationText } from './explain';
export type { Explanation, ExplainedSetting } from './explain';
export { diffJson, applyJsonPatch } from './patch';
export type { JsonPatchOp } from './patch';
export { compileApple, mobileconfig, nameBasedUuid, scepIdentityPayload, DEFAULT_PROFILE_IDENTIFIER } from './apple';
export type { AppleCompileContext, AppleCompiled, AppleEnrollmentKind, ApplePlatform, ProfileDict, ProfileValue, ProfileEncoder, NotApplied } from './apple';
export { compileAndroid, androidPolicySchema, androidPolicyProblems, USER_RESTRICTIONS } from './android';
export type { AndroidPolicy, AndroidCompiled } from './android';
export { evaluateCompliance, hipaaReport, hipaaReportText, breachIncludes, DEFAULT_GRACE_HOURS, DEFAULT_MAX_OFFLINE_HOURS, PLATFORMS } from './compliance';
export type { DeviceFacts, Platform, ComplianceResult, ComplianceStatus, ComplianceState, Finding, RuleId, HipaaReport, SafeguardEvidence, SafeguardStatus } from './compliance';
export { PolicyService, PolicyError, POLICY_NAME, GROUP_NAME } from './service';
export type { PolicyPublisher, PublishReply, CompiledPolicy, PolicyView, PolicyDetail, PolicyHistoryEntry, PolicyTarget, PublishOutcome, PolicyDeps } from './service';
export { ComplianceService, LockRefused, normalizeMac, normalizeSerial } from './lookup';
export type { DeviceFactsSource, SyncProgress, BreachResponder, CertificateState, NacAnswer, ComplianceSummary, ComplianceDeps, LookupKind } from './lookup';
/** The admin surface's name for the NAC look-up service (src/admin/domains.ts ComplianceLookup). */
export { ComplianceService as ComplianceLookup } from './lookup';
export { policyCatalog, parseAssignmentRef, assignmentRef } from './catalog';
export type { CatalogPolicy } from './catalog';
export { appleDeviceFacts, appleDeviceContext, appleAppSettings, appleFactsSource, androidDeviceFacts, androidFactsSource, androidPolicySource } from './adapters';
export type { AppleDeviceLike, AndroidDeviceLike } from './adapters';
export { androidPublisher, applePublisher, androidBreachResponder, appleBreachResponder, appleSessionEnder } from './publishers';
export { ShiftChanges } from './shifts';
export type { SessionEnder, ShiftRun } from './shifts';
export type { ApplePublisherDeps } from './publishers';
export type { GroupRow, AssignmentRow, BreachActionRow } from './store';

/** The CA's record of a serial as compliance needs it (main.ts passes ca.certificate). */
export function certificateStateOf(lookup: (serial: string) => { revokedAt: string | null; notAfter: string } | undefined, clock: () => Date = () => new Date()) {
  return (serial: string): 'valid' | 'revoked' | 'expired' | 'unknown' => {
    let rec;
    try {
      rec = lookup(serial);
    } catch {
      return 'unknown';
    }
    if (!rec) return 'unknown';
    if (rec.revokedAt) return 'revoked';
    return Date.parse(rec.notAfter) < clock().getTime() ? 'expired' : 'valid';
  };
}
