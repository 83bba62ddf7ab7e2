-- Breach actions in force (docs/policy.md, "Compliance"): a row while a non-compliant device is
-- quarantined (the NAC answer says so) or after Ward asked its platform to lock it for this breach
-- (once per breach). The rows go when the device is compliant again.
CREATE TABLE policy_breach_actions (
  device_id TEXT NOT NULL REFERENCES policy_devices (device_id) ON DELETE CASCADE,
  action TEXT NOT NULL CHECK (action IN ('quarantine', 'lock')),
  taken_at TEXT NOT NULL,
  command_id TEXT,                        -- lock: the platform command queued (DeviceLock, LOCK)
  note TEXT,                              -- lock: why no command was queued (platform cannot lock)
  PRIMARY KEY (device_id, action)
) STRICT;
