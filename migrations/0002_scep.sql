-- SCEP (RFC 8894): one-time enrollment challenges, and every PKCSReq / RenewalReq the server took
-- in (pending manual approval, issued, or rejected), so re-sends and GetCertInitial polls find them.

-- A challenge is 128 random bits shown once by `wardctl scep challenge`; only its SHA-256 is kept.
-- used_at is set in the same transaction that issues (or holds) the certificate it enrolled.
CREATE TABLE scep_challenges (
  id TEXT PRIMARY KEY,
  challenge_sha256 BLOB NOT NULL UNIQUE,
  bound_to TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  used_at TEXT,
  used_by_request TEXT
) STRICT;
CREATE INDEX scep_challenges_expiry ON scep_challenges (expires_at);

-- signer_cert_sha256 binds re-sends and polls to the requester that signed the original request;
-- csr_sha256 tells a re-send from a different request under the same transactionID.
CREATE TABLE scep_requests (
  id TEXT PRIMARY KEY,
  transaction_id TEXT NOT NULL,
  message_type TEXT NOT NULL CHECK (message_type IN ('PKCSReq', 'RenewalReq')),
  status TEXT NOT NULL CHECK (status IN ('pending', 'issued', 'rejected')),
  subject TEXT NOT NULL,
  signer_cert_sha256 TEXT NOT NULL,
  csr_sha256 TEXT NOT NULL,
  csr BLOB NOT NULL,
  challenge_id TEXT REFERENCES scep_challenges (id),
  content_cipher TEXT NOT NULL,
  digest_algorithm TEXT NOT NULL,
  key_transport TEXT NOT NULL,
  source TEXT,
  created_at TEXT NOT NULL,
  decided_at TEXT,
  decided_by TEXT,
  certificate_serial TEXT REFERENCES certificates (serial),
  reason TEXT
) STRICT;
CREATE UNIQUE INDEX scep_requests_transaction ON scep_requests (transaction_id, message_type, signer_cert_sha256);
CREATE INDEX scep_requests_poll ON scep_requests (transaction_id, signer_cert_sha256);
CREATE INDEX scep_requests_pending ON scep_requests (created_at) WHERE status = 'pending';
