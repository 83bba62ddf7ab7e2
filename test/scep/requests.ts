// pkiMessages built by tools independent of src/scep: the pkcsPKIEnvelope by `openssl cms -encrypt`,
// the outer SignedData with its SCEP attributes by pkijs signing through WebCrypto. A request that
// parses here was not shaped by our own encoder.
import { createHash, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type * as Asn1js from 'asn1js' with { 'resolution-mode': 'import' };
import type * as Pkijs from 'pkijs' with { 'resolution-mode': 'import' };
import { openssl } from './throwaway-ca';

export type OpensslCipher = 'des' | 'des3' | 'aes128' | 'aes192' | 'aes256';

export interface EnvelopeOptions {
  cipher?: OpensslCipher;
  oaep?: 'sha1' | 'sha256';
  stream?: boolean; // BER with indefinite lengths, as streaming CMS producers write
}

// EnvelopedData of `content` for the certificates at `recipientPaths` (PEM files).
export function opensslEnvelope(dir: string, content: Buffer, recipientPaths: string[], options: EnvelopeOptions = {}): Buffer {
  const input = path.join(dir, `content-${randomBytes(4).toString('hex')}.der`);
  fs.writeFileSync(input, content);
  const args = ['cms', '-encrypt', '-binary', '-in', input, '-outform', 'DER', `-${options.cipher ?? 'aes256'}`];
  if (options.cipher === 'des') args.push('-provider', 'legacy', '-provider', 'default');
  if (options.stream) args.push('-stream', '-indef');
  for (const recipient of recipientPaths) {
    args.push('-recip', recipient);
    if (options.oaep) args.push('-keyopt', 'rsa_padding_mode:oaep', '-keyopt', `rsa_oaep_md:${options.oaep}`);
  }
  return openssl(args);
}

// pkijs and asn1js are ES modules; this CommonJS build loads them with a dynamic import.
let asn1js: typeof Asn1js;
let pkijs: typeof Pkijs;
export async function loadPkijs(): Promise<void> {
  asn1js ??= await import('asn1js');
  pkijs ??= await import('pkijs');
}

export interface SignOptions {
  digest?: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';
  messageType?: string;
  transactionID?: string | null; // null: leave it out
  senderNonce?: Buffer | null;
  content?: Buffer | null; // null: no eContent
  extraAttributes?: { type: string; value: Asn1js.BaseBlock }[];
  omitCertificate?: boolean;
  // sign as someone else than the requester whose CSR is inside (RenewalReq with a current certificate)
  signerCert?: Buffer;
  signerKey?: KeyObject;
}

const nodeDigest = { 'SHA-1': 'sha1', 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' } as const;

function attr(type: string, value: Asn1js.BaseBlock): Pkijs.Attribute {
  return new pkijs.Attribute({ type, values: [value] });
}

// SignedData over `content` with the SCEP attributes, signed by `key` (RSA) as `certDer`.
export async function pkijsSign(certDer: Buffer, key: KeyObject, options: SignOptions = {}): Promise<Buffer> {
  await loadPkijs();
  const digest = options.digest ?? 'SHA-256';
  const cert = pkijs.Certificate.fromBER(certDer);
  const content = options.content === undefined ? Buffer.alloc(0) : options.content;
  const attributes: Pkijs.Attribute[] = [
    attr('1.2.840.113549.1.9.3', new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })),
    attr('1.2.840.113549.1.9.4', new asn1js.OctetString({ valueHex: createHash(nodeDigest[digest]).update(content ?? Buffer.alloc(0)).digest() })),
    attr('2.16.840.1.113733.1.9.2', new asn1js.PrintableString({ value: options.messageType ?? '19' })),
  ];
  if (options.transactionID !== null) {
    attributes.push(attr('2.16.840.1.113733.1.9.7', new asn1js.PrintableString({ value: options.transactionID ?? randomBytes(8).toString('hex') })));
  }
  if (options.senderNonce !== null) {
    attributes.push(attr('2.16.840.1.113733.1.9.5', new asn1js.OctetString({ valueHex: options.senderNonce ?? randomBytes(16) })));
  }
  for (const extra of options.extraAttributes ?? []) attributes.push(attr(extra.type, extra.value));

  const signedData = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: '1.2.840.113549.1.7.1',
      ...(content ? { eContent: new asn1js.OctetString({ valueHex: content }) } : {}),
    }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes }),
      }),
    ],
    certificates: options.omitCertificate ? [] : [cert],
  });
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'RSASSA-PKCS1-v1_5', hash: digest }, false, ['sign']);
  await signedData.sign(cryptoKey as Parameters<typeof signedData.sign>[0], 0, digest);
  const contentInfo = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: signedData.toSchema(true) });
  return Buffer.from(contentInfo.toSchema().toBER());
}

// IssuerAndSerialNumber / IssuerAndSubject messageData, encoded with asn1js (after loadPkijs()).
export function issuerAndSerialNumber(certDer: Buffer): Buffer {
  const cert = pkijs.Certificate.fromBER(certDer);
  return Buffer.from(new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }).toSchema().toBER());
}

// The subject of `issuerCertDer` as issuer, with a serial number of our choosing.
export function issuerAndSerial(issuerCertDer: Buffer, serial: Buffer): Buffer {
  const issuer = pkijs.Certificate.fromBER(issuerCertDer).subject;
  return Buffer.from(new pkijs.IssuerAndSerialNumber({ issuer, serialNumber: new asn1js.Integer({ valueHex: serial }) }).toSchema().toBER());
}

export function issuerAndSubject(issuerCertDer: Buffer, subjectCertDer: Buffer): Buffer {
  const issuer = pkijs.Certificate.fromBER(issuerCertDer).subject;
  const subject = pkijs.Certificate.fromBER(subjectCertDer).subject;
  return Buffer.from(new asn1js.Sequence({ value: [issuer.toSchema(), subject.toSchema()] }).toBER());
}
