// pkcsPKIEnvelope (RFC 8894 section 3.2.2): a CMS EnvelopedData (RFC 5652 section 6) with RSA key
// transport. Opening it is the one place Ward decrypts attacker-chosen ciphertext, so every failure
// after the RSA step looks the same: badMessageCheck once the content decryption fails.
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import forge from 'node-forge';
import { withKeyOptions } from '../pki';
import * as d from './der';
import { der } from './der';
import { OID, cipherByOid, cipherByName, digestByOid, type CipherSpec, type ContentCipher, type DigestAlgorithm, type KeyTransport } from './oids';
import { ScepError } from './errors';
import type { ScepCertificate } from './certificate';
import type { RegistrationAuthority } from './ra';

export interface OpenedEnvelope {
  content: Buffer;
  contentCipher: ContentCipher;
  keyTransport: KeyTransport;
}

interface KeyTransRecipient {
  rid: d.Asn1;
  transport: KeyTransport;
  oaepHash: DigestAlgorithm | undefined;
  oaepLabel: Buffer | undefined;
  encryptedKey: Buffer;
}

// Decrypts a pkcsPKIEnvelope addressed to one of `authorities` (the current RA, and the next one
// during a rollover).
export function openEnvelope(envelope: Buffer, authorities: readonly RegistrationAuthority[]): OpenedEnvelope {
  const what = 'pkcsPKIEnvelope';
  const [contentType, explicitContent] = d.sequence(d.decode(envelope, what), `${what} ContentInfo`, 2);
  if (d.oid(contentType, `${what} contentType`) !== OID.envelopedData) {
    throw new ScepError('badRequest', 'pkcsPKIEnvelope is not a CMS EnvelopedData');
  }
  const [enveloped] = d.contextItems(explicitContent, 0, `${what} content`);
  // EnvelopedData ::= SEQUENCE { version, originatorInfo [0] IMPLICIT OPTIONAL, recipientInfos,
  //                              encryptedContentInfo, unprotectedAttrs [1] IMPLICIT OPTIONAL }
  const fields = d.sequence(enveloped, 'EnvelopedData', 3);
  const offset = d.isContext(fields[1], 0) ? 2 : 1;
  const recipientInfos = d.set(fields[offset], 'EnvelopedData recipientInfos', 1);
  const [, algorithmNode, encryptedContentNode] = d.sequence(fields[offset + 1], 'EncryptedContentInfo', 2);

  const algorithm = d.algorithm(algorithmNode, 'contentEncryptionAlgorithm');
  const cipher = cipherByOid.get(algorithm.oid);
  if (!cipher) throw new ScepError('badAlg', `content encryption ${algorithm.oid} is not supported`);
  const iv = d.octetString(algorithm.parameters, 'content encryption IV');
  if (iv.length !== cipher.blockSize) throw new ScepError('badRequest', 'content encryption IV has the wrong length');
  if (!d.isContext(encryptedContentNode, 0)) throw new ScepError('badRequest', 'pkcsPKIEnvelope has no encryptedContent');
  const encryptedContent = d.octets(encryptedContentNode, 'encryptedContent');
  if (encryptedContent.length === 0 || encryptedContent.length % cipher.blockSize !== 0) {
    throw new ScepError('badMessageCheck', 'encryptedContent is not whole cipher blocks');
  }

  const keyTrans = recipientInfos.filter((ri) => d.isUniversal(ri, d.Type.SEQUENCE)).map(readKeyTransRecipient);
  let chosen: { recipient: KeyTransRecipient; authority: RegistrationAuthority } | undefined;
  for (const recipient of keyTrans) {
    const authority = authorities.find((a) => a.certificate.isIdentifiedBy(recipient.rid));
    if (authority) {
      chosen = { recipient, authority };
      break;
    }
  }
  // A lone recipient whose identifier we do not recognise byte for byte (a client that re-encoded our
  // issuer name) is still tried: a wrong key only yields a pseudo-random key and badMessageCheck.
  if (!chosen && keyTrans.length === 1 && authorities.length > 0) chosen = { recipient: keyTrans[0]!, authority: authorities[0]! };
  if (!chosen) throw new ScepError('badMessageCheck', 'pkcsPKIEnvelope is not encrypted to the SCEP RA');

  const contentKey = unwrapContentKey(chosen.recipient, chosen.authority, cipher);
  const content = decryptContent(cipher, contentKey, iv, encryptedContent);
  return { content, contentCipher: cipher.name, keyTransport: chosen.recipient.transport };
}

// KeyTransRecipientInfo ::= SEQUENCE { version, rid, keyEncryptionAlgorithm, encryptedKey }
function readKeyTransRecipient(node: d.Asn1): KeyTransRecipient {
  const [, rid, algorithmNode, encryptedKeyNode] = d.sequence(node, 'KeyTransRecipientInfo', 4);
  const algorithm = d.algorithm(algorithmNode, 'keyEncryptionAlgorithm');
  const encryptedKey = d.octetString(encryptedKeyNode, 'encryptedKey');
  if (algorithm.oid === OID.rsaEncryption) {
    return { rid: rid!, transport: 'rsaes-pkcs1-v1_5', oaepHash: undefined, oaepLabel: undefined, encryptedKey };
  }
  if (algorithm.oid === OID.rsaesOaep) {
    const { hash, label } = readOaepParameters(algorithm.parameters);
    return { rid: rid!, transport: `rsaes-oaep-${hash}`, oaepHash: hash, oaepLabel: label, encryptedKey };
  }
  throw new ScepError('badAlg', `key transport ${algorithm.oid} is not supported`);
}

// RSAES-OAEP-params (RFC 8017 appendix A.2.1). node:crypto uses one hash for OAEP and MGF1, so a
// request that mixes them is refused as badAlg.
function readOaepParameters(parameters: d.Asn1 | undefined): { hash: DigestAlgorithm; label: Buffer | undefined } {
  let hash: DigestAlgorithm = 'sha1';
  let mgfHash: DigestAlgorithm = 'sha1';
  let label: Buffer | undefined;
  if (parameters !== undefined && !d.isUniversal(parameters, d.Type.NULL)) {
    for (const field of d.sequence(parameters, 'RSAES-OAEP-params')) {
      const [inner] = field.tagClass === d.Class.CONTEXT_SPECIFIC ? d.contextItems(field, field.type, 'RSAES-OAEP-params') : [];
      if (d.isContext(field, 0)) {
        const found = digestByOid.get(d.algorithm(inner, 'OAEP hashAlgorithm').oid);
        if (!found) throw new ScepError('badAlg', 'OAEP hash is not supported');
        hash = found;
      } else if (d.isContext(field, 1)) {
        const mgf = d.algorithm(inner, 'OAEP maskGenAlgorithm');
        const found = mgf.oid === OID.mgf1 ? digestByOid.get(d.algorithm(mgf.parameters, 'MGF1 hash').oid) : undefined;
        if (!found) throw new ScepError('badAlg', 'OAEP mask generation is not supported');
        mgfHash = found;
      } else if (d.isContext(field, 2)) {
        const source = d.algorithm(inner, 'OAEP pSourceAlgorithm');
        if (source.oid !== OID.pSpecified) throw new ScepError('badAlg', 'OAEP label source is not supported');
        const value = d.octetString(source.parameters, 'OAEP label');
        label = value.length > 0 ? value : undefined;
      }
    }
  }
  if (hash !== mgfHash) throw new ScepError('badAlg', 'OAEP with different hash and MGF1 hash is not supported');
  return { hash, label };
}

// RSA key transport with the RA key in node:crypto. PKCS#1 v1.5 runs with OpenSSL's implicit
// rejection (3.2+), so a bad padding returns a pseudo-random key instead of an error; an OAEP
// failure or a key of the wrong length is made to look the same by substituting a random key, and
// the content decryption below then fails the same way (issue 13, Cryptography).
function unwrapContentKey(recipient: KeyTransRecipient, authority: RegistrationAuthority, cipher: CipherSpec): Buffer {
  let key: Buffer | undefined;
  try {
    key = withKeyOptions(() =>
      recipient.oaepHash === undefined
        ? privateDecrypt({ key: authority.key, padding: constants.RSA_PKCS1_PADDING }, recipient.encryptedKey)
        : privateDecrypt(
            { key: authority.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: recipient.oaepHash, oaepLabel: recipient.oaepLabel },
            recipient.encryptedKey,
          ),
    );
  } catch {
    key = undefined;
  }
  if (!key || key.length !== cipher.keyLength) key = randomBytes(cipher.keyLength);
  return key;
}

function decryptContent(cipher: CipherSpec, key: Buffer, iv: Buffer, ciphertext: Buffer): Buffer {
  try {
    if (cipher.name === 'des-cbc') return desCbc(false, key, iv, ciphertext);
    const decipher = createDecipheriv(cipher.name, createSecretKey(key), iv);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new ScepError('badMessageCheck', 'pkcsPKIEnvelope does not decrypt');
  }
}

// Single DES is absent from OpenSSL 3's default provider; stock clients (scepclient 2.1.0) still send
// it, so this one symmetric step on a small payload uses node-forge's DES instead of loading the
// legacy provider process-wide (issue 13, Cryptography).
function desCbc(encrypt: boolean, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const keyBuffer = forge.util.createBuffer(key.toString('latin1'));
  const c = encrypt ? forge.cipher.createCipher('DES-CBC', keyBuffer) : forge.cipher.createDecipher('DES-CBC', keyBuffer);
  c.start({ iv: forge.util.createBuffer(iv.toString('latin1')) });
  c.update(forge.util.createBuffer(data.toString('latin1')));
  if (!c.finish()) throw new Error('DES-CBC padding');
  return Buffer.from(c.output.getBytes(), 'latin1');
}

// Builds the pkcsPKIEnvelope of a CertRep (or of a request, for tests and the bench): `content`
// encrypted with a fresh key under `cipher`, the key encrypted to `recipient` with RSAES-PKCS1-v1_5
// (the transport every SCEP client reads; encryption with a public key has no oracle).
export function sealEnvelope(content: Buffer, recipients: readonly ScepCertificate[], cipherName: ContentCipher = 'aes-256-cbc'): Buffer {
  const cipher = cipherByName.get(cipherName);
  if (!cipher) throw new ScepError('badAlg', `content encryption ${cipherName} is not supported`);
  if (recipients.length === 0) throw new TypeError('sealEnvelope: no recipient');
  const key = randomBytes(cipher.keyLength);
  const iv = randomBytes(cipher.blockSize);
  let encrypted: Buffer;
  if (cipher.name === 'des-cbc') {
    encrypted = desCbc(true, key, iv, content);
  } else {
    const c = createCipheriv(cipher.name, createSecretKey(key), iv);
    encrypted = Buffer.concat([c.update(content), c.final()]);
  }
  const recipientInfos = recipients.map((recipient) => {
    const publicKey = recipient.publicKey;
    if (publicKey.asymmetricKeyType !== 'rsa') throw new ScepError('badAlg', 'the recipient key is not RSA, so nothing can be enveloped for it');
    const encryptedKey = withKeyOptions(() => publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, key));
    return der.sequence(
      der.smallInteger(0),
      recipient.issuerAndSerialNumber,
      der.algorithm(OID.rsaEncryption, der.null()),
      der.octetString(encryptedKey),
    );
  });
  const envelopedData = der.sequence(
    der.smallInteger(0),
    der.setOf(recipientInfos),
    der.sequence(der.oid(OID.data), der.algorithm(cipher.oid, der.octetString(iv)), der.contextPrimitive(0, encrypted)),
  );
  return der.sequence(der.oid(OID.envelopedData), der.context(0, envelopedData));
}
