// wardctl android ...: the DPC agent APK and clinical apps Ward hosts, enrollment tokens, the
// provisioning QR code, devices, their commands, and unenrollment.
import fs from 'node:fs';
import {
  AndroidRequestError,
  AndroidService,
  ApkFormatError,
  ANDROID_COMMAND_TYPES,
  ProvisioningInputError,
  provisioningJson,
  provisioningQrPng,
  staticPolicySource,
  type EnrollmentMode,
  type TokenOptions,
} from '../android';
import { CommandFailed, UsageError, type CliContext, type VerbGroup } from './context';

function serviceOf(cli: CliContext): AndroidService {
  const policy = (cli.config.android as { defaultPolicy?: Record<string, unknown> } | undefined)?.defaultPolicy ?? {};
  return new AndroidService(cli.config, cli.db, cli.audit, cli.ca, staticPolicySource(policy));
}

/** Service refusals become one line and exit 1 (2 for bad input). */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ApkFormatError) throw new CommandFailed(`APK refused (${e.reason}): ${e.message}`);
    if (e instanceof AndroidRequestError) {
      if (e.code === 'bad-request') throw new UsageError(e.message);
      throw new CommandFailed(e.message);
    }
    if (e instanceof ProvisioningInputError) throw new CommandFailed(`provisioning QR: ${e.message}`);
    throw e;
  }
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new CommandFailed(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function tokenOptions(values: Record<string, unknown>): TokenOptions {
  const num = (name: string): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number >= 1`);
    return n;
  };
  const mode = values.mode as string | undefined;
  if (mode !== undefined && mode !== 'fully_managed' && mode !== 'work_profile') throw new UsageError('--mode must be fully_managed or work_profile');
  if (values['one-time'] && values['max-devices'] !== undefined) throw new UsageError('--one-time and --max-devices exclude each other');
  return {
    mode: mode as EnrollmentMode | undefined,
    policyGroup: values['policy-group'] as string | undefined,
    maxDevices: values['one-time'] ? 1 : (num('max-devices') ?? null),
    expiresInHours: num('expires-hours'),
    label: values.label as string | undefined,
  };
}

const TOKEN_OPTIONS = {
  mode: { type: 'string' },
  'policy-group': { type: 'string' },
  'max-devices': { type: 'string' },
  'one-time': { type: 'boolean' },
  'expires-hours': { type: 'string' },
  label: { type: 'string' },
} as const;

export const androidCommands: VerbGroup = {
  name: 'android',
  summary: 'Android device-owner provisioning and agents',
  verbs: {
    dpc: {
      usage: 'android dpc import APK --receiver .AdminReceiver [--json] | android dpc show [--json]',
      summary: 'import the DPC agent APK served at /android/dpc.apk (checks what Android 12+ needs), or show it',
      options: { receiver: { type: 'string' }, json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const [sub, file] = positionals;
        if (sub === 'show' && !file) {
          const dpc = serviceOf(cli).currentDpc();
          if (!dpc) throw new CommandFailed('no DPC APK imported yet (wardctl android dpc import APK --receiver .AdminReceiver)');
          if (values.json) return cli.printJson(dpc);
          cli.print(`${dpc.packageName} versionCode ${dpc.versionCode} sha256 ${dpc.sha256} component ${dpc.componentName}`);
          for (const w of dpc.warnings) cli.print(`warning: ${w.message} [${w.code}]`);
          return;
        }
        if (sub !== 'import' || !file || typeof values.receiver !== 'string') throw new UsageError(`usage: wardctl ${this.usage}`);
        const { record, warnings } = guarded(() => serviceOf(cli).importApk(readFile(file), { role: 'dpc', receiver: values.receiver as string }, cli.actor));
        if (values.json) return cli.printJson(record);
        cli.print(`imported ${record.packageName} versionCode ${record.versionCode}${record.versionName ? ` (${record.versionName})` : ''}`);
        cli.print(`  component            ${record.componentName}`);
        cli.print(`  signed with          ${record.signatureScheme}, certificate sha256 ${record.signingCertSha256}`);
        cli.print(`  signature checksum   ${record.signatureChecksum}`);
        cli.print(`  package checksum     ${record.packageChecksum}`);
        for (const w of warnings) cli.print(`warning: ${w.message} [${w.code}]`);
      },
    },
    app: {
      usage: 'android app import APK [--json] | android app list [--json]',
      summary: 'host a clinical app for INSTALL_APP commands, or list the hosted apps',
      options: { json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const [sub, file] = positionals;
        if (sub === 'list' && !file) {
          const apps = serviceOf(cli).apps();
          if (values.json) return cli.printJson(apps);
          for (const a of apps) cli.print(`${a.packageName.padEnd(40)} versionCode ${String(a.versionCode).padEnd(10)} sha256 ${a.sha256}`);
          return;
        }
        if (sub !== 'import' || !file) throw new UsageError(`usage: wardctl ${this.usage}`);
        const { record } = guarded(() => serviceOf(cli).importApk(readFile(file), { role: 'app' }, cli.actor));
        if (values.json) return cli.printJson(record);
        cli.print(`hosting ${record.packageName} versionCode ${record.versionCode} sha256 ${record.sha256}`);
      },
    },
    qr: {
      usage: 'android qr (--json | --png FILE) [--token SECRET | token options: --mode --policy-group --max-devices N --one-time --expires-hours H --label L]',
      summary: 'provisioning QR code (a new enrollment token unless --token is given)',
      options: { json: { type: 'boolean' }, png: { type: 'string' }, token: { type: 'string' }, ...TOKEN_OPTIONS },
      async run(cli, { values }) {
        if (!values.json && typeof values.png !== 'string') throw new UsageError(`usage: wardctl ${this.usage}`);
        const service = serviceOf(cli);
        // Checked first, so a failing QR does not leave an unused token behind.
        if (!service.currentDpc()) throw new CommandFailed('no DPC APK has been imported yet (wardctl android dpc import APK --receiver .AdminReceiver)');
        let token = values.token as string | undefined;
        let created: string | undefined;
        if (!token) {
          const opts = tokenOptions(values);
          const r = guarded(() => service.createToken(opts, cli.actor));
          token = r.token;
          created = r.record.id;
        }
        const payload = guarded(() => service.provisioningPayload(token!));
        if (typeof values.png === 'string') {
          fs.writeFileSync(values.png, await provisioningQrPng(payload));
          if (!values.json) cli.print(`wrote ${values.png}${created ? ` (enrollment token ${created})` : ''}`);
        }
        if (values.json) cli.print(provisioningJson(payload));
      },
    },
    token: {
      usage: 'android token create [--mode fully_managed|work_profile] [--policy-group G] [--max-devices N | --one-time] [--expires-hours H] [--label L] [--json] | token list [--json] | token revoke ID',
      summary: 'enrollment tokens: create (the secret is shown once), list (never the secrets), revoke',
      options: { ...TOKEN_OPTIONS, json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const [sub, id] = positionals;
        const service = serviceOf(cli);
        if (sub === 'create' && !id) {
          const { token, record } = guarded(() => service.createToken(tokenOptions(values), cli.actor));
          const { tokenHash: _hash, ...shown } = record;
          if (values.json) return cli.printJson({ token, ...shown });
          cli.print(`token ${token}`);
          cli.print(`id ${record.id} mode ${record.mode} group ${record.policyGroup} devices ${record.maxDevices ?? 'unlimited'} expires ${record.expiresAt}`);
          return;
        }
        if (sub === 'list' && !id) {
          const list = service.tokens().map(({ tokenHash: _hash, ...t }) => t);
          if (values.json) return cli.printJson(list);
          for (const t of list) {
            const state = t.revokedAt ? 'revoked' : Date.parse(t.expiresAt) <= Date.now() ? 'expired' : 'active';
            cli.print(`${t.id}  ${state.padEnd(7)} ${t.mode.padEnd(13)} ${t.policyGroup.padEnd(12)} ${t.devices}/${t.maxDevices ?? '-'}  until ${t.expiresAt}  ${t.label ?? ''}`);
          }
          return;
        }
        if (sub === 'revoke' && id) {
          guarded(() => service.revokeToken(id, cli.actor));
          cli.print(`revoked ${id}`);
          return;
        }
        throw new UsageError(`usage: wardctl ${this.usage}`);
      },
    },
    devices: {
      usage: 'android devices [--json] [--limit N]',
      summary: 'list enrolled Android devices',
      options: { json: { type: 'boolean' }, limit: { type: 'string' } },
      run(cli, { values }) {
        const limit = values.limit === undefined ? 100 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a whole number >= 1');
        const list = serviceOf(cli).devices(limit);
        if (values.json) return cli.printJson(list);
        for (const d of list) {
          const f = d.facts as { model?: string; androidVersion?: string };
          cli.print(`${d.id}  ${d.state.padEnd(10)} ${d.mode.padEnd(13)} ${String(f.model ?? '').padEnd(16)} Android ${f.androidVersion ?? '?'}  seen ${d.lastSeenAt}`);
        }
      },
    },
    command: {
      usage: `android command DEVICE-ID TYPE [--json PARAMETERS]   (TYPE: ${ANDROID_COMMAND_TYPES.join(', ')})`,
      summary: 'queue a command; a daemon holding the device poll wakes it within a second',
      options: { json: { type: 'string' } },
      run(cli, { positionals, values }) {
        const [deviceId, type] = positionals;
        if (!deviceId || !type) throw new UsageError(`usage: wardctl ${this.usage}`);
        let params: unknown = {};
        if (typeof values.json === 'string') {
          try {
            params = JSON.parse(values.json);
          } catch {
            throw new UsageError('--json is not valid JSON');
          }
        }
        const cmd = guarded(() => serviceOf(cli).queueCommand(deviceId, type.toUpperCase(), params, cli.actor));
        cli.print(`queued ${cmd.type} ${cmd.id} for ${deviceId}`);
      },
    },
    commands: {
      usage: 'android commands DEVICE-ID [--json]',
      summary: "a device's commands, newest first",
      options: { json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const [deviceId] = positionals;
        if (!deviceId) throw new UsageError(`usage: wardctl ${this.usage}`);
        const list = serviceOf(cli).commandsOf(deviceId);
        if (values.json) return cli.printJson(list);
        for (const c of list) cli.print(`${c.id}  ${c.type.padEnd(15)} ${c.status.padEnd(13)} queued ${c.queuedAt}${c.completedAt ? ` finished ${c.completedAt}` : ''}`);
      },
    },
    unenroll: {
      usage: 'android unenroll DEVICE-ID --reason TEXT',
      summary: 'unenroll a device (revokes its certificate; the agent is told it was unenrolled)',
      options: { reason: { type: 'string' } },
      run(cli, { positionals, values }) {
        const [deviceId] = positionals;
        if (!deviceId || typeof values.reason !== 'string' || values.reason.trim() === '') throw new UsageError(`usage: wardctl ${this.usage}`);
        guarded(() => serviceOf(cli).unenroll(deviceId, values.reason as string, cli.actor));
        cli.print(`unenrolled ${deviceId}`);
      },
    },
  },
};
