// SQL of the audit domain: the append-only event table (migration 0001), the signed tree heads
// (migration 0003), and retention (migration 0008: recorded exports, checkpoints, the leaf hashes of
// pruned events). Triggers abort every UPDATE and DELETE except the two retention allows: setting an
// export's verified_at once, and removing event rows at or below a checkpoint whose leaf hash was kept.
import type { WardDb } from '../db';
import { canonicalCopy, canonicalJson } from './jcs';
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

/**
 * canonicalJson(event): the append path's hot spot. The event's fixed members are laid out in RFC
 * 8785 order and the details copied sorted, so one native JSON.stringify writes it; anything
 * unusual (a \u escape, a toJSON, a non-plain object) goes through the generic canonicalJson. A
 * test checks the two agree.
 */
export function eventLine(e: AuditEvent): string {
  if (!Number.isSafeInteger(e.seq)) throw new TypeError('audit: seq must be a safe integer');
  const details = canonicalCopy(e.details);
  if (details !== undefined) {
    const line = JSON.stringify({
      action: e.action, actor: { id: e.actor.id, type: e.actor.type }, details, outcome: e.outcome, reason: e.reason,
      requestId: e.requestId, seq: e.seq, source: e.source, target: e.target ? { id: e.target.id, type: e.target.type } : null, time: e.time,
    });
    if (!line.includes('\\u')) return line;
  }
  return canonicalJson(e);
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
  for (const k of Object.keys(details)) {
    const v = details[k];
    if (typeof v === 'string' && SECRET_KEY.test(k)) {
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
  private appendedIn = -1;
  private appendedSeq = 0;

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
    const sql = `SELECT line FROM audit_events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT CAST(? AS INTEGER)`;
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
    return this.db.write(() => this.append(input, outcome, details));
  }

  private append(input: AuditEventInput, outcome: 'success' | 'failure', details: Record<string, unknown>): AuditEvent {
    const seq = (this.appendedIn === this.db.transactions ? this.appendedSeq : ((this.lastSeq.get() as number | undefined) ?? 0)) + 1;
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
    this.appendedIn = this.db.transactions;
    this.appendedSeq = seq;
    if (this.listeners.length) {
      const appended = { event, line, leafHash: hash };
      for (const l of this.listeners) l(appended);
    }
    return event;
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

/** One leaf as the scan and the export read it: the line as bytes (what is hashed), null once pruned. */
export interface StoredLeaf {
  seq: number;
  line: Buffer | null;
  leafHash: Buffer;
}

/** A bundle Ward exported (audit_exports) with the tree head it was signed under. */
export interface ExportRecord {
  id: number;
  treeHeadId: number;
  treeSize: number;
  rootHash: Buffer;
  /** Leaf indexes [start, end): events seq start+1 .. end. */
  start: number;
  end: number;
  sha256: string;
  bytes: number;
  exportedAt: string;
  verifiedAt: string | null;
}

/** What a backup manifest and its check say about the log. */
export interface AuditFacts {
  /** Events ever recorded (the tree size): seq 1 .. events. */
  events: number;
  lastSeq: number;
  lastLeafHash: string | null;
  /** Events seq 1 .. prunedThrough have no body any more (retention); their leaf hashes stay. */
  prunedThrough: number;
}

const HEAD_COLUMNS = `id, tree_size AS treeSize, root_hash AS rootHash, time, reason, head, signature,
  signer_sha256 AS signerSha256, frontier`;
const EXPORT_COLUMNS = `e.id, e.tree_head_id AS treeHeadId, h.tree_size AS treeSize, h.root_hash AS rootHash,
  e.range_start AS start, e.range_end AS "end", e.sha256, e.bytes, e.exported_at AS exportedAt, e.verified_at AS verifiedAt`;
// Leaves of the tree: pruned ones (leaf hash only) then stored events; a seq is in one table or the
// other in any snapshot (a prune moves it within one transaction). Both sides are seq-ordered scans.
const LEAVES = (columns: string, prunedColumns: string) => `SELECT ${prunedColumns} FROM audit_pruned_leaves
  WHERE seq > CAST(@start AS INTEGER) AND seq <= CAST(@end AS INTEGER)
  UNION ALL SELECT ${columns} FROM audit_events WHERE seq > CAST(@start AS INTEGER) AND seq <= CAST(@end AS INTEGER) ORDER BY 1`;

/**
 * Reads of audit_events, reads/appends of audit_tree_heads, and retention (exports, checkpoints,
 * pruning). Leaf index = seq - 1; a pruned event is still a leaf, read from audit_pruned_leaves.
 */
export class AuditStore {
  private readonly q;

  constructor(private readonly db: WardDb) {
    const p = (sql: string) => db.sqlite.prepare(sql);
    this.q = {
      lastSeq: p('SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1').pluck(),
      // max(time), not the last seq: after the clock jumped back, later events carry earlier times.
      newestTime: p('SELECT max(time) FROM audit_events').pluck(),
      dataVersion: p('PRAGMA data_version').pluck(),
      seqRange: p(LEAVES('seq', 'seq')).pluck(),
      leafHashRange: p(LEAVES('seq, leaf_hash', 'seq, leaf_hash')).raw(),
      // CAST: the line's UTF-8 bytes straight from SQLite, no string round trip.
      leaves: p(`${LEAVES('seq, CAST(line AS BLOB), leaf_hash', 'seq, NULL, leaf_hash')} LIMIT CAST(@limit AS INTEGER)`).raw(),
      firstAtOrAfter: p('SELECT MIN(seq) FROM audit_events WHERE time >= ?').pluck(),
      lastAtOrBefore: p('SELECT MAX(seq) FROM audit_events WHERE time <= ?').pluck(),
      latestHead: p(`SELECT ${HEAD_COLUMNS} FROM audit_tree_heads ORDER BY id DESC LIMIT 1`),
      insertHead: p(`INSERT INTO audit_tree_heads (tree_size, root_hash, time, reason, head, signature, signer_sha256, frontier)
        VALUES (@treeSize, @rootHash, @time, @reason, @head, @signature, @signerSha256, @frontier)`),
      exportHeads: p(`SELECT DISTINCT tree_size AS treeSize, root_hash AS rootHash FROM audit_tree_heads
        WHERE reason = 'export' AND tree_size < CAST(? AS INTEGER) ORDER BY tree_size`),
      headCount: p('SELECT COUNT(*) FROM audit_tree_heads').pluck(),
      insertExport: p(`INSERT INTO audit_exports (tree_head_id, range_start, range_end, sha256, bytes, exported_at)
        VALUES (@treeHeadId, @start, @end, @sha256, @bytes, @exportedAt)`),
      exportsBySha256: p(`SELECT ${EXPORT_COLUMNS} FROM audit_exports e JOIN audit_tree_heads h ON h.id = e.tree_head_id
        WHERE e.sha256 = CAST(? AS TEXT) ORDER BY e.id DESC`),
      verifiedExports: p(`SELECT ${EXPORT_COLUMNS} FROM audit_exports e JOIN audit_tree_heads h ON h.id = e.tree_head_id
        WHERE e.verified_at IS NOT NULL ORDER BY e.id`),
      exportCounts: p('SELECT COUNT(*) AS exported, COUNT(verified_at) AS verified, MAX(verified_at) AS lastVerifiedAt FROM audit_exports'),
      markVerified: p('UPDATE audit_exports SET verified_at = ? WHERE id = ? AND verified_at IS NULL'),
      prunedThrough: p('SELECT pruned_through FROM audit_retention ORDER BY id DESC LIMIT 1').pluck(),
      insertCheckpoint: p('INSERT INTO audit_retention (pruned_through, export_id, cutoff, time) VALUES (@through, @exportId, @cutoff, @time)'),
      keepLeaves: p('INSERT INTO audit_pruned_leaves (seq, leaf_hash) SELECT seq, leaf_hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq'),
      deleteEvents: p('DELETE FROM audit_events WHERE seq > ? AND seq <= ?'),
    };
  }

  /** Highest sequence number (= number of events when nothing is missing). */
  lastSeq(): number {
    return (this.q.lastSeq.get() as number | undefined) ?? 0;
  }

  /** Time of the newest audit event (ISO 8601), or undefined for an empty log. */
  newestEventTime(): string | undefined {
    return (this.q.newestTime.get() as string | null) ?? undefined;
  }

  /**
   * The log's size, last leaf and retention checkpoint. Static: a backup may copy a database that an
   * older release left (no retention tables yet, so nothing pruned).
   */
  static factsOf(db: WardDb): AuditFacts {
    const last = db.sqlite.prepare('SELECT seq, hex(leaf_hash) AS leafHash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { seq: number; leafHash: string } | undefined;
    const retention = db.sqlite.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_retention'").get();
    const prunedThrough = retention ? ((db.sqlite.prepare('SELECT pruned_through FROM audit_retention ORDER BY id DESC LIMIT 1').pluck().get() as number | undefined) ?? 0) : 0;
    return { events: last?.seq ?? 0, lastSeq: last?.seq ?? 0, lastLeafHash: last ? last.leafHash.toLowerCase() : null, prunedThrough };
  }

  /** Changes whenever another connection commits (SQLite PRAGMA data_version). */
  dataVersion(): number {
    return this.q.dataVersion.get() as number;
  }

  /** Leaf hashes of the leaves with start < seq <= end, in order (fewer if some are missing). */
  leafHashList(start: number, end: number): Buffer[] {
    return (this.q.leafHashRange.all({ start, end }) as [number, Buffer][]).map((r) => r[1]);
  }

  /** The first number in (start, end] that no leaf has (end + 1 if none is missing). */
  firstMissingSeq(start: number, end: number): number {
    let expected = start + 1;
    for (const seq of this.q.seqRange.iterate({ start, end }) as Iterable<number>) {
      if (seq !== expected) return expected;
      expected++;
    }
    return expected;
  }

  /** Leaf hashes of leaves [start, end) back to back (a Merkle LeafHashReader). */
  leafHashes(start: number, end: number): Buffer {
    const rows = this.leafHashList(start, end);
    if (rows.length !== end - start) throw new Error(`audit store: leaves [${start}, ${end}) are not all present`);
    return Buffer.concat(rows);
  }

  /** Leaves with start < seq <= end, at most `limit`, in order; `line` is null for a pruned event. */
  leaves(start: number, end: number, limit: number): StoredLeaf[] {
    return (this.q.leaves.all({ start, end, limit }) as [number, Buffer | null, Buffer][]).map(([seq, line, leafHash]) => ({ seq, line, leafHash }));
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

  insertExport(row: { treeHeadId: number; start: number; end: number; sha256: string; bytes: number; exportedAt: string }): number {
    return Number(this.q.insertExport.run(row).lastInsertRowid);
  }

  /** Exports whose bundle had this SHA-256, newest first. */
  exportsBySha256(sha256: string): ExportRecord[] {
    return this.q.exportsBySha256.all(sha256) as ExportRecord[];
  }

  verifiedExports(): ExportRecord[] {
    return this.q.verifiedExports.all() as ExportRecord[];
  }

  exportCounts(): { exported: number; verified: number; lastVerifiedAt: string | null } {
    return this.q.exportCounts.get() as { exported: number; verified: number; lastVerifiedAt: string | null };
  }

  markExportVerified(id: number, at: string): boolean {
    return this.q.markVerified.run(at, id).changes === 1;
  }

  /** Events seq 1 .. this have been pruned (0: none). */
  prunedThrough(): number {
    return (this.q.prunedThrough.get() as number | undefined) ?? 0;
  }

  /**
   * Moves the retention checkpoint to `through`, keeps the leaf hashes of events (from, through] and
   * removes their rows. Run inside db.write with its audit event; the triggers of migration 0008
   * refuse it unless the export covers the range and is verified.
   */
  prune(from: number, through: number, exportId: number, cutoff: string, time: string): number {
    this.q.insertCheckpoint.run({ through, exportId, cutoff, time });
    const kept = this.q.keepLeaves.run(from, through).changes;
    const removed = this.q.deleteEvents.run(from, through).changes;
    if (kept !== through - from || removed !== through - from) throw new Error(`audit store: events ${from + 1}..${through} are not all stored (kept ${kept}, removed ${removed})`);
    return removed;
  }
}
