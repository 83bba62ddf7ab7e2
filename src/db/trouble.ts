// Failures that come from the machine, not the request: another process holds the database lock,
// or the disk is full or failing. Callers answer them as "retry later" (HTTP 503 with Retry-After,
// the Android agent's retry_later), never as a 500; nothing was changed when they happen.
// Codes: https://www.sqlite.org/rescode.html (better-sqlite3 reports the extended code as `code`).

export type StorageTrouble = 'busy' | 'full' | 'io';

/** What the client is told for each kind: a stable error code, a reason, a few words, when to retry (s). */
export const STORAGE_ANSWERS: Record<StorageTrouble, { code: string; reason: string; short: string; retryAfterSeconds: number }> = {
  busy: { code: 'busy', reason: 'the database is locked by another process; retry shortly', short: 'database busy', retryAfterSeconds: 2 },
  full: { code: 'storage_full', reason: 'the appliance is out of storage; nothing was changed', short: 'storage full', retryAfterSeconds: 60 },
  io: { code: 'storage_error', reason: 'the appliance cannot write to its storage; nothing was changed', short: 'storage error', retryAfterSeconds: 60 },
};

export function storageTrouble(e: unknown): StorageTrouble | undefined {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'full';
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO' || code === 'EROFS') return 'io';
  return undefined;
}
