-- Apple MDM: enrollment tokens and issued profiles, enrolled devices and their user channels, the
-- per-enrollment command queue, and the APNs push certificate. Secrets devices escrow with Ward
-- (UnlockToken, Bootstrap Token) and the push key are AES-256-GCM sealed (see src/apple/escrow.ts).

-- GET /mdm/enroll?token=T. Only the SHA-256 of a token is kept. A one-time token is used up by its
-- first profile; any token stops working at expires_at or when revoked.
CREATE TABLE apple_enrollment_tokens (
  id TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL UNIQUE,
  group_name TEXT NOT NULL,
  one_time INTEGER NOT NULL CHECK (one_time IN (0, 1)),
  expires_at TEXT NOT NULL,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  uses INTEGER NOT NULL DEFAULT 0,
  revoked_at TEXT
) STRICT;

-- Every profile Ward handed out (web download or wardctl apple profile). Its id rides in the
-- profile's CheckInURL, so Authenticate knows the group the device enrolled into.
CREATE TABLE apple_profiles (
  id TEXT PRIMARY KEY,
  token_id TEXT REFERENCES apple_enrollment_tokens (id),
  group_name TEXT NOT NULL,
  created_at TEXT NOT NULL,
  source TEXT NOT NULL
) STRICT;

-- One row per device channel (UDID, or EnrollmentID for a User Enrollment). cert_serial is the
-- identity bound at Authenticate: every later request must carry it.
CREATE TABLE apple_devices (
  id TEXT PRIMARY KEY,
  enrollment_type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('authenticated', 'enrolled', 'checked-out')),
  group_name TEXT NOT NULL,
  profile_id TEXT,
  cert_serial TEXT NOT NULL,
  topic TEXT NOT NULL,
  push_token BLOB,
  push_magic TEXT,
  push_dead_at TEXT,
  unlock_token BLOB,
  bootstrap_token BLOB,
  serial_number TEXT,
  model TEXT,
  model_name TEXT,
  product_name TEXT,
  os_version TEXT,
  build_version TEXT,
  device_name TEXT,
  encrypted INTEGER,
  passcode_present INTEGER,
  passcode_compliant INTEGER,
  facts TEXT NOT NULL DEFAULT '{}',
  authenticated_at TEXT NOT NULL,
  enrolled_at TEXT,
  checked_out_at TEXT,
  last_seen_at TEXT
) STRICT;
CREATE UNIQUE INDEX apple_devices_cert ON apple_devices (cert_serial);
CREATE INDEX apple_devices_serial_number ON apple_devices (serial_number);

-- User channels (macOS users, Shared iPad users, User Enrollment users): id is device_id:user.
CREATE TABLE apple_user_channels (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES apple_devices (id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  user_short_name TEXT,
  user_long_name TEXT,
  push_token BLOB,
  push_magic TEXT,
  push_dead_at TEXT,
  updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX apple_user_channels_device ON apple_user_channels (device_id);

-- The command queue, FIFO per enrollment (device or user channel) by seq. status: queued (never
-- fetched), sent (fetched, no answer yet), acknowledged, error, command-format-error, not-now
-- (the device will take it at a later check-in), expired (NotNow too many times).
CREATE TABLE apple_commands (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  uuid TEXT NOT NULL UNIQUE,
  enrollment_id TEXT NOT NULL,
  device_id TEXT NOT NULL REFERENCES apple_devices (id) ON DELETE CASCADE,
  request_type TEXT NOT NULL,
  body BLOB NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'acknowledged', 'error', 'command-format-error', 'not-now', 'expired')),
  queued_at TEXT NOT NULL,
  queued_by TEXT NOT NULL,
  sent_at TEXT,
  answered_at TEXT,
  not_now_count INTEGER NOT NULL DEFAULT 0,
  error_chain TEXT
) STRICT;
CREATE INDEX apple_commands_pending ON apple_commands (enrollment_id, seq) WHERE status IN ('queued', 'sent', 'not-now');
CREATE INDEX apple_commands_device ON apple_commands (device_id, seq);

-- The APNs MDM push certificate (wardctl apple push-cert import); the newest row is in use.
CREATE TABLE apple_push_certificates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  serial TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  not_after TEXT NOT NULL,
  certificate_pem TEXT NOT NULL,
  sealed_key BLOB NOT NULL,
  imported_at TEXT NOT NULL
) STRICT;

-- In-house (enterprise) apps Ward serves for InstallApplication: the .ipa is kept under
-- <dataDir>/apple-apps/, its manifest is generated at GET /mdm/apps/<id>/manifest.plist.
CREATE TABLE apple_apps (
  id TEXT PRIMARY KEY,
  bundle_id TEXT NOT NULL,
  version TEXT NOT NULL,
  title TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  file TEXT NOT NULL,
  added_at TEXT NOT NULL,
  added_by TEXT NOT NULL,
  UNIQUE (bundle_id, version)
) STRICT;
