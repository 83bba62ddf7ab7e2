-- Policy and compliance (docs/policy.md): versioned policies, enrollment groups (unit, ward, device
-- role), assignments by scope, and what compliance knows about each device.

-- A policy by name; every change is a new row in policy_versions (versions are never rewritten).
CREATE TABLE policies (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  current_version INTEGER NOT NULL,
  template TEXT,                          -- the shipped template it was created from, if any
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE policy_versions (
  policy_name TEXT NOT NULL REFERENCES policies (name),
  version INTEGER NOT NULL,
  settings TEXT NOT NULL,                 -- JSON, valid against src/policy/schema.ts
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (policy_name, version)
) STRICT;

-- Enrollment groups: the group name an Apple or Android enrollment token is bound to, placed in
-- the hospital's structure. A group not listed here has no unit, ward or role.
CREATE TABLE policy_groups (
  name TEXT PRIMARY KEY,
  unit TEXT,
  ward TEXT,
  role TEXT,
  updated_at TEXT NOT NULL,
  updated_by TEXT NOT NULL
) STRICT;

-- At most one policy per scope and target. target: '' for default; the unit, ward or role name;
-- the device id.
CREATE TABLE policy_assignments (
  scope TEXT NOT NULL CHECK (scope IN ('default', 'unit', 'ward', 'role', 'device')),
  target TEXT NOT NULL,
  policy_name TEXT NOT NULL REFERENCES policies (name),
  assigned_at TEXT NOT NULL,
  assigned_by TEXT NOT NULL,
  PRIMARY KEY (scope, target)
) STRICT;
CREATE INDEX policy_assignments_policy ON policy_assignments (policy_name);

-- Bumped by every change to policies, groups or assignments (also by wardctl, in its own process):
-- the daemon notices it and publishes to the affected devices.
CREATE TABLE policy_generation (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL
) STRICT;
INSERT INTO policy_generation (id, generation) VALUES (1, 0);

-- Devices compliance knows, with the facts they last reported and the last verdict.
CREATE TABLE policy_devices (
  device_id TEXT PRIMARY KEY,
  platform TEXT NOT NULL CHECK (platform IN ('ios', 'ipados', 'macos', 'android')),
  group_name TEXT,
  facts TEXT NOT NULL,                    -- JSON DeviceFacts
  facts_version TEXT NOT NULL,
  reported_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('unknown', 'compliant', 'grace', 'noncompliant')),
  status_since TEXT NOT NULL,
  evaluation TEXT,                        -- JSON ComplianceResult of the last evaluation
  published_policy TEXT                   -- effective policy hash last handed to the platform
) STRICT;
CREATE INDEX policy_devices_group ON policy_devices (group_name);
CREATE INDEX policy_devices_status ON policy_devices (status);

-- NAC look-up keys: certificate serials (lowercase hex) and MAC addresses (aa:bb:cc:dd:ee:ff).
CREATE TABLE policy_device_keys (
  kind TEXT NOT NULL CHECK (kind IN ('certificate', 'mac')),
  value TEXT NOT NULL,
  device_id TEXT NOT NULL REFERENCES policy_devices (device_id) ON DELETE CASCADE,
  PRIMARY KEY (kind, value)
) STRICT;
CREATE INDEX policy_device_keys_device ON policy_device_keys (device_id);
