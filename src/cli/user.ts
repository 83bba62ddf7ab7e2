// wardctl user ...: local accounts of the admin API and console (the first admin is made here).
// Passwords are read from the terminal without echo, or as the first line of standard input.
import fs from 'node:fs';
import QRCode from 'qrcode';
import { AdminError, type Role, ROLES, adminServices, isRole } from '../admin';
import { type CliContext, CommandFailed, UsageError, type Verb, type VerbGroup } from './context';

/** AdminError as wardctl's conventions: a refused input is a usage error (2), the rest fail (1). */
export function adminVerb(run: Verb['run']): Verb['run'] {
  return async function (this: Verb, cli, args) {
    try {
      await run.call(this, cli, args);
    } catch (e) {
      if (e instanceof AdminError) throw e.kind === 'invalid' ? new UsageError(e.reason) : new CommandFailed(e.reason);
      throw e;
    }
  };
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(prompt);
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    let value = '';
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new CommandFailed('interrupted'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    input.on('data', onData);
  });
}

/** A new password: typed twice on a terminal, or the first line of standard input (scripts). */
async function readNewPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden('new password: ');
    const again = await promptHidden('again: ');
    if (first !== again) throw new UsageError('the two passwords differ');
    return first;
  }
  const text = fs.readFileSync(0, 'utf8');
  const line = text.split(/\r?\n/)[0];
  if (!line) throw new UsageError('no password on standard input (give it as the first line, or run on a terminal)');
  return line;
}

async function printTotp(cli: CliContext, uri: string, qr: boolean): Promise<void> {
  cli.print('TOTP secret (shown once; scan it into an authenticator app, then keep no copy):');
  cli.print(uri);
  if (qr) cli.print(await QRCode.toString(uri, { type: 'terminal', small: true }));
}

function roleOption(v: unknown): Role {
  if (!isRole(v)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  return v;
}

const nameArg = (positionals: string[], usage: string): string => {
  if (positionals.length !== 1) throw new UsageError(`usage: wardctl ${usage}`);
  return positionals[0];
};

export const userCommands: VerbGroup = {
  name: 'user',
  summary: 'admin API and console accounts',
  verbs: {
    add: {
      usage: 'user add NAME --role admin|operator|auditor|nac [--qr]',
      summary: 'create an account (password from the terminal or stdin); prints its TOTP secret once',
      options: { role: { type: 'string' }, qr: { type: 'boolean' } },
      run: adminVerb(async function (this: Verb, cli, { positionals, values }) {
        const name = nameArg(positionals, this.usage);
        const role = roleOption(values.role);
        const password = await readNewPassword();
        const created = await adminServices(cli.config, cli.db, cli.audit).accounts.create({ username: name, role, password }, cli.actor);
        cli.print(`created ${created.user.username} (${created.user.role})`);
        await printTotp(cli, created.otpauthUri, values.qr === true);
      }),
    },
    passwd: {
      usage: 'user passwd NAME',
      summary: "set an account's password (its sessions end)",
      run: adminVerb(async function (this: Verb, cli, { positionals }) {
        const name = nameArg(positionals, this.usage);
        const { accounts } = adminServices(cli.config, cli.db, cli.audit);
        accounts.get(name);
        const password = await readNewPassword();
        await accounts.setPassword(name, password, cli.actor);
        cli.print(`password of ${name.toLowerCase()} changed`);
      }),
    },
    totp: {
      usage: 'user totp NAME [--qr]',
      summary: 'give an account a new TOTP secret (lost phone); prints it once',
      options: { qr: { type: 'boolean' } },
      run: adminVerb(async function (this: Verb, cli, { positionals, values }) {
        const name = nameArg(positionals, this.usage);
        const { otpauthUri } = adminServices(cli.config, cli.db, cli.audit).accounts.resetTotp(name, cli.actor);
        await printTotp(cli, otpauthUri, values.qr === true);
      }),
    },
    role: {
      usage: 'user role NAME ROLE',
      summary: "change an account's role (its sessions end)",
      run: adminVerb(function (cli, { positionals }) {
        if (positionals.length !== 2) throw new UsageError('usage: wardctl user role NAME ROLE');
        const view = adminServices(cli.config, cli.db, cli.audit).accounts.setRole(positionals[0], roleOption(positionals[1]), cli.actor);
        cli.print(`${view.username} is now ${view.role}`);
      }),
    },
    unlock: {
      usage: 'user unlock NAME',
      summary: 'end a lockout after failed sign-ins',
      run: adminVerb(function (this: Verb, cli, { positionals }) {
        const view = adminServices(cli.config, cli.db, cli.audit).accounts.unlock(nameArg(positionals, this.usage), cli.actor);
        cli.print(`${view.username} unlocked`);
      }),
    },
    disable: {
      usage: 'user disable NAME',
      summary: 'disable an account (its sessions end; the last admin cannot be disabled)',
      run: adminVerb(function (this: Verb, cli, { positionals }) {
        const view = adminServices(cli.config, cli.db, cli.audit).accounts.setDisabled(nameArg(positionals, this.usage), true, cli.actor);
        cli.print(`${view.username} disabled`);
      }),
    },
    enable: {
      usage: 'user enable NAME',
      summary: 'enable a disabled account',
      run: adminVerb(function (this: Verb, cli, { positionals }) {
        const view = adminServices(cli.config, cli.db, cli.audit).accounts.setDisabled(nameArg(positionals, this.usage), false, cli.actor);
        cli.print(`${view.username} enabled`);
      }),
    },
    list: {
      usage: 'user list [--json]',
      summary: 'accounts, roles, last sign-in, lock state',
      options: { json: { type: 'boolean' } },
      run: adminVerb(function (cli, { values }) {
        const users = adminServices(cli.config, cli.db, cli.audit).accounts.list();
        if (values.json) return cli.printJson(users);
        for (const u of users) {
          const state = u.disabled ? 'disabled' : u.lockedUntil ? `locked until ${u.lockedUntil}` : 'active';
          cli.print(`${u.username.padEnd(24)} ${u.role.padEnd(9)} ${state.padEnd(12)} last sign-in ${u.lastLoginAt ?? 'never'}`);
        }
      }),
    },
  },
};
