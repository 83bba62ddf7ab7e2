// SCEP state (SQL lives here only): one-time challenges, stored as SHA-256, and the requests the
// server has taken in. Prepared better-sqlite3 statements: every enrollment runs through them.
import type { Statement } from 'better-sqlite3';
import type { WardDb } from '../db';

export interface ChallengeRow {
  id: string;
  boundTo: string | null;
  createdAt: string;
  expiresAt: string;
  createdBy: string;
  usedAt: string | null;
  usedByRequest: string | null;
}

export type RequestStatus = 'pending' | 'issued' | 'rejected';

export interface RequestRow {
  id: string;
  transactionId: string;
  messageType: 'PKCSReq' | 'RenewalReq';
  status: RequestStatus;
  subject: string;
  signerCertSha256: string;
  csrSha256: string;
  csr: Buffer;
  challengeId: string | null;
  contentCipher: string;
  digestAlgorithm: string;
  keyTransport: string;
  source: string | null;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  certificateSerial: string | null;
  reason: string | null;
}

const challengeColumns = `id, bound_to AS boundTo, created_at AS createdAt, expires_at AS expiresAt, created_by AS createdBy,
  used_at AS usedAt, used_by_request AS usedByRequest`;
const requestColumns = `id, transaction_id AS transactionId, message_type AS messageType, status, subject,
  signer_cert_sha256 AS signerCertSha256, csr_sha256 AS csrSha256, csr, challenge_id AS challengeId,
  content_cipher AS contentCipher, digest_algorithm AS digestAlgorithm, key_transport AS keyTransport, source,
  created_at AS createdAt, decided_at AS decidedAt, decided_by AS decidedBy, certificate_serial AS certificateSerial, reason`;

export class ScepStore {
  private readonly insertChallengeStmt: Statement;
  private readonly challengeByHashStmt: Statement;
  private readonly consumeChallengeStmt: Statement;
  private readonly insertRequestStmt: Statement;
  private readonly requestByKeyStmt: Statement;
  private readonly requestForPollStmt: Statement;
  private readonly requestByIdStmt: Statement;
  private readonly pendingStmt: Statement;
  private readonly decideStmt: Statement;
  private readonly purgeChallengesStmt: Statement;

  constructor(private readonly db: WardDb) {
    const s = db.sqlite;
    this.insertChallengeStmt = s.prepare(
      `INSERT INTO scep_challenges (id, challenge_sha256, bound_to, created_at, expires_at, created_by) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.challengeByHashStmt = s.prepare(`SELECT ${challengeColumns} FROM scep_challenges WHERE challenge_sha256 = ?`);
    // Atomic first use: only an unused, unexpired row changes; two racing requests cannot both win.
    this.consumeChallengeStmt = s.prepare(
      `UPDATE scep_challenges SET used_at = ?, used_by_request = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?`,
    );
    this.insertRequestStmt = s.prepare(
      `INSERT INTO scep_requests (id, transaction_id, message_type, status, subject, signer_cert_sha256, csr_sha256, csr,
         challenge_id, content_cipher, digest_algorithm, key_transport, source, created_at, decided_at, decided_by,
         certificate_serial, reason)
       VALUES (@id, @transactionId, @messageType, @status, @subject, @signerCertSha256, @csrSha256, @csr, @challengeId,
         @contentCipher, @digestAlgorithm, @keyTransport, @source, @createdAt, @decidedAt, @decidedBy, @certificateSerial, @reason)`,
    );
    this.requestByKeyStmt = s.prepare(
      `SELECT ${requestColumns} FROM scep_requests WHERE transaction_id = ? AND message_type = ? AND signer_cert_sha256 = ?`,
    );
    this.requestForPollStmt = s.prepare(
      `SELECT ${requestColumns} FROM scep_requests WHERE transaction_id = CAST(? AS TEXT) AND signer_cert_sha256 = CAST(? AS TEXT) ORDER BY created_at DESC LIMIT 1`,
    );
    this.requestByIdStmt = s.prepare(`SELECT ${requestColumns} FROM scep_requests WHERE id = ?`);
    this.pendingStmt = s.prepare(`SELECT ${requestColumns} FROM scep_requests WHERE status = 'pending' ORDER BY created_at`);
    this.decideStmt = s.prepare(
      `UPDATE scep_requests SET status = ?, decided_at = ?, decided_by = ?, certificate_serial = ?, reason = ? WHERE id = ? AND status = 'pending'`,
    );
    this.purgeChallengesStmt = s.prepare(`DELETE FROM scep_challenges WHERE expires_at < ? AND used_at IS NULL`);
  }

  insertChallenge(row: { id: string; hash: Buffer; boundTo: string | null; createdAt: string; expiresAt: string; createdBy: string }): void {
    this.insertChallengeStmt.run(row.id, row.hash, row.boundTo, row.createdAt, row.expiresAt, row.createdBy);
  }

  challengeByHash(hash: Buffer): ChallengeRow | undefined {
    return this.challengeByHashStmt.get(hash) as ChallengeRow | undefined;
  }

  /** true when this call used the challenge (it was unused and unexpired at `now`). */
  consumeChallenge(id: string, requestId: string, now: string): boolean {
    return this.consumeChallengeStmt.run(now, requestId, id, now).changes === 1;
  }

  /** Unused challenges past their expiry: nothing can use them any more. */
  purgeExpiredChallenges(before: string): number {
    return this.purgeChallengesStmt.run(before).changes;
  }

  insertRequest(row: RequestRow): void {
    this.insertRequestStmt.run(row);
  }

  request(transactionId: string, messageType: string, signerCertSha256: string): RequestRow | undefined {
    return this.requestByKeyStmt.get(transactionId, messageType, signerCertSha256) as RequestRow | undefined;
  }

  requestForPoll(transactionId: string, signerCertSha256: string): RequestRow | undefined {
    return this.requestForPollStmt.get(transactionId, signerCertSha256) as RequestRow | undefined;
  }

  requestById(id: string): RequestRow | undefined {
    return this.requestByIdStmt.get(id) as RequestRow | undefined;
  }

  pendingRequests(): RequestRow[] {
    return this.pendingStmt.all() as RequestRow[];
  }

  /** Moves a pending request to issued or rejected; false when it was no longer pending. */
  decide(id: string, status: Exclude<RequestStatus, 'pending'>, at: string, by: string, serial: string | null, reason: string | null): boolean {
    return this.decideStmt.run(status, at, by, serial, reason, id).changes === 1;
  }
}
