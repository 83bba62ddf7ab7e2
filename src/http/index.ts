export { createListeners, TLS12_CIPHERS } from './listeners';
export type { Listeners, TlsIdentity } from './listeners';
export { HttpError, errorBoundary } from './errors';
export { readBody, readJson, parseJsonBody, auditContextOf, requestLog, securityHeaders } from './middleware';
export { Health, setSqliteVersion } from './health';
export type { HealthCheck, HealthResult } from './health';
export type { Context, Next } from 'koa';
export { default as Router } from '@koa/router';
export { Schedule } from './schedule';
