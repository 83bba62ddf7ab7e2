// wardctl: one file per verb group. Add a group here with one line.
import { configPathFromArgs } from '../config';
import { CliContext, CommandFailed, UsageError, parseVerbArgs, type VerbGroup } from './context';
import { auditCommands } from './audit';
import { configCommands } from './config';
import { caCommands, certCommands } from './pki';
import { backupCommands, restoreCommands } from './backup';
import { androidCommands } from './android';
import { scepCommands } from './scep';
import { appleCommands } from './apple';
import { deviceCommands } from './device';
import { userCommands } from './user';
import { tokenCommands } from './token';
import { policyCommands } from './policy';

export { CliContext, CommandFailed, UsageError } from './context';
export type { Verb, VerbGroup } from './context';

export const verbGroups: VerbGroup[] = [
  configCommands,
  caCommands,
  certCommands,
  backupCommands,
  restoreCommands,
  androidCommands,
  scepCommands,
  appleCommands,
  deviceCommands,
  auditCommands,
  userCommands,
  tokenCommands,
  policyCommands,
];

function usage(): string {
  const lines = ['usage: wardctl [--config FILE] GROUP VERB [ARGS]   (--config may also follow the verb; default $WARD_CONFIG or appliance.config.yaml)', ''];
  for (const g of verbGroups) {
    for (const [name, v] of Object.entries(g.verbs)) lines.push(`  wardctl ${v.usage.padEnd(60)} ${v.summary}`);
    void g;
  }
  return lines.join('\n');
}

/** Runs wardctl with argv (without node and script). Returns the exit status; never throws. */
export async function runCli(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  // --config FILE may stand before or after the verb.
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config') i++;
    else if (!argv[i].startsWith('--config=')) rest.push(argv[i]);
  }
  let [groupName, verbName, ...args] = rest;
  if (!groupName || groupName === 'help' || groupName === '--help' || groupName === '-h') {
    out.write(usage() + '\n');
    return groupName ? 0 : 2;
  }
  const group = verbGroups.find((g) => g.name === groupName);
  // A group's '' verb runs when no verb name follows: `wardctl backup --out F`, `wardctl restore F`.
  if (group?.verbs[''] && !(verbName && group.verbs[verbName])) {
    args = verbName === undefined ? args : [verbName, ...args];
    verbName = '';
  }
  const verb = group && verbName !== undefined ? group.verbs[verbName] : undefined;
  if (!group || !verb) {
    err.write(`wardctl: unknown command "${[groupName, verbName].filter(Boolean).join(' ')}"; run wardctl help\n`);
    return 2;
  }
  const cli = new CliContext(configPathFromArgs(argv), out);
  try {
    await verb.run(cli, parseVerbArgs(verb, args));
    return 0;
  } catch (e) {
    const name = (e as Error).name;
    const message = (e as Error).message;
    if (e instanceof UsageError || name === 'ConfigError') {
      err.write(`wardctl: ${message}\n`);
      return 2;
    }
    if (e instanceof CommandFailed || ['PkiError', 'CsrError', 'KeyStoreError', 'MigrationError'].includes(name)) {
      err.write(`wardctl: ${message}\n`);
      return name === 'CsrError' || (e as { code?: string }).code === 'bad-request' ? 2 : 1;
    }
    err.write(`wardctl: unexpected error: ${message}\n`);
    return 1;
  } finally {
    cli.close();
  }
}
