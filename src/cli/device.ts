// wardctl device ...: enrolled Apple devices, their inventory and security state, and MDM commands.
import { COMMAND_TYPES } from '../apple';
import { appleRun } from './apple';
import { CommandFailed, UsageError, type VerbGroup } from './context';

const yesNo = (v: boolean | null) => (v === null ? '?' : v ? 'yes' : 'no');

export const deviceCommands: VerbGroup = {
  name: 'device',
  summary: 'enrolled Apple devices and MDM commands',
  verbs: {
    list: {
      usage: 'device list [--group GROUP] [--status enrolled|authenticated|checked-out] [--json]',
      summary: 'enrolled devices: model, OS, serial, encryption and passcode state',
      options: { group: { type: 'string' }, status: { type: 'string' }, json: { type: 'boolean' } },
      async run(cli, { values }) {
        const status = values.status as string | undefined;
        if (status !== undefined && !['enrolled', 'authenticated', 'checked-out'].includes(status)) {
          throw new UsageError('--status is enrolled, authenticated or checked-out');
        }
        const devices = await appleRun(cli, (a) =>
          a.service.devices({ group: values.group as string | undefined, status: status as 'enrolled' | undefined }),
        );
        if (values.json) return cli.printJson(devices);
        if (devices.length === 0) return cli.print('no devices');
        for (const d of devices) {
          cli.print(
            `${d.id}  ${d.status.padEnd(13)} ${(d.productName ?? '?').padEnd(12)} ${(d.osVersion ?? '?').padEnd(8)} serial=${d.serialNumber ?? '?'}` +
              `  encrypted=${yesNo(d.encrypted)}  passcode=${yesNo(d.passcodePresent)}  group=${d.group}`,
          );
        }
      },
    },
    show: {
      usage: 'device show ID [--json]',
      summary: 'one device: inventory, security state, user channels, recent commands',
      options: { json: { type: 'boolean' } },
      async run(cli, { positionals, values }) {
        const [id] = positionals;
        if (!id || positionals.length !== 1) throw new UsageError(`usage: wardctl ${this.usage}`);
        const d = await appleRun(cli, (a) => a.service.device(id));
        if (!d) throw new CommandFailed(`no Apple device ${id}`);
        if (values.json) return cli.printJson(d);
        cli.print(`${d.id}  (${d.enrollmentType}, ${d.status}, group ${d.group})`);
        cli.print(`  name      ${d.deviceName ?? '?'}\n  model     ${d.productName ?? '?'} ${d.model ?? ''}\n  os        ${d.osVersion ?? '?'} (${d.buildVersion ?? '?'})`);
        cli.print(`  serial    ${d.serialNumber ?? '?'}\n  encrypted ${yesNo(d.encrypted)}\n  passcode  present=${yesNo(d.passcodePresent)} compliant=${yesNo(d.passcodeCompliant)}`);
        cli.print(`  identity  certificate ${d.certificateSerial}; push ${d.pushable ? 'ok' : 'unavailable'}; last seen ${d.lastSeenAt ?? 'never'}`);
        if (d.userChannels.length) cli.print(`  users     ${d.userChannels.join(', ')}`);
        for (const c of d.commands) cli.print(`  ${c.queuedAt}  ${c.requestType.padEnd(24)} ${c.status.padEnd(20)} ${c.uuid}`);
      },
    },
    command: {
      usage: `device command ID TYPE [--json PARAMS] [--user USER]   (TYPE: ${COMMAND_TYPES.join(', ')})`,
      summary: 'queue an MDM command for a device (or a user channel) and wake it with a push',
      options: { json: { type: 'string' }, user: { type: 'string' } },
      async run(cli, { positionals, values }) {
        const [id, type] = positionals;
        if (!id || !type || positionals.length !== 2) throw new UsageError(`usage: wardctl device command ID TYPE [--json PARAMS] [--user USER]`);
        let params: unknown = {};
        if (typeof values.json === 'string') {
          try {
            params = JSON.parse(values.json);
          } catch (e) {
            throw new UsageError(`--json is not valid JSON: ${(e as Error).message}`);
          }
        }
        const { uuid, push } = await appleRun(cli, async (a) => {
          const queued = await a.service.queueCommand(id, type, params, cli.actor, { user: values.user as string | undefined });
          return { uuid: queued.uuid, push: await queued.push };
        });
        cli.print(`queued ${type} ${uuid}; push: ${push.status}${'reason' in push ? ` (${push.reason})` : ''}`);
      },
    },
  },
};
