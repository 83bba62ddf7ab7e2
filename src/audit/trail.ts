// The tamper-evident side of the audit log: the RFC 9162 Merkle tree over every stored event, signed
// tree heads (on a schedule and on demand), the check that the store still matches the last signed
// head (someone editing the database file behind Ward's back raises an alarm), and bundle export.
import crypto, { type KeyObject, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { WardDb } from '../db';
import { type BundleReport, type ConsistencyFrom, buildBundle, verifyBundle } from './bundle';
import { signDetached, verifyDetached } from './cms';
import { canonicalJson } from './jcs';
import { HASH_SIZE, MerkleFrontier, MerkleTiles, MerkleTreeView, leafHash, verifyConsistency } from './merkle';
import {
  type AuditContext, type AuditLog, AuditStore, type ExportRecord, SYSTEM_ACTOR, type StoredLeaf, type TreeHeadReason, type TreeHeadRow,
} from './store';

export const TREE_HEAD_FORMAT = 'ward-tree-head/1';

/** The pki service's audit-signer identity: the only key that signs tree heads. */
export interface AuditSigner {
  key: KeyObject;
  certificate: X509Certificate;
  /** Issuing CA (and root), nearest first. */
  chain: X509Certificate[];
}

export interface AuditTrailOptions {
  signer: () => AuditSigner;
  /** Ward's CA certificates, root first: chain.pem of bundles, trust anchor for stored heads. */
  caChain: () => X509Certificate[];
  log?: Logger;
  /** How often to retry recording the alarm event while the store cannot be written (ms). */
  alarmRetryMs?: number;
  /** Rows per step of the store scan; the event loop runs between steps. */
  scanChunk?: number;
}

export interface SignedTreeHead {
  id: number;
  treeSize: number;
  rootHash: Buffer;
  timestamp: Date;
  reason: TreeHeadReason;
}

export interface AuditAlarm {
  reason: string;
  detectedAt: string;
  /** Whether the audit.tree.inconsistent event is in the log yet. */
  recorded: boolean;
}

/** The store no longer matches what Ward signed (or is unreadable): nothing new is signed. */
export class AuditAlarmError extends Error {
  override name = 'AuditAlarmError';
}

export interface ExportOptions {
  /** ISO 8601 times: the bundle covers the events from the first at/after `since` to the last at/before `until`. */
  since?: string;
  until?: string;
}

export interface ExportedBundle {
  bundle: Buffer;
  treeHead: SignedTreeHead;
  /** Leaf indexes [start, end): events seq start+1 .. end. */
  range: { start: number; end: number };
  /** The audit_exports row, and the SHA-256 of `bundle` recorded in it. */
  exportId: number;
  sha256: string;
}

/** What a retention run did (the audit-retention job's result in /healthz). */
export interface RetentionResult {
  /** Events recorded before this were due. */
  cutoff: string;
  retentionYears: number;
  /** Events seq 1 .. prunedThrough have no body any more. */
  prunedThrough: number;
  /** Bodies removed by this run. */
  pruned: number;
  /** Past retention but not held by a verified export: kept until one is. */
  notExported: number;
}

/** An export cannot be recorded or confirmed (not an alarm: the store is fine). */
export class AuditExportError extends Error {
  override name = 'AuditExportError';
}

interface Scan {
  treeSize: number;
  view: MerkleTreeView;
  rootHash: Buffer;
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha256Hex = (b: Uint8Array) => crypto.hash('sha256', b, 'hex');

export class AuditTrail {
  readonly store: AuditStore;
  private frontier = new MerkleFrontier();
  /** (seq, leaf hash) of events this process appended since the last sync, rolled back ones included. */
  private pending: { seq: number; hash: Buffer }[] = [];
  private pendingOverflow = false;
  /** PRAGMA data_version at the last sync: unchanged means no other connection committed since. */
  private seenVersion = -1;
  private alarmState: AuditAlarm | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly db: WardDb,
    private readonly audit: AuditLog,
    private readonly opts: AuditTrailOptions,
  ) {
    this.store = new AuditStore(db);
    audit.onAppend((e) => {
      if (this.pending.length < 200_000) this.pending.push({ seq: e.event.seq, hash: e.leafHash });
      else this.pendingOverflow = true;
    });
  }

  get alarm(): AuditAlarm | null {
    return this.alarmState ? { ...this.alarmState } : null;
  }

  /**
   * Restores the Merkle state at start: the compact range stored with the latest signed head (its
   * signature and root checked), then the leaf hashes appended since. O(events since that head).
   */
  restore(): { treeSize: number; rootHash: Buffer } {
    const head = this.store.latestTreeHead();
    this.frontier = new MerkleFrontier();
    this.pending = [];
    this.seenVersion = -1;
    if (head) {
      const problem = this.checkStoredHead(head);
      if (problem) {
        this.raiseAlarm(problem);
      } else {
        const nodes: Buffer[] = [];
        for (let o = 0; o < head.frontier.length; o += HASH_SIZE) nodes.push(head.frontier.subarray(o, o + HASH_SIZE));
        this.frontier = new MerkleFrontier(head.treeSize, nodes);
      }
    }
    this.sync();
    return { treeSize: this.frontier.size, rootHash: this.frontier.root() };
  }

  /** Current tree size and root (appends the events committed since the last call). */
  current(): { treeSize: number; rootHash: Buffer } {
    this.sync();
    return { treeSize: this.frontier.size, rootHash: this.frontier.root() };
  }

  /** Brings the in-memory frontier up to the committed events (rolled-back appends never show up). */
  private sync(): void {
    // Inside a transaction this connection would see its own uncommitted events, which may still roll back.
    if (this.alarmState || this.db.sqlite.inTransaction) return;
    const version = this.store.dataVersion();
    const last = this.store.lastSeq();
    const pending = this.pending;
    const trusted = version === this.seenVersion && !this.pendingOverflow;
    this.pending = [];
    this.pendingOverflow = false;
    this.seenVersion = version;
    if (last < this.frontier.size) {
      this.raiseAlarm(`the store ends at event seq ${last}, but ${this.frontier.size} were appended before`);
      return;
    }
    if (trusted && last > this.frontier.size) {
      // Only this connection committed since the last sync, outside any transaction now: every event
      // up to `last` passed through onAppend, and for a seq written twice (the first write rolled
      // back) the later write is the one that committed. No need to read the hashes back.
      // The usual case: the pending appends are exactly the new seqs, in order.
      const next = this.frontier.size + 1;
      if (pending.length === last - this.frontier.size && pending.every((p, i) => p.seq === next + i)) {
        for (const p of pending) this.frontier.append(p.hash);
        return;
      }
      const bySeq = new Map<number, Buffer>();
      for (const p of pending) if (p.seq > this.frontier.size && p.seq <= last) bySeq.set(p.seq, p.hash);
      if (bySeq.size === last - this.frontier.size) {
        for (let s = this.frontier.size + 1; s <= last; s++) this.frontier.append(bySeq.get(s)!);
        return;
      }
    }
    while (this.frontier.size < last) {
      const from = this.frontier.size;
      const to = Math.min(last, from + 10_000);
      // seq is the primary key: as many rows as numbers in (from, to] means none is missing.
      const hashes = this.store.leafHashList(from, to);
      if (hashes.length !== to - from) {
        this.raiseAlarm(`event seq ${this.store.firstMissingSeq(from, to)} is missing (${to - from - hashes.length} of seq ${from + 1}..${to} are)`);
        return;
      }
      for (let i = 0; i < hashes.length; i++) {
        if (hashes[i].length !== HASH_SIZE) {
          this.raiseAlarm(`event seq ${from + i + 1} has a malformed leaf hash`);
          return;
        }
        this.frontier.append(hashes[i]);
      }
    }
  }

  /** A stored head must be signed under Ward's CA and its frontier must hash to its root. */
  private checkStoredHead(head: TreeHeadRow): string | null {
    try {
      verifyDetached(head.signature, Buffer.from(head.head), { trustAnchors: this.opts.caChain() });
    } catch (e) {
      return `signed tree head #${head.id} (size ${head.treeSize}) has a bad signature: ${(e as Error).message}`;
    }
    let facts: { treeSize?: unknown; rootHash?: unknown };
    try {
      facts = JSON.parse(head.head);
    } catch {
      return `signed tree head #${head.id} is not JSON`;
    }
    if (facts.treeSize !== head.treeSize || facts.rootHash !== hex(head.rootHash)) {
      return `signed tree head #${head.id}: its columns differ from the signed text`;
    }
    try {
      const nodes: Buffer[] = [];
      for (let o = 0; o < head.frontier.length; o += HASH_SIZE) nodes.push(head.frontier.subarray(o, o + HASH_SIZE));
      if (!new MerkleFrontier(head.treeSize, nodes).root().equals(head.rootHash)) {
        return `signed tree head #${head.id}: its stored frontier does not hash to its root`;
      }
    } catch (e) {
      return `signed tree head #${head.id}: ${(e as Error).message}`;
    }
    return null;
  }

  /**
   * Reads every stored event, in steps that let the event loop run: each line must hash to its
   * stored leaf hash, sequence numbers must have no gap, the first n events must hash to the latest
   * signed root (RFC 9162 consistency of the store with that head), and the whole must agree with
   * the in-memory tree. Raises the alarm and throws AuditAlarmError when any of it fails.
   */
  checkStore(): Promise<{ treeSize: number; rootHash: Buffer }> {
    return this.serialized(async () => {
      const scan = await this.scanStore();
      return { treeSize: scan.treeSize, rootHash: scan.rootHash };
    });
  }

  private async scanStore(): Promise<Scan> {
    this.sync();
    if (this.alarmState) throw new AuditAlarmError(this.alarmState.reason);
    const head = this.store.latestTreeHead();
    const n = this.frontier.size;
    const expectedRoot = this.frontier.root();
    const tiles = new MerkleTiles();
    const chunk = this.opts.scanChunk ?? 5000;
    let after = 0;
    while (after < n) {
      if (this.stopped) throw new AuditAlarmError('audit trail stopped during the store check');
      const rows = this.store.leaves(after, n, chunk);
      if (rows.length === 0) return this.fail(`events seq ${after + 1}..${n} are missing from the store`);
      for (const row of rows) {
        if (row.seq !== after + 1) return this.fail(`event seq ${after + 1} is missing (next stored event is seq ${row.seq})`);
        // A pruned event keeps only its leaf hash: the signed root below still checks it.
        const h = row.line ? leafHash(row.line) : row.leafHash;
        if (!h.equals(row.leafHash)) return this.fail(`event seq ${row.seq}: its line no longer hashes to its stored leaf hash (line edited)`);
        if (h.length !== HASH_SIZE) return this.fail(`event seq ${row.seq} has a malformed leaf hash`);
        tiles.push(h);
        after = row.seq;
      }
      await yieldToEventLoop();
    }
    const view = new MerkleTreeView(n, (s, e) => this.store.leafHashes(s, e), tiles.hashes());
    if (head) {
      if (head.treeSize > n) return this.fail(`the store holds ${n} events, fewer than the ${head.treeSize} signed at ${head.time}`);
      const problem = this.checkStoredHead(head);
      if (problem) return this.fail(problem);
      if (!view.rangeHash(0, head.treeSize).equals(head.rootHash)) {
        return this.fail(`events 1..${head.treeSize} no longer hash to the root signed at ${head.time} (tree head #${head.id}): the store was edited`);
      }
    }
    const rootHash = view.root();
    if (!rootHash.equals(expectedRoot)) return this.fail(`events 1..${n} changed after Ward appended them (root differs from the running tree)`);
    // RFC 9162 section 2.1.4: the new head must be provably an extension of the previous one.
    if (head && !verifyConsistency(head.treeSize, n, head.rootHash, rootHash, view.consistencyProof(head.treeSize))) {
      return this.fail(`the store is not consistent with tree head #${head.id} (size ${head.treeSize}): consistency proof fails`);
    }
    return { treeSize: n, view, rootHash };
  }

  private fail(reason: string): never {
    this.raiseAlarm(reason);
    throw new AuditAlarmError(reason);
  }

  private raiseAlarm(reason: string): void {
    if (this.alarmState) return;
    this.alarmState = { reason, detectedAt: new Date().toISOString(), recorded: false };
    this.opts.log?.error({ alarm: this.alarmState }, 'audit: the audit store does not match its signed tree heads');
    this.recordAlarm();
  }

  /** Records audit.tree.inconsistent once the store takes writes; retries until it does. */
  private recordAlarm(): void {
    const alarm = this.alarmState;
    if (!alarm || alarm.recorded || this.stopped) return;
    try {
      this.audit.record({
        action: 'audit.tree.inconsistent',
        actor: SYSTEM_ACTOR,
        outcome: 'failure',
        reason: alarm.reason,
        details: { detectedAt: alarm.detectedAt },
      });
      alarm.recorded = true;
      if (this.retryTimer) clearInterval(this.retryTimer);
      this.retryTimer = null;
    } catch (e) {
      this.opts.log?.warn({ err: (e as Error).message }, 'audit: cannot record the alarm event yet; will retry');
      this.retryTimer ??= setInterval(() => this.recordAlarm(), this.opts.alarmRetryMs ?? 30_000);
      this.retryTimer.unref();
    }
  }

  /** One at a time: heads are signed against the previous head, so signing is serialized. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Checks the store (checkStore), then signs and stores a tree head over every event, with its
   * audit event in the same transaction. Refuses while the alarm is raised.
   */
  signTreeHead(reason: TreeHeadReason, ctx: AuditContext = { actor: SYSTEM_ACTOR }): Promise<SignedTreeHead> {
    return this.serialized(async () => (await this.signLocked(reason, ctx)).head);
  }

  private async signLocked(reason: TreeHeadReason, ctx: AuditContext): Promise<{ head: SignedTreeHead; scan: Scan }> {
    for (let attempt = 0; ; attempt++) {
      const before = this.store.latestTreeHead();
      const scan = await this.scanStore();
      const signer = this.opts.signer();
      const timestamp = new Date();
      const text = canonicalJson({
        format: TREE_HEAD_FORMAT,
        hashAlgorithm: 'sha-256',
        treeSize: scan.treeSize,
        rootHash: hex(scan.rootHash),
        timestamp: timestamp.toISOString(),
      });
      const signature = signDetached(Buffer.from(text), { key: signer.key, certificate: signer.certificate, chain: signer.chain }, timestamp);
      const frontier = Buffer.concat(scan.view.frontier(scan.treeSize).hashes);
      const id = this.db.write((): number | 'newer' | TreeHeadRow => {
        // Another process (wardctl) may have signed meanwhile: it must still be a prefix of ours.
        const latest = this.store.latestTreeHead();
        if (latest && latest.id !== before?.id) {
          if (latest.treeSize > scan.treeSize) return 'newer';
          if (!scan.view.rangeHash(0, latest.treeSize).equals(latest.rootHash)) return latest;
        }
        const rowId = this.store.insertTreeHead({
          treeSize: scan.treeSize, rootHash: scan.rootHash, time: timestamp.toISOString(), reason, head: text,
          signature, signerSha256: signer.certificate.fingerprint256.replace(/:/g, '').toLowerCase(), frontier,
        });
        this.audit.record({
          ...ctx,
          action: 'audit.tree_head.signed',
          target: { type: 'tree_head', id: String(rowId) },
          details: { treeSize: scan.treeSize, rootHash: hex(scan.rootHash), reason },
        });
        return rowId;
      });
      // (The alarm is raised outside the transaction, so that its event is not rolled back with it.)
      if (typeof id === 'object') this.fail(`tree head #${id.id} (size ${id.treeSize}) is not consistent with the store`);
      if (id !== 'newer') {
        this.opts.log?.info({ treeSize: scan.treeSize, rootHash: hex(scan.rootHash), reason }, 'audit: signed tree head');
        return { head: { id, treeSize: scan.treeSize, rootHash: scan.rootHash, timestamp, reason }, scan };
      }
      if (attempt >= 3) throw new AuditAlarmError('tree heads keep moving ahead of this signer; try again');
    }
  }

  /**
   * A bundle (docs/audit-bundle.md) of the events between `since` and `until` under a freshly signed
   * tree head, with consistency proofs from the heads of every earlier export. Events pruned by
   * retention are no longer exportable: the range starts at the first stored event at the earliest
   * (the range proof's left frontier stands for the pruned leaves). Records the export (audit_exports,
   * not yet verified) with audit.bundle.exported.
   */
  exportBundle(options: ExportOptions, ctx: AuditContext): Promise<ExportedBundle> {
    return this.serialized(async () => {
      const { head, scan } = await this.signLocked('export', ctx);
      const n = head.treeSize;
      const pruned = Math.min(n, this.store.prunedThrough());
      let start = pruned;
      let end = n;
      if (options.since) start = Math.max(pruned, Math.min(n, (this.store.firstSeqAtOrAfter(options.since) ?? n + 1) - 1));
      if (options.until) end = Math.min(n, this.store.lastSeqAtOrBefore(options.until) ?? 0);
      if (end < start) end = start;
      const lines: Buffer[] = [];
      const hashes: Buffer[] = [];
      let after = start;
      while (after < end) {
        const rows: StoredLeaf[] = this.store.leaves(after, end, 50_000);
        if (rows.length === 0) this.fail(`events seq ${after + 1}..${end} disappeared from the store during the export`);
        for (const r of rows) {
          // Another process pruned meanwhile (only up to a verified export): not tampering, just too late.
          if (!r.line) throw new AuditExportError(`event seq ${r.seq} was pruned (retention) during the export; export again`);
          lines.push(r.line);
          hashes.push(r.leafHash);
        }
        after = rows[rows.length - 1].seq;
        await yieldToEventLoop();
      }
      const consistencyProofs: ConsistencyFrom[] = [];
      for (const prev of this.store.exportHeadsBelow(n)) {
        if (!scan.view.rangeHash(0, prev.treeSize).equals(prev.rootHash)) {
          this.fail(`an earlier export's tree head (size ${prev.treeSize}) is not consistent with the store`);
        }
        consistencyProofs.push({ treeSize: prev.treeSize, rootHash: prev.rootHash, proof: scan.view.consistencyProof(prev.treeSize) });
      }
      const signer = this.opts.signer();
      const bundle = buildBundle({
        lines,
        leafHashes: hashes,
        start,
        treeHead: { treeSize: n, rootHash: head.rootHash, timestamp: head.timestamp },
        rangeProof: scan.view.rangeProof(start, end),
        since: options.since ?? null,
        until: options.until ?? null,
        consistencyProofs,
        signer: { key: signer.key, certificate: signer.certificate, chain: signer.chain },
        caChain: this.opts.caChain(),
      });
      const sha256 = sha256Hex(bundle);
      const exportId = this.db.write(() => {
        const id = this.store.insertExport({ treeHeadId: head.id, start, end, sha256, bytes: bundle.length, exportedAt: new Date().toISOString() });
        this.audit.record({
          ...ctx,
          action: 'audit.bundle.exported',
          target: { type: 'tree_head', id: String(head.id) },
          details: {
            treeSize: n, rootHash: hex(head.rootHash), start, end, since: options.since ?? null, until: options.until ?? null,
            bytes: bundle.length, consistencyProofs: consistencyProofs.length, exportId: id, sha256,
          },
        });
        return id;
      });
      return { bundle, treeHead: head, range: { start, end }, exportId, sha256 };
    });
  }

  /**
   * Marks a recorded export verified: `bytes` (the file as written or archived, read back) must be a
   * bundle this Ward exported (its SHA-256 recorded) and pass every check of verifyBundle against
   * Ward's own root CA. Records audit.bundle.verified the first time. Only a verified export lets
   * retention prune the events it holds.
   */
  confirmExport(bytes: Uint8Array, ctx: AuditContext, checked?: BundleReport): Promise<{ export: ExportRecord; newlyVerified: boolean }> {
    return this.serialized(async () => {
      const sha256 = sha256Hex(bytes);
      const record = this.store.exportsBySha256(sha256)[0];
      if (!record) throw new AuditExportError(`no export with SHA-256 ${sha256} is recorded: not a bundle this Ward exported, or altered since`);
      // `checked`: the caller's own verifyBundle of these bytes against Ward's root (the admin upload
      // already made it): a million-event bundle is not verified twice.
      const report = checked ?? verifyBundle(bytes, { trustAnchors: [this.opts.caChain()[0]] });
      if (!report.ok) throw new AuditExportError(`export #${record.id} does not verify: ${report.failures[0].check}: ${report.failures[0].message}`);
      const h = report.treeHead!;
      if (h.treeSize !== record.treeSize || h.rootHash !== hex(record.rootHash) || h.range.start !== record.start || h.range.end !== record.end) {
        throw new AuditExportError(`export #${record.id}: the bundle's tree head or range differs from the recorded export`);
      }
      if (record.verifiedAt) return { export: record, newlyVerified: false };
      const at = new Date().toISOString();
      this.db.write(() => {
        this.store.markExportVerified(record.id, at);
        this.audit.record({
          ...ctx,
          action: 'audit.bundle.verified',
          target: { type: 'audit_export', id: String(record.id) },
          details: { sha256, start: record.start, end: record.end, treeSize: record.treeSize, rootHash: h.rootHash },
        });
      });
      return { export: { ...record, verifiedAt: at }, newlyVerified: true };
    });
  }

  /**
   * Audit retention: removes the bodies of events recorded before `now` minus `years`, but only up
   * to the highest sequence number that verified exports hold without a gap from the current
   * checkpoint. The store is checked first; leaf hashes stay (audit_pruned_leaves), so the tree, its
   * proofs and later exports are unchanged. Each step of at most `batch` events is one transaction
   * with its checkpoint and its audit.retention.pruned event.
   */
  prune(opts: { years: number; now?: Date; batch?: number }, ctx: AuditContext = { actor: SYSTEM_ACTOR }): Promise<RetentionResult> {
    return this.serialized(async () => {
      const scan = await this.scanStore();
      const now = opts.now ?? new Date();
      const cutoffDate = new Date(now);
      cutoffDate.setUTCFullYear(cutoffDate.getUTCFullYear() - opts.years);
      const cutoff = cutoffDate.toISOString();
      const before = this.store.prunedThrough();
      // Only the oldest contiguous events: one stamped later than the cutoff stops the run.
      const due = Math.max(before, Math.min(scan.treeSize, (this.store.firstSeqAtOrAfter(cutoff) ?? scan.treeSize + 1) - 1));
      const exports = this.store.verifiedExports().filter((e) => e.treeSize <= scan.treeSize);
      for (const e of exports) {
        if (!scan.view.rangeHash(0, e.treeSize).equals(e.rootHash)) this.fail(`verified export #${e.id} (tree size ${e.treeSize}) is not consistent with the store`);
      }
      const steps: { from: number; to: number; exportId: number }[] = [];
      const batch = opts.batch ?? 20_000;
      let through = before;
      while (through < due) {
        const cover = exports.filter((e) => e.start <= through && e.end > through).sort((x, y) => y.end - x.end)[0];
        if (!cover) break;
        const to = Math.min(cover.end, due);
        for (let from = through; from < to; from = Math.min(to, from + batch)) steps.push({ from, to: Math.min(to, from + batch), exportId: cover.id });
        through = to;
      }
      for (const step of steps) {
        this.db.write(() => {
          this.audit.record({
            ...ctx,
            action: 'audit.retention.pruned',
            target: { type: 'audit_export', id: String(step.exportId) },
            details: { fromSeq: step.from + 1, throughSeq: step.to, events: step.to - step.from, cutoff, retentionYears: opts.years },
          });
          this.store.prune(step.from, step.to, step.exportId, cutoff, new Date().toISOString());
        });
        await yieldToEventLoop();
      }
      const result: RetentionResult = {
        cutoff, retentionYears: opts.years, prunedThrough: through, pruned: through - before, notExported: due - through,
      };
      if (result.notExported > 0) {
        this.opts.log?.warn({ retention: result }, `audit retention: events seq ${through + 1}..${due} are past retention but not in a verified export; they are kept (export them: wardctl audit export)`);
      } else if (result.pruned > 0) {
        this.opts.log?.info({ retention: result }, 'audit retention: pruned event bodies (leaf hashes kept)');
      }
      return result;
    });
  }

  /** For /healthz: failing while the alarm is raised. */
  health(): { ok: boolean; details: Record<string, unknown> } {
    let tree: { treeSize: number; rootHash: string } | undefined;
    try {
      const c = this.current();
      tree = { treeSize: c.treeSize, rootHash: hex(c.rootHash) };
    } catch (e) {
      this.raiseAlarm(`audit store unreadable: ${(e as Error).message}`);
    }
    const head = this.store.latestTreeHead();
    return {
      ok: this.alarmState === null,
      details: {
        ...tree,
        latestTreeHead: head ? { id: head.id, treeSize: head.treeSize, time: head.time, reason: head.reason } : null,
        retention: { prunedThrough: this.store.prunedThrough(), exports: this.store.exportCounts() },
        alarm: this.alarm,
      },
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = null;
  }
}
