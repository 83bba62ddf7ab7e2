// wardctl ca ... and wardctl cert ...: the CA's public facts, issuance from a CSR, revocation, CRL.
import fs from 'node:fs';
import { REVOCATION_REASONS, type CertificateProfile, type RevocationReason } from '../pki';
import { UsageError, type VerbGroup } from './context';

const PROFILES: CertificateProfile[] = ['device', 'server', 'adminClient', 'auditSigner', 'scepRa', 'profileSigner'];

export const caCommands: VerbGroup = {
  name: 'ca',
  summary: "Ward's certificate authority",
  verbs: {
    show: {
      usage: 'ca show [--json]',
      summary: 'root and issuing CA: subject, SHA-256 fingerprint, validity',
      options: { json: { type: 'boolean' } },
      run(cli, { values }) {
        const ca = cli.ca;
        const facts = {
          root: { subject: ca.root.cert.subject.replace(/\n/g, ', '), sha256: ca.rootFingerprint(), notAfter: ca.root.cert.validToDate.toISOString() },
          issuing: { subject: ca.issuing.cert.subject.replace(/\n/g, ', '), notAfter: ca.issuing.cert.validToDate.toISOString() },
        };
        if (values.json) return cli.printJson(facts);
        cli.print(`root     ${facts.root.subject}\n         sha256 ${facts.root.sha256}\n         until  ${facts.root.notAfter}`);
        cli.print(`issuing  ${facts.issuing.subject}\n         until  ${facts.issuing.notAfter}`);
      },
    },
    chain: {
      usage: 'ca chain',
      summary: 'print the CA chain (PEM), as served at /ca.pem',
      run(cli) {
        cli.print(cli.ca.chainPem());
      },
    },
    crl: {
      usage: 'ca crl --out FILE',
      summary: 'write the current CRL (DER)',
      options: { out: { type: 'string' } },
      run(cli, { values }) {
        if (typeof values.out !== 'string') throw new UsageError('usage: wardctl ca crl --out FILE');
        fs.writeFileSync(values.out, cli.ca.currentCrl('issuing'));
      },
    },
  },
};

export const certCommands: VerbGroup = {
  name: 'cert',
  summary: 'certificates the issuing CA signed',
  verbs: {
    issue: {
      usage: 'cert issue CSR-FILE --profile device|server|adminClient|auditSigner [--days N] [--out FILE]',
      summary: 'issue a certificate from a PKCS#10 request (PEM or DER)',
      options: { profile: { type: 'string' }, days: { type: 'string' }, out: { type: 'string' } },
      run(cli, { positionals, values }) {
        const [file] = positionals;
        const profile = values.profile as CertificateProfile;
        if (!file || !PROFILES.includes(profile)) throw new UsageError(`usage: wardctl ${this.usage}`);
        const days = values.days === undefined ? undefined : Number(values.days);
        if (days !== undefined && !(Number.isInteger(days) && days > 0)) throw new UsageError('--days must be a positive whole number');
        let csr: Buffer;
        try {
          csr = fs.readFileSync(file);
        } catch (e) {
          throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`);
        }
        const issued = cli.ca.issue({ csr, profile, validityDays: days }, cli.actor);
        if (typeof values.out === 'string') {
          fs.writeFileSync(values.out, issued.pem);
          cli.print(issued.serial);
        } else {
          cli.print(issued.pem);
        }
      },
    },
    revoke: {
      usage: `cert revoke SERIAL [--reason ${Object.keys(REVOCATION_REASONS).join('|')}]`,
      summary: 'revoke a certificate and re-issue the CRL',
      options: { reason: { type: 'string' } },
      run(cli, { positionals, values }) {
        const [serial] = positionals;
        const reason = (values.reason ?? 'unspecified') as RevocationReason;
        if (!serial) throw new UsageError(`usage: wardctl ${this.usage}`);
        if (!(reason in REVOCATION_REASONS)) throw new UsageError(`--reason must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}`);
        const rec = cli.ca.revoke(serial, reason, cli.actor);
        cli.print(`revoked ${rec.serial} (${rec.subject}) reason ${reason}`);
      },
    },
    show: {
      usage: 'cert show SERIAL [--pem]',
      summary: 'status and facts of one certificate',
      options: { pem: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const rec = positionals[0] && cli.ca.certificate(positionals[0]);
        if (!rec) throw new UsageError(`no certificate with serial ${positionals[0] ?? '(none given)'}`);
        const status = cli.ca.verifyIssued(rec.der).status;
        if (values.pem) return cli.print(`-----BEGIN CERTIFICATE-----\n${rec.der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----`);
        const { der: _der, ...facts } = rec;
        cli.printJson({ ...facts, status: rec.issuer === 'issuing' ? status : 'ca' });
      },
    },
    list: {
      usage: 'cert list [--profile P] [--limit N]',
      summary: 'newest certificates first',
      options: { profile: { type: 'string' }, limit: { type: 'string' } },
      run(cli, { values }) {
        const limit = Number(values.limit ?? 50);
        for (const r of cli.ca.listCertificates({ profile: values.profile as string | undefined, limit })) {
          cli.print(`${r.serial.padEnd(33)} ${r.profile.padEnd(13)} ${r.revokedAt ? 'revoked' : 'issued '} ${r.notAfter.slice(0, 10)} ${r.subject}`);
        }
      },
    },
  },
};
