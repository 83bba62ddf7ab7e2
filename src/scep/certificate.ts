// The few X.509 fields SCEP needs (RFC 5280 section 4.1): who signed a pkiMessage, who a CertRep is
// enveloped for, and the IssuerAndSerialNumber that names a certificate in CMS.
import type { KeyObject } from 'node:crypto';
import { publicKeyFromSpki } from '../pki';
import * as d from './der';
import { attributeShortName } from './oids';
import { ScepError } from './errors';

export class ScepCertificate {
  private key: KeyObject | undefined;

  constructor(
    readonly der: Buffer,
    readonly serialNumber: Buffer, // INTEGER content octets
    readonly issuer: Buffer, // Name, DER
    readonly subject: Buffer, // Name, DER
    readonly subjectPublicKeyInfo: Buffer, // SPKI, DER
    readonly notBefore: Date,
    readonly notAfter: Date,
    readonly subjectKeyIdentifier: Buffer | undefined, // extension 2.5.29.14, when present
  ) {}

  get serialHex(): string {
    return serialHex(this.serialNumber);
  }

  get issuerName(): string {
    return renderName(this.issuer);
  }

  get subjectName(): string {
    return renderName(this.subject);
  }

  // Created on first use: most certificates in a SignedData are never asked for their key.
  get publicKey(): KeyObject {
    if (!this.key) {
      try {
        this.key = publicKeyFromSpki(this.subjectPublicKeyInfo);
      } catch {
        throw new ScepError('badAlg', 'unsupported public key in certificate');
      }
    }
    return this.key;
  }

  // IssuerAndSerialNumber (RFC 5652 section 10.2.4), as CMS names this certificate.
  get issuerAndSerialNumber(): Buffer {
    return d.der.sequence(this.issuer, d.der.integer(this.serialNumber));
  }

  isNamedBy(issuer: Buffer, serialNumber: Buffer): boolean {
    return this.serialNumber.equals(serialNumber) && this.issuer.equals(issuer);
  }

  // CMS SignerIdentifier / RecipientIdentifier (RFC 5652 sections 5.3, 6.2.1): the
  // IssuerAndSerialNumber SEQUENCE or the [0] subjectKeyIdentifier.
  isIdentifiedBy(identifier: d.Asn1 | undefined): boolean {
    if (d.isContext(identifier, 0)) {
      return this.subjectKeyIdentifier !== undefined && d.octets(identifier, 'subjectKeyIdentifier').equals(this.subjectKeyIdentifier);
    }
    const [issuer, serial] = d.sequence(identifier, 'IssuerAndSerialNumber', 2);
    d.sequence(issuer, 'IssuerAndSerialNumber issuer');
    return this.serialNumber.equals(d.integerBytes(serial, 'IssuerAndSerialNumber serialNumber')) && this.issuer.equals(d.encode(issuer!));
  }
}

export function serialHex(serialNumber: Buffer): string {
  // Drop the sign octet DER adds in front of a high bit, so the hex matches what openssl prints.
  const trimmed = serialNumber.length > 1 && serialNumber[0] === 0 ? serialNumber.subarray(1) : serialNumber;
  return trimmed.toString('hex').toUpperCase();
}

export function parseCertificate(der: Buffer, what = 'certificate'): ScepCertificate {
  return certificateFromAsn1(d.decode(der, what), der, what);
}

// `der` is the certificate's own encoding when the caller has it, else it is re-encoded from `node`.
export function certificateFromAsn1(node: d.Asn1, der: Buffer | undefined, what = 'certificate'): ScepCertificate {
  const [tbs] = d.sequence(node, what, 3);
  const fields = d.sequence(tbs, what, 6);
  // TBSCertificate: version [0] EXPLICIT is optional (v1 certificates omit it).
  let i = d.isContext(fields[0], 0) ? 1 : 0;
  const serialNumber = d.integerBytes(fields[i++], `${what} serialNumber`);
  i++; // signature AlgorithmIdentifier
  const issuerNode = fields[i++];
  d.sequence(issuerNode, `${what} issuer`);
  const validity = d.sequence(fields[i++], `${what} validity`, 2);
  const subjectNode = fields[i++];
  d.sequence(subjectNode, `${what} subject`);
  const spkiNode = fields[i++];
  d.sequence(spkiNode, `${what} subjectPublicKeyInfo`, 2);
  let subjectKeyIdentifier: Buffer | undefined;
  for (; i < fields.length; i++) {
    if (!d.isContext(fields[i], 3)) continue; // [1], [2] are the v2 unique identifiers
    const [extensions] = d.contextItems(fields[i], 3, `${what} extensions`);
    for (const extension of d.sequence(extensions, `${what} extensions`)) {
      const parts = d.sequence(extension, `${what} extension`, 2);
      if (d.oid(parts[0], `${what} extension id`) !== '2.5.29.14') continue;
      const value = d.octetString(parts[parts.length - 1], `${what} subjectKeyIdentifier`);
      subjectKeyIdentifier = d.octetString(d.decode(value, `${what} subjectKeyIdentifier`), `${what} subjectKeyIdentifier`);
    }
  }
  return new ScepCertificate(
    der ?? d.encode(node),
    serialNumber,
    d.encode(issuerNode!),
    d.encode(subjectNode!),
    d.encode(spkiNode!),
    d.time(validity[0], `${what} notBefore`),
    d.time(validity[1], `${what} notAfter`),
    subjectKeyIdentifier,
  );
}

// RFC 4514 string of a Name, for audit events and error reasons (last RDN first).
export function renderName(nameDer: Buffer): string {
  const rdns = d.sequence(d.decode(nameDer, 'name'), 'name');
  const out: string[] = [];
  for (const rdn of rdns) {
    const parts: string[] = [];
    for (const atv of d.set(rdn, 'name RDN', 1)) {
      const [type, value] = d.sequence(atv, 'name attribute', 2);
      const id = d.oid(type, 'name attribute type');
      const short = attributeShortName.get(id);
      let rendered: string;
      try {
        rendered = escapeValue(d.text(value, 'name attribute value'));
      } catch {
        rendered = `#${d.encode(value!).toString('hex')}`;
      }
      parts.push(`${short ?? id}=${rendered}`);
    }
    out.unshift(parts.join('+'));
  }
  return out.join(',');
}

// RFC 4514 section 2.4 escaping.
function escapeValue(value: string): string {
  let escaped = value.replace(/[\\,+"<>;=\u0000]/g, (c) => (c === '\u0000' ? '\\00' : `\\${c}`));
  if (escaped.startsWith(' ') || escaped.startsWith('#')) escaped = `\\${escaped}`;
  if (escaped.endsWith(' ') && escaped.length > 1) escaped = `${escaped.slice(0, -1)}\\ `;
  return escaped;
}
