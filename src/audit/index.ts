export { AuditLog, leafHash, SYSTEM_ACTOR } from './store';
export type { AuditActor, AuditEvent, AuditEventInput, AppendedEvent, ActorType, AuditContext } from './store';
export { canonicalJson } from './jcs';
