// pkiMessage (RFC 8894 section 3.2): a CMS SignedData whose signed attributes carry the SCEP
// transaction and whose content is the pkcsPKIEnvelope. Parsed with der.ts's reader, verified
// with node:crypto.
import { createHash, timingSafeEqual, verify } from 'node:crypto';
import * as d from './der';
import { OID, digestByOid, rsaSignatureDigest, type DigestAlgorithm } from './oids';
import { ScepError, type TransactionContext } from './errors';
import { certificateFromAsn1, type ScepCertificate } from './certificate';

// messageType values, RFC 8894 section 3.2.1.2 (CertPoll is the draft's GetCertInitial; UpdateReq
// is draft-only and refused).
export const MessageType = {
  CertRep: 3,
  RenewalReq: 17,
  UpdateReq: 18,
  PKCSReq: 19,
  GetCertInitial: 20,
  GetCert: 21,
  GetCRL: 22,
} as const;
export type MessageTypeName = keyof typeof MessageType;

const messageTypeNames = new Map<number, MessageTypeName>(
  (Object.entries(MessageType) as [MessageTypeName, number][]).map(([name, value]) => [value, name]),
);
export function messageTypeName(value: number): MessageTypeName | undefined {
  return messageTypeNames.get(value);
}

// pkiStatus values, section 3.2.1.3.
export const PkiStatus = { SUCCESS: 0, FAILURE: 2, PENDING: 3 } as const;
export type PkiStatusName = keyof typeof PkiStatus;

export interface PkiMessage {
  messageType: number;
  transactionID: string;
  senderNonce: Buffer;
  // CertRep only
  recipientNonce: Buffer | undefined;
  pkiStatus: number | undefined;
  failInfo: number | undefined;
  failInfoText: string | undefined;
  digestAlgorithm: DigestAlgorithm;
  signer: ScepCertificate;
  certificates: ScepCertificate[];
  // eContent: the DER of the pkcsPKIEnvelope ContentInfo; absent in a CertRep FAILURE or PENDING.
  content: Buffer | undefined;
}

export interface ParseOptions {
  // Extra certificates that may have signed the message (a client checking a CertRep passes the RA
  // certificate it got from GetCACert).
  signerCandidates?: readonly ScepCertificate[];
}

const MAX_NONCE = 64;
const MAX_TRANSACTION_ID = 256;

// Parses the SignedData, reads the SCEP attributes and verifies messageDigest and the signature. Any
// failure is a ScepError; once transactionID and senderNonce are read it carries them, so the caller
// can answer with a CertRep FAILURE (section 3.3.2).
export function parsePkiMessage(der: Buffer, options: ParseOptions = {}): PkiMessage {
  const what = 'pkiMessage';
  const [contentType, explicitContent] = d.sequence(d.decode(der, what), `${what} ContentInfo`, 2);
  if (d.oid(contentType, `${what} contentType`) !== OID.signedData) {
    throw new ScepError('badRequest', 'pkiMessage is not a CMS SignedData');
  }
  const [signedData] = d.contextItems(explicitContent, 0, `${what} content`);
  const fields = d.sequence(signedData, 'SignedData', 4);

  // SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo, [0] certificates OPTIONAL,
  //                           [1] crls OPTIONAL, signerInfos } (RFC 5652 section 5.1)
  const [eContentTypeNode, eContentNode] = d.sequence(fields[2], 'SignedData encapContentInfo', 1);
  const eContentType = d.oid(eContentTypeNode, 'SignedData eContentType');
  let content: Buffer | undefined;
  if (eContentNode !== undefined) {
    const [octets] = d.contextItems(eContentNode, 0, 'SignedData eContent');
    content = d.octetString(octets, 'SignedData eContent');
  }
  const certificates: ScepCertificate[] = [];
  let signerInfosNode: d.Asn1 | undefined;
  for (let i = 3; i < fields.length; i++) {
    const field = fields[i]!;
    if (d.isContext(field, 0)) {
      for (const choice of d.contextItems(field, 0, 'SignedData certificates')) {
        // CertificateChoices: only plain certificates matter here; attribute certificates are skipped.
        if (d.isUniversal(choice, d.Type.SEQUENCE)) certificates.push(certificateFromAsn1(choice, undefined, 'SignedData certificate'));
      }
    } else if (d.isUniversal(field, d.Type.SET)) {
      signerInfosNode = field;
    }
  }
  const signerInfos = d.set(signerInfosNode, 'SignedData signerInfos');
  if (signerInfos.length !== 1) throw new ScepError('badRequest', `pkiMessage has ${signerInfos.length} signers, SCEP needs exactly one`);

  // SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm,
  //                           signature, [1] unsignedAttrs OPTIONAL } (section 5.3)
  const signerInfo = d.sequence(signerInfos[0], 'SignerInfo', 6);
  const [, sid, digestAlgorithmNode, signedAttrs, signatureAlgorithmNode, signatureNode] = signerInfo;
  if (!d.isContext(signedAttrs, 0)) throw new ScepError('badRequest', 'pkiMessage has no signed attributes');
  const attributes = readAttributes(d.contextItems(signedAttrs, 0, 'signedAttrs'));

  const messageTypeText = attributeText(attributes, OID.messageType, 'messageType');
  const transactionID = attributeText(attributes, OID.transactionID, 'transactionID');
  const senderNonce = attributeOctets(attributes, OID.senderNonce, 'senderNonce');
  if (transactionID === undefined || transactionID.length === 0 || transactionID.length > MAX_TRANSACTION_ID) {
    throw new ScepError('badRequest', 'pkiMessage has no usable transactionID');
  }
  if (senderNonce === undefined || senderNonce.length === 0 || senderNonce.length > MAX_NONCE) {
    throw new ScepError('badRequest', 'pkiMessage has no usable senderNonce');
  }
  const transaction: TransactionContext = { transactionID, senderNonce };

  try {
    if (messageTypeText === undefined || !/^[0-9]{1,3}$/.test(messageTypeText)) {
      throw new ScepError('badRequest', 'pkiMessage has no messageType');
    }
    const messageType = Number(messageTypeText);
    const recipientNonce = attributeOctets(attributes, OID.recipientNonce, 'recipientNonce');
    const pkiStatus = attributeNumber(attributes, OID.pkiStatus, 'pkiStatus');
    const failInfo = attributeNumber(attributes, OID.failInfo, 'failInfo');
    const failInfoText = attributeText(attributes, OID.failInfoText, 'failInfoText');

    const digestOid = d.algorithm(digestAlgorithmNode, 'SignerInfo digestAlgorithm').oid;
    const digestAlgorithm = digestByOid.get(digestOid);
    if (!digestAlgorithm) throw new ScepError('badAlg', `digest algorithm ${digestOid} is not supported`);
    const signatureOid = d.algorithm(signatureAlgorithmNode, 'SignerInfo signatureAlgorithm').oid;
    const signatureDigest = rsaSignatureDigest.get(signatureOid);
    if (signatureDigest === undefined || (signatureDigest !== null && signatureDigest !== digestAlgorithm)) {
      throw new ScepError('badAlg', `signature algorithm ${signatureOid} is not supported`);
    }

    const signer = [...certificates, ...(options.signerCandidates ?? [])].find((c) => c.isIdentifiedBy(sid));
    if (!signer) throw new ScepError('badMessageCheck', 'the signer certificate is not in the pkiMessage');

    // RFC 5652 section 11.1 and 11.2: contentType must name the eContent, messageDigest must hash it
    // (an absent eContent hashes as empty, which is what CertRep FAILURE/PENDING signers use).
    const contentTypeAttr = attributes.get(OID.contentType);
    if (!contentTypeAttr || d.oid(contentTypeAttr, 'contentType attribute') !== eContentType) {
      throw new ScepError('badMessageCheck', 'contentType attribute does not match the content');
    }
    const messageDigest = attributeOctets(attributes, OID.messageDigest, 'messageDigest');
    const computed = createHash(digestAlgorithm).update(content ?? Buffer.alloc(0)).digest();
    if (!messageDigest || messageDigest.length !== computed.length || !timingSafeEqual(messageDigest, computed)) {
      throw new ScepError('badMessageCheck', 'messageDigest does not match the content');
    }

    // The signature covers the DER of the attributes with a SET tag in place of [0] (section 5.4).
    const signedBytes = d.retagged(signedAttrs!, 0x31);
    const signature = d.octetString(signatureNode, 'SignerInfo signature');
    const key = signer.publicKey;
    if (key.asymmetricKeyType !== 'rsa') throw new ScepError('badAlg', 'the signer key is not RSA');
    let valid = false;
    try {
      // An RSA KeyObject verifies RSASSA-PKCS1-v1_5 by default (no options object: see pki/key-objects).
      valid = verify(digestAlgorithm, signedBytes, key, signature);
    } catch {
      valid = false;
    }
    if (!valid) throw new ScepError('badMessageCheck', 'the pkiMessage signature does not verify');

    return {
      messageType,
      transactionID,
      senderNonce,
      recipientNonce,
      pkiStatus,
      failInfo,
      failInfoText,
      digestAlgorithm,
      signer,
      certificates,
      content,
    };
  } catch (err) {
    if (err instanceof ScepError) {
      err.transaction ??= transaction;
      throw err;
    }
    throw new ScepError('badRequest', 'malformed pkiMessage', transaction);
  }
}

// Attribute ::= SEQUENCE { attrType OID, attrValues SET OF AttributeValue }; SCEP attributes are
// single-valued, and a repeated attribute is refused rather than guessed at.
function readAttributes(list: d.Asn1[]): Map<string, d.Asn1> {
  const out = new Map<string, d.Asn1>();
  for (const attribute of list) {
    const [type, values] = d.sequence(attribute, 'signed attribute', 2);
    const id = d.oid(type, 'signed attribute type');
    const [value] = d.set(values, 'signed attribute values', 1);
    if (out.has(id)) throw new ScepError('badRequest', `signed attribute ${id} appears twice`);
    out.set(id, value!);
  }
  return out;
}

function attributeText(attributes: Map<string, d.Asn1>, id: string, what: string): string | undefined {
  const node = attributes.get(id);
  return node === undefined ? undefined : d.text(node, what);
}

function attributeOctets(attributes: Map<string, d.Asn1>, id: string, what: string): Buffer | undefined {
  const node = attributes.get(id);
  return node === undefined ? undefined : d.octetString(node, what);
}

function attributeNumber(attributes: Map<string, d.Asn1>, id: string, what: string): number | undefined {
  const value = attributeText(attributes, id, what);
  if (value === undefined) return undefined;
  if (!/^[0-9]{1,3}$/.test(value)) throw new ScepError('badRequest', `${what} is not a number`);
  return Number(value);
}
