export {
  CertificateAuthority, PkiError, REVOCATION_REASONS, normalizeSerial, serialOf, buildCertificate,
} from './ca';
export type {
  CaIdentity, ServiceIdentity, IssueRequest, IssuedCertificate, RevocationReason, CertificateStatus,
} from './ca';
export { parseCertificationRequest, CsrError } from './csr';
export type { CertificationRequest } from './csr';
export { KeyStoreError } from './keys';
export { publicKeyFromSpki, withKeyOptions } from './key-objects';
export { children, readTlv, certificateFields, oidText } from './der-reader';
export type { Tlv, CertificateFields } from './der-reader';
export type { CertificateProfile, ServiceIdentityName } from './profiles';
export { PkiStore } from './store';
export type { CertificateRecord } from './store';
export * as der from './der';
export { mountPkiRoutes } from './routes';
export { SecretSealer, SealKeyFileError, loadOrCreateSealingKey } from './sealed-secret';
export type { KeyFileEncoding } from './sealed-secret';
