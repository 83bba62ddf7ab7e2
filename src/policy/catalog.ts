// The policy catalogue as the admin surface reads it (src/admin/domains.ts PolicyCatalog): policies
// with where they are assigned, each setting's safeguards, and assignment by group strings
// "default", "unit:NAME", "ward:NAME", "role:NAME" or "device:ID".
import type { AuditContext } from '../audit';
import { explainSettings } from './explain';
import { SCOPES, type Scope } from './resolve';
import type { PolicySettings } from './schema';
import { PolicyError, type PolicyService, type PolicyView } from './service';

export type CatalogPlatform = 'apple' | 'android';

export interface CatalogPolicy {
  id: string;
  name: string;
  version: number;
  mode: string | null;
  platforms: CatalogPlatform[];
  updatedAt: string;
  groups: string[];
}

export function assignmentRef(scope: Scope, target: string): string {
  return scope === 'default' ? 'default' : `${scope}:${target}`;
}

/** "ward:4B" -> { scope: 'ward', target: '4B' }; throws PolicyError (bad-request) for anything else. */
export function parseAssignmentRef(ref: string): { scope: Scope; target: string } {
  if (ref === 'default') return { scope: 'default', target: '' };
  const i = ref.indexOf(':');
  const scope = ref.slice(0, i) as Scope;
  const target = ref.slice(i + 1);
  if (i < 1 || scope === 'default' || !SCOPES.includes(scope) || target.length === 0) {
    throw new PolicyError('bad-request', `group ${JSON.stringify(ref)}: use default, unit:NAME, ward:NAME, role:NAME or device:ID`);
  }
  return { scope, target };
}

/** Platforms a policy can be compiled for: both, unless its kiosk app exists on one only. */
function platformsOf(settings: PolicySettings): CatalogPlatform[] {
  const app = settings.mode === 'kiosk' ? settings.kiosk?.app : undefined;
  if (!app) return ['apple', 'android'];
  return [...(app.apple ? (['apple'] as const) : []), ...(app.android ? (['android'] as const) : [])];
}

function summary(v: PolicyView, settings: PolicySettings): CatalogPolicy {
  return {
    id: v.name,
    name: v.name,
    version: v.version,
    mode: v.mode,
    platforms: platformsOf(settings),
    updatedAt: v.updatedAt,
    groups: v.assignments.map((a) => assignmentRef(a.scope, a.target)),
  };
}

export function policyCatalog(policies: PolicyService) {
  return {
    list(): CatalogPolicy[] {
      return policies.policies().map((v) => summary(v, policies.policy(v.name)!.settings));
    },
    get(id: string): (CatalogPolicy & { settings: Record<string, unknown>; safeguards: Record<string, string[]> }) | undefined {
      const p = policies.policy(id);
      if (!p) return undefined;
      const safeguards = Object.fromEntries(explainSettings(p.settings).bySafeguard.map((g) => [g.id, g.settings]));
      return { ...summary(p, p.settings), settings: p.settings as Record<string, unknown>, safeguards };
    },
    assign(id: string, groups: string[], ctx: AuditContext): CatalogPolicy {
      policies.setAssignments(id, groups.map(parseAssignmentRef), ctx);
      policies.publishSoon();
      return this.list().find((p) => p.id === id)!;
    },
  };
}
