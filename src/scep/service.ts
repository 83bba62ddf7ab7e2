// The SCEP service: one method per pkiMessage type (RFC 8894 section 3.3), each answering with the
// CertRep outcome. It decides (challenges, approval, renewal window, duplicate subjects, algorithm
// policy), asks the CA to issue or revoke, keeps its state in the ScepStore, and records every
// success and refusal as an audit event in the transaction of the change.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditContext, AuditLog } from '../audit';
import type { WardDb } from '../db';
import type { ScepConfig } from '../config/sections/scep';
import {
  PkiError,
  der as pkiDer,
  parseCertificationRequest as parsePkiCsr,
  type CertificateAuthority,
  type CertificationRequest as PkiCsr,
  type IssuedCertificate,
} from '../pki';
import { ScepError } from './errors';
import { RegistrationAuthority } from './ra';
import { buildCertsOnly, type CertRepOutcome } from './certrep';
import { parseCertificate } from './certificate';
import { weakAlgorithms, type PkiOperation } from './pkioperation';
import type { RequestedExtension } from './messagedata';
import { ScepStore, type RequestRow } from './store';
import type { ContentCipher } from './oids';

type Op<T extends PkiOperation['messageType']> = Extract<PkiOperation, { messageType: T }>;

/** What a request record holds beyond the message's own facts. */
type RequestOwnFields = Pick<RequestRow, 'id' | 'status' | 'createdAt'> &
  Partial<Pick<RequestRow, 'challengeId' | 'decidedAt' | 'decidedBy' | 'certificateSerial' | 'reason'>>;

// Where a request came from, for its audit events.
export interface ScepCaller {
  source: string | null;
  requestId: string | null;
}

export interface CreatedChallenge {
  id: string;
  challenge: string;
  expiresAt: string;
  boundTo: string | null;
}

export interface PendingRequest {
  id: string;
  transactionId: string;
  subject: string;
  createdAt: string;
  source: string | null;
  contentCipher: string;
  digestAlgorithm: string;
}

// An administrative action that cannot be done (unknown ID, not pending, bad TTL).
export class ScepAdminError extends Error {
  override name = 'ScepAdminError';
  constructor(
    message: string,
    readonly code: 'not-found' | 'conflict' | 'bad-request',
  ) {
    super(message);
  }
}

const DURATION = /^([1-9][0-9]*)([smhd])$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

// "90s", "15m", "1h", "30d" -> milliseconds.
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

// subjectAltName of a CSR's extensionRequest (RFC 5280 section 4.2.1.6) as the CA takes it:
// rfc822Name [1], dNSName [2], uniformResourceIdentifier [6], iPAddress [7]; other forms are dropped.
function requestedAltNames(extensions: readonly RequestedExtension[], op: PkiOperation): PkiCsr['requestedAltNames'] {
  const out: PkiCsr['requestedAltNames'] = {};
  const san = extensions.find((e) => e.oid === '2.5.29.17');
  if (!san) return out;
  let names;
  try {
    names = pkiDer.fromDer(san.value);
  } catch {
    throw new ScepError('badRequest', 'the requested subjectAltName is not valid DER', op);
  }
  if (!Array.isArray(names.value)) throw new ScepError('badRequest', 'the requested subjectAltName is not a sequence', op);
  for (const name of names.value) {
    if (name.tagClass !== 0x80 || typeof name.value !== 'string') continue;
    const value = name.value;
    if (name.type === 1) (out.email ??= []).push(value);
    else if (name.type === 2) (out.dns ??= []).push(value);
    else if (name.type === 6) (out.uri ??= []).push(value);
    else if (name.type === 7) {
      const bytes = Buffer.from(value, 'latin1');
      if (bytes.length !== 4 && bytes.length !== 16) throw new ScepError('badRequest', 'a requested iPAddress is neither IPv4 nor IPv6', op);
      (out.ip ??= []).push(bytes.length === 4 ? [...bytes].join('.') : bytes.toString('hex').replace(/(.{4})(?!$)/g, '$1:'));
    }
  }
  return out;
}

const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest();
const sha256Hex = (data: Buffer | string): string => sha256(data).toString('hex');
const CHALLENGE_REFUSED = 'challenge password refused';
const DAY_MS = 86_400_000;

export class ScepService {
  private readonly store: ScepStore;
  private readonly staticChallengeHash: Buffer | undefined;
  private ra: { serial: string; authority: RegistrationAuthority; caCerts: Buffer } | undefined;
  private readonly issuingName: Buffer;
  private readonly rootName: Buffer;

  // `staticChallenge`: the content of scep.challenges.staticChallengeFile, when config sets one.
  constructor(
    private readonly db: WardDb,
    private readonly audit: AuditLog,
    private readonly ca: CertificateAuthority,
    private readonly config: ScepConfig,
    staticChallenge?: string,
  ) {
    this.store = new ScepStore(db);
    if (staticChallenge !== undefined) {
      if (staticChallenge.length < 16) throw new ScepAdminError('scep: the static challenge must be at least 16 characters', 'bad-request');
      this.staticChallengeHash = sha256(staticChallenge);
    }
    this.issuingName = parseCertificate(ca.issuing.der).subject;
    this.rootName = parseCertificate(ca.root.der).subject;
  }

  // ---- RA and the unauthenticated operations (section 4.1 - 4.3) ----

  registrationAuthority(): RegistrationAuthority {
    return this.currentRa().authority;
  }

  private currentRa() {
    const id = this.ca.serviceIdentity('scepRa');
    if (this.ra?.serial !== id.serial) {
      const authority = new RegistrationAuthority(id.der, id.key, id.chainDer.slice(1));
      this.ra = { serial: id.serial, authority, caCerts: buildCertsOnly([id.der, ...id.chainDer.slice(1)]) };
    }
    return this.ra;
  }

  // GetCACaps (section 3.5.2): what a client may use. DES3 and SHA-1 only while they are accepted.
  capabilities(): string[] {
    const caps = ['POSTPKIOperation', 'Renewal', 'SHA-256', 'SHA-512', 'AES', 'SCEPStandard'];
    if (!this.config.algorithms.strongOnly) caps.push('SHA-1', 'DES3');
    return caps;
  }

  // GetCACert (section 4.2.1.2): RA certificate, issuing CA, root, as a degenerate certs-only SignedData.
  caCertificates(): Buffer {
    return this.currentRa().caCerts;
  }

  // GetNextCACert (section 4.7): Ward has no CA rollover yet, so there is never a next CA to announce.
  nextCaCertificates(): Buffer | undefined {
    return undefined;
  }

  // ---- pkiMessage types ----

  pkcsReq(op: Op<'PKCSReq'>, caller: ScepCaller): CertRepOutcome {
    return this.certificateRequest(op, caller, ({ csr, ctx, row }) => {
      const now = new Date();
      const challenge = this.checkChallenge(op.certificationRequest.challengePassword, csr, now);
      this.checkDuplicateSubject(csr.subjectText);
      const requestId = `rq-${randomBytes(5).toString('hex')}`;
      if (challenge.id && !this.store.consumeChallenge(challenge.id, requestId, now.toISOString())) {
        throw new ScepError('badRequest', CHALLENGE_REFUSED, op, 'challenge already used');
      }
      const pending = row({ id: requestId, status: 'pending', challengeId: challenge.id, createdAt: now.toISOString() });
      const facts = { ...this.facts(op), scepRequest: requestId, challengeId: challenge.id ?? 'static' };
      if (this.config.approval.mode === 'manual') {
        this.store.insertRequest(pending);
        this.audit.record({ ...ctx, action: 'scep.request.pending', target: { type: 'scep_request', id: requestId }, details: { ...facts, subject: csr.subjectText } });
        return { pkiStatus: 'PENDING' };
      }
      const issued = this.issue(csr, ctx, facts);
      this.store.insertRequest({ ...pending, status: 'issued', decidedAt: pending.createdAt, decidedBy: 'automatic', certificateSerial: issued.serial });
      return this.success(op, [issued.der]);
    });
  }

  renewalReq(op: Op<'RenewalReq'>, caller: ScepCaller): CertRepOutcome {
    return this.certificateRequest(op, caller, ({ csr, ctx, row }) => {
      // Section 3.3.1.2: signed with the current certificate of the same subject, which Ward issued.
      const verdict = this.ca.verifyIssued(op.signer.der);
      const current = verdict.record;
      if (verdict.status === 'expired' || verdict.status === 'not-yet-valid') {
        throw new ScepError('badTime', `the signing certificate is ${verdict.status}; enroll again with a challenge`, op);
      }
      if (verdict.status !== 'valid' || !current || current.profile !== 'device') {
        throw new ScepError('badCertId', 'RenewalReq must be signed with a valid device certificate Ward issued', op, `signer certificate is ${verdict.status}${current ? ` (${current.profile})` : ''}`);
      }
      const now = new Date();
      const windowDays = this.config.renewal.windowDays;
      const opensAt = new Date(Date.parse(current.notAfter) - windowDays * DAY_MS);
      if (windowDays > 0 && now < opensAt) {
        throw new ScepError('badTime', `renewal opens ${opensAt.toISOString()}, ${windowDays} days before the certificate expires`, op);
      }
      if (csr.subjectText !== current.subject) {
        throw new ScepError('badRequest', 'a RenewalReq must request the subject of the certificate that signs it', op, `requested ${csr.subjectText}, holds ${current.subject}`);
      }
      const requestId = `rq-${randomBytes(5).toString('hex')}`;
      const facts = { ...this.facts(op), scepRequest: requestId, renewalOf: current.serial };
      const issued = this.issue(csr, ctx, facts);
      this.store.insertRequest(
        row({ id: requestId, status: 'issued', createdAt: now.toISOString(), decidedAt: now.toISOString(), decidedBy: 'automatic', certificateSerial: issued.serial }),
      );
      return this.success(op, [issued.der]);
    });
  }

  // CertPoll / GetCertInitial (section 3.3.3): the status of an earlier request by the same requester.
  getCertInitial(op: Op<'GetCertInitial'>, caller: ScepCaller): CertRepOutcome {
    this.admit(op);
    const signerHash = sha256Hex(op.signer.der);
    let polledSubject: string | undefined;
    try {
      polledSubject = pkiDer.nameToString(pkiDer.fromDer(op.issuerAndSubject.subject));
    } catch {
      polledSubject = undefined;
    }
    return this.db.write(() => {
      // read inside the transaction: an approval may have just committed from wardctl
      const row = this.store.requestForPoll(op.transactionID, signerHash);
      if (!row || polledSubject !== row.subject) {
        throw new ScepError('badCertId', 'no request with this transactionID and subject from this requester', op);
      }
      return this.outcomeOf(row, op, this.deviceContext(row.subject, caller));
    });
  }

  // GetCert (section 3.3.4): a certificate the issuing CA signed, by issuer and serial number.
  getCert(op: Op<'GetCert'>, caller: ScepCaller): CertRepOutcome {
    this.admit(op);
    const { issuer, serialHex } = op.issuerAndSerialNumber;
    let record;
    try {
      record = issuer.equals(this.issuingName) ? this.ca.certificate(serialHex) : undefined;
    } catch {
      record = undefined;
    }
    if (!record || record.issuer !== 'issuing') throw new ScepError('badCertId', 'no certificate with this issuer and serial number', op);
    this.audit.record({
      ...this.deviceContext(op.signer.subjectName, caller),
      action: 'scep.certificate.retrieved',
      target: { type: 'certificate', id: record.serial },
      details: this.facts(op),
    });
    return this.success(op, [record.der]);
  }

  // GetCRL (section 3.3.4): the current CRL of the CA that issued the named certificate.
  getCRL(op: Op<'GetCRL'>, caller: ScepCaller): CertRepOutcome {
    this.admit(op);
    const issuer = op.issuerAndSerialNumber.issuer;
    const which = issuer.equals(this.issuingName) ? 'issuing' : issuer.equals(this.rootName) ? 'root' : undefined;
    if (!which) throw new ScepError('badCertId', 'no CRL for this issuer', op);
    const crl = this.ca.currentCrl(which);
    this.audit.record({
      ...this.deviceContext(op.signer.subjectName, caller),
      action: 'scep.crl.retrieved',
      target: { type: 'crl', id: which },
      details: { ...this.facts(op), serial: op.issuerAndSerialNumber.serialHex },
    });
    return { ...this.success(op, []), crls: [crl] };
  }

  // A request refused before or inside one of the methods above: the audit event of the refusal.
  refused(err: ScepError, caller: ScepCaller, op?: PkiOperation): void {
    const details: Record<string, unknown> = { failInfo: err.failInfo };
    if (err.transaction) details.transactionID = err.transaction.transactionID;
    if (op) Object.assign(details, this.facts(op));
    const who = op?.messageType === 'PKCSReq' || op?.messageType === 'RenewalReq' ? op.certificationRequest.subjectName : op?.signer.subjectName;
    this.audit.record({
      ...this.deviceContext(who ?? 'unknown', caller),
      action: 'scep.request.refused',
      outcome: 'failure',
      reason: err.detail ? `${err.reason} (${err.detail})` : err.reason,
      details,
    });
  }

  // ---- administration (wardctl scep ..., and domains that hand out challenges) ----

  createChallenge(options: { ttl?: string; boundTo?: string }, ctx: AuditContext): CreatedChallenge {
    const ttlText = options.ttl ?? this.config.challenges.defaultTtl;
    const ttlMs = parseDuration(ttlText);
    const maxMs = parseDuration(this.config.challenges.maxTtl)!;
    if (ttlMs === undefined) throw new ScepAdminError(`challenge lifetime "${ttlText}" is not a number followed by s, m, h or d`, 'bad-request');
    if (ttlMs > maxMs) throw new ScepAdminError(`challenge lifetime ${ttlText} is longer than scep.challenges.maxTtl (${this.config.challenges.maxTtl})`, 'bad-request');
    const boundTo = options.boundTo?.trim() || null;
    // 128 random bits, hex: PrintableString-safe for any client's challengePassword attribute.
    const challenge = randomBytes(16).toString('hex');
    const id = `ch-${randomBytes(5).toString('hex')}`;
    const now = new Date();
    const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
    this.db.write(() => {
      this.store.insertChallenge({ id, hash: sha256(challenge), boundTo, createdAt: now.toISOString(), expiresAt, createdBy: `${ctx.actor.type}:${ctx.actor.id}` });
      this.audit.record({ ...ctx, action: 'scep.challenge.created', target: { type: 'scep_challenge', id }, details: { challengeId: id, expiresAt, boundTo } });
    });
    return { id, challenge, expiresAt, boundTo };
  }

  pendingRequests(): PendingRequest[] {
    return this.store.pendingRequests().map((r) => ({
      id: r.id,
      transactionId: r.transactionId,
      subject: r.subject,
      createdAt: r.createdAt,
      source: r.source,
      contentCipher: r.contentCipher,
      digestAlgorithm: r.digestAlgorithm,
    }));
  }

  // Issues the certificate of a pending PKCSReq; the client gets it on its next poll.
  approve(id: string, ctx: AuditContext): IssuedCertificate {
    const issued = this.db.write(() => {
      const row = this.pendingRow(id, ctx);
      if (!row) return undefined;
      this.checkDuplicateSubject(row.subject);
      const certificate = this.issue(parsePkiCsr(row.csr), ctx, {
        via: 'scep',
        messageType: row.messageType,
        transactionID: row.transactionId,
        scepRequest: row.id,
        contentCipher: row.contentCipher,
        digestAlgorithm: row.digestAlgorithm,
        keyTransport: row.keyTransport,
        challengeId: row.challengeId ?? 'static',
      });
      this.store.decide(row.id, 'issued', new Date().toISOString(), `${ctx.actor.type}:${ctx.actor.id}`, certificate.serial, null);
      this.audit.record({ ...ctx, action: 'scep.request.approved', target: { type: 'scep_request', id: row.id }, details: { serial: certificate.serial, subject: row.subject } });
      return certificate;
    });
    if (!issued) throw this.expiredError(id);
    return issued;
  }

  reject(id: string, reason: string, ctx: AuditContext): void {
    const done = this.db.write(() => {
      const row = this.pendingRow(id, ctx);
      if (!row) return false;
      this.store.decide(row.id, 'rejected', new Date().toISOString(), `${ctx.actor.type}:${ctx.actor.id}`, null, reason);
      this.audit.record({ ...ctx, action: 'scep.request.rejected', target: { type: 'scep_request', id: row.id }, details: { subject: row.subject, note: reason } });
      return true;
    });
    if (!done) throw this.expiredError(id);
  }

  // Unused challenges that expired more than a week ago (the schedule calls this).
  purgeExpiredChallenges(ctx: AuditContext): number {
    return this.db.write(() => {
      const count = this.store.purgeExpiredChallenges(new Date(Date.now() - 7 * DAY_MS).toISOString());
      if (count > 0) this.audit.record({ ...ctx, action: 'scep.challenge.purged', details: { count } });
      return count;
    });
  }

  // ---- policy ----

  // Checks every PKIOperation passes before anything else: the algorithm policy, and an RSA signer
  // (the CertRep is enveloped to the signer's key with RSA key transport).
  /**
   * PKCSReq and RenewalReq alike: admit the algorithms, verify the CSR, then in one transaction answer a
   * re-sent transaction from its record (RFC 8894 section 3.3.1) or act on a new one. `row` fills in
   * the request record's fields that come from the message itself.
   */
  private certificateRequest(
    op: Op<'PKCSReq' | 'RenewalReq'>,
    caller: ScepCaller,
    act: (r: { csr: PkiCsr; ctx: AuditContext; row: (own: RequestOwnFields) => RequestRow }) => CertRepOutcome,
  ): CertRepOutcome {
    this.admit(op);
    const csr = this.pkiCsr(op);
    const signerHash = sha256Hex(op.signer.der);
    const csrHash = sha256Hex(csr.der);
    const ctx = this.deviceContext(csr.commonName ?? csr.subjectText, caller);
    const row = (own: RequestOwnFields): RequestRow => ({
      transactionId: op.transactionID,
      messageType: op.messageType,
      subject: csr.subjectText,
      signerCertSha256: signerHash,
      csrSha256: csrHash,
      csr: csr.der,
      contentCipher: op.contentCipher,
      digestAlgorithm: op.digestAlgorithm,
      keyTransport: op.keyTransport,
      source: caller.source,
      challengeId: null,
      decidedAt: null,
      decidedBy: null,
      certificateSerial: null,
      reason: null,
      ...own,
    });
    return this.db.write(() => {
      const existing = this.store.request(op.transactionID, op.messageType, signerHash);
      if (existing) return this.resent(existing, op, csrHash, ctx);
      return act({ csr, ctx, row });
    });
  }

  private admit(op: PkiOperation): void {
    if (this.config.algorithms.strongOnly) {
      const weak = weakAlgorithms(op);
      if (weak.length > 0) throw new ScepError('badAlg', `scep.algorithms.strongOnly refuses ${weak.join(' and ')}`, op);
    }
    if (op.signer.publicKey.asymmetricKeyType !== 'rsa') {
      throw new ScepError('badAlg', 'the requester certificate must hold an RSA key: the reply is enveloped to it', op);
    }
  }

  // The CSR in the shape the CA issues from. The wire code already parsed it and verified its
  // self-signature, so this only re-shapes it rather than parsing and verifying a second time.
  private pkiCsr(op: Op<'PKCSReq' | 'RenewalReq'>): PkiCsr {
    const request = op.certificationRequest;
    let subject;
    try {
      subject = pkiDer.fromDer(request.subject);
    } catch {
      throw new ScepError('badRequest', 'the CSR subject is not a valid name', op);
    }
    return {
      subject,
      subjectText: pkiDer.nameToString(subject),
      commonName: pkiDer.nameAttr(subject, 'CN'),
      spkiDer: request.subjectPublicKeyInfo,
      publicKey: request.publicKey,
      signatureDigest: request.signatureDigest,
      challengePassword: request.challengePassword,
      requestedAltNames: requestedAltNames(request.extensions, op),
      der: request.der,
    };
  }

  private checkChallenge(password: string | undefined, csr: PkiCsr, now: Date): { id: string | null } {
    if (!password) throw new ScepError('badRequest', CHALLENGE_REFUSED, undefined, 'the CSR has no challengePassword');
    const hash = sha256(password);
    if (this.staticChallengeHash && timingSafeEqual(hash, this.staticChallengeHash)) return { id: null };
    const row = this.store.challengeByHash(hash);
    if (!row) throw new ScepError('badRequest', CHALLENGE_REFUSED, undefined, 'unknown challenge');
    if (row.usedAt) throw new ScepError('badRequest', CHALLENGE_REFUSED, undefined, `challenge ${row.id} was already used at ${row.usedAt}`);
    if (row.expiresAt <= now.toISOString()) throw new ScepError('badRequest', CHALLENGE_REFUSED, undefined, `challenge ${row.id} expired at ${row.expiresAt}`);
    if (row.boundTo && row.boundTo !== csr.commonName && row.boundTo !== csr.subjectText) {
      throw new ScepError('badRequest', CHALLENGE_REFUSED, undefined, `challenge ${row.id} is for ${row.boundTo}, not ${csr.subjectText}`);
    }
    return { id: row.id };
  }

  private checkDuplicateSubject(subject: string): void {
    if (this.config.duplicateSubject !== 'refuse') return;
    const live = this.liveDeviceCertificates(subject);
    if (live.length > 0) {
      throw new ScepError('badRequest', 'this subject already holds a live certificate', undefined, `live: ${live.map((r) => r.serial).join(', ')}`);
    }
  }

  private liveDeviceCertificates(subject: string) {
    return this.ca.liveCertificatesOf(subject).filter((r) => !r.revokedAt && r.profile === 'device');
  }

  // The device certificate, through the CA (its pki.certificate.issued event carries the SCEP facts),
  // then the supersede policy. Runs inside the caller's transaction.
  private issue(csr: PkiCsr, ctx: AuditContext, details: Record<string, unknown>): IssuedCertificate {
    const earlier = this.config.duplicateSubject === 'supersede' ? this.liveDeviceCertificates(csr.subjectText) : [];
    let issued: IssuedCertificate;
    try {
      issued = this.ca.issue({ csr, profile: 'device', details }, ctx);
    } catch (err) {
      if (err instanceof PkiError) throw new ScepError('badRequest', err.message);
      throw err;
    }
    for (const old of earlier) this.ca.revoke(old.serial, 'superseded', ctx);
    return issued;
  }

  // The same PKCSReq / RenewalReq again (a client polling by re-sending, or one that lost the reply).
  private resent(row: RequestRow, op: PkiOperation, csrHash: string, ctx: AuditContext): CertRepOutcome {
    if (row.csrSha256 !== csrHash) {
      throw new ScepError('badRequest', 'this transactionID was already used for a different request', op);
    }
    return this.outcomeOf(row, op, ctx);
  }

  private outcomeOf(row: RequestRow, op: PkiOperation, ctx: AuditContext): CertRepOutcome {
    const target = { type: 'scep_request', id: row.id };
    if (row.status === 'pending') {
      const expiresAt = Date.parse(row.createdAt) + this.config.approval.pendingTtlHours * 3_600_000;
      if (Date.now() > expiresAt) {
        this.store.decide(row.id, 'rejected', new Date().toISOString(), 'system:ward', null, 'not approved in time');
        this.audit.record({ ...ctx, action: 'scep.request.expired', target, details: { subject: row.subject } });
        return { pkiStatus: 'FAILURE', failInfo: 'badRequest', failInfoText: 'the request was not approved in time' };
      }
      this.audit.record({ ...ctx, action: 'scep.request.polled', target, details: { ...this.facts(op), status: 'pending' } });
      return { pkiStatus: 'PENDING' };
    }
    if (row.status === 'rejected') {
      throw new ScepError('badRequest', 'the request was rejected', op, row.reason ?? undefined);
    }
    const record = row.certificateSerial ? this.ca.certificate(row.certificateSerial) : undefined;
    if (!record) throw new ScepError('badCertId', 'the certificate of this request is gone', op);
    this.audit.record({ ...ctx, action: 'scep.request.polled', target, details: { ...this.facts(op), status: 'issued', serial: record.serial } });
    return this.success(op, [record.der]);
  }

  // The pending request `id`, or undefined when it just expired (that is recorded, and commits:
  // the caller must not throw inside the same transaction).
  private pendingRow(id: string, ctx: AuditContext): RequestRow | undefined {
    const row = this.store.requestById(id);
    if (!row) throw new ScepAdminError(`no SCEP request ${id}`, 'not-found');
    if (row.status !== 'pending') throw new ScepAdminError(`SCEP request ${id} is ${row.status}, not pending`, 'conflict');
    const expiresAt = Date.parse(row.createdAt) + this.config.approval.pendingTtlHours * 3_600_000;
    if (Date.now() > expiresAt) {
      this.store.decide(row.id, 'rejected', new Date().toISOString(), 'system:ward', null, 'not approved in time');
      this.audit.record({ ...ctx, action: 'scep.request.expired', target: { type: 'scep_request', id: row.id }, details: { subject: row.subject } });
      return undefined;
    }
    return row;
  }

  private expiredError(id: string): ScepAdminError {
    return new ScepAdminError(`SCEP request ${id} was not approved within ${this.config.approval.pendingTtlHours} hours and has expired`, 'conflict');
  }

  private success(op: PkiOperation, certificates: Buffer[]): Extract<CertRepOutcome, { pkiStatus: 'SUCCESS' }> {
    const contentCipher: ContentCipher = this.config.algorithms.legacyReplyCipher ? op.contentCipher : 'aes-256-cbc';
    return { pkiStatus: 'SUCCESS', recipient: op.signer, certificates, contentCipher };
  }

  // The algorithms that protected a request: every SCEP audit event records them (issue 13).
  private facts(op: PkiOperation): Record<string, unknown> {
    return {
      via: 'scep',
      messageType: op.messageType,
      transactionID: op.transactionID,
      contentCipher: op.contentCipher,
      digestAlgorithm: op.digestAlgorithm,
      keyTransport: op.keyTransport,
    };
  }

  private deviceContext(who: string, caller: ScepCaller): AuditContext {
    return { actor: { type: 'device', id: who.slice(0, 200) }, source: caller.source, requestId: caller.requestId };
  }
}
