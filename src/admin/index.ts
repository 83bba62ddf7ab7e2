// Public face of the admin surface (issue 8): roles, the /api/v1 route table, accounts, sessions,
// API tokens, the console, and the interfaces the other domains fill in through attach().
export { mountAdmin, adminServices, adminConfigOf } from './surface';
export type { AdminSurface, AdminServices, AdminDeps } from './surface';
export { AdminAccounts, USERNAME, userView } from './accounts';
export type { UserView, SignInResult } from './accounts';
export { ApiTokens, tokenView } from './tokens';
export type { TokenView } from './tokens';
export { AdminSessions, SESSION_COOKIE, csrfTokenOf } from './sessions';
export { AdminError } from './errors';
export { ROLES, ROLE_SUMMARY, isRole } from './roles';
export type { Role } from './roles';
export { ROUTES, API_PREFIX, allowed } from './routes';
export type { RouteSpec } from './routes';
export { NAMED_SCHEMAS } from './schemas';
export { openApiDocument } from './openapi';
export { DeviceActionRefused } from './domains';
export { appleEnrollmentOf, androidEnrollmentOf } from './enrollment';
export { appleFleetOf, androidFleetOf } from './fleets';
export type { DevicePageQuery } from './fleets';
export type { AppleDeviceSource, AndroidDeviceSource } from './fleets';
export type { AppleTokenSource, AndroidTokenSource } from './enrollment';
export type {
  AdminDomains, DeviceFleet, DeviceSummary, DeviceDetail, DeviceQuery, DeviceCommandView, DeviceAction, Platform,
  ComplianceLookup, HipaaReportView, PolicyCatalog, PolicySummary, EnrollmentChallenges, AppleEnrollment, AndroidEnrollment,
  AuditBundles, AuditEventReader,
} from './domains';
export { hotp, totp, totpStep, verifyTotp, base32Encode, base32Decode, otpauthUri } from './totp';
export { hashPassword, verifyPassword } from './password';
export { CONSOLE_CSP } from './console';
