-- Signed tree heads of the audit log (RFC 9162 section 2.1 Merkle tree over audit_events.line).
-- `head` is the exact signed text (canonical JSON: format, hashAlgorithm, treeSize, rootHash,
-- timestamp); `signature` is a detached CMS SignedData (RFC 5652, DER) over it by the audit signer.
-- `frontier` is the compact range [0, tree_size): the roots of the perfect subtrees the binary
-- digits of tree_size split the tree into, largest first, 32 bytes each, so Ward resumes the tree at
-- start without rehashing every event. reason: schedule (node-cron), demand (wardctl / API), or
-- export (the head a bundle was signed under; later bundles carry consistency proofs from these).
CREATE TABLE audit_tree_heads (
  id INTEGER PRIMARY KEY,
  tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
  root_hash BLOB NOT NULL CHECK (length(root_hash) = 32),
  time TEXT NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('schedule', 'demand', 'export')),
  head TEXT NOT NULL,
  signature BLOB NOT NULL,
  signer_sha256 TEXT NOT NULL,
  frontier BLOB NOT NULL CHECK (length(frontier) % 32 = 0)
) STRICT;
CREATE INDEX audit_tree_heads_reason ON audit_tree_heads (reason, tree_size);
CREATE TRIGGER audit_tree_heads_no_update BEFORE UPDATE ON audit_tree_heads
BEGIN SELECT RAISE(ABORT, 'audit_tree_heads is append-only'); END;
CREATE TRIGGER audit_tree_heads_no_delete BEFORE DELETE ON audit_tree_heads
BEGIN SELECT RAISE(ABORT, 'audit_tree_heads is append-only'); END;
