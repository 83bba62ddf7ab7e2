// What must hold in a Ward database after a crash or a full disk, read on a read-only connection
// while the daemon runs: SQLite's own checks, no record without the audit event of its making (nothing
// half-written), no device with two live identity certificates unless Ward means it (an Android
// re-enrollment keeps the previous certificate until the device uses the new one), and every
// answered request's effect and audit events.
import Database from 'better-sqlite3';
import type { AuditEvent } from '../../src/audit';
import type { Answered } from './mixed-load';

export function openReadOnly(dbFile: string): Database.Database {
  return new Database(dbFile, { readonly: true, fileMustExist: true });
}

export function sqliteProblems(db: Database.Database): string[] {
  const problems: string[] = [];
  const integrity = db.pragma('integrity_check', { simple: true });
  if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
  const fk = db.pragma('foreign_key_check') as unknown[];
  if (fk.length > 0) problems.push(`foreign_key_check: ${JSON.stringify(fk.slice(0, 3))}`);
  return problems;
}

/** Every audit event, indexed by request id and by what it is about. */
export class AuditIndex {
  readonly byRequest = new Map<string, Set<string>>();
  private readonly about = new Set<string>();
  readonly size: number;

  constructor(db: Database.Database) {
    const lines = db.prepare('SELECT line FROM audit_events ORDER BY seq').pluck().all() as string[];
    this.size = lines.length;
    for (const line of lines) {
      const e = JSON.parse(line) as AuditEvent;
      if (e.requestId) {
        const set = this.byRequest.get(e.requestId) ?? new Set<string>();
        set.add(e.action);
        this.byRequest.set(e.requestId, set);
      }
      if (e.target) this.about.add(`${e.action} ${e.target.id}`);
      const commandId = (e.details as { commandId?: unknown }).commandId;
      if (typeof commandId === 'string') this.about.add(`${e.action} ${commandId}`);
    }
  }

  /** Whether an event `action` names `id` (as its target, or as details.commandId). */
  has(action: string, id: string): boolean {
    return this.about.has(`${action} ${id}`);
  }
}

/** Records whose audit event is missing: a change committed without its event. */
export function halfWritten(db: Database.Database, audit: AuditIndex): string[] {
  const problems: string[] = [];
  const each = (sql: string, check: (r: Record<string, string>) => string | undefined) => {
    for (const r of db.prepare(sql).all() as Record<string, string>[]) {
      const p = check(r);
      if (p) problems.push(p);
    }
  };
  const needs = (action: string, id: string, what: string) => (audit.has(action, id) ? undefined : `${what} has no ${action} event`);
  each("SELECT serial FROM certificates WHERE issuer = 'issuing'", (r) => needs('pki.certificate.issued', r.serial, `certificate ${r.serial}`));
  each('SELECT serial FROM certificates WHERE revoked_at IS NOT NULL', (r) => needs('pki.certificate.revoked', r.serial, `revoked certificate ${r.serial}`));
  each('SELECT id FROM scep_challenges', (r) => needs('scep.challenge.created', r.id, `SCEP challenge ${r.id}`));
  each("SELECT id, certificate_serial FROM scep_requests WHERE status = 'issued'", (r) => (r.certificate_serial ? undefined : `SCEP request ${r.id} issued without a certificate`));
  each('SELECT id FROM android_devices', (r) => needs('android.device.enrolled', r.id, `Android device ${r.id}`));
  each('SELECT id, status FROM android_commands', (r) =>
    needs('android.command.queued', r.id, `Android command ${r.id}`)
    ?? (r.status !== 'queued' ? needs('android.command.sent', r.id, `sent Android command ${r.id}`) : undefined)
    ?? (r.status === 'done' ? needs('android.command.completed', r.id, `done Android command ${r.id}`) : undefined));
  each('SELECT uuid, status FROM apple_commands', (r) =>
    needs('apple.command.queued', r.uuid, `Apple command ${r.uuid}`)
    ?? (r.status !== 'queued' ? needs('apple.command.sent', r.uuid, `sent Apple command ${r.uuid}`) : undefined)
    ?? (r.status === 'acknowledged' ? needs('apple.command.acknowledged', r.uuid, `acknowledged Apple command ${r.uuid}`) : undefined));
  return problems;
}

/**
 * Subjects holding more than one live (unrevoked, unexpired) device certificate, except an Android
 * device's current and previous one (kept on purpose until the device shows the new one).
 */
export function duplicateIdentities(db: Database.Database): string[] {
  const live = db.prepare("SELECT subject, serial FROM certificates WHERE profile = 'device' AND revoked_at IS NULL AND not_after > ?").all(new Date().toISOString()) as { subject: string; serial: string }[];
  const bySubject = new Map<string, string[]>();
  for (const c of live) bySubject.set(c.subject, [...(bySubject.get(c.subject) ?? []), c.serial]);
  const deliberate = new Set(
    (db.prepare('SELECT cert_serial AS a, previous_cert_serial AS b FROM android_devices WHERE previous_cert_serial IS NOT NULL').all() as { a: string; b: string }[]).map((r) => [r.a, r.b].sort().join(' ')),
  );
  const problems: string[] = [];
  for (const [subject, serials] of bySubject) {
    if (serials.length > 1 && !deliberate.has([...serials].sort().join(' '))) problems.push(`${subject} holds ${serials.length} live device certificates: ${serials.join(', ')}`);
  }
  return problems;
}

/** Answered requests whose effect or audit event is missing. */
export function unkeptAnswers(db: Database.Database, audit: AuditIndex, answered: Answered[]): string[] {
  const problems: string[] = [];
  for (const a of answered) {
    const recorded = audit.byRequest.get(a.requestId) ?? new Set<string>();
    for (const wanted of a.events) {
      if (!wanted.split('|').some((action) => recorded.has(action))) problems.push(`${a.kind} ${a.requestId}: no ${wanted} event`);
    }
    const p = a.effect?.(db, audit);
    if (p) problems.push(`${a.kind} ${a.requestId}: ${p}`);
  }
  return problems;
}
