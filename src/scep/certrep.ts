// Messages Ward sends: CertRep (RFC 8894 section 3.3.2) signed by the RA, and the degenerate
// certs-only SignedData (RFC 5652 section 5.2, "degenerate case") used inside a CertRep and by
// GetCACert (section 4.2.1.2).
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { der } from './der';
import { OID, digestOid, type ContentCipher, type DigestAlgorithm } from './oids';
import { FailInfo, ScepError, type FailInfoName } from './errors';
import { MessageType, PkiStatus, type PkiStatusName } from './pkimessage';
import { sealEnvelope } from './envelope';
import type { ScepCertificate } from './certificate';
import type { RegistrationAuthority } from './ra';

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

// transactionID is a PrintableString (section 3.2.1.1); a client that sent other characters gets its
// value back as UTF8String rather than an invalid encoding.
function transactionIdValue(value: string): Buffer {
  return PRINTABLE.test(value) ? der.printableString(value) : der.utf8String(value);
}

function attribute(type: string, value: Buffer): Buffer {
  return der.sequence(der.oid(type), der.set(value));
}

export interface PkiMessageSigner {
  certificate: ScepCertificate;
  key: KeyObject;
}

export interface PkiMessageFields {
  signer: PkiMessageSigner;
  digestAlgorithm?: DigestAlgorithm; // default sha256
  messageType: number;
  transactionID: string;
  senderNonce?: Buffer; // default: 16 fresh random bytes
  recipientNonce?: Buffer;
  pkiStatus?: number;
  failInfo?: number;
  failInfoText?: string;
  content?: Buffer; // eContent (a pkcsPKIEnvelope ContentInfo)
  certificates?: readonly Buffer[]; // DER, carried in SignedData.certificates
}

// A pkiMessage: SignedData over `content` with the SCEP attributes signed (section 3.2), the
// signature made by node:crypto with RSASSA-PKCS1-v1_5.
export function buildPkiMessage(fields: PkiMessageFields): Buffer {
  const digest = fields.digestAlgorithm ?? 'sha256';
  const content = fields.content;
  const attributes = [
    attribute(OID.contentType, der.oid(OID.data)),
    attribute(OID.messageDigest, der.octetString(createHash(digest).update(content ?? Buffer.alloc(0)).digest())),
    attribute(OID.messageType, der.printableString(String(fields.messageType))),
    attribute(OID.transactionID, transactionIdValue(fields.transactionID)),
    attribute(OID.senderNonce, der.octetString(fields.senderNonce ?? randomBytes(16))),
  ];
  if (fields.recipientNonce) attributes.push(attribute(OID.recipientNonce, der.octetString(fields.recipientNonce)));
  if (fields.pkiStatus !== undefined) attributes.push(attribute(OID.pkiStatus, der.printableString(String(fields.pkiStatus))));
  if (fields.failInfo !== undefined) attributes.push(attribute(OID.failInfo, der.printableString(String(fields.failInfo))));
  if (fields.failInfoText) attributes.push(attribute(OID.failInfoText, der.utf8String(fields.failInfoText)));

  const signedAttributes = der.setOf(attributes);
  const signature = sign(digest, signedAttributes, fields.signer.key);
  const digestAlgorithm = der.algorithm(digestOid[digest], der.null());
  const signerInfo = der.sequence(
    der.smallInteger(1),
    fields.signer.certificate.issuerAndSerialNumber,
    digestAlgorithm,
    // [0] IMPLICIT: the same DER with the SET tag replaced (RFC 5652 section 5.4)
    Buffer.concat([Buffer.from([0xa0]), signedAttributes.subarray(1)]),
    der.algorithm(OID.rsaEncryption, der.null()),
    der.octetString(signature),
  );
  const encapContentInfo = content
    ? der.sequence(der.oid(OID.data), der.context(0, der.octetString(content)))
    : der.sequence(der.oid(OID.data));
  const certificates = fields.certificates && fields.certificates.length > 0 ? [der.context(0, ...fields.certificates)] : [];
  const signedData = der.sequence(der.smallInteger(1), der.set(digestAlgorithm), encapContentInfo, ...certificates, der.set(signerInfo));
  return der.sequence(der.oid(OID.signedData), der.context(0, signedData));
}

// Degenerate certs-only SignedData: no content, no signers, just certificates and/or CRLs. Order is
// kept as given (clients take the first certificate of a CertRep as theirs; GetCACert lists RA first).
export function buildCertsOnly(certificates: readonly Buffer[], crls: readonly Buffer[] = []): Buffer {
  const parts = [der.smallInteger(1), der.set(), der.sequence(der.oid(OID.data))];
  if (certificates.length > 0) parts.push(der.context(0, ...certificates));
  if (crls.length > 0) parts.push(der.context(1, ...crls));
  parts.push(der.set());
  return der.sequence(der.oid(OID.signedData), der.context(0, der.sequence(...parts)));
}

export interface CertRepRequest {
  transactionID: string;
  senderNonce: Buffer; // becomes the CertRep's recipientNonce
}

export type CertRepOutcome =
  | {
      pkiStatus: 'SUCCESS';
      // who the reply is enveloped for: the request's signer certificate (section 3.3.2)
      recipient: ScepCertificate;
      certificates?: readonly Buffer[];
      crls?: readonly Buffer[];
      contentCipher?: ContentCipher; // default aes-256-cbc
    }
  | { pkiStatus: 'FAILURE'; failInfo: FailInfoName; failInfoText?: string }
  | { pkiStatus: 'PENDING' };

// CertRep signed by the RA with SHA-256, echoing transactionID, the request's senderNonce as
// recipientNonce and a fresh senderNonce. On SUCCESS the content is an EnvelopedData of a
// certs-only SignedData holding the issued certificate (or the CRL, for GetCRL).
export function buildCertRep(ra: RegistrationAuthority, request: CertRepRequest, outcome: CertRepOutcome): Buffer {
  const base = {
    signer: ra,
    digestAlgorithm: 'sha256' as const,
    messageType: MessageType.CertRep,
    transactionID: request.transactionID,
    recipientNonce: request.senderNonce,
    pkiStatus: PkiStatus[outcome.pkiStatus as PkiStatusName],
    certificates: [ra.certificate.der],
  };
  switch (outcome.pkiStatus) {
    case 'SUCCESS': {
      const certsOnly = buildCertsOnly(outcome.certificates ?? [], outcome.crls ?? []);
      const content = sealEnvelope(certsOnly, [outcome.recipient], outcome.contentCipher ?? 'aes-256-cbc');
      return buildPkiMessage({ ...base, content });
    }
    case 'FAILURE':
      return buildPkiMessage({ ...base, failInfo: FailInfo[outcome.failInfo], failInfoText: outcome.failInfoText });
    case 'PENDING':
      return buildPkiMessage(base);
  }
}

// The CertRep FAILURE that answers a ScepError raised after the transaction was known.
export function buildFailure(ra: RegistrationAuthority, err: ScepError): Buffer | undefined {
  if (!err.transaction) return undefined;
  return buildCertRep(ra, err.transaction, { pkiStatus: 'FAILURE', failInfo: err.failInfo });
}
