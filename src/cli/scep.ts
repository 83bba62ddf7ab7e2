// wardctl scep ...: one-time enrollment challenges and manual approval of SCEP requests.
import { createScepService, ScepAdminError, ScepError, type ScepService } from '../scep';
import { CommandFailed, UsageError, type CliContext, type VerbGroup } from './context';

function service(cli: CliContext): ScepService {
  return createScepService(cli.config, cli.db, cli.audit, cli.ca);
}

// Administrative refusals as wardctl reports them: one line, exit 2 for bad input, 1 otherwise.
function administered<T>(run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof ScepAdminError) throw e.code === 'bad-request' ? new UsageError(e.message) : new CommandFailed(e.message);
    if (e instanceof ScepError) throw new CommandFailed(e.detail ? `${e.reason} (${e.detail})` : e.reason);
    throw e;
  }
}

export const scepCommands: VerbGroup = {
  name: 'scep',
  summary: 'SCEP enrollment: challenges and manual approval',
  verbs: {
    challenge: {
      usage: 'scep challenge [--ttl 1h] [--for DEVICE-OR-SUBJECT]',
      summary: 'print a fresh one-time challenge password, alone on stdout (stored hashed, single use)',
      options: { ttl: { type: 'string' }, for: { type: 'string' } },
      run(cli, { values }) {
        const created = administered(() =>
          service(cli).createChallenge({ ttl: values.ttl as string | undefined, boundTo: values.for as string | undefined }, cli.actor),
        );
        cli.print(created.challenge);
      },
    },
    pending: {
      usage: 'scep pending [--json]',
      summary: 'list SCEP requests waiting for approval (scep.approval.mode: manual)',
      options: { json: { type: 'boolean' } },
      run(cli, { values }) {
        const pending = service(cli).pendingRequests();
        if (values.json) return cli.printJson(pending);
        if (pending.length === 0) return cli.print('no pending SCEP requests');
        for (const p of pending) cli.print(`${p.id}  ${p.createdAt}  ${p.subject}  from ${p.source ?? '-'}  (${p.contentCipher}, ${p.digestAlgorithm})`);
      },
    },
    approve: {
      usage: 'scep approve ID',
      summary: 'issue the certificate of a pending SCEP request (the device gets it on its next poll)',
      run(cli, { positionals }) {
        const [id] = positionals;
        if (!id || positionals.length !== 1) throw new UsageError('usage: wardctl scep approve ID');
        const issued = administered(() => service(cli).approve(id, cli.actor));
        cli.print(`approved ${id}: certificate ${issued.serial} for ${issued.subject}`);
      },
    },
    reject: {
      usage: 'scep reject ID [--reason TEXT]',
      summary: 'refuse a pending SCEP request (the device gets a FAILURE on its next poll)',
      options: { reason: { type: 'string' } },
      run(cli, { positionals, values }) {
        const [id] = positionals;
        if (!id || positionals.length !== 1) throw new UsageError('usage: wardctl scep reject ID [--reason TEXT]');
        administered(() => service(cli).reject(id, (values.reason as string | undefined) ?? 'rejected by an administrator', cli.actor));
        cli.print(`rejected ${id}`);
      },
    },
  },
};
