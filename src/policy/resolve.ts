// Precedence: which policies apply to a device and how they combine (docs/policy.md, "Precedence").
// A device collects at most one policy per scope, from the least specific to the most specific:
//   default < unit < ward < role < device
// and each setting combines by the `x-merge` rule of the schema: security floors take the strictest
// value of every layer (a narrower scope can tighten a floor, never loosen it); everything else
// takes the value of the most specific layer that sets it. Pure: no I/O.
import crypto from 'node:crypto';
import { canonicalJson } from '../audit';
import { SETTING_SPECS, getAt, setAt, type PolicySettings, type SettingSpec } from './schema';

export const SCOPES = ['default', 'unit', 'ward', 'role', 'device'] as const;
export type Scope = (typeof SCOPES)[number];

/** Bumped when a compiler's output changes for the same settings, so every device gets it again. */
export const COMPILER_VERSION = 1;

export interface PolicyRef {
  scope: Scope;
  /** '' for the default scope; the unit, ward or role name; the device id. */
  target: string;
  policy: string;
  version: number;
}

export interface PolicyLayer extends PolicyRef {
  settings: PolicySettings;
}

export interface EffectivePolicy {
  /** Names the effective settings (and compiler version): the ETag / profile version devices see. */
  hash: string;
  settings: PolicySettings;
  /** For each setting path: the layers its value came from (several for union lists and strictest-wins ties). */
  sources: Record<string, PolicyRef[]>;
  /** The layers applied, least specific first. */
  layers: PolicyRef[];
}

/** Compares dotted numeric versions: "16.1" < "17.0" = "17" < "17.0.1". */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

interface Candidate {
  value: unknown;
  layer: PolicyRef;
}

const refOf = (l: PolicyLayer): PolicyRef => ({ scope: l.scope, target: l.target, policy: l.policy, version: l.version });

/** Rank of a value for max/min: numbers as they are, enum members by their position (weakest first). */
function rank(spec: SettingSpec, v: unknown): number {
  const members = spec.schema.enum as unknown[] | undefined;
  return members ? members.indexOf(v) : (v as number);
}

function combine(spec: SettingSpec, cands: Candidate[]): { value: unknown; from: PolicyRef[] } {
  // cands are least specific first; on ties the most specific layer is named.
  const mostSpecific = cands[cands.length - 1];
  switch (spec.merge) {
    case 'specific':
      return { value: mostSpecific.value, from: [mostSpecific.layer] };
    case 'max':
    case 'min': {
      let best = mostSpecific;
      for (const c of cands) {
        const d = rank(spec, c.value) - rank(spec, best.value);
        if (spec.merge === 'max' ? d > 0 : d < 0) best = c;
      }
      return { value: best.value, from: [best.layer] };
    }
    case 'or':
    case 'and': {
      const winner = spec.merge === 'or';
      const hit = [...cands].reverse().find((c) => c.value === winner);
      return hit ? { value: winner, from: [hit.layer] } : { value: !winner, from: [mostSpecific.layer] };
    }
    case 'union': {
      const seen = new Map<string, unknown>();
      const from: PolicyRef[] = [];
      for (const c of cands) {
        let added = false;
        for (const item of c.value as unknown[]) {
          const key = canonicalJson(item);
          if (!seen.has(key)) {
            seen.set(key, item);
            added = true;
          }
        }
        if (added) from.push(c.layer);
      }
      return { value: [...seen.values()], from };
    }
    case 'maxVersion': {
      // Per platform: each key is its own floor.
      const out: Record<string, string> = {};
      const from = new Set<PolicyRef>();
      const fromOf: Record<string, PolicyRef> = {};
      for (const c of cands) {
        for (const [k, v] of Object.entries(c.value as Record<string, string>)) {
          if (out[k] === undefined || compareVersions(v, out[k]) >= 0) {
            out[k] = v;
            fromOf[k] = c.layer;
          }
        }
      }
      for (const r of Object.values(fromOf)) from.add(r);
      const ordered = Object.fromEntries(Object.keys(spec.schema.properties as object).filter((k) => k in out).map((k) => [k, out[k]]));
      return { value: ordered, from: [...from] };
    }
  }
}

export function policyHash(settings: PolicySettings): string {
  return crypto.createHash('sha256').update(canonicalJson({ compiler: COMPILER_VERSION, settings })).digest('hex').slice(0, 32);
}

/** The effective policy of a device from the layers that apply to it (any order; one per scope). */
export function resolvePolicy(layers: PolicyLayer[]): EffectivePolicy {
  const sorted = [...layers].sort((a, b) => SCOPES.indexOf(a.scope) - SCOPES.indexOf(b.scope));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].scope === sorted[i - 1].scope) throw new Error(`two policies at scope ${sorted[i].scope}`);
  }
  const settings: Record<string, unknown> = {};
  const sources: Record<string, PolicyRef[]> = {};
  for (const spec of SETTING_SPECS) {
    const cands: Candidate[] = [];
    for (const l of sorted) {
      const v = getAt(l.settings, spec.keys);
      if (v !== undefined) cands.push({ value: v, layer: refOf(l) });
    }
    if (cands.length === 0) continue;
    const { value, from } = combine(spec, cands);
    setAt(settings, spec.keys, structuredClone(value));
    sources[spec.path] = from;
  }
  // Mode sections of a broader scope do not follow a device into another mode.
  const typed = settings as PolicySettings;
  if (typed.kiosk && typed.mode !== 'kiosk') {
    delete typed.kiosk;
    delete sources.kiosk;
  }
  if (typed.sharedDevice && typed.mode !== 'sharedClinicalTablet') {
    for (const k of Object.keys(typed.sharedDevice)) delete sources[`sharedDevice.${k}`];
    delete typed.sharedDevice;
  }
  return { hash: policyHash(typed), settings: typed, sources, layers: sorted.map(refOf) };
}
