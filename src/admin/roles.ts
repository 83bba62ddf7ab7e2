// The four roles of the admin surface (issue 8, "Who may do what"). What each may call is decided in
// one place only: the route table in routes.ts.

export const ROLES = ['admin', 'operator', 'auditor', 'nac'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_SUMMARY: Record<Role, string> = {
  admin: 'everything, including users, tokens, certificates (PKI) and policy',
  operator: 'device actions (lock, wipe, push policy, enroll); no keys, no users',
  auditor: 'read inventory and compliance, export and verify audit bundles; no device actions',
  nac: 'compliance look-ups only (the network access control system)',
};

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}
