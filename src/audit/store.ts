import crypto from 'node:crypto';
import type { WardDb } from '../db';
import { canonicalJson } from './jcs';

export type ActorType = 'admin' | 'device' | 'system' | 'cli';

/** Who did it: an admin user, a device, Ward itself, or a shell user running wardctl. */
export interface AuditActor {
  type: ActorType;
  id: string;
}

export interface AuditEventInput {
  /** Dotted verb: `scep.certificate.issued`, `apple.command.queued`, `admin.login.failed`. */
  action: string;
  actor: AuditActor;
  target?: { type: string; id: string } | null;
  outcome?: 'success' | 'failure';
  /** Why it failed (required for failures), or a short note. */
  reason?: string | null;
  /** Source IP address of the request, if any. */
  source?: string | null;
  requestId?: string | null;
  /** Structured facts. Never a secret: no keys, challenges, tokens or passwords. */
  details?: Record<string, unknown>;
}

/** Who acts and from where: passed from a request down to the service that records the event. */
export type AuditContext = Pick<AuditEventInput, 'actor' | 'source' | 'requestId'>;

/** Ward itself (start-up, schedules). */
export const SYSTEM_ACTOR: AuditActor = { type: 'system', id: 'ward' };

/** The canonical event: exactly what is hashed and exported (one JSON line). */
export interface AuditEvent {
  seq: number;
  time: string;
  action: string;
  actor: AuditActor;
  target: { type: string; id: string } | null;
  outcome: 'success' | 'failure';
  reason: string | null;
  source: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface AppendedEvent {
  event: AuditEvent;
  line: string;
  leafHash: Buffer;
}

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const SECRET_KEY = /(passw|secret|challenge(?!_?id)|token(?!_?id)|private|passphrase|unlock)/i;

export function leafHash(line: string): Buffer {
  return crypto.createHash('sha256').update(Buffer.from([0])).update(line, 'utf8').digest();
}

function checkDetails(details: Record<string, unknown>, where = 'details'): void {
  for (const [k, v] of Object.entries(details)) {
    if (SECRET_KEY.test(k) && typeof v === 'string') {
      throw new TypeError(`audit: ${where}.${k} looks like a secret; audit events never carry secrets`);
    }
    if (v && typeof v === 'object' && !Array.isArray(v)) checkDetails(v as Record<string, unknown>, `${where}.${k}`);
  }
}

/**
 * The append-only audit log. record() must run inside the transaction of the change it records
 * (db.write(() => { change(); audit.record(...) })): both commit or neither does.
 */
export class AuditLog {
  private readonly lastSeq;
  private readonly insert;
  private readonly listeners: ((e: AppendedEvent) => void)[] = [];

  constructor(private readonly db: WardDb) {
    this.lastSeq = db.sqlite.prepare('SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1').pluck();
    this.insert = db.sqlite.prepare(
      `INSERT INTO audit_events (seq, time, action, actor_type, actor_id, target_type, target_id, outcome, line, leaf_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Called after each append, inside the transaction (e.g. to extend the Merkle tree).
   * A listener must tolerate the transaction rolling back afterwards. */
  onAppend(listener: (e: AppendedEvent) => void): void {
    this.listeners.push(listener);
  }

  record(input: AuditEventInput): AuditEvent {
    if (!ACTION.test(input.action)) throw new TypeError(`audit: bad action name ${JSON.stringify(input.action)}`);
    const outcome = input.outcome ?? 'success';
    if (outcome === 'failure' && !input.reason) throw new TypeError(`audit: failure event ${input.action} needs a reason`);
    const details = input.details ?? {};
    checkDetails(details);
    return this.db.write(() => {
      const seq = ((this.lastSeq.get() as number | undefined) ?? 0) + 1;
      const event: AuditEvent = {
        seq,
        time: new Date().toISOString(),
        action: input.action,
        actor: { type: input.actor.type, id: input.actor.id },
        target: input.target ? { type: input.target.type, id: input.target.id } : null,
        outcome,
        reason: input.reason ?? null,
        source: input.source ?? null,
        requestId: input.requestId ?? null,
        details,
      };
      const line = canonicalJson(event);
      const hash = leafHash(line);
      this.insert.run(
        seq, event.time, event.action, event.actor.type, event.actor.id,
        event.target?.type ?? null, event.target?.id ?? null, outcome, line, hash,
      );
      for (const l of this.listeners) l({ event, line, leafHash: hash });
      return event;
    });
  }
}
