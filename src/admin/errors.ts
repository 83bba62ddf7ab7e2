// A request the admin services refuse, in words the API (HTTP 4xx) and wardctl (exit 1 or 2) both render.

export type AdminErrorKind = 'invalid' | 'not_found' | 'conflict' | 'forbidden' | 'unavailable';

export const STATUS_OF: Record<AdminErrorKind, number> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
};

export class AdminError extends Error {
  override name = 'AdminError';
  constructor(
    readonly kind: AdminErrorKind,
    /** Stable machine code for the API answer, e.g. `last_admin`. */
    readonly code: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}
