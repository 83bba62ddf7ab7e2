// Setting -> safeguard mapping of a policy (`wardctl policy explain NAME`), from the schema's
// x-safeguards annotations. Pure.
import { SAFEGUARDS, safeguardLabel, sortSafeguards } from './safeguards';
import { SETTING_SPECS, getAt, type MergeRule, type PolicySettings } from './schema';

export interface ExplainedSetting {
  path: string;
  value: unknown;
  safeguards: string[];
  merge: MergeRule;
  description: string;
}

export interface Explanation {
  settings: ExplainedSetting[];
  /** Safeguard id -> the settings that serve it, in citation order. */
  bySafeguard: Array<{ id: string; title: string; settings: string[] }>;
  /** Safeguards of the catalogue this policy sets nothing for. */
  notAddressed: string[];
}

export function explainSettings(settings: PolicySettings): Explanation {
  const rows: ExplainedSetting[] = [];
  for (const spec of SETTING_SPECS) {
    const value = getAt(settings, spec.keys);
    if (value === undefined) continue;
    rows.push({ path: spec.path, value, safeguards: sortSafeguards(spec.safeguards), merge: spec.merge, description: spec.description });
  }
  const map = new Map<string, string[]>();
  for (const r of rows) for (const id of r.safeguards) map.set(id, [...(map.get(id) ?? []), r.path]);
  const bySafeguard = SAFEGUARDS.filter((g) => map.has(g.id)).map((g) => ({ id: g.id, title: g.title, settings: map.get(g.id)! }));
  const notAddressed = SAFEGUARDS.filter((g) => !map.has(g.id)).map((g) => g.id);
  return { settings: rows, bySafeguard, notAddressed };
}

function short(value: unknown): string {
  if (Array.isArray(value)) {
    const names = value.map((v) => (v && typeof v === 'object' ? ((v as { name?: string; ssid?: string; app?: { name: string } }).name ?? (v as { ssid?: string }).ssid ?? (v as { app?: { name: string } }).app?.name ?? '…') : String(v)));
    return `[${names.join(', ')}]`;
  }
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.name === 'string') return o.name;
    if (o.app && typeof o.app === 'object') return String((o.app as { name: string }).name);
    return Object.entries(o).map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
  }
  return String(value);
}

/** The text `wardctl policy explain` prints. */
export function explanationText(title: string, e: Explanation): string {
  const lines = [title, ''];
  const w = Math.max(...e.settings.map((r) => r.path.length), 10);
  const vw = Math.min(32, Math.max(...e.settings.map((r) => short(r.value).length), 5));
  lines.push(`${'setting'.padEnd(w)}  ${'value'.padEnd(vw)}  safeguards (45 CFR)`);
  for (const r of e.settings) {
    let v = short(r.value);
    if (v.length > vw) v = `${v.slice(0, vw - 1)}…`;
    lines.push(`${r.path.padEnd(w)}  ${v.padEnd(vw)}  ${r.safeguards.map(safeguardLabel).join('; ')}`);
  }
  lines.push('', 'by safeguard:');
  for (const g of e.bySafeguard) lines.push(`  ${g.id} ${g.title}: ${g.settings.join(', ')}`);
  if (e.notAddressed.length) {
    lines.push('', 'not addressed by this policy\'s settings:');
    for (const id of e.notAddressed) lines.push(`  ${safeguardLabel(id)}`);
  }
  return lines.join('\n');
}
