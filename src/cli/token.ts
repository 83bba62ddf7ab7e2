// wardctl token ...: API tokens for scripts (Authorization: Bearer). The token is printed once.
import { ROLES, adminServices, isRole } from '../admin';
import { UsageError, type Verb, type VerbGroup } from './context';
import { adminVerb } from './user';

export const tokenCommands: VerbGroup = {
  name: 'token',
  summary: 'admin API tokens for scripts',
  verbs: {
    create: {
      usage: 'token create --name NAME --role admin|operator|auditor|nac [--days N] [--json]',
      summary: 'create an API token; prints it once (only its SHA-256 is kept)',
      options: { name: { type: 'string' }, role: { type: 'string' }, days: { type: 'string' }, json: { type: 'boolean' } },
      run: adminVerb(function (this: Verb, cli, { values }) {
        if (typeof values.name !== 'string') throw new UsageError(`usage: wardctl ${this.usage}`);
        if (!isRole(values.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
        let days: number | undefined;
        if (values.days !== undefined) {
          days = Number(values.days);
          if (!Number.isInteger(days) || days < 1) throw new UsageError('--days must be a positive whole number');
        }
        const created = adminServices(cli.config, cli.db, cli.audit).tokens.create({ name: values.name, role: values.role, days }, cli.actor);
        if (values.json) return cli.printJson(created);
        cli.print(`token ${created.id} (${created.name}, ${created.role}) valid until ${created.expiresAt}`);
        cli.print('shown once; send it as "Authorization: Bearer <token>":');
        cli.print(created.token);
      }),
    },
    revoke: {
      usage: 'token revoke ID',
      summary: 'revoke an API token at once',
      run: adminVerb(function (this: Verb, cli, { positionals }) {
        if (positionals.length !== 1) throw new UsageError(`usage: wardctl ${this.usage}`);
        // Accept the whole token too: its id is the part after "ward_".
        const id = /^ward_([0-9a-f]{16})_/.exec(positionals[0])?.[1] ?? positionals[0];
        const t = adminServices(cli.config, cli.db, cli.audit).tokens.revoke(id, cli.actor);
        cli.print(`revoked ${t.id} (${t.name})`);
      }),
    },
    list: {
      usage: 'token list [--json]',
      summary: 'API tokens (never their secrets)',
      options: { json: { type: 'boolean' } },
      run: adminVerb(function (cli, { values }) {
        const tokens = adminServices(cli.config, cli.db, cli.audit).tokens.list();
        if (values.json) return cli.printJson(tokens);
        for (const t of tokens) {
          cli.print(`${t.id}  ${t.status.padEnd(8)} ${t.role.padEnd(9)} until ${t.expiresAt.slice(0, 10)}  last used ${t.lastUsedAt ?? 'never'}  ${t.name}`);
        }
      }),
    },
  },
};
