// Public face of the SCEP wire protocol (RFC 8894). Other folders import only from here.
export { FailInfo, failInfoName, ScepError, type FailInfoName, type TransactionContext } from './errors';
export { OID, type ContentCipher, type DigestAlgorithm, type KeyTransport } from './oids';
export { ScepCertificate, parseCertificate, renderName, serialHex } from './certificate';
export { RegistrationAuthority } from './ra';
export { MessageType, PkiStatus, messageTypeName, parsePkiMessage, type MessageTypeName, type PkiMessage, type PkiStatusName } from './pkimessage';
export { openEnvelope, sealEnvelope, type OpenedEnvelope } from './envelope';
export {
  parseCertificationRequest,
  parseIssuerAndSerialNumber,
  parseIssuerAndSubject,
  type CertificationRequest,
  type IssuerAndSerialNumber,
  type IssuerAndSubject,
  type RequestedExtension,
} from './messagedata';
export { readPkiOperation, weakAlgorithms, type PkiOperation, type PkiOperationType } from './pkioperation';
export { buildCertRep, buildCertsOnly, buildFailure, buildPkiMessage, type CertRepOutcome, type CertRepRequest, type PkiMessageFields } from './certrep';
export { ScepService, ScepAdminError, parseDuration, type ScepCaller, type CreatedChallenge, type PendingRequest } from './service';
export { createScepService, scepConfigOf } from './setup';
export { mountScepRoutes } from './routes';
export type { ScepConfig } from '../config/sections/scep';
