// SQL of the audit domain: the append-only event table (migration 0001) and the signed tree heads
// (migration 0003). Both tables have triggers that abort UPDATE and DELETE; nothing here edits a row.
import type { WardDb } from '../db';
import { canonicalJson, canonicalString } from './jcs';
import { leafHash } from './merkle';

export { leafHash } from './merkle';

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

export interface AuditEventFilter {
  since?: string;
  until?: string;
  action?: string;
  actor?: string;
  target?: { type: string; id: string };
  beforeSeq?: number;
  limit: number;
}

export type AuditEventSummary = Omit<AuditEvent, 'requestId'>;

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

const str = canonicalString;
const nullable = (s: string | null) => (s === null ? 'null' : canonicalString(s));

/**
 * canonicalJson(event), written out for the event's fixed shape (members already in RFC 8785
 * order): the append path's hot spot. A test checks it against canonicalJson.
 */
export function eventLine(e: AuditEvent): string {
  const target = e.target ? `{"id":${str(e.target.id)},"type":${str(e.target.type)}}` : 'null';
  if (!Number.isSafeInteger(e.seq)) throw new TypeError('audit: seq must be a safe integer');
  return `{"action":${str(e.action)},"actor":{"id":${str(e.actor.id)},"type":${str(e.actor.type)}},"details":${canonicalJson(e.details)},` +
    `"outcome":${str(e.outcome)},"reason":${nullable(e.reason)},"requestId":${nullable(e.requestId)},"seq":${e.seq},` +
    `"source":${nullable(e.source)},"target":${target},"time":${str(e.time)}}`;
}

let lastMs = -1;
let lastIso = '';
/** UTC time of an event, ISO 8601 with milliseconds; one Date per millisecond in a burst. */
function nowIso(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const SECRET_KEY = /(passw|secret|challenge(?!_?id)|token(?!_?id)|private|passphrase|unlock)/i;

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
  // The last seq this connection wrote, and in which write transaction: within one transaction
  // (BEGIN IMMEDIATE holds the write lock) no other writer can append, so the next event needs no query.
  private appended = { transaction: -1, seq: 0 };

  constructor(private readonly db: WardDb) {
    this.lastSeq = db.sqlite.prepare('SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1').pluck();
    this.insert = db.sqlite.prepare(
      `INSERT INTO audit_events (seq, time, action, actor_type, actor_id, target_type, target_id, outcome, line, leaf_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /**
   * Events newest first, for the admin API (device history, auditor look-ups). `target` of type
   * 'device' matches every platform's device records and what the device did itself; `action` is a
   * prefix; `beforeSeq` pages backwards. Served from the canonical lines, so it shows exactly what is signed.
   */
  events(filter: AuditEventFilter): AuditEventSummary[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.since) where.push('time >= ?'), args.push(filter.since);
    if (filter.until) where.push('time <= ?'), args.push(filter.until);
    if (filter.action) where.push('substr(action, 1, ?) = ?'), args.push(filter.action.length, filter.action);
    if (filter.actor) where.push('actor_id = ?'), args.push(filter.actor);
    if (filter.beforeSeq) where.push('seq < ?'), args.push(filter.beforeSeq);
    if (filter.target?.type === 'device') {
      where.push("((target_type IN ('device', 'android_device') AND target_id = ?) OR (actor_type = 'device' AND actor_id = ?))");
      args.push(filter.target.id, filter.target.id);
    } else if (filter.target) {
      where.push('target_type = ? AND target_id = ?'), args.push(filter.target.type, filter.target.id);
    }
    const sql = `SELECT line FROM audit_events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ?`;
    const lines = this.db.sqlite.prepare(sql).pluck().all(...args, Math.min(Math.max(filter.limit, 1), 1000)) as string[];
    return lines.map((line) => {
      const e = JSON.parse(line) as AuditEvent;
      return { seq: e.seq, time: e.time, action: e.action, actor: e.actor, target: e.target, outcome: e.outcome, reason: e.reason, source: e.source, details: e.details };
    });
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
      const seq = (this.appended.transaction === this.db.transactions ? this.appended.seq : ((this.lastSeq.get() as number | undefined) ?? 0)) + 1;
      const event: AuditEvent = {
        seq,
        time: nowIso(),
        action: input.action,
        actor: { type: input.actor.type, id: input.actor.id },
        target: input.target ? { type: input.target.type, id: input.target.id } : null,
        outcome,
        reason: input.reason ?? null,
        source: input.source ?? null,
        requestId: input.requestId ?? null,
        details,
      };
      const line = eventLine(event);
      const hash = leafHash(line);
      this.insert.run(
        seq, event.time, event.action, event.actor.type, event.actor.id,
        event.target?.type ?? null, event.target?.id ?? null, outcome, line, hash,
      );
      this.appended = { transaction: this.db.transactions, seq };
      for (const l of this.listeners) l({ event, line, leafHash: hash });
      return event;
    });
  }
}

export type TreeHeadReason = 'schedule' | 'demand' | 'export';

export interface TreeHeadRow {
  id: number;
  treeSize: number;
  rootHash: Buffer;
  time: string;
  reason: TreeHeadReason;
  /** The exact signed text. */
  head: string;
  /** CMS SignedData (DER, detached) over `head`. */
  signature: Buffer;
  signerSha256: string;
  /** Compact range [0, treeSize), 32 bytes per subtree root, largest first. */
  frontier: Buffer;
}

/** One stored event as the scan and the export read it: the line as bytes (what is hashed). */
export interface StoredLeaf {
  seq: number;
  line: Buffer;
  leafHash: Buffer;
}

const HEAD_COLUMNS = `id, tree_size AS treeSize, root_hash AS rootHash, time, reason, head, signature,
  signer_sha256 AS signerSha256, frontier`;

/** Reads of audit_events and reads/appends of audit_tree_heads. Leaf index = seq - 1. */
export class AuditStore {
  private readonly q;

  constructor(private readonly db: WardDb) {
    const p = (sql: string) => db.sqlite.prepare(sql);
    this.q = {
      lastSeq: p('SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1').pluck(),
      dataVersion: p('PRAGMA data_version').pluck(),
      seqRange: p('SELECT seq FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq').pluck(),
      leafHashRange: p('SELECT leaf_hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq').pluck(),
      // CAST: the line's UTF-8 bytes straight from SQLite, no string round trip.
      leaves: p('SELECT seq, CAST(line AS BLOB), leaf_hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?').raw(),
      firstAtOrAfter: p('SELECT MIN(seq) FROM audit_events WHERE time >= ?').pluck(),
      lastAtOrBefore: p('SELECT MAX(seq) FROM audit_events WHERE time <= ?').pluck(),
      latestHead: p(`SELECT ${HEAD_COLUMNS} FROM audit_tree_heads ORDER BY id DESC LIMIT 1`),
      insertHead: p(`INSERT INTO audit_tree_heads (tree_size, root_hash, time, reason, head, signature, signer_sha256, frontier)
        VALUES (@treeSize, @rootHash, @time, @reason, @head, @signature, @signerSha256, @frontier)`),
      exportHeads: p(`SELECT DISTINCT tree_size AS treeSize, root_hash AS rootHash FROM audit_tree_heads
        WHERE reason = 'export' AND tree_size < ? ORDER BY tree_size`),
      headCount: p('SELECT COUNT(*) FROM audit_tree_heads').pluck(),
    };
  }

  /** Highest sequence number (= number of events when nothing is missing). */
  lastSeq(): number {
    return (this.q.lastSeq.get() as number | undefined) ?? 0;
  }

  /** Changes whenever another connection commits (SQLite PRAGMA data_version). */
  dataVersion(): number {
    return this.q.dataVersion.get() as number;
  }

  /** Leaf hashes of the events with start < seq <= end, in order (fewer if some are missing). */
  leafHashList(start: number, end: number): Buffer[] {
    return this.q.leafHashRange.all(start, end) as Buffer[];
  }

  /** The first number in (start, end] that no event has (end + 1 if none is missing). */
  firstMissingSeq(start: number, end: number): number {
    let expected = start + 1;
    for (const seq of this.q.seqRange.iterate(start, end) as Iterable<number>) {
      if (seq !== expected) return expected;
      expected++;
    }
    return expected;
  }

  /** Leaf hashes of leaves [start, end) back to back (a Merkle LeafHashReader). */
  leafHashes(start: number, end: number): Buffer {
    const rows = this.q.leafHashRange.all(start, end) as Buffer[];
    if (rows.length !== end - start) throw new Error(`audit store: leaves [${start}, ${end}) are not all present`);
    return Buffer.concat(rows);
  }

  /** Events with start < seq <= end, at most `limit`, in order. */
  leaves(start: number, end: number, limit: number): StoredLeaf[] {
    return (this.q.leaves.all(start, end, limit) as [number, Buffer, Buffer][]).map(([seq, line, leafHash]) => ({ seq, line, leafHash }));
  }

  /** First seq whose time is at or after `iso`, if any. */
  firstSeqAtOrAfter(iso: string): number | undefined {
    return (this.q.firstAtOrAfter.get(iso) as number | null) ?? undefined;
  }

  lastSeqAtOrBefore(iso: string): number | undefined {
    return (this.q.lastAtOrBefore.get(iso) as number | null) ?? undefined;
  }

  latestTreeHead(): TreeHeadRow | undefined {
    return this.q.latestHead.get() as TreeHeadRow | undefined;
  }

  insertTreeHead(row: Omit<TreeHeadRow, 'id'>): number {
    return Number(this.q.insertHead.run(row).lastInsertRowid);
  }

  /** Distinct (size, root) of the heads earlier bundles were signed under, below `size`. */
  exportHeadsBelow(size: number): { treeSize: number; rootHash: Buffer }[] {
    return this.q.exportHeads.all(size) as { treeSize: number; rootHash: Buffer }[];
  }

  treeHeadCount(): number {
    return this.q.headCount.get() as number;
  }
}
