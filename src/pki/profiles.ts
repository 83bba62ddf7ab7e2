// Certificate profiles: what each kind of certificate Ward issues may do (RFC 5280 4.2.1.3, 4.2.1.12).
import { OID, type KeyUsage } from './der';

export type CertificateProfile = 'device' | 'server' | 'adminClient' | 'auditSigner' | 'scepRa' | 'profileSigner';
export type ValidityKey = 'device' | 'server' | 'adminClient' | 'auditSigner' | 'scepRa' | 'profileSigner';

export interface ProfileSpec {
  /** Key usages for an RSA key; EC keys get digitalSignature (+ keyAgreement where RSA gets keyEncipherment). */
  keyUsage: readonly KeyUsage[];
  extKeyUsage: readonly string[];
  validity: ValidityKey;
  /** Whether subjectAltNames requested in a CSR are copied into the certificate. */
  copyRequestedAltNames: boolean;
}

export const PROFILES: Record<CertificateProfile, ProfileSpec> = {
  // Device identity (SCEP, Android agent): TLS client auth and CMS signing of Apple check-ins.
  device: { keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: [OID.clientAuth], validity: 'device', copyRequestedAltNames: true },
  server: { keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: [OID.serverAuth], validity: 'server', copyRequestedAltNames: false },
  adminClient: { keyUsage: ['digitalSignature'], extKeyUsage: [OID.clientAuth], validity: 'adminClient', copyRequestedAltNames: true },
  // Signs audit tree heads only.
  auditSigner: { keyUsage: ['digitalSignature', 'nonRepudiation'], extKeyUsage: [], validity: 'auditSigner', copyRequestedAltNames: false },
  // RFC 8894 section 2.1: the RA decrypts requests and signs CertReps; it never signs certificates.
  scepRa: { keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: [], validity: 'scepRa', copyRequestedAltNames: false },
  // Signs Apple configuration profiles (.mobileconfig).
  profileSigner: { keyUsage: ['digitalSignature'], extKeyUsage: [], validity: 'profileSigner', copyRequestedAltNames: false },
};

export function keyUsageFor(profile: ProfileSpec, keyType: string | undefined): KeyUsage[] {
  if (keyType === 'rsa') return [...profile.keyUsage];
  return profile.keyUsage.map((u) => (u === 'keyEncipherment' ? 'keyAgreement' : u));
}

/** Service identities Ward holds for itself: a key + certificate each, kept in pki.dir. */
export type ServiceIdentityName = 'server' | 'scepRa' | 'auditSigner' | 'profileSigner';

export const SERVICE_IDENTITIES: Record<ServiceIdentityName, { profile: CertificateProfile; commonName: string }> = {
  server: { profile: 'server', commonName: '' },
  scepRa: { profile: 'scepRa', commonName: 'Ward SCEP RA' },
  auditSigner: { profile: 'auditSigner', commonName: 'Ward Audit Signer' },
  profileSigner: { profile: 'profileSigner', commonName: 'Ward Profile Signer' },
};
