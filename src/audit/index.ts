// The audit domain's public face: record events (AuditLog), keep them tamper-evident (AuditTrail:
// Merkle tree, signed tree heads, store check, bundle export), and verify a bundle offline.
export { AuditLog, AuditStore, leafHash, SYSTEM_ACTOR } from './store';
export type { AuditFacts, ExportRecord, AuditActor, AuditEvent, AuditEventInput, AppendedEvent, ActorType, AuditContext, TreeHeadReason, AuditEventFilter, AuditEventSummary } from './store';
export { canonicalJson, clipText } from './jcs';
export { AuditTrail, AuditAlarmError, AuditExportError } from './trail';
export type { AuditSigner, AuditTrailOptions, AuditAlarm, SignedTreeHead, ExportOptions, ExportedBundle, RetentionResult } from './trail';
export { verifyBundle, BUNDLE_FORMAT } from './bundle';
export type { BundleReport, BundleFailure, BundleCheck, VerifyBundleOptions } from './bundle';
export { certificatesFromPem } from './cms';
export { auditConfigOf } from './config';
export type { AuditConfig } from './config';
