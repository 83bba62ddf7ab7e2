// A SCEP client for tests against a running Ward: pkiMessages built by openssl (envelope) and pkijs
// (signed attributes) as in requests.ts, sent over real HTTP, replies read back with openssl.
import type { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { request, type HttpAnswer } from '../support/ward';
import { parsePkiMessage, parseCertificate, RegistrationAuthority, openEnvelope, type PkiMessage, type ScepCertificate } from '../../src/scep';
import { derToPem, openssl, type Requester } from './throwaway-ca';
import { opensslEnvelope, pkijsSign, type EnvelopeOptions, type SignOptions } from './requests';

export interface Reply {
  message: PkiMessage;
  pkiStatus: number | undefined;
  failInfo: number | undefined;
  failInfoText: string | undefined;
  // SUCCESS: PEM blocks of the certs-only content, as `openssl pkcs7 -print_certs` prints them
  certificates: string[];
  crls: string[];
}

export class ScepTestClient {
  ra!: ScepCertificate;
  raPath!: string;
  caCerts: Buffer[] = [];

  constructor(
    readonly url: string, // http://127.0.0.1:PORT/scep
    readonly dir: string,
  ) {}

  async init(): Promise<this> {
    const answer = await request(`${this.url}?operation=GetCACert`);
    if (answer.status !== 200) throw new Error(`GetCACert: ${answer.status}`);
    const printed = openssl(['pkcs7', '-inform', 'DER', '-print_certs'], answer.body).toString();
    const pems = printed.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    this.caCerts = pems.map((p) => Buffer.from(p.replace(/-----[^-]+-----|\s/g, ''), 'base64'));
    this.ra = parseCertificate(this.caCerts[0]!);
    this.raPath = path.join(this.dir, 'scep-ra.pem');
    fs.writeFileSync(this.raPath, derToPem(this.caCerts[0]!));
    return this;
  }

  message(requester: Requester, content: Buffer, options: EnvelopeOptions & SignOptions = {}): Promise<Buffer> {
    const envelope = opensslEnvelope(this.dir, content, [this.raPath], options);
    return pkijsSign(options.signerCert ?? requester.cert, options.signerKey ?? requester.key, { ...options, content: envelope });
  }

  post(message: Buffer, contentType = 'application/x-pki-message'): Promise<HttpAnswer> {
    return request(`${this.url}?operation=PKIOperation`, { method: 'POST', headers: { 'content-type': contentType }, body: message });
  }

  get(message: Buffer, encode: (b64: string) => string = encodeURIComponent): Promise<HttpAnswer> {
    return request(`${this.url}?operation=PKIOperation&message=${encode(message.toString('base64'))}`);
  }

  // Verifies the CertRep against the RA and opens its envelope with the requester's key.
  reply(answer: HttpAnswer, requester: { cert: Buffer; key: KeyObject }): Reply {
    if (answer.status !== 200 || answer.headers['content-type'] !== 'application/x-pki-message') {
      throw new Error(`not a CertRep: ${answer.status} ${answer.headers['content-type']} ${answer.body.toString().slice(0, 200)}`);
    }
    const message = parsePkiMessage(answer.body, { signerCandidates: [this.ra] });
    let certificates: string[] = [];
    let crls: string[] = [];
    if (message.content) {
      const opened = openEnvelope(message.content, [new RegistrationAuthority(requester.cert, requester.key)]);
      const printed = openssl(['pkcs7', '-inform', 'DER', '-print_certs'], opened.content).toString();
      certificates = printed.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
      crls = printed.match(/-----BEGIN X509 CRL-----[^-]+-----END X509 CRL-----/g) ?? [];
    }
    return { message, pkiStatus: message.pkiStatus, failInfo: message.failInfo, failInfoText: message.failInfoText, certificates, crls };
  }
}
