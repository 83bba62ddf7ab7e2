// The SCEP registration authority: a certificate issued by Ward's issuing CA whose key decrypts
// pkcsPKIEnvelopes and signs CertReps, so the CA key never touches attacker-chosen ciphertexts
// (issue 13, Cryptography; RFC 8894 section 2.1).
import { constants, createPublicKey, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { parseCertificate, type ScepCertificate } from './certificate';

export class RegistrationAuthority {
  readonly certificate: ScepCertificate;
  readonly chain: readonly Buffer[];

  // `chain`: the issuing CA and any CA above it, DER, in that order (served by GetCACert after the RA).
  constructor(certificateDer: Buffer, readonly key: KeyObject, chain: readonly Buffer[] = []) {
    if (key.type !== 'private' || key.asymmetricKeyType !== 'rsa') {
      throw new TypeError('RegistrationAuthority: the RA key must be an RSA private KeyObject');
    }
    this.certificate = parseCertificate(certificateDer, 'RA certificate');
    const fromKey = createPublicKey(key).export({ format: 'der', type: 'spki' });
    if (!fromKey.equals(this.certificate.subjectPublicKeyInfo)) {
      throw new TypeError('RegistrationAuthority: the RA key does not belong to the RA certificate');
    }
    this.chain = [...chain];
    assertImplicitRejection(key, this.certificate.publicKey);
  }
}

// Node refuses RSA_PKCS1_PADDING decryption when its OpenSSL lacks implicit rejection (CVE-2023-46809,
// fixed by OpenSSL 3.2); every enrollment would then fail as badMessageCheck. Fail at start instead.
function assertImplicitRejection(key: KeyObject, publicKey: KeyObject): void {
  const probe = randomBytes(32);
  let roundTrip: Buffer | undefined;
  try {
    roundTrip = privateDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, probe));
  } catch {
    roundTrip = undefined;
  }
  if (!roundTrip?.equals(probe)) {
    throw new Error(`SCEP needs RSA PKCS#1 v1.5 decryption with implicit rejection (OpenSSL 3.2+, the pinned Node 24); this runtime has OpenSSL ${process.versions.openssl}`);
  }
}
