// PKCS#10 certification requests (RFC 2986), as sent by SCEP clients, the Android agent and openssl.
import crypto, { type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { publicKeyFromSpki } from './key-objects';
import {
  type Asn1, type GeneralNames, OID, SIGNATURE_DIGEST, bytesOf, fromDer, nameAttr, nameToString, oidOf, pemDecodeAll, toDer,
} from './der';

const T = forge.asn1.Type;

/** A request that cannot be honoured: malformed, badly signed, unsupported algorithm. */
export class CsrError extends Error {
  override name = 'CsrError';
}

export interface CertificationRequest {
  subject: Asn1;
  subjectText: string;
  commonName?: string;
  spkiDer: Buffer;
  publicKey: KeyObject;
  signatureDigest: string;
  /** PKCS#9 challengePassword attribute (SCEP), if present. Never log it. */
  challengePassword?: string;
  /** subjectAltName requested through the extensionRequest attribute. */
  requestedAltNames: GeneralNames;
  der: Buffer;
}

function attributeString(v: Asn1): string {
  const s = v.value as string;
  return v.type === T.UTF8 ? forge.util.decodeUtf8(s) : v.type === T.BMPSTRING ? Buffer.from(s, 'binary').swap16().toString('utf16le') : s;
}

function altNamesFrom(extensions: Asn1): GeneralNames {
  const out: GeneralNames = {};
  for (const ext of extensions.value as Asn1[]) {
    const parts = ext.value as Asn1[];
    if (oidOf(parts[0]) !== OID.subjectAltName) continue;
    const names = fromDer(bytesOf(parts[parts.length - 1]));
    for (const gn of names.value as Asn1[]) {
      const v = gn.value as string;
      if (gn.type === 1) (out.email ??= []).push(v);
      else if (gn.type === 2) (out.dns ??= []).push(v);
      else if (gn.type === 6) (out.uri ??= []).push(v);
      else if (gn.type === 7) {
        const b = Buffer.from(v, 'binary');
        const ip = b.length === 4 ? [...b].join('.') : b.toString('hex').replace(/(.{4})(?!$)/g, '$1:');
        (out.ip ??= []).push(ip);
      }
    }
  }
  return out;
}

/** Parses and verifies the self-signature of a DER (or PEM) CSR. Throws CsrError on any problem. */
export function parseCertificationRequest(input: Buffer | string): CertificationRequest {
  let der: Buffer;
  if (typeof input === 'string' || input.subarray(0, 11).toString() === '-----BEGIN ') {
    const text = input.toString();
    der = pemDecodeAll(text, 'CERTIFICATE REQUEST')[0] ?? pemDecodeAll(text, 'NEW CERTIFICATE REQUEST')[0];
    if (!der) throw new CsrError('not a PEM certificate request');
  } else {
    der = input;
  }
  let root: Asn1;
  try {
    root = fromDer(der);
  } catch (e) {
    throw new CsrError(`malformed CSR: ${(e as Error).message}`);
  }
  try {
    const [info, sigAlg, sig] = root.value as Asn1[];
    const [, subject, spki, attrs] = info.value as Asn1[];
    const spkiDer = toDer(spki);
    let publicKey: KeyObject;
    try {
      publicKey = publicKeyFromSpki(spkiDer);
    } catch {
      throw new CsrError('CSR public key is not a usable RSA or EC key');
    }
    const algOid = oidOf((sigAlg.value as Asn1[])[0]);
    const digest = SIGNATURE_DIGEST[algOid];
    if (!digest) throw new CsrError(`unsupported CSR signature algorithm ${algOid}`);
    const signature = bytesOf(sig).subarray(1);
    if (!crypto.verify(digest, toDer(info), publicKey, signature)) throw new CsrError('CSR signature does not verify');
    let challengePassword: string | undefined;
    let requestedAltNames: GeneralNames = {};
    if (attrs && attrs.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC) {
      for (const attr of attrs.value as Asn1[]) {
        const [type, values] = attr.value as Asn1[];
        const first = (values.value as Asn1[])[0];
        if (!first) continue;
        const id = oidOf(type);
        if (id === OID.challengePassword) challengePassword = attributeString(first);
        else if (id === OID.extensionRequest) requestedAltNames = altNamesFrom(first);
      }
    }
    return {
      subject,
      subjectText: nameToString(subject),
      commonName: nameAttr(subject, 'CN'),
      spkiDer,
      publicKey,
      signatureDigest: digest,
      challengePassword,
      requestedAltNames,
      der,
    };
  } catch (e) {
    if (e instanceof CsrError) throw e;
    throw new CsrError(`malformed CSR: ${(e as Error).message}`);
  }
}
