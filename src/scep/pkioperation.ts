// A PKIOperation request read end to end (RFC 8894 section 3): the signed pkiMessage, its
// pkcsPKIEnvelope opened with the RA key, and the messageData inside parsed for its message type.
import { ScepError } from './errors';
import { parsePkiMessage, messageTypeName, type PkiMessage } from './pkimessage';
import { openEnvelope } from './envelope';
import {
  parseCertificationRequest,
  parseIssuerAndSerialNumber,
  parseIssuerAndSubject,
  type CertificationRequest,
  type IssuerAndSerialNumber,
  type IssuerAndSubject,
} from './messagedata';
import type { ContentCipher, DigestAlgorithm, KeyTransport } from './oids';
import type { ScepCertificate } from './certificate';
import { RegistrationAuthority } from './ra';

interface PkiOperationBase {
  transactionID: string;
  senderNonce: Buffer;
  signer: ScepCertificate;
  // what protected the request, recorded in the audit event (issue 13)
  digestAlgorithm: DigestAlgorithm;
  contentCipher: ContentCipher;
  keyTransport: KeyTransport;
  message: PkiMessage;
}

type WithCertificationRequest<T> = PkiOperationBase & { messageType: T; certificationRequest: CertificationRequest };
type WithIssuerAndSerialNumber<T> = PkiOperationBase & { messageType: T; issuerAndSerialNumber: IssuerAndSerialNumber };

// One member per message type, so a switch on messageType narrows to it.
export type PkiOperation =
  | WithCertificationRequest<'PKCSReq'>
  | WithCertificationRequest<'RenewalReq'>
  | (PkiOperationBase & { messageType: 'GetCertInitial'; issuerAndSubject: IssuerAndSubject })
  | WithIssuerAndSerialNumber<'GetCert'>
  | WithIssuerAndSerialNumber<'GetCRL'>;

export type PkiOperationType = PkiOperation['messageType'];

// Throws ScepError only; `err.transaction` is set whenever a CertRep FAILURE can answer it.
export function readPkiOperation(der: Buffer, authorities: RegistrationAuthority | readonly RegistrationAuthority[]): PkiOperation {
  const message = parsePkiMessage(der);
  const transaction = { transactionID: message.transactionID, senderNonce: message.senderNonce };
  try {
    const type = messageTypeName(message.messageType);
    if (type === undefined || type === 'CertRep' || type === 'UpdateReq') {
      throw new ScepError('badRequest', `messageType ${message.messageType} is not a request this server accepts`);
    }
    if (!message.content) throw new ScepError('badRequest', `${type} carries no pkcsPKIEnvelope`);
    const opened = openEnvelope(message.content, authorities instanceof RegistrationAuthority ? [authorities] : authorities);
    const base: PkiOperationBase = {
      transactionID: message.transactionID,
      senderNonce: message.senderNonce,
      signer: message.signer,
      digestAlgorithm: message.digestAlgorithm,
      contentCipher: opened.contentCipher,
      keyTransport: opened.keyTransport,
      message,
    };
    switch (type) {
      case 'PKCSReq':
        return { ...base, messageType: type, certificationRequest: parseCertificationRequest(opened.content, message.signer) };
      case 'RenewalReq':
        return { ...base, messageType: type, certificationRequest: parseCertificationRequest(opened.content, message.signer) };
      case 'GetCertInitial':
        return { ...base, messageType: type, issuerAndSubject: parseIssuerAndSubject(opened.content) };
      case 'GetCert':
        return { ...base, messageType: type, issuerAndSerialNumber: parseIssuerAndSerialNumber(opened.content) };
      case 'GetCRL':
        return { ...base, messageType: type, issuerAndSerialNumber: parseIssuerAndSerialNumber(opened.content) };
    }
  } catch (err) {
    if (err instanceof ScepError) {
      err.transaction ??= transaction;
      throw err;
    }
    throw new ScepError('badRequest', 'malformed pkiMessage', transaction);
  }
}

// Algorithms a strong-only configuration refuses (issue 13): single DES and 3DES content encryption,
// SHA-1 signatures. A request's envelope protects only a one-time challenge and a CSR, so they are
// accepted by default and recorded.
export function weakAlgorithms(operation: Pick<PkiOperation, 'contentCipher' | 'digestAlgorithm'>): string[] {
  const weak: string[] = [];
  if (operation.contentCipher === 'des-cbc' || operation.contentCipher === 'des-ede3-cbc') weak.push(operation.contentCipher);
  if (operation.digestAlgorithm === 'sha1') weak.push('sha1');
  return weak;
}
