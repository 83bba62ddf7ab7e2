-- Admin surface (src/admin): local accounts, console sessions, API tokens, wipe requests awaiting a
-- second admin. Secrets are never stored in the clear: passwords as scrypt PHC strings, session ids
-- and token secrets as SHA-256, TOTP secrets sealed with AES-256-GCM under a key kept outside the database.

CREATE TABLE admin_users (
  username TEXT PRIMARY KEY,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor', 'nac')),
  -- $scrypt$ln=17,r=8,p=1$<salt b64>$<hash b64>: the parameters travel with the hash.
  password_hash TEXT NOT NULL,
  password_changed_at TEXT NOT NULL,
  totp_sealed BLOB NOT NULL,
  -- Highest RFC 6238 time step accepted so far: a code is never accepted twice.
  totp_last_step INTEGER NOT NULL DEFAULT 0,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until TEXT,
  last_login_at TEXT,
  disabled_at TEXT,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL
) STRICT;

CREATE TABLE admin_sessions (
  id_hash BLOB PRIMARY KEY,
  username TEXT NOT NULL REFERENCES admin_users (username) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  source TEXT
) STRICT;
CREATE INDEX admin_sessions_user ON admin_sessions (username);

CREATE TABLE admin_tokens (
  id TEXT PRIMARY KEY,
  secret_hash BLOB NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor', 'nac')),
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  revoked_at TEXT,
  revoked_by TEXT,
  last_used_at TEXT
) STRICT;

CREATE TABLE admin_wipe_requests (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  device_name TEXT NOT NULL,
  platform TEXT NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('full', 'selective')),
  reason TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'queued', 'rejected', 'expired')),
  decided_by TEXT,
  decided_at TEXT,
  command_id TEXT
) STRICT;
CREATE INDEX admin_wipe_requests_status ON admin_wipe_requests (status, requested_at);
