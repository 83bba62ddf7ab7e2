// Appliance operations: the clock check, certificate expiry warnings, systemd readiness, and backups
// (wardctl backup / restore). Install, upgrade and the systemd unit: docs/operations.md.
export { ClockCheck, CLOCK_TOLERANCE_MS } from './clock';
export type { AuditClockSource, ClockReading } from './clock';
export { CertificateExpiry } from './expiry';
export type { ExpiryState, WatchedCertificate } from './expiry';
export { notifyReady } from './notify';
export { BACKUP_FORMAT, BackupError, createBackup, restoreBackup, unpackBackup } from './backup';
export type { BackupManifest, BackupResult, RestoreResult } from './backup';
export { OpsStore } from './store';
