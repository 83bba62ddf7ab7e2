-- Audit retention (HIPAA 45 CFR 164.316(b)(2)(i): six years; docs/audit-bundle.md "Retention").
-- Event bodies older than the retention period may be removed, but only up to a sequence number that
-- a recorded, verified export holds, and only after their leaf hashes were copied, so the RFC 9162
-- tree, its proofs and later exports still verify. Every table here is append-only; the one UPDATE
-- allowed is setting audit_exports.verified_at once.

-- Every bundle Ward exported: leaves [range_start, range_end) under tree head tree_head_id, the
-- SHA-256 of the bundle bytes. verified_at: when that file was read back and passed every check
-- (wardctl audit export re-reads what it wrote; wardctl audit verify FILE --record).
CREATE TABLE audit_exports (
  id INTEGER PRIMARY KEY,
  tree_head_id INTEGER NOT NULL REFERENCES audit_tree_heads (id),
  range_start INTEGER NOT NULL CHECK (range_start >= 0),
  range_end INTEGER NOT NULL CHECK (range_end >= range_start),
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
  bytes INTEGER NOT NULL,
  exported_at TEXT NOT NULL,
  verified_at TEXT
) STRICT;
CREATE INDEX audit_exports_sha256 ON audit_exports (sha256);
CREATE TRIGGER audit_exports_no_delete BEFORE DELETE ON audit_exports
BEGIN SELECT RAISE(ABORT, 'audit_exports is append-only'); END;
CREATE TRIGGER audit_exports_verified_once BEFORE UPDATE ON audit_exports
WHEN OLD.verified_at IS NOT NULL OR NEW.verified_at IS NULL OR NEW.id IS NOT OLD.id
  OR NEW.tree_head_id IS NOT OLD.tree_head_id OR NEW.range_start IS NOT OLD.range_start OR NEW.range_end IS NOT OLD.range_end
  OR NEW.sha256 IS NOT OLD.sha256 OR NEW.bytes IS NOT OLD.bytes OR NEW.exported_at IS NOT OLD.exported_at
BEGIN SELECT RAISE(ABORT, 'audit_exports is append-only (verified_at is set once)'); END;

-- Retention checkpoints: events seq 1..pruned_through have no body any more. Each checkpoint moves
-- forward from the previous one, stays below the newest event, and names a verified export whose
-- range holds every event between the previous checkpoint and this one.
CREATE TABLE audit_retention (
  id INTEGER PRIMARY KEY,
  pruned_through INTEGER NOT NULL,
  export_id INTEGER NOT NULL REFERENCES audit_exports (id),
  -- Events before this time were past the retention period when the checkpoint was made.
  cutoff TEXT NOT NULL,
  time TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_retention_covered BEFORE INSERT ON audit_retention
WHEN NEW.pruned_through <= COALESCE((SELECT pruned_through FROM audit_retention ORDER BY id DESC LIMIT 1), 0)
  OR NEW.pruned_through >= (SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1)
  OR NOT EXISTS (SELECT 1 FROM audit_exports WHERE id = NEW.export_id AND verified_at IS NOT NULL
    AND range_start <= COALESCE((SELECT pruned_through FROM audit_retention ORDER BY id DESC LIMIT 1), 0)
    AND range_end >= NEW.pruned_through)
BEGIN SELECT RAISE(ABORT, 'audit_retention: a checkpoint must move forward, stay below the newest event and lie within a verified export'); END;
CREATE TRIGGER audit_retention_no_update BEFORE UPDATE ON audit_retention
BEGIN SELECT RAISE(ABORT, 'audit_retention is append-only'); END;
CREATE TRIGGER audit_retention_no_delete BEFORE DELETE ON audit_retention
BEGIN SELECT RAISE(ABORT, 'audit_retention is append-only'); END;

-- The RFC 9162 leaf hash of every pruned event (leaf index = seq - 1), copied from its row before
-- the row goes: the tree keeps its leaves, only the bodies leave the store.
CREATE TABLE audit_pruned_leaves (
  seq INTEGER PRIMARY KEY,
  leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)
) STRICT;
CREATE TRIGGER audit_pruned_leaves_copied BEFORE INSERT ON audit_pruned_leaves
WHEN NEW.seq > COALESCE((SELECT pruned_through FROM audit_retention ORDER BY id DESC LIMIT 1), 0)
  OR NEW.leaf_hash IS NOT (SELECT leaf_hash FROM audit_events WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'audit_pruned_leaves: only the leaf hash of a stored event at or below the retention checkpoint'); END;
CREATE TRIGGER audit_pruned_leaves_no_update BEFORE UPDATE ON audit_pruned_leaves
BEGIN SELECT RAISE(ABORT, 'audit_pruned_leaves is append-only'); END;
CREATE TRIGGER audit_pruned_leaves_no_delete BEFORE DELETE ON audit_pruned_leaves
BEGIN SELECT RAISE(ABORT, 'audit_pruned_leaves is append-only'); END;

-- audit_events stays append-only: a row may go only when it lies at or below the latest retention
-- checkpoint and its leaf hash was kept. Every other DELETE aborts as before (migration 0001).
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT pruned_through FROM audit_retention ORDER BY id DESC LIMIT 1), 0)
  OR NOT EXISTS (SELECT 1 FROM audit_pruned_leaves WHERE seq = OLD.seq AND leaf_hash = OLD.leaf_hash)
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
