// Ward's certificate authority: a root CA (signs only the issuing CA and its CRL) and an issuing CA
// (signs device, server and service certificates and the CRL devices check). See ARCHITECTURE.md, "Keys".
import crypto, { type KeyObject, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { WardConfig } from '../config';
import type { WardDb } from '../db';
import { type AuditContext, type AuditLog, SYSTEM_ACTOR } from '../audit';
import {
  type Asn1, type GeneralNames, type NameAttrs, explicit, extensions, fromDer, integer, keyIdentifier, name, nameToString,
  pemEncode, randomSerial, serialHex, seq, signatureAlgorithm, signed, time, toDer, OID, oid, octets,
} from './der';
import forge from 'node-forge';
import { type CertificationRequest, parseCertificationRequest } from './csr';
import { certificateFields } from './der-reader';
import { KeyStore, KeyStoreError, generateKey, readPassphrase, writePrivateFile, type KeyAlgorithm } from './keys';
import { type CertificateProfile, PROFILES, SERVICE_IDENTITIES, type ServiceIdentityName, keyUsageFor } from './profiles';
import { type CertificateRecord, PkiStore } from './store';

export interface CaIdentity {
  cert: X509Certificate;
  der: Buffer;
  pem: string;
  /** Subject Name as DER-ready ASN.1 (the issuer name of what this CA signs). */
  subject: Asn1;
  keyId: Buffer;
  /** The certificate's public key, made once (X509Certificate.publicKey makes a new KeyObject per read). */
  publicKey: KeyObject;
}

export interface ServiceIdentity {
  name: ServiceIdentityName;
  key: KeyObject;
  cert: X509Certificate;
  der: Buffer;
  pem: string;
  serial: string;
  /** This certificate then the issuing CA and root, DER, leaf first. */
  chainDer: Buffer[];
}

export interface IssueRequest {
  /** A CSR (DER, PEM, or already parsed). Its self-signature is verified. */
  csr: Buffer | string | CertificationRequest;
  profile: CertificateProfile;
  /** Subject of the certificate; default: the CSR's subject. */
  subject?: NameAttrs;
  /** subjectAltNames; default: those the CSR requests, where the profile allows. */
  altNames?: GeneralNames;
  validityDays?: number;
  /** Extra facts for the issuance audit event (never secrets). */
  details?: Record<string, unknown>;
}

export interface IssuedCertificate {
  serial: string;
  der: Buffer;
  pem: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  sha256: string;
}

/** RFC 5280 section 5.3.1 CRLReason. */
export const REVOCATION_REASONS = {
  unspecified: 0, keyCompromise: 1, cACompromise: 2, affiliationChanged: 3, superseded: 4,
  cessationOfOperation: 5, certificateHold: 6, privilegeWithdrawn: 9, aACompromise: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export type CertificateStatus = 'valid' | 'revoked' | 'expired' | 'not-yet-valid' | 'unknown';

/** A request the CA refuses (unknown serial, already revoked, bad CSR...). */
export class PkiError extends Error {
  override name = 'PkiError';
  constructor(
    message: string,
    readonly code: 'bad-request' | 'not-found' | 'conflict' = 'bad-request',
  ) {
    super(message);
  }
}

const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DAY_MS = 86_400_000;
const sha256Hex = (der: Buffer) => crypto.createHash('sha256').update(der).digest('hex');

export class CertificateAuthority {
  readonly root: CaIdentity;
  readonly issuing: CaIdentity;
  private readonly rootKey: KeyObject;
  private readonly issuingKey: KeyObject;
  private readonly store: PkiStore;
  private readonly identities = new Map<ServiceIdentityName, ServiceIdentity>();

  private constructor(
    private readonly cfg: WardConfig,
    private readonly db: WardDb,
    private readonly audit: AuditLog,
    private readonly keys: KeyStore,
    private readonly log: Logger | undefined,
    material: { root: CaIdentity; rootKey: KeyObject; issuing: CaIdentity; issuingKey: KeyObject },
  ) {
    this.store = new PkiStore(db);
    this.root = material.root;
    this.issuing = material.issuing;
    this.rootKey = material.rootKey;
    this.issuingKey = material.issuingKey;
  }

  /** Creates the root and issuing CA on first start, loads them later (wrong passphrase: KeyStoreError). */
  static open(cfg: WardConfig, db: WardDb, audit: AuditLog, log?: Logger): CertificateAuthority {
    const dir = cfg.pki.dir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    const rootCertFile = path.join(dir, 'root.crt.pem');
    const firstStart = !fs.existsSync(rootCertFile);
    const keys = new KeyStore(dir, readPassphrase(cfg.pki.passphrase, firstStart));
    const material = firstStart ? CertificateAuthority.create(cfg, keys) : CertificateAuthority.load(dir, keys);
    const ca = new CertificateAuthority(cfg, db, audit, keys, log, material);
    ca.recordCaCertificates(firstStart);
    if (firstStart) log?.info({ root: material.root.cert.fingerprint256 }, 'pki: created root and issuing CA');
    return ca;
  }

  private static create(cfg: WardConfig, keys: KeyStore) {
    const org = cfg.organization;
    const rootKey = generateKey(cfg.pki.rootKeyAlgorithm);
    const rootSubject = name([['CN', `${org} Ward Root CA`], ['O', org]]);
    const rootSpki = spkiOf(rootKey);
    const rootDer = buildCertificate({
      serial: randomSerial(), issuer: rootSubject, subject: rootSubject, spkiDer: rootSpki,
      notBefore: new Date(Date.now() - CLOCK_SKEW_MS), notAfter: new Date(Date.now() + cfg.pki.validityDays.root * DAY_MS),
      ext: { ca: { pathLen: 1 }, keyUsage: ['keyCertSign', 'cRLSign'], subjectKeyId: keyIdentifier(rootSpki) },
      signingKey: rootKey,
    });
    const issuingKey = generateKey(cfg.pki.issuingKeyAlgorithm as KeyAlgorithm);
    const issuingSubject = name([['CN', `${org} Ward Issuing CA`], ['O', org]]);
    const issuingSpki = spkiOf(issuingKey);
    const issuingDer = buildCertificate({
      serial: randomSerial(), issuer: rootSubject, subject: issuingSubject, spkiDer: issuingSpki,
      notBefore: new Date(Date.now() - CLOCK_SKEW_MS), notAfter: new Date(Date.now() + cfg.pki.validityDays.issuing * DAY_MS),
      ext: {
        ca: { pathLen: 0 }, keyUsage: ['keyCertSign', 'cRLSign'], subjectKeyId: keyIdentifier(issuingSpki),
        authorityKeyId: keyIdentifier(rootSpki), crlUrl: `${cfg.http.publicUrl}/crl/root`, caIssuersUrl: `${cfg.http.publicUrl}/ca/root.crt`,
      },
      signingKey: rootKey,
    });
    // Keys first, root certificate last: its presence is what marks the CA as created.
    keys.save('root', rootKey);
    keys.save('issuing', issuingKey);
    writePrivateFile(path.join(cfg.pki.dir, 'issuing.crt.pem'), pemEncode(issuingDer));
    writePrivateFile(path.join(cfg.pki.dir, 'root.crt.pem'), pemEncode(rootDer));
    return { root: caIdentity(rootDer), rootKey, issuing: caIdentity(issuingDer), issuingKey };
  }

  private static load(dir: string, keys: KeyStore) {
    const read = (n: string) => {
      const file = path.join(dir, `${n}.crt.pem`);
      try {
        return caIdentity(new X509Certificate(fs.readFileSync(file)).raw);
      } catch (e) {
        throw new KeyStoreError(`pki: cannot read ${file}: ${(e as Error).message}`);
      }
    };
    const root = read('root');
    const issuing = read('issuing');
    const rootKey = keys.load('root');
    const issuingKey = keys.load('issuing');
    if (!root.cert.checkPrivateKey(rootKey) || !issuing.cert.checkPrivateKey(issuingKey)) {
      throw new KeyStoreError(`pki: CA keys in ${dir} do not match the CA certificates`);
    }
    return { root, rootKey, issuing, issuingKey };
  }

  private recordCaCertificates(created: boolean): void {
    this.db.write(() => {
      for (const [which, id] of [['root', this.root], ['issuing', this.issuing]] as const) {
        const serial = serialOf(id.cert);
        if (this.store.certificate(serial)) continue;
        this.store.insertCertificate(recordOf(id.cert, id.der, 'root', which === 'root' ? 'rootCa' : 'issuingCa', 'system:ward'));
        this.audit.record({
          action: created ? 'pki.ca.created' : 'pki.ca.recorded',
          actor: SYSTEM_ACTOR,
          target: { type: 'certificate', id: serial },
          details: { role: which, subject: id.cert.subject.replace(/\n/g, ','), sha256: sha256Hex(id.der), notAfter: new Date(id.cert.validTo).toISOString() },
        });
      }
    });
  }

  /** The chain devices and clients need, issuing CA first, as served at /ca.pem. */
  chainPem(): string {
    return this.issuing.pem + this.root.pem;
  }

  /** SHA-256 fingerprint of the root certificate (hex, lowercase), pinned by profiles and QR codes. */
  rootFingerprint(): string {
    return sha256Hex(this.root.der);
  }

  private urls() {
    const base = this.cfg.http.publicUrl!;
    return { crl: `${base}/crl`, caIssuers: `${base}/ca/issuing.crt` };
  }

  /** Signs a certificate for the CSR under a profile; the row and its audit event commit together. */
  issue(req: IssueRequest, ctx: AuditContext): IssuedCertificate {
    const csr = isParsed(req.csr) ? req.csr : parseCertificationRequest(req.csr);
    const profile = PROFILES[req.profile];
    if (!profile) throw new PkiError(`unknown certificate profile ${req.profile}`);
    const subject = req.subject ? name(req.subject) : csr.subject;
    if ((subject.value as Asn1[]).length === 0) throw new PkiError('certificate subject is empty');
    const altNames = req.altNames ?? (profile.copyRequestedAltNames ? csr.requestedAltNames : {});
    return this.sign({
      spkiDer: csr.spkiDer, keyType: csr.publicKey.asymmetricKeyType, subject, profile: req.profile, altNames,
      validityDays: req.validityDays, details: req.details,
    }, ctx);
  }

  private sign(
    p: { spkiDer: Buffer; keyType?: string; subject: Asn1; profile: CertificateProfile; altNames: GeneralNames; validityDays?: number; details?: Record<string, unknown> },
    ctx: AuditContext,
  ): IssuedCertificate {
    const spec = PROFILES[p.profile];
    const now = Date.now();
    const notBefore = new Date(now - CLOCK_SKEW_MS);
    const days = p.validityDays ?? this.cfg.pki.validityDays[spec.validity];
    const notAfter = new Date(Math.min(now + days * DAY_MS, this.issuing.cert.validToDate.getTime()));
    const urls = this.urls();
    const serialBytes = randomSerial();
    const der = buildCertificate({
      serial: serialBytes, issuer: this.issuing.subject, subject: p.subject, spkiDer: p.spkiDer, notBefore, notAfter,
      ext: {
        keyUsage: keyUsageFor(spec, p.keyType), extKeyUsage: spec.extKeyUsage, subjectAltName: p.altNames,
        subjectKeyId: keyIdentifier(p.spkiDer), authorityKeyId: this.issuing.keyId, crlUrl: urls.crl, caIssuersUrl: urls.caIssuers,
      },
      signingKey: this.issuingKey,
    });
    // Facts taken from what was just encoded, not by parsing it back (hot path).
    const serial = serialHex(serialBytes);
    const subjectText = nameToString(p.subject);
    const requestedBy = `${ctx.actor.type}:${ctx.actor.id}`;
    const fingerprint = sha256Hex(der);
    const secondsOf = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString();
    this.db.write(() => {
      this.store.insertCertificate({
        serial, issuer: 'issuing', profile: p.profile, subject: subjectText, notBefore: secondsOf(notBefore), notAfter: secondsOf(notAfter),
        sha256: fingerprint, der, issuedAt: new Date(now).toISOString(), requestedBy, revokedAt: null, revocationReason: null,
      });
      this.audit.record({
        ...ctx,
        action: 'pki.certificate.issued',
        target: { type: 'certificate', id: serial },
        details: { profile: p.profile, subject: subjectText, sha256: fingerprint, notAfter: secondsOf(notAfter), ...p.details },
      });
    });
    return { serial, der, pem: pemEncode(der), subject: subjectText, notBefore, notAfter, sha256: fingerprint };
  }

  /** Revokes an issued certificate and re-issues the CRL at once, all in one transaction. */
  revoke(serial: string, reason: RevocationReason, ctx: AuditContext): CertificateRecord {
    const s = normalizeSerial(serial);
    const code = REVOCATION_REASONS[reason];
    if (code === undefined) throw new PkiError(`unknown revocation reason ${reason}`);
    return this.db.write(() => {
      const rec = this.store.certificate(s);
      if (!rec || rec.issuer !== 'issuing') throw new PkiError(`no certificate with serial ${s} issued by Ward's issuing CA`, 'not-found');
      if (rec.revokedAt) throw new PkiError(`certificate ${s} is already revoked (${rec.revokedAt})`, 'conflict');
      const at = new Date().toISOString();
      this.store.markRevoked(s, at, code);
      this.audit.record({
        ...ctx,
        action: 'pki.certificate.revoked',
        target: { type: 'certificate', id: s },
        details: { reason, reasonCode: code, subject: rec.subject, profile: rec.profile },
      });
      this.issueCrl('issuing', ctx);
      return { ...rec, revokedAt: at, revocationReason: code };
    });
  }

  certificate(serial: string): CertificateRecord | undefined {
    return this.store.certificate(normalizeSerial(serial));
  }

  /** Moves with every revocation (the newest CRL number; revoke() issues one in its transaction). */
  revocationEpoch(): number {
    return this.store.revocationEpoch();
  }

  /** When the certificate was revoked: null if it is not, undefined if Ward never issued it. */
  revokedAt(serial: string): string | null | undefined {
    return this.store.revokedAt(normalizeSerial(serial));
  }

  listCertificates(opts: { profile?: string; limit?: number; offset?: number } = {}): CertificateRecord[] {
    return this.store.list({ profile: opts.profile, limit: opts.limit ?? 100, offset: opts.offset ?? 0 });
  }

  /** Live (unexpired) certificates with this subject text, newest first (SCEP duplicate-subject policy). */
  liveCertificatesOf(subject: string): CertificateRecord[] {
    return this.store.liveBySubject(subject, new Date());
  }

  /**
   * Whether a presented certificate is one Ward's issuing CA signed and still good: the signature,
   * the validity period and revocation are all checked. Used by device authentication.
   */
  verifyIssued(der: Buffer, at = new Date()): { status: CertificateStatus; record?: CertificateRecord; notBefore?: Date; notAfter?: Date } {
    // Read with a DER walk, not X509Certificate: this runs on every device's first contact. What
    // makes the certificate Ward's is the byte-exact copy in the certificates table, and the
    // issuing CA's signature over it in the algorithm that CA signs with.
    const fields = certificateFields(der);
    if (!fields) return { status: 'unknown' };
    const record = this.store.certificate(fields.serial);
    if (!record || !record.der.equals(der)) return { status: 'unknown' };
    const signer = this.issuingSignature();
    let genuine = false;
    try {
      genuine = fields.signatureAlgorithm.equals(signer.algorithm) && crypto.verify(signer.digest, fields.tbs, this.issuing.publicKey, fields.signature);
    } catch {
      genuine = false;
    }
    if (!genuine) return { status: 'unknown' };
    const dates = { notBefore: new Date(fields.notBefore), notAfter: new Date(fields.notAfter) };
    if (record.revokedAt) return { status: 'revoked', record, ...dates };
    if (at < dates.notBefore) return { status: 'not-yet-valid', record, ...dates };
    if (at > dates.notAfter) return { status: 'expired', record, ...dates };
    return { status: 'valid', record, ...dates };
  }

  private issuingSignatureCache?: { algorithm: Buffer; digest: string };
  private issuingSignature(): { algorithm: Buffer; digest: string } {
    if (!this.issuingSignatureCache) {
      const alg = signatureAlgorithm(this.issuingKey);
      this.issuingSignatureCache = { algorithm: toDer(alg.node), digest: alg.digest };
    }
    return this.issuingSignatureCache;
  }

  /** The current CRL of a CA (DER), issuing a fresh one when none exists or nextUpdate is near. */
  currentCrl(issuer: 'issuing' | 'root' = 'issuing'): Buffer {
    const latest = this.store.latestCrl(issuer);
    if (latest && !this.crlDue(latest.nextUpdate)) return latest.der;
    return this.db.write(() => this.issueCrl(issuer, { actor: SYSTEM_ACTOR }));
  }

  private crlDue(nextUpdate: string): boolean {
    return Date.parse(nextUpdate) - this.cfg.pki.crl.reissueBeforeHours * 3_600_000 <= Date.now();
  }

  /** Re-issues each CRL whose nextUpdate is near (the schedule calls this). Returns how many. */
  reissueDueCrls(): number {
    let n = 0;
    for (const issuer of ['issuing', 'root'] as const) {
      const latest = this.store.latestCrl(issuer);
      if (!latest || this.crlDue(latest.nextUpdate)) {
        this.db.write(() => this.issueCrl(issuer, { actor: SYSTEM_ACTOR }));
        n++;
      }
    }
    return n;
  }

  /** RFC 5280 section 5: a v2 CRL with cRLNumber and authorityKeyIdentifier. */
  private issueCrl(issuer: 'issuing' | 'root', ctx: AuditContext): Buffer {
    const ca = issuer === 'issuing' ? this.issuing : this.root;
    const key = issuer === 'issuing' ? this.issuingKey : this.rootKey;
    const now = new Date();
    const next = new Date(now.getTime() + this.cfg.pki.crl.validityHours * 3_600_000);
    const number = this.store.nextCrlNumber();
    const revoked = this.store.revokedBy(issuer);
    const alg = signatureAlgorithm(key);
    const entries = revoked.map((r) =>
      seq([
        integer(Buffer.from(r.serial.length % 2 ? '0' + r.serial : r.serial, 'hex')),
        time(new Date(r.revokedAt)),
        seq([seq([oid(OID.cRLReason), octets(toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.ENUMERATED, false, String.fromCharCode(r.reason))))])]),
      ]),
    );
    const tbs = seq([
      integer(1),
      alg.node,
      ca.subject,
      time(now),
      time(next),
      ...(entries.length ? [seq(entries)] : []),
      explicit(0, seq([
        seq([oid(OID.authorityKeyIdentifier), octets(toDer(seq([forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 0, false, ca.keyId.toString('binary'))])))]),
        seq([oid(OID.cRLNumber), octets(toDer(integer(number)))]),
      ])),
    ]);
    const der = signed(tbs, alg.node, alg.digest, key);
    this.store.insertCrl({ number, issuer, thisUpdate: now.toISOString(), nextUpdate: next.toISOString(), der });
    this.audit.record({
      ...ctx,
      action: 'pki.crl.issued',
      target: { type: 'crl', id: String(number) },
      details: { issuer, revoked: revoked.length, nextUpdate: next.toISOString() },
    });
    return der;
  }

  /**
   * A key + certificate Ward uses itself (TLS server, SCEP RA, audit signer, profile signer), created
   * on first use and re-issued when it nears expiry, no longer matches the hostname, or was signed by
   * a previous issuing CA.
   */
  serviceIdentity(which: ServiceIdentityName): ServiceIdentity {
    const cached = this.identities.get(which);
    if (cached && cached.cert.validToDate.getTime() - Date.now() > 30 * DAY_MS) return cached;
    const certFile = path.join(this.cfg.pki.dir, `${which}.crt.pem`);
    const def = SERVICE_IDENTITIES[which];
    let current: ServiceIdentity | undefined;
    if (fs.existsSync(certFile) && this.keys.has(which)) {
      const cert = new X509Certificate(fs.readFileSync(certFile));
      const key = this.keys.load(which);
      current = this.identityOf(which, cert, key);
    }
    if (!current || this.identityStale(which, current)) {
      const key = generateKey('rsa-2048');
      const cn = which === 'server' ? this.cfg.hostname : def.commonName;
      const altNames: GeneralNames = which === 'server' ? hostAltNames(this.cfg.hostname) : {};
      const issued = this.sign(
        { spkiDer: spkiOf(key), keyType: 'rsa', subject: name([['CN', cn], ['O', this.cfg.organization]]), profile: def.profile, altNames },
        { actor: SYSTEM_ACTOR },
      );
      this.keys.save(which, key);
      writePrivateFile(certFile, issued.pem);
      current = this.identityOf(which, new X509Certificate(issued.der), key);
      this.log?.info({ identity: which, serial: issued.serial }, 'pki: issued service identity');
    }
    this.identities.set(which, current);
    return current;
  }

  private identityOf(which: ServiceIdentityName, cert: X509Certificate, key: KeyObject): ServiceIdentity {
    return {
      name: which, key, cert, der: cert.raw, pem: pemEncode(cert.raw), serial: serialOf(cert),
      chainDer: [cert.raw, this.issuing.der, this.root.der],
    };
  }

  private identityStale(which: ServiceIdentityName, id: ServiceIdentity): boolean {
    if (id.cert.validToDate.getTime() - Date.now() < 30 * DAY_MS) return true;
    if (!id.cert.checkIssued(this.issuing.cert) || !id.cert.verify(this.issuing.publicKey)) return true;
    if (!id.cert.checkPrivateKey(id.key)) return true;
    const rec = this.store.certificate(id.serial);
    if (rec?.revokedAt) return true;
    if (which === 'server') {
      const h = this.cfg.hostname;
      return !(isIp(h) ? id.cert.checkIP(h) : id.cert.checkHost(h));
    }
    return false;
  }
}

function isParsed(c: IssueRequest['csr']): c is CertificationRequest {
  return typeof c === 'object' && !Buffer.isBuffer(c) && 'spkiDer' in c;
}

const isIp = (h: string) => /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(':');
function hostAltNames(host: string): GeneralNames {
  return isIp(host) ? { ip: [host] } : { dns: [host] };
}

function spkiOf(key: KeyObject): Buffer {
  return crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
}

function caIdentity(der: Buffer): CaIdentity {
  const cert = new X509Certificate(der);
  const tbs = (fromDer(der).value as Asn1[])[0];
  const subject = (tbs.value as Asn1[])[5];
  const spki = toDer((tbs.value as Asn1[])[6]);
  return { cert, der, pem: pemEncode(der), subject, keyId: keyIdentifier(spki), publicKey: cert.publicKey };
}

export function serialOf(cert: X509Certificate): string {
  return normalizeSerial(cert.serialNumber);
}

/** Serials are kept as lowercase hex without leading zeros (colons and case in input are tolerated). */
export function normalizeSerial(s: string): string {
  const hex = s.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw new PkiError(`not a certificate serial: ${JSON.stringify(s.slice(0, 80))}`);
  return BigInt('0x' + hex).toString(16);
}

function recordOf(cert: X509Certificate, der: Buffer, issuer: string, profile: string, requestedBy: string): CertificateRecord {
  return {
    serial: serialOf(cert), issuer, profile, subject: cert.subject.replace(/\n/g, ','),
    notBefore: cert.validFromDate.toISOString(), notAfter: cert.validToDate.toISOString(), sha256: sha256Hex(der), der,
    issuedAt: new Date().toISOString(), requestedBy, revokedAt: null, revocationReason: null,
  };
}

interface CertificateSpec {
  serial: Buffer;
  issuer: Asn1;
  subject: Asn1;
  spkiDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  ext: Parameters<typeof extensions>[0];
  signingKey: KeyObject;
}

/** RFC 5280 section 4.1 TBSCertificate (v3), signed with the issuer's key through node:crypto. */
export function buildCertificate(s: CertificateSpec): Buffer {
  const alg = signatureAlgorithm(s.signingKey);
  const tbs = seq([
    explicit(0, integer(2)),
    integer(s.serial),
    alg.node,
    s.issuer,
    seq([time(s.notBefore), time(s.notAfter)]),
    s.subject,
    fromDer(s.spkiDer),
    explicit(3, seq(extensions(s.ext))),
  ]);
  return signed(tbs, alg.node, alg.digest, s.signingKey);
}

