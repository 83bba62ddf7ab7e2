-- Android: hosted APKs (the DPC agent and clinical apps), enrollment tokens, enrolled devices and their
-- command queue. See docs/android-agent-protocol.md.

-- APK files Ward serves, read and verified at import. The file lives at <android.storeDir>/<sha256>.apk.
CREATE TABLE android_apks (
  sha256 TEXT PRIMARY KEY,               -- lowercase hex SHA-256 of the APK file
  role TEXT NOT NULL CHECK (role IN ('dpc', 'app')),
  package_name TEXT NOT NULL,
  version_code INTEGER NOT NULL,
  version_name TEXT,
  signing_cert_sha256 TEXT NOT NULL,     -- lowercase hex SHA-256 of the signing certificate (DER)
  signature_checksum TEXT NOT NULL,      -- the same, URL-safe base64 with padding (QR code)
  package_checksum TEXT NOT NULL,        -- SHA-256 of the file, URL-safe base64 with padding
  signature_scheme TEXT NOT NULL,
  component_name TEXT,                   -- DPC: package/.AdminReceiver named in the QR code
  size INTEGER NOT NULL,
  warnings TEXT NOT NULL,                -- JSON array of {code, message} from the Android 12+ checks
  imported_at TEXT NOT NULL,
  imported_by TEXT NOT NULL,
  seq INTEGER NOT NULL UNIQUE            -- import order: the newest DPC is the one served
) STRICT;
CREATE INDEX android_apks_package ON android_apks (role, package_name, seq);

-- Enrollment tokens: the secret is shown once and only its SHA-256 is kept.
CREATE TABLE android_enrollment_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  label TEXT,
  mode TEXT NOT NULL CHECK (mode IN ('fully_managed', 'work_profile')),
  policy_group TEXT NOT NULL,
  max_devices INTEGER,                   -- NULL: no limit; 1: one-time
  devices INTEGER NOT NULL DEFAULT 0,
  expires_at TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  revoked_at TEXT
) STRICT;

CREATE TABLE android_devices (
  id TEXT PRIMARY KEY,
  installation_id TEXT NOT NULL,
  token_id TEXT NOT NULL REFERENCES android_enrollment_tokens (id),
  mode TEXT NOT NULL CHECK (mode IN ('fully_managed', 'work_profile')),
  policy_group TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'unenrolled')),
  cert_serial TEXT NOT NULL,
  previous_cert_serial TEXT,             -- still accepted until the device uses cert_serial (lost renew answer)
  facts TEXT NOT NULL,                   -- JSON, as sent at enrollment
  status TEXT,                           -- JSON, last status report
  status_at TEXT,
  last_seen_at TEXT NOT NULL,
  enrolled_at TEXT NOT NULL,
  unenrolled_at TEXT,
  unenroll_reason TEXT,
  security_log_last_time INTEGER,        -- newest security-log event stored: its time (ms) and id
  security_log_last_id INTEGER,
  UNIQUE (token_id, installation_id)
) STRICT;
CREATE UNIQUE INDEX android_devices_cert ON android_devices (cert_serial);
CREATE INDEX android_devices_previous_cert ON android_devices (previous_cert_serial) WHERE previous_cert_serial IS NOT NULL;

-- Commands for devices. seq orders them and lets the daemon notice rows queued by wardctl.
CREATE TABLE android_commands (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  device_id TEXT NOT NULL REFERENCES android_devices (id),
  type TEXT NOT NULL,
  payload TEXT NOT NULL,                 -- JSON as the agent receives it
  status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'acknowledged', 'done', 'failed', 'not_supported', 'cancelled')),
  queued_at TEXT NOT NULL,
  queued_by TEXT NOT NULL,
  sent_at TEXT,
  acknowledged_at TEXT,
  completed_at TEXT,
  result TEXT                            -- JSON {error?, output?} from the agent
) STRICT;
CREATE INDEX android_commands_open ON android_commands (device_id, seq) WHERE status IN ('queued', 'sent', 'acknowledged');
