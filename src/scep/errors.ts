// SCEP failure vocabulary (RFC 8894 section 3.2.1.4) and the one error type the wire code throws.

// failInfo values, section 3.2.1.4.
export const FailInfo = {
  badAlg: 0,
  badMessageCheck: 1,
  badRequest: 2,
  badTime: 3,
  badCertId: 4,
} as const;
export type FailInfoName = keyof typeof FailInfo;

const failInfoNames = new Map<number, FailInfoName>(
  (Object.entries(FailInfo) as [FailInfoName, number][]).map(([name, value]) => [value, name]),
);

export function failInfoName(value: number): FailInfoName | undefined {
  return failInfoNames.get(value);
}

// What a CertRep needs from the request to be an answer to it (section 3.3.2): once these are known,
// every refusal is a signed CertRep FAILURE rather than an HTTP error.
export interface TransactionContext {
  transactionID: string;
  senderNonce: Buffer;
}

// Every failure in parsing, verifying, decrypting or serving a pkiMessage. `reason` is what the
// client is told; `detail`, when given, is the fuller reason for the audit event only (a client is
// told "challenge password refused" whether the challenge was wrong, used or expired). `transaction`
// is absent when the message was too broken to answer in SCEP terms (the HTTP layer answers 400).
export class ScepError extends Error {
  override readonly name = 'ScepError';
  transaction: TransactionContext | undefined;

  constructor(
    readonly failInfo: FailInfoName,
    readonly reason: string,
    transaction?: TransactionContext,
    readonly detail?: string,
  ) {
    super(`${failInfo}: ${reason}`);
    this.transaction = transaction;
  }
}
