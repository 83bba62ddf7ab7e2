// Audit benchmarks (issue: append rate with the tree maintained >= half of plain inserts with group
// commit; export and verify of one million events each under 60 s). One JSON object a line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, AuditTrail, canonicalJson, leafHash, verifyBundle } from '../src/audit';
import { configFromObject } from '../src/config';
import { openDatabase, type WardDb } from '../src/db';
import { CertificateAuthority } from '../src/pki';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-bench-'));
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
const ctx = { actor: { type: 'system' as const, id: 'bench' }, source: '127.0.0.1', requestId: 'bench' };

function ward(name: string) {
  const cfg = configFromObject({
    dataDir: `./${name}`,
    pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'ecdsa-p256', issuingKeyAlgorithm: 'rsa-2048' },
  }, path.join(dir, 'appliance.config.yaml'));
  const db = openDatabase(path.join(dir, name, 'ward.db'));
  const audit = new AuditLog(db);
  const ca = CertificateAuthority.open(cfg, db, audit);
  const trail = new AuditTrail(db, audit, {
    signer: () => {
      const id = ca.serviceIdentity('auditSigner');
      return { key: id.key, certificate: id.cert, chain: [ca.issuing.cert, ca.root.cert] };
    },
    caChain: () => [ca.root.cert, ca.issuing.cert],
  });
  trail.restore();
  return { db, audit, trail };
}

const input = (i: number) => ({
  action: 'scep.certificate.issued',
  ...ctx,
  target: { type: 'device', id: `device-${i.toString(16).padStart(8, '0')}` },
  details: { profile: 'device', subject: `CN=device-${i},O=Bench Hospital`, serial: (0x1000000 + i).toString(16), notAfter: '2027-01-01T00:00:00.000Z' },
});

const INSERT = `INSERT INTO audit_events (seq, time, action, actor_type, actor_id, target_type, target_id, outcome, line, leaf_hash)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Events appended per second through AuditLog.record, `batch` events per transaction, tree synced per batch. */
function appendWithTree(w: ReturnType<typeof ward>, n: number, batch: number, from: number): number {
  // Inputs are built before the clock starts, as the baseline's rows are.
  const inputs = Array.from({ length: n }, (_, j) => input(from + j));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += batch) {
    w.db.write(() => {
      for (let j = i; j < Math.min(n, i + batch); j++) w.audit.record(inputs[j]);
    });
    w.trail.current();
  }
  return n / seconds(t0);
}

/** The same rows (as the first run stored them) inserted with a plain prepared statement. */
function plainInserts(db: WardDb, rows: unknown[][], batch: number): number {
  const insert = db.sqlite.prepare(INSERT);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i += batch) {
    db.write(() => {
      for (let j = i; j < Math.min(rows.length, i + batch); j++) insert.run(...rows[j]);
    });
  }
  return rows.length / seconds(t0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  // 1. Append rate: AuditLog.record (canonical JSON, leaf hash, insert) with the Merkle tree synced
  // after every transaction, against plain prepared INSERTs of the very rows record() stored, with
  // the same transactions. Rounds alternate on fresh databases (the machine is shared); medians.
  for (const [label, n, batch, rounds] of [['group_commit_100', 20_000, 100, 7], ['group_commit_10', 5_000, 10, 5], ['commit_each', 500, 1, 3]] as const) {
    const treeRates: number[] = [];
    const plainRates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const tree = ward(`tree-${label}-${r}`);
      appendWithTree(tree, 2000, 100, 0); // warm-up (JIT, statement cache)
      const from = tree.db.sqlite.prepare('SELECT MAX(seq) FROM audit_events').pluck().get() as number;
      treeRates.push(appendWithTree(tree, n, batch, 10_000));
      const rows = tree.db.sqlite.prepare('SELECT seq, time, action, actor_type, actor_id, target_type, target_id, outcome, line, leaf_hash FROM audit_events WHERE seq > ? ORDER BY seq').raw().all(from) as unknown[][];
      const plain = openDatabase(path.join(dir, `plain-${label}-${r}`, 'plain.db'));
      plainInserts(plain, rows.slice(0, 2000).map((row, i) => [i + 1, ...row.slice(1)]), 100); // same warm-up
      plainRates.push(plainInserts(plain, rows.map((row, i) => [2001 + i, ...row.slice(1)]), batch));
      plain.close();
      tree.trail.stop();
      tree.db.close();
    }
    const rate = median(treeRates);
    const plainRate = median(plainRates);
    emit({
      name: `audit.append.tree.${label}`, value: Math.round(rate), unit: 'events/s',
      baseline: { name: `sqlite.insert.plain.${label}`, value: Math.round(plainRate), unit: 'events/s' },
      ratio: Number((rate / plainRate).toFixed(3)), bar: label.startsWith('group_commit') ? '>= 0.5' : null,
      events: n, batch, rounds, samples: { tree: treeRates.map(Math.round), plain: plainRates.map(Math.round) },
    });
  }

  // 2. Export and verify of one million events.
  const N = 1_000_000;
  const big = ward('million');
  const insert = big.db.sqlite.prepare(INSERT);
  const first = (big.db.sqlite.prepare('SELECT MAX(seq) FROM audit_events').pluck().get() as number) + 1;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += 50_000) {
    big.db.write(() => {
      for (let j = i; j < Math.min(N, i + 50_000); j++) {
        const seq = first + j;
        const e = input(j);
        const event = { seq, time: new Date(Date.UTC(2026, 0, 1) + j * 1000).toISOString(), action: e.action, actor: e.actor, target: e.target, outcome: 'success', reason: null, source: e.source, requestId: e.requestId, details: e.details };
        const line = canonicalJson(event);
        insert.run(seq, event.time, event.action, 'system', 'bench', 'device', e.target.id, 'success', line, leafHash(line));
      }
    });
  }
  const loadS = seconds(t0);
  const t1 = process.hrtime.bigint();
  const plainRead = big.db.sqlite.prepare('SELECT line FROM audit_events ORDER BY seq').pluck().all().length;
  const readS = seconds(t1);
  const t2 = process.hrtime.bigint();
  const exported = await big.trail.exportBundle({}, ctx);
  const exportS = seconds(t2);
  const file = path.join(dir, 'million.tar');
  fs.writeFileSync(file, exported.bundle);
  emit({
    name: 'audit.export.1m', value: Number(exportS.toFixed(2)), unit: 's',
    baseline: { name: 'sqlite.select.lines.1m', value: Number(readS.toFixed(2)), unit: 's' },
    ratio: Number((exportS / readS).toFixed(2)), bar: '< 60 s', events: exported.range.end - exported.range.start, bytes: exported.bundle.length,
    loadSeconds: Number(loadS.toFixed(1)), plainRows: plainRead,
  });
  const bytes = fs.readFileSync(file);
  const t3 = process.hrtime.bigint();
  const report = verifyBundle(bytes);
  const verifyS = seconds(t3);
  const t4 = process.hrtime.bigint();
  const crypto = await import('node:crypto');
  crypto.createHash('sha256').update(bytes).digest();
  const shaS = seconds(t4);
  emit({
    name: 'audit.verify.1m', value: Number(verifyS.toFixed(2)), unit: 's',
    baseline: { name: 'sha256.bundle', value: Number(shaS.toFixed(2)), unit: 's' },
    ratio: Number((verifyS / shaS).toFixed(2)), bar: '< 60 s', ok: report.ok, failures: report.failures.length, lines: report.lines,
  });
  big.trail.stop();
  big.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
