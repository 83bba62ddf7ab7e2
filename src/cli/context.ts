// What a wardctl verb gets: the parsed config and lazily opened database, audit log and CA, plus
// the conventions every verb follows (exit 2 + one line for usage/config errors).
import os from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AuditLog, type AuditContext } from '../audit';
import { type WardConfig, loadConfig } from '../config';
import { openDatabase, type WardDb } from '../db';
import { CertificateAuthority } from '../pki';

/** Bad invocation: printed as one line, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The operation ran and failed (verification failed, not found...): one line, exit status 1. */
export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

export interface Verb {
  usage: string;
  summary: string;
  options?: ParseArgsConfig['options'];
  run(cli: CliContext, args: { positionals: string[]; values: Record<string, string | boolean | (string | boolean)[] | undefined> }): Promise<void> | void;
}

export interface VerbGroup {
  name: string;
  summary: string;
  verbs: Record<string, Verb>;
}

export class CliContext {
  private cachedCfg?: WardConfig;
  private cachedDb?: WardDb;
  private cachedAudit?: AuditLog;
  private cachedCa?: CertificateAuthority;

  constructor(
    readonly configPath: string,
    readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  get config(): WardConfig {
    return (this.cachedCfg ??= loadConfig(this.configPath));
  }

  get db(): WardDb {
    return (this.cachedDb ??= openDatabase(this.config.database.file, { busyTimeoutMs: this.config.database.busyTimeoutMs }));
  }

  get audit(): AuditLog {
    return (this.cachedAudit ??= new AuditLog(this.db));
  }

  get ca(): CertificateAuthority {
    return (this.cachedCa ??= CertificateAuthority.open(this.config, this.db, this.audit));
  }

  /** wardctl acts as the shell user who ran it. */
  get actor(): AuditContext {
    return { actor: { type: 'cli', id: os.userInfo().username }, source: 'local', requestId: null };
  }

  print(line: string): void {
    this.out.write(line.endsWith('\n') ? line : line + '\n');
  }

  printJson(value: unknown): void {
    this.print(JSON.stringify(value, null, 2));
  }

  close(): void {
    this.cachedDb?.close();
  }
}

export function parseVerbArgs(verb: Verb, argv: string[]) {
  try {
    const parsed = parseArgs({ args: argv, options: { ...(verb.options ?? {}), config: { type: 'string' } }, allowPositionals: true, strict: true });
    return { positionals: parsed.positionals, values: parsed.values as Record<string, string | boolean | undefined> };
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]}; usage: wardctl ${verb.usage}`);
  }
}
