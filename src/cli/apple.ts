// wardctl apple ...: enrollment profiles for manual installs (Apple Configurator), enrollment
// tokens (links for GET /mdm/enroll), in-house apps, and the APNs push certificate.
import fs from 'node:fs';
import { AppleError, AppleMdm, CommandFormatError } from '../apple';
import { createScepService, scepConfigOf } from '../scep';
import { CommandFailed, UsageError, type CliContext, type VerbGroup } from './context';

/** The Apple domain on wardctl's database (the same store the daemon uses). */
export function appleOf(cli: CliContext): AppleMdm {
  const cfg = cli.config;
  const challenges = scepConfigOf(cfg).enabled ? createScepService(cfg, cli.db, cli.audit, cli.ca) : undefined;
  return new AppleMdm({ cfg, db: cli.db, audit: cli.audit, ca: cli.ca, challenges });
}

/** Runs an Apple operation; its refusals become one line and exit 2 (bad input) or 1. */
export async function appleRun<T>(cli: CliContext, fn: (apple: AppleMdm) => Promise<T> | T): Promise<T> {
  const apple = appleOf(cli);
  try {
    return await fn(apple);
  } catch (e) {
    if (e instanceof AppleError) throw e.code === 'bad-request' ? new UsageError(e.message) : new CommandFailed(e.message);
    if (e instanceof CommandFormatError) throw new UsageError(e.message);
    throw e;
  } finally {
    await apple.close();
  }
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
}

export const appleCommands: VerbGroup = {
  name: 'apple',
  summary: 'Apple MDM: enrollment profiles and tokens, APNs push certificate',
  verbs: {
    profile: {
      usage: 'apple profile --out FILE [--group GROUP]',
      summary: 'write a signed enrollment profile (.mobileconfig) with a fresh one-time SCEP challenge',
      options: { out: { type: 'string' }, group: { type: 'string' } },
      async run(cli, { values }) {
        if (typeof values.out !== 'string') throw new UsageError(`usage: wardctl ${this.usage}`);
        const profile = await appleRun(cli, (a) => a.service.profile({ group: values.group as string | undefined, source: 'cli' }, cli.actor));
        fs.writeFileSync(values.out, profile, { mode: 0o600 });
        cli.print(`wrote ${values.out} (${profile.length} bytes); its SCEP challenge is single-use`);
      },
    },
    token: {
      usage: 'apple token create [--group GROUP] [--one-time] [--ttl HOURS] | apple token list [--json] | apple token revoke ID',
      summary: 'enrollment links for GET /mdm/enroll?token=...',
      options: { group: { type: 'string' }, 'one-time': { type: 'boolean' }, ttl: { type: 'string' }, json: { type: 'boolean' } },
      async run(cli, { positionals, values }) {
        const [action, id] = positionals;
        if (action === 'create' && positionals.length === 1) {
          const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
          if (ttl !== undefined && !(ttl > 0)) throw new UsageError('--ttl is a number of hours');
          const t = await appleRun(cli, (a) =>
            a.service.createToken({ group: values.group as string | undefined, oneTime: values['one-time'] === true, ttlHours: ttl }, cli.actor),
          );
          if (values.json) return cli.printJson(t);
          cli.print(t.url);
          return;
        }
        if (action === 'list' && positionals.length === 1) {
          const tokens = await appleRun(cli, (a) => a.service.listTokens());
          if (values.json) return cli.printJson(tokens);
          if (tokens.length === 0) return cli.print('no enrollment tokens');
          for (const t of tokens) {
            const state = t.revokedAt ? 'revoked' : t.expiresAt <= new Date().toISOString() ? 'expired' : t.oneTime && t.uses > 0 ? 'used' : 'active';
            cli.print(`${t.id}  ${state.padEnd(7)}  group=${t.groupName}  ${t.oneTime ? 'one-time' : 'reusable'}  uses=${t.uses}  until ${t.expiresAt}`);
          }
          return;
        }
        if (action === 'revoke' && id && positionals.length === 2) {
          await appleRun(cli, (a) => a.service.revokeToken(id, cli.actor));
          cli.print(`revoked ${id}`);
          return;
        }
        throw new UsageError(`usage: wardctl ${this.usage}`);
      },
    },
    app: {
      usage: 'apple app add IPA --bundle-id ID --version V [--title TEXT] | apple app list [--json]',
      summary: 'in-house apps Ward serves for InstallApplication (device command ID InstallApplication --json \'{"App":"app-..."}\')',
      options: { 'bundle-id': { type: 'string' }, version: { type: 'string' }, title: { type: 'string' }, json: { type: 'boolean' } },
      async run(cli, { positionals, values }) {
        const [action, file] = positionals;
        if (action === 'add' && file && positionals.length === 2 && typeof values['bundle-id'] === 'string' && typeof values.version === 'string') {
          const app = await appleRun(cli, (a) =>
            a.service.addApp({ file, bundleId: values['bundle-id'] as string, version: values.version as string, title: values.title as string | undefined }, cli.actor),
          );
          if (values.json) return cli.printJson(app);
          cli.print(`${app.id}  ${app.bundleId} ${app.version}  sha256 ${app.sha256}\nmanifest ${app.manifestUrl}`);
          return;
        }
        if (action === 'list' && positionals.length === 1) {
          const apps = await appleRun(cli, (a) => a.service.apps());
          if (values.json) return cli.printJson(apps);
          if (apps.length === 0) return cli.print('no apps');
          for (const a of apps) cli.print(`${a.id}  ${a.bundleId} ${a.version}  ${a.title}  ${a.size} bytes`);
          return;
        }
        throw new UsageError(`usage: wardctl ${this.usage}`);
      },
    },
    'push-cert': {
      usage: 'apple push-cert import CERT [KEY] [--passphrase-file FILE] | apple push-cert show [--json]',
      summary: 'import the APNs MDM push certificate (PEM cert + key, or PKCS#12); show its topic and expiry',
      options: { 'passphrase-file': { type: 'string' }, json: { type: 'boolean' } },
      async run(cli, { positionals, values }) {
        const [action, certFile, keyFile] = positionals;
        if (action === 'import' && certFile && positionals.length <= 3) {
          const passFile = values['passphrase-file'];
          const passphrase = typeof passFile === 'string' ? readFile(passFile, 'passphrase file').toString('utf8').replace(/\r?\n$/, '') : undefined;
          const facts = await appleRun(cli, (a) =>
            a.service.importPushCertificate(
              { certificate: readFile(certFile, 'certificate'), key: keyFile ? readFile(keyFile, 'key') : undefined, passphrase },
              cli.actor,
            ),
          );
          if (values.json) return cli.printJson(facts);
          cli.print(`imported push certificate ${facts.serial}\ntopic   ${facts.topic}\nexpires ${facts.notAfter}`);
          return;
        }
        if (action === 'show' && positionals.length === 1) {
          const cert = await appleRun(cli, (a) => a.service.pushCertificate());
          if (!cert) throw new CommandFailed('no push certificate imported (wardctl apple push-cert import CERT KEY)');
          if (values.json) return cli.printJson(cert);
          cli.print(`topic   ${cert.topic}\nserial  ${cert.serial}\nexpires ${cert.notAfter}\nsha256  ${cert.sha256}`);
          return;
        }
        throw new UsageError(`usage: wardctl ${this.usage}`);
      },
    },
  },
};
