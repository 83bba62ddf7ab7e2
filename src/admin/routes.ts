// The one route table of the admin API: every route under /api/v1, who may call it, what it takes
// and answers. Authorization, validation, the OpenAPI document and the role x route test all read
// this table; nothing else decides who may do what.
import type { DomainName } from './domains';
import type { Role } from './roles';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteSpec {
  /** Stable name: the handler's key, the OpenAPI operationId, the audit events' `route`. */
  id: string;
  method: Method;
  /** Under /api/v1, koa style (`/users/:username`). */
  path: string;
  /** Roles allowed; 'public' needs no credentials. */
  roles: readonly Role[] | 'public';
  /** Only a person signed in to the console (a session), never an API token. */
  person?: boolean;
  /** Served only once main.ts attached these domains. */
  needs?: readonly DomainName[];
  summary: string;
  tag: 'session' | 'users' | 'tokens' | 'certificates' | 'enrollment' | 'devices' | 'compliance' | 'policies' | 'audit' | 'console';
  /** Named schemas (schemas.ts). */
  query?: string;
  body?: string;
  /** A body that is not JSON (an uploaded audit bundle). */
  rawBody?: { contentType: string; description: string };
  /** Status and named schema (or a media type) of the success answer; `alternate`: another media type, answered when Accept asks for it. */
  ok: { status: 200 | 201 | 202 | 204; schema?: string; contentType?: string; description?: string; alternate?: string };
}

const ALL: readonly Role[] = ['admin', 'operator', 'auditor', 'nac'];
const ADMIN: readonly Role[] = ['admin'];
const HANDS: readonly Role[] = ['admin', 'operator'];
const READERS: readonly Role[] = ['admin', 'operator', 'auditor'];
const AUDIT: readonly Role[] = ['admin', 'auditor'];
const NAC: readonly Role[] = ['admin', 'operator', 'auditor', 'nac'];

export const ROUTES: readonly RouteSpec[] = [
  // session
  { id: 'openapi', method: 'GET', path: '/openapi.json', roles: 'public', tag: 'session', summary: 'This API as an OpenAPI 3.1 document', ok: { status: 200, contentType: 'application/json', description: 'OpenAPI 3.1 document' } },
  { id: 'session.create', method: 'POST', path: '/session', roles: 'public', tag: 'session', summary: 'Sign in with user name, password and TOTP code (sets the session cookie)', body: 'Login', ok: { status: 201, schema: 'Session' } },
  { id: 'session.read', method: 'GET', path: '/session', roles: ALL, tag: 'session', summary: 'Who am I (and the CSRF token of the session)', ok: { status: 200, schema: 'Session' } },
  { id: 'session.delete', method: 'DELETE', path: '/session', roles: ALL, person: true, tag: 'session', summary: 'Sign out', ok: { status: 204 } },
  { id: 'session.password', method: 'POST', path: '/session/password', roles: ALL, person: true, tag: 'session', summary: 'Change my own password (the current one is required)', body: 'OwnPassword', ok: { status: 204 } },
  { id: 'dashboard', method: 'GET', path: '/dashboard', roles: READERS, tag: 'console', summary: 'Devices by platform, compliance rate, last check-ins, alarms', ok: { status: 200, schema: 'Dashboard' } },

  // users and tokens: admin only
  { id: 'users.list', method: 'GET', path: '/users', roles: ADMIN, tag: 'users', summary: 'Accounts', ok: { status: 200, schema: 'UserList' } },
  { id: 'users.create', method: 'POST', path: '/users', roles: ADMIN, tag: 'users', summary: 'Create an account (the TOTP secret is in the answer, once)', body: 'UserCreate', ok: { status: 201, schema: 'UserCreated' } },
  { id: 'users.read', method: 'GET', path: '/users/:username', roles: ADMIN, tag: 'users', summary: 'One account', ok: { status: 200, schema: 'User' } },
  { id: 'users.update', method: 'PATCH', path: '/users/:username', roles: ADMIN, tag: 'users', summary: 'Change role, disable or enable', body: 'UserPatch', ok: { status: 200, schema: 'User' } },
  { id: 'users.password', method: 'POST', path: '/users/:username/password', roles: ADMIN, tag: 'users', summary: "Set someone's password (their sessions end)", body: 'PasswordSet', ok: { status: 204 } },
  { id: 'users.totp', method: 'POST', path: '/users/:username/totp', roles: ADMIN, tag: 'users', summary: 'New TOTP secret (lost phone; shown once)', ok: { status: 200, schema: 'TotpReset' } },
  { id: 'users.unlock', method: 'POST', path: '/users/:username/unlock', roles: ADMIN, tag: 'users', summary: 'End a lockout', ok: { status: 200, schema: 'User' } },
  { id: 'tokens.list', method: 'GET', path: '/tokens', roles: ADMIN, tag: 'tokens', summary: 'API tokens (never their secrets)', ok: { status: 200, schema: 'TokenList' } },
  { id: 'tokens.create', method: 'POST', path: '/tokens', roles: ADMIN, tag: 'tokens', summary: 'Create an API token (the token is in the answer, once)', body: 'TokenCreate', ok: { status: 201, schema: 'TokenCreated' } },
  { id: 'tokens.revoke', method: 'DELETE', path: '/tokens/:tokenId', roles: ADMIN, tag: 'tokens', summary: 'Revoke an API token', ok: { status: 200, schema: 'Token' } },

  // certificates
  { id: 'certificates.list', method: 'GET', path: '/certificates', roles: READERS, tag: 'certificates', summary: 'Certificates Ward issued, newest first', query: 'CertificateQuery', ok: { status: 200, schema: 'CertificateList' } },
  { id: 'certificates.read', method: 'GET', path: '/certificates/:serial', roles: READERS, tag: 'certificates', summary: 'One certificate, with its PEM', ok: { status: 200, schema: 'CertificateWithPem' } },
  { id: 'certificates.revoke', method: 'POST', path: '/certificates/:serial/revoke', roles: ADMIN, tag: 'certificates', summary: 'Revoke (the CRL is re-issued at once)', body: 'Revoke', ok: { status: 200, schema: 'Certificate' } },

  // enrollment
  { id: 'enrollment.read', method: 'GET', path: '/enrollment', roles: HANDS, tag: 'enrollment', summary: 'CA fingerprint, SCEP and CA URLs, which enrollment paths exist', ok: { status: 200, schema: 'Enrollment' } },
  { id: 'enrollment.challenge', method: 'POST', path: '/enrollment/challenges', roles: HANDS, needs: ['challenges'], tag: 'enrollment', summary: 'A one-time SCEP challenge (shown once)', body: 'ChallengeRequest', ok: { status: 201, schema: 'Challenge' } },
  { id: 'enrollment.apple', method: 'POST', path: '/enrollment/apple', roles: HANDS, needs: ['appleEnrollment'], tag: 'enrollment', summary: 'A link to a signed Apple enrollment profile', body: 'AppleEnrollmentRequest', ok: { status: 201, schema: 'AppleEnrollmentLink' } },
  { id: 'enrollment.android', method: 'POST', path: '/enrollment/android', roles: HANDS, needs: ['androidEnrollment'], tag: 'enrollment', summary: 'Android provisioning QR code (JSON, or the PNG with Accept: image/png)', body: 'AndroidEnrollmentRequest', ok: { status: 201, schema: 'AndroidProvisioning', alternate: 'image/png' } },

  // devices
  { id: 'devices.list', method: 'GET', path: '/devices', roles: READERS, needs: ['devices'], tag: 'devices', summary: 'Devices, filtered and paged, by name', query: 'DeviceQuery', ok: { status: 200, schema: 'DeviceList' } },
  { id: 'devices.read', method: 'GET', path: '/devices/:deviceId', roles: READERS, needs: ['devices'], tag: 'devices', summary: 'Facts, compliance reasons, pending wipe', ok: { status: 200, schema: 'DeviceDetail' } },
  { id: 'devices.commands', method: 'GET', path: '/devices/:deviceId/commands', roles: READERS, needs: ['devices'], tag: 'devices', summary: 'Queued and finished commands, newest first', query: 'Limit', ok: { status: 200, schema: 'CommandList' } },
  {
    id: 'devices.hipaaReport', method: 'GET', path: '/devices/:deviceId/hipaa-report', roles: READERS, needs: ['compliance'], tag: 'compliance',
    summary: 'HIPAA report: each 45 CFR 164.3xx safeguard with its status, the settings serving it and the evidence (plain text with Accept: text/plain or ?format=text)',
    query: 'HipaaReportQuery', ok: { status: 200, schema: 'HipaaReport', alternate: 'text/plain' },
  },
  { id: 'devices.history', method: 'GET', path: '/devices/:deviceId/history', roles: READERS, needs: ['devices', 'auditEvents'], tag: 'devices', summary: "The device's audit events, newest first", query: 'AuditQuery', ok: { status: 200, schema: 'AuditEventList' } },
  { id: 'devices.lock', method: 'POST', path: '/devices/:deviceId/lock', roles: HANDS, needs: ['devices'], tag: 'devices', summary: 'Lock now', body: 'Lock', ok: { status: 202, schema: 'Command' } },
  { id: 'devices.restart', method: 'POST', path: '/devices/:deviceId/restart', roles: HANDS, needs: ['devices'], tag: 'devices', summary: 'Restart', ok: { status: 202, schema: 'Command' } },
  { id: 'devices.refresh', method: 'POST', path: '/devices/:deviceId/refresh', roles: HANDS, needs: ['devices'], tag: 'devices', summary: 'Ask for fresh inventory', ok: { status: 202, schema: 'Command' } },
  { id: 'devices.wipe', method: 'POST', path: '/devices/:deviceId/wipe', roles: HANDS, needs: ['devices'], tag: 'devices', summary: 'Wipe (a reason is required; a full wipe may wait for a second admin)', body: 'Wipe', ok: { status: 202, schema: 'WipeAnswer' } },
  { id: 'wipes.list', method: 'GET', path: '/wipe-requests', roles: READERS, needs: ['devices'], tag: 'devices', summary: 'Wipe requests, newest first', query: 'WipeRequestQuery', ok: { status: 200, schema: 'WipeRequestList' } },
  { id: 'wipes.approve', method: 'POST', path: '/wipe-requests/:wipeRequestId/approve', roles: ADMIN, person: true, needs: ['devices'], tag: 'devices', summary: 'Second admin approves: the wipe is queued', ok: { status: 202, schema: 'WipeAnswer' } },
  { id: 'wipes.reject', method: 'POST', path: '/wipe-requests/:wipeRequestId/reject', roles: ADMIN, person: true, needs: ['devices'], tag: 'devices', summary: 'Second admin refuses', body: 'Reject', ok: { status: 200, schema: 'WipeRequest' } },

  // compliance
  { id: 'compliance.summary', method: 'GET', path: '/compliance', roles: READERS, needs: ['compliance'], tag: 'compliance', summary: 'Compliance rate and the commonest reasons', ok: { status: 200, schema: 'ComplianceSummary' } },
  { id: 'compliance.lookup', method: 'GET', path: '/compliance/:key', roles: NAC, needs: ['compliance'], tag: 'compliance', summary: 'NAC answer: compliant true/false with reasons, by device id, certificate serial or MAC', ok: { status: 200, schema: 'ComplianceAnswer' } },

  // policies
  { id: 'policies.list', method: 'GET', path: '/policies', roles: READERS, needs: ['policies'], tag: 'policies', summary: 'Policies and where they are assigned', ok: { status: 200, schema: 'PolicyList' } },
  { id: 'policies.read', method: 'GET', path: '/policies/:policyId', roles: READERS, needs: ['policies'], tag: 'policies', summary: 'One policy, its settings and the safeguards they serve', ok: { status: 200, schema: 'PolicyDetail' } },
  { id: 'policies.assign', method: 'PUT', path: '/policies/:policyId/assignments', roles: HANDS, needs: ['policies'], tag: 'policies', summary: 'Assign to groups (pushes to the affected devices)', body: 'Assignment', ok: { status: 200, schema: 'Policy' } },

  // audit
  { id: 'audit.events', method: 'GET', path: '/audit/events', roles: AUDIT, needs: ['auditEvents'], tag: 'audit', summary: 'Audit events, newest first', query: 'AuditQuery', ok: { status: 200, schema: 'AuditEventList' } },
  { id: 'audit.export', method: 'POST', path: '/audit/bundle', roles: AUDIT, needs: ['auditBundles'], tag: 'audit', summary: 'Export a signed audit bundle (tar; docs/audit-bundle.md)', body: 'AuditExport', ok: { status: 200, contentType: 'application/x-tar', description: 'The bundle' } },
  {
    id: 'audit.verify', method: 'POST', path: '/audit/verify', roles: AUDIT, needs: ['auditBundles'], tag: 'audit', summary: 'Verify an uploaded bundle (every check, offline)',
    rawBody: { contentType: 'application/x-tar', description: 'An audit bundle as exported' }, ok: { status: 200, schema: 'AuditReport' },
  },
];

export const API_PREFIX = '/api/v1';

/** Whether `role` (with this kind of credential) may call `route`: the whole authorization rule. */
export function allowed(route: RouteSpec, role: Role, kind: 'session' | 'token'): boolean {
  if (route.roles === 'public') return true;
  if (route.person && kind !== 'session') return false;
  return route.roles.includes(role);
}
