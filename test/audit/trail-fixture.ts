// An AuditTrail over a fresh database with only the audit migrations (0001 core, 0003 tree heads,
// 0008 retention), signed by a throwaway openssl CA: the audit tests do not depend on other domains.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, AuditTrail } from '../../src/audit';
import { openDatabase, type WardDb } from '../../src/db';
import { memoryLog, repoRoot } from '../support/ward';
import type { TestCa } from './openssl-ca';

export const auditMigrations = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
for (const f of fs.readdirSync(path.join(repoRoot, 'migrations')).filter((f) => /^000[138]_/.test(f))) {
  fs.copyFileSync(path.join(repoRoot, 'migrations', f), path.join(auditMigrations, f));
}

export interface TrailFixture {
  file: string;
  db: WardDb;
  audit: AuditLog;
  trail: AuditTrail;
  /** Every line appended through this connection, rolled-back ones included. */
  lines: string[];
  log: ReturnType<typeof memoryLog>;
}

export function openTrail(ca: TestCa, file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ward-')), 'ward.db'), log = memoryLog()): TrailFixture {
  const db = openDatabase(file, { migrationsDir: auditMigrations, busyTimeoutMs: 50 });
  const audit = new AuditLog(db);
  const trail = new AuditTrail(db, audit, {
    signer: () => ({ key: ca.ec.key, certificate: ca.ec.cert, chain: [ca.issuing] }),
    caChain: () => [ca.root, ca.issuing],
    log: log.logger,
    alarmRetryMs: 25,
    scanChunk: 7,
  });
  trail.restore();
  const lines: string[] = [];
  audit.onAppend((e) => lines.push(e.line));
  return { file, db, audit, trail, lines, log };
}

export const cliCtx = { actor: { type: 'cli' as const, id: 'tester' }, source: 'local', requestId: null };

export function recordThings(f: TrailFixture, n: number, from = 0): void {
  for (let i = 0; i < n; i++) {
    f.audit.record({ action: 'test.thing.done', ...cliCtx, target: { type: 'thing', id: `t${from + i}` }, details: { i: from + i } });
  }
}

export function closeTrail(f: TrailFixture): void {
  f.trail.stop();
  f.db.close();
}
