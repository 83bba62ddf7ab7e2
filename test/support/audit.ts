// Checks of a Ward's audit log from outside the daemon, for the crash and fault tests: the bundle
// wardctl exports and verifies (as an auditor would), and the store check of the audit module run
// on a read-only connection while the daemon keeps the database open.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { AuditLog, AuditTrail, type AuditEvent } from '../../src/audit';
import { readTar } from '../../src/audit/tar';
import type { WardDb } from '../../src/db';
import { wardctl } from './ward';

/** `wardctl audit export --out FILE`: a freshly signed tree head over every event. Throws on failure.
 * `run`: how to run wardctl (e.g. inside the daemon's mount namespace). */
export function exportAuditBundle(configFile: string, out: string, run: (args: string[]) => { status: number | null; stdout: string; stderr: string } = wardctl): void {
  const r = run(['audit', 'export', '--out', out, '--config', configFile]);
  if (r.status !== 0) throw new Error(`wardctl audit export exited ${r.status}: ${r.stderr}${r.stdout}`);
}

/** `wardctl audit verify FILE [--previous OLDER]`: status 0 when the signature, every line, the root
 * and the consistency with the older bundle check out. */
export function verifyAuditBundle(bundle: string, previous?: string): { status: number | null; output: string } {
  const r = wardctl(['audit', 'verify', bundle, ...(previous ? ['--previous', previous] : [])]);
  return { status: r.status, output: `${r.stderr}${r.stdout}` };
}

/** The events of a bundle (entries.jsonl), parsed. */
export function bundleEntries(bundle: string): AuditEvent[] {
  const entries = readTar(fs.readFileSync(bundle)).find((e) => e.name === 'entries.jsonl');
  if (!entries) throw new Error(`${bundle} has no entries.jsonl`);
  return entries.data.toString().split('\n').slice(0, -1).map((l) => JSON.parse(l) as AuditEvent);
}

/**
 * The audit module's own store check (AuditTrail.restore + checkStore) on a read-only connection:
 * the latest signed head's signature and frontier, every line against its leaf hash, no gap in seq,
 * consistency of the store with that head. `caPem`: Ward's chain as /ca.pem serves it.
 */
export async function checkAuditStore(dbFile: string, caPem: string): Promise<{ ok: true; treeSize: number } | { ok: false; reason: string }> {
  const sqlite = new Database(dbFile, { readonly: true, fileMustExist: true });
  const db: WardDb = {
    sqlite,
    orm: undefined as never,
    transactions: 0,
    write: () => {
      throw new Error('read-only check');
    },
    close: () => sqlite.close(),
  };
  const certs = (caPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
  const root = certs.find((c) => c.subject === c.issuer);
  if (!root) throw new Error('no root certificate in the CA chain');
  const trail = new AuditTrail(db, new AuditLog(db), {
    signer: () => {
      throw new Error('read-only check');
    },
    caChain: () => [root, ...certs.filter((c) => c !== root)],
  });
  try {
    trail.restore();
    const { treeSize } = await trail.checkStore();
    return { ok: true, treeSize };
  } catch (e) {
    return { ok: false, reason: trail.alarm?.reason ?? (e as Error).message };
  } finally {
    trail.stop();
    sqlite.close();
  }
}
