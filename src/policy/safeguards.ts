// The HIPAA Security Rule safeguards (45 CFR Part 164 Subpart C) that device settings serve. Every
// setting of the policy schema names one or more of these ids (`x-safeguards`), so that
// `wardctl policy explain` and the per-device HIPAA report speak the auditor's language.
// Section numbers and titles as in 45 CFR 164.308, 164.310 and 164.312 (eCFR, current text).

export type SafeguardKind = 'administrative' | 'physical' | 'technical';

export interface Safeguard {
  /** The citation, e.g. `164.312(a)(2)(iii)`. */
  id: string;
  title: string;
  kind: SafeguardKind;
  /** Required or addressable implementation specification (164.306(d)); standards are required. */
  implementation: 'standard' | 'required' | 'addressable';
}

const s = (id: string, title: string, kind: SafeguardKind, implementation: Safeguard['implementation']): Safeguard => ({ id, title, kind, implementation });

/** In citation order. */
export const SAFEGUARDS: readonly Safeguard[] = [
  s('164.308(a)(5)(ii)(B)', 'Protection from malicious software', 'administrative', 'addressable'),
  s('164.308(a)(5)(ii)(D)', 'Password management', 'administrative', 'addressable'),
  s('164.308(a)(6)(ii)', 'Security incident response and reporting', 'administrative', 'required'),
  s('164.308(b)(1)', 'Business associate contracts and other arrangements', 'administrative', 'standard'),
  s('164.310(b)', 'Workstation use', 'physical', 'standard'),
  s('164.310(c)', 'Workstation security', 'physical', 'standard'),
  s('164.310(d)(1)', 'Device and media controls', 'physical', 'standard'),
  s('164.310(d)(2)(ii)', 'Media re-use', 'physical', 'required'),
  s('164.310(d)(2)(iii)', 'Accountability (hardware and media movements)', 'physical', 'addressable'),
  s('164.312(a)(1)', 'Access control', 'technical', 'standard'),
  s('164.312(a)(2)(i)', 'Unique user identification', 'technical', 'required'),
  s('164.312(a)(2)(iii)', 'Automatic logoff', 'technical', 'addressable'),
  s('164.312(a)(2)(iv)', 'Encryption and decryption', 'technical', 'addressable'),
  s('164.312(b)', 'Audit controls', 'technical', 'standard'),
  s('164.312(c)(1)', 'Integrity', 'technical', 'standard'),
  s('164.312(d)', 'Person or entity authentication', 'technical', 'standard'),
  s('164.312(e)(1)', 'Transmission security', 'technical', 'standard'),
  s('164.312(e)(2)(ii)', 'Encryption (in transmission)', 'technical', 'addressable'),
];

const BY_ID = new Map(SAFEGUARDS.map((g) => [g.id, g]));

export function safeguard(id: string): Safeguard {
  const g = BY_ID.get(id);
  if (!g) throw new RangeError(`unknown safeguard ${id}`);
  return g;
}

export function isSafeguardId(id: string): boolean {
  return BY_ID.has(id);
}

/** `164.312(a)(2)(iii) Automatic logoff` */
export function safeguardLabel(id: string): string {
  return `${id} ${safeguard(id).title}`;
}

/** Ids sorted in citation order (the order of SAFEGUARDS). */
export function sortSafeguards(ids: Iterable<string>): string[] {
  const order = new Map(SAFEGUARDS.map((g, i) => [g.id, i]));
  return [...new Set(ids)].sort((a, b) => (order.get(a) ?? 999) - (order.get(b) ?? 999));
}
