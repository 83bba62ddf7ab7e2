// The messageData inside a request's pkcsPKIEnvelope (RFC 8894 section 3.3): a PKCS#10 request for
// PKCSReq and RenewalReq, IssuerAndSubject for CertPoll (GetCertInitial), IssuerAndSerialNumber for
// GetCert and GetCRL.
import { verify, type KeyObject } from 'node:crypto';
import { publicKeyFromSpki } from '../pki';
import * as d from './der';
import { OID, rsaSignatureDigest, ecdsaSignatureDigest, type DigestAlgorithm } from './oids';
import { ScepError } from './errors';
import { renderName, serialHex } from './certificate';

export interface RequestedExtension {
  oid: string;
  critical: boolean;
  value: Buffer; // extnValue content (the extension's own DER)
}

export interface CertificationRequest {
  der: Buffer;
  subject: Buffer; // Name, DER
  subjectName: string;
  subjectPublicKeyInfo: Buffer;
  publicKey: KeyObject;
  signatureDigest: DigestAlgorithm;
  challengePassword: string | undefined;
  extensions: RequestedExtension[];
}

export interface IssuerAndSubject {
  issuer: Buffer;
  issuerName: string;
  subject: Buffer;
  subjectName: string;
}

export interface IssuerAndSerialNumber {
  issuer: Buffer;
  issuerName: string;
  serialNumber: Buffer;
  serialHex: string;
}

// messageData comes straight out of the content decryption. A wrong content key (a bad RSA padding
// under implicit rejection yields one) decrypts to noise that now and then has a valid CBC padding; it
// then fails here, and must look exactly like the padding failure (issue 13, Cryptography).
function decodeMessageData(der: Buffer, what: string): d.Asn1 {
  try {
    return d.decode(der, what);
  } catch {
    throw new ScepError('badMessageCheck', 'pkcsPKIEnvelope does not decrypt');
  }
}

// RFC 2986 section 4: CertificationRequest, with its self-signature verified over the exact bytes of
// certificationRequestInfo (proof of possession, RFC 8894 section 2.3).
// `knownKey`: a key already made from some SPKI (a PKCSReq is signed by a self-signed certificate of
// the CSR's own key), reused when the CSR carries the same SPKI.
export function parseCertificationRequest(der: Buffer, knownKey?: { subjectPublicKeyInfo: Buffer; publicKey: KeyObject }): CertificationRequest {
  const what = 'PKCS#10 request';
  const root = decodeMessageData(der, what);
  const [info, signatureAlgorithm, signature] = d.sequence(root, what, 3);
  const fields = d.sequence(info, what, 4);
  if (d.smallInteger(fields[0], `${what} version`) !== 0) throw new ScepError('badRequest', `${what} version is not v1`);
  const subjectNode = fields[1]!;
  d.sequence(subjectNode, `${what} subject`);
  const spkiNode = fields[2]!;
  d.sequence(spkiNode, `${what} subjectPublicKeyInfo`, 2);
  const subject = d.encode(subjectNode);
  const subjectPublicKeyInfo = d.encode(spkiNode);

  let publicKey: KeyObject;
  try {
    publicKey = knownKey?.subjectPublicKeyInfo.equals(subjectPublicKeyInfo)
      ? knownKey.publicKey
      : publicKeyFromSpki(subjectPublicKeyInfo);
  } catch {
    throw new ScepError('badAlg', `${what} public key is not a supported key type`);
  }

  let challengePassword: string | undefined;
  const extensions: RequestedExtension[] = [];
  for (const attribute of d.contextItems(fields[3], 0, `${what} attributes`)) {
    const [type, values] = d.sequence(attribute, `${what} attribute`, 2);
    const id = d.oid(type, `${what} attribute type`);
    const [value] = d.set(values, `${what} attribute values`, 1);
    if (id === OID.challengePassword) {
      challengePassword = d.text(value, `${what} challengePassword`);
    } else if (id === OID.extensionRequest) {
      for (const extension of d.sequence(value, `${what} extensionRequest`)) {
        const parts = d.sequence(extension, `${what} extension`, 2);
        const critical = parts.length === 3 && d.isTrue(parts[1]);
        extensions.push({
          oid: d.oid(parts[0], `${what} extension id`),
          critical,
          value: d.octetString(parts[parts.length - 1], `${what} extension value`),
        });
      }
    }
  }

  // The self-signature covers the exact bytes of certificationRequestInfo; a request written with
  // indefinite lengths (BER) has no such bytes to check, and is refused as malformed.
  const signed = root.raw && info!.raw;
  if (!signed) throw new ScepError('badRequest', `malformed ${what}`);
  const sigAlg = d.algorithm(signatureAlgorithm, `${what} signatureAlgorithm`);
  const signatureDigest = verifyWithKey(sigAlg.oid, publicKey, signed, d.bitString(signature, `${what} signature`), what);
  return {
    der,
    subject,
    subjectName: renderName(subject),
    subjectPublicKeyInfo,
    publicKey,
    signatureDigest,
    challengePassword,
    extensions,
  };
}

// Checks a signature by algorithm OID (RSA PKCS#1 v1.5 or ECDSA); answers the digest used.
function verifyWithKey(sigOid: string, key: KeyObject, data: Buffer, signature: Buffer, what: string): DigestAlgorithm {
  const rsa = rsaSignatureDigest.get(sigOid);
  const ecdsa = ecdsaSignatureDigest.get(sigOid);
  const digest = rsa ?? ecdsa;
  if (!digest) throw new ScepError('badAlg', `${what} signature algorithm ${sigOid} is not supported`);
  const keyType = key.asymmetricKeyType;
  if ((rsa && keyType !== 'rsa') || (ecdsa && keyType !== 'ec')) {
    throw new ScepError('badAlg', `${what} signature algorithm does not match its key`);
  }
  let ok = false;
  try {
    ok = verify(digest, data, key, signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new ScepError('badMessageCheck', `${what} signature does not verify`);
  return digest;
}

// RFC 8894 section 3.3.3: IssuerAndSubject ::= SEQUENCE { issuer Name, subject Name }
export function parseIssuerAndSubject(der: Buffer): IssuerAndSubject {
  const what = 'IssuerAndSubject';
  const [issuerNode, subjectNode] = d.sequence(decodeMessageData(der, what), what, 2);
  d.sequence(issuerNode, `${what} issuer`);
  d.sequence(subjectNode, `${what} subject`);
  const issuer = d.encode(issuerNode!);
  const subject = d.encode(subjectNode!);
  return { issuer, issuerName: renderName(issuer), subject, subjectName: renderName(subject) };
}

// RFC 5652 section 10.2.4: IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber INTEGER }
export function parseIssuerAndSerialNumber(der: Buffer): IssuerAndSerialNumber {
  const what = 'IssuerAndSerialNumber';
  const [issuerNode, serialNode] = d.sequence(decodeMessageData(der, what), what, 2);
  d.sequence(issuerNode, `${what} issuer`);
  const issuer = d.encode(issuerNode!);
  const serialNumber = d.integerBytes(serialNode, `${what} serialNumber`);
  return { issuer, issuerName: renderName(issuer), serialNumber, serialHex: serialHex(serialNumber) };
}
