-- Core tables: the audit log every domain writes through, and the CA's record of certificates.

-- Append-only audit log (45 CFR 164.312(b)). `line` is the event's RFC 8785 canonical JSON, the
-- exact bytes hashed into the RFC 9162 Merkle tree (leaf_hash = SHA-256(0x00 || line)) and written
-- to bundles; the other columns are copies for querying. Leaf index = seq - 1.
CREATE TABLE audit_events (
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  action TEXT NOT NULL,
  actor_type TEXT NOT NULL,
  actor_id TEXT NOT NULL,
  target_type TEXT,
  target_id TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
  line TEXT NOT NULL,
  leaf_hash BLOB NOT NULL
) STRICT;
CREATE INDEX audit_events_target ON audit_events (target_type, target_id, seq);
CREATE INDEX audit_events_time ON audit_events (time);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

-- Every certificate the issuing CA (or root) signed. serial: lowercase hex, no leading zeros.
CREATE TABLE certificates (
  serial TEXT PRIMARY KEY,
  issuer TEXT NOT NULL,
  profile TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  sha256 TEXT NOT NULL UNIQUE,
  der BLOB NOT NULL,
  issued_at TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  revoked_at TEXT,
  revocation_reason INTEGER
) STRICT;
CREATE INDEX certificates_subject ON certificates (subject, not_after);
CREATE INDEX certificates_revoked ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;

-- CRLs as issued (RFC 5280 section 5); the newest is served at /crl.
CREATE TABLE crls (
  number INTEGER PRIMARY KEY,
  issuer TEXT NOT NULL,
  this_update TEXT NOT NULL,
  next_update TEXT NOT NULL,
  der BLOB NOT NULL
) STRICT;
