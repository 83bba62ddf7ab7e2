// Fuzz: the audit bundle an auditor uploads to POST /api/v1/audit/verify (docs/audit-bundle.md):
// the tar reader, tree-head.json, its CMS signature and chain, entries.jsonl against the Merkle
// tree. verifyBundle never throws: every damaged bundle is a report with ok false and the failed
// check named. Then the same over HTTPS as an auditor: 200 with a report, or a 4xx JSON refusal.
// Seeds: bundles Ward exported, whole and a range after an earlier export (corpus/audit-bundle).
import t from 'tap';
import { verifyBundle } from '../../src/audit';
import { call, startAdminWard, tokenCredential } from '../admin/support';
import { seeds } from './corpus';
import { PARSED, fuzz, jsonRefusal } from './harness';
import { BYTE_MUTATORS, leField, weighted, type Mutator } from './mutate';

t.setTimeout(600_000);

function tarHeaders(input: Buffer): number[] {
  const headers: number[] = [];
  for (let at = 0; at + 512 <= input.length; at += 512) if (input.toString('latin1', at + 257, at + 262) === 'ustar') headers.push(at);
  return headers;
}

/** POSIX ustar header checksum: the byte sum with the checksum field read as spaces, six octal digits, NUL, space. */
function fixChecksum(out: Buffer, at: number): void {
  out.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += out[i]!;
  out.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, at + 148, 'latin1');
}

/** A ustar header field set to a hostile value (name, size, type, magic...), its checksum mostly made right again. */
const tarField: Mutator = {
  name: 'tar-field',
  apply: (input, rng) => {
    const headers = tarHeaders(input);
    if (headers.length === 0) return undefined;
    const at = rng.pick(headers);
    const out = Buffer.from(input);
    const [offset, width] = rng.pick([[0, 100], [100, 8], [124, 12], [148, 8], [156, 1], [257, 6], [345, 155]] as const);
    const value = rng.pick(['', '0', '77777777777', '00000001000', '99999999999', '-1', '../../etc/passwd', '/etc/passwd', 'entries.jsonl', 'tree-head.json', '\u0000', 'x'.repeat(width), '5', 'L']);
    out.fill(0, at + offset, at + offset + width);
    out.write(value.slice(0, width), at + offset, 'latin1');
    if (offset !== 148 && rng.chance(0.8)) fixChecksum(out, at);
    return out;
  },
};

/** Bytes changed inside one file of the bundle, its size kept, so the archive still reads: tree-head.json, entries.jsonl, the CMS. */
const tarContent: Mutator = {
  name: 'tar-content',
  apply: (input, rng) => {
    const headers = tarHeaders(input).filter((at) => parseInt(input.toString('latin1', at + 124, at + 135), 8) > 0);
    if (headers.length === 0) return undefined;
    const at = rng.pick(headers);
    const size = parseInt(input.toString('latin1', at + 124, at + 135), 8);
    const out = Buffer.from(input);
    for (let n = 1 + rng.below(4); n > 0; n--) out[at + 512 + rng.below(size)] = rng.pick([0x22, 0x7b, 0x7d, 0x5b, 0x30, 0x39, 0x2d, 0x0a, 0x00, 0xff, 0x5c, 0x65]);
    return out;
  },
};
const BUNDLE = [...weighted(3, tarField, tarContent), ...weighted(1, leField()), ...weighted(1, ...BYTE_MUTATORS)];

t.test('verifyBundle on damaged bundles, in process and uploaded', async (t) => {
  const bundles = seeds('audit-bundle');
  await fuzz(t, {
    parser: 'audit-bundle',
    seeds: bundles,
    count: 6_000,
    mutators: BUNDLE,
    seedsParse: true,
    run: (input) => {
      const report = verifyBundle(input);
      return report.ok ? PARSED : `report ${report.failures[0]?.check ?? 'no failure named'}`;
    },
  });

  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const auditor = tokenCredential(ward, 'auditor');
  await fuzz(t, {
    parser: 'http-audit-bundle',
    seeds: bundles,
    count: 300,
    mutators: BUNDLE,
    maxMs: 2000,
    run: async (input) => {
      const a = await call(ward, auditor, 'POST', '/audit/verify', input);
      if (a.status !== 200) return jsonRefusal(a);
      const report = a.json();
      if (typeof report.ok !== 'boolean' || !Array.isArray(report.failures)) throw new Error(`not a report: ${a.body.toString().slice(0, 200)}`);
      // Ward's own root is the trust anchor here, so the corpus bundles (another Ward's) never verify.
      return `report ${report.failures[0]?.check ?? 'ok'}`;
    },
  });
});
