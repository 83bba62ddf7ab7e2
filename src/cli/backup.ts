// wardctl backup --out FILE | backup verify FILE | restore FILE: online backups and restores
// (archive format in src/ops/backup.ts, procedure in docs/operations.md).
import path from 'node:path';
import { BackupError, createBackup, restoreBackup, unpackBackup } from '../ops';
import { preMigrationBackupDir } from '../db';
import { CommandFailed, UsageError, type VerbGroup } from './context';

/** BackupError is the operator's problem to fix (exit 1, one line). */
async function asCommand<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BackupError) throw new CommandFailed(e.message);
    throw e;
  }
}

export const backupCommands: VerbGroup = {
  name: 'backup',
  summary: 'consistent online backups',
  verbs: {
    '': {
      usage: 'backup --out FILE|-',
      summary: 'back up database, CA material (still encrypted) and config while Ward runs (- : stdout)',
      options: { out: { type: 'string' } },
      async run(cli, { positionals, values }) {
        if (typeof values.out !== 'string' || positionals.length) throw new UsageError(`usage: wardctl ${this.usage}`);
        const toStdout = values.out === '-';
        const r = await asCommand(() => createBackup(cli.config, { out: toStdout ? process.stdout : path.resolve(values.out as string), ctx: cli.actor }));
        const line = `backup: ${r.bytes} bytes, sha256 ${r.archiveSha256}, schema ${r.manifest.schemaVersion}, ${r.manifest.audit.events} audit events, root CA ${r.manifest.ca.rootSha256}`;
        if (toStdout) process.stderr.write(line + '\n');
        else cli.print(`${line}\nwritten to ${path.resolve(values.out as string)} (the CA passphrase is not in it: keep it separately)`);
      },
    },
    verify: {
      usage: 'backup verify FILE|-',
      summary: 'check an archive (every file, the database, the audit leaves) without restoring it',
      options: { json: { type: 'boolean' } },
      async run(cli, { positionals, values }) {
        const [file] = positionals;
        if (!file) throw new UsageError(`usage: wardctl ${this.usage}`);
        const v = await asCommand(() => unpackBackup(file === '-' ? process.stdin : path.resolve(file), preMigrationBackupDir(cli.config.database.file)));
        v.cleanup();
        const m = v.manifest;
        if (values.json) return cli.printJson({ ok: true, archiveSha256: v.archiveSha256, ...m, files: m.files.length });
        cli.print(`ok: ${describeBackup(m)}`);
      },
    },
  },
};

export const restoreCommands: VerbGroup = {
  name: 'restore',
  summary: 'restore a backup onto this install',
  verbs: {
    '': {
      usage: 'restore FILE|- [--force] [--with-config]',
      summary: 'restore a backup (stop Ward first); --force replaces an existing CA (moved aside)',
      options: { force: { type: 'boolean' }, 'with-config': { type: 'boolean' } },
      async run(cli, { positionals, values }) {
        const [file] = positionals;
        if (!file || positionals.length > 1) throw new UsageError(`usage: wardctl ${this.usage}`);
        const r = await asCommand(() =>
          restoreBackup(cli.config, file === '-' ? process.stdin : path.resolve(file), { force: Boolean(values.force), withConfig: Boolean(values['with-config']), ctx: cli.actor }),
        );
        cli.print(`restored: ${describeBackup(r.manifest)}`);
        if (r.movedAside) cli.print(`the replaced files are in ${r.movedAside}`);
        cli.print('start Ward now (systemctl start ward); pending migrations run then, after a copy of the database');
      },
    },
  },
};

function describeBackup(m: { createdAt: string; hostname: string; schemaVersion: number; audit: { events: number }; ca: { rootSha256: string } }): string {
  return `backup of ${m.hostname} taken ${m.createdAt}, schema ${m.schemaVersion}, ${m.audit.events} audit events, root CA sha256 ${m.ca.rootSha256}`;
}
