// wardctl audit ...: export the signed bundle auditors pull, verify one offline (no config or
// database needed; --record marks the export verified in Ward, which lets retention prune what it
// holds), sign a tree head on demand, show the log's state. docs/audit-bundle.md.
import fs from 'node:fs';
import { AuditExportError, AuditTrail, type BundleReport, auditConfigOf, certificatesFromPem, verifyBundle } from '../audit';
import { CommandFailed, UsageError, type CliContext, type VerbGroup } from './context';

function trailOf(cli: CliContext): AuditTrail {
  const ca = cli.ca;
  const trail = new AuditTrail(cli.db, cli.audit, {
    signer: () => {
      const id = ca.serviceIdentity('auditSigner');
      return { key: id.key, certificate: id.cert, chain: [ca.issuing.cert, ca.root.cert] };
    },
    caChain: () => [ca.root.cert, ca.issuing.cert],
    alarmRetryMs: auditConfigOf(cli.config).alarmRetrySeconds * 1000,
  });
  trail.restore();
  return trail;
}

function isoTime(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`${flag} must be an ISO 8601 time (e.g. 2026-05-01T00:00:00Z), got ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

function readFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function guarded<T>(trail: AuditTrail, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if ((e as Error).name === 'AuditAlarmError') throw new CommandFailed(`audit store check failed: ${(e as Error).message}`);
    if (e instanceof AuditExportError) throw new CommandFailed(e.message);
    throw e;
  } finally {
    trail.stop();
  }
}

function describe(report: BundleReport): string {
  const h = report.treeHead;
  if (!h) return 'no readable tree head';
  return `entries seq ${h.range.start + 1}..${h.range.end} (${report.lines} lines) of a log of ${h.treeSize}, root ${h.rootHash}, signed ${h.timestamp}`;
}

/** verify --record: the copy at hand (say, on the archive medium) is a verified export of this Ward. */
async function recordVerified(cli: CliContext, bytes: Buffer, file: string, quiet: boolean): Promise<void> {
  const trail = trailOf(cli);
  const r = await guarded(trail, () => trail.confirmExport(bytes, cli.actor));
  if (!quiet) cli.print(`recorded: ${file} is export #${r.export.id}, verified ${r.export.verifiedAt}${r.newlyVerified ? '' : ' (already recorded)'}`);
}

export const auditCommands: VerbGroup = {
  name: 'audit',
  summary: 'tamper-evident audit log: bundles for auditors',
  verbs: {
    export: {
      usage: 'audit export --out FILE [--since T] [--until T]',
      summary: 'sign a tree head and write the audit bundle (tar) auditors verify',
      options: { out: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' } },
      async run(cli, { values }) {
        if (typeof values.out !== 'string' || !values.out) throw new UsageError(`usage: wardctl ${this.usage}`);
        const since = isoTime(values.since, '--since');
        const until = isoTime(values.until, '--until');
        if (since && until && since > until) throw new UsageError('--since is after --until');
        const out = values.out;
        const trail = trailOf(cli);
        await guarded(trail, async () => {
          const result = await trail.exportBundle({ since, until }, cli.actor);
          const tmp = `${out}.partial`;
          const fd = fs.openSync(tmp, 'w', 0o600);
          try {
            fs.writeFileSync(fd, result.bundle);
            fs.fsyncSync(fd);
          } finally {
            fs.closeSync(fd);
          }
          fs.renameSync(tmp, out);
          const { start, end } = result.range;
          cli.print(`wrote ${out}: entries seq ${start + 1}..${end} (${end - start}) of ${result.treeHead.treeSize}, root ${result.treeHead.rootHash.toString('hex')}`);
          // The file as it lies on disk, read back and checked: what lets retention prune these events.
          const confirmed = await trail.confirmExport(fs.readFileSync(out), cli.actor);
          cli.print(`verified ${out} (export #${confirmed.export.id}, sha256 ${confirmed.export.sha256})`);
        });
      },
    },
    verify: {
      usage: 'audit verify FILE [--previous OLDER-FILE] [--ca ROOT-PEM] [--json] [--record]',
      summary: 'check a bundle offline: signature, every line, Merkle root, consistency with an older bundle (--record: mark this export verified in Ward)',
      options: { previous: { type: 'string' }, ca: { type: 'string' }, json: { type: 'boolean' }, record: { type: 'boolean' } },
      async run(cli, { positionals, values }) {
        const [file, extra] = positionals;
        if (!file || extra !== undefined) throw new UsageError(`usage: wardctl ${this.usage}`);
        const bytes = readFile(file, 'bundle');
        const previous = typeof values.previous === 'string' ? readFile(values.previous, 'previous bundle') : undefined;
        let trustAnchors;
        if (typeof values.ca === 'string') {
          try {
            trustAnchors = certificatesFromPem(readFile(values.ca, 'CA file').toString('latin1'));
          } catch {
            throw new UsageError(`${values.ca} holds a certificate that does not parse`);
          }
          if (trustAnchors.length === 0) throw new UsageError(`${values.ca} holds no PEM certificate`);
        }
        const report = verifyBundle(bytes, { previous, trustAnchors });
        if (values.json) cli.printJson(report);
        if (report.ok) {
          if (!values.json) {
            cli.print(`OK ${file}: ${describe(report)}`);
            cli.print(`signed by ${report.signer?.subject}; root CA sha256 ${report.rootFingerprint256}${trustAnchors ? ' (trusted via --ca)' : ' (from chain.pem: compare it with the one you know)'}`);
            if (previous) cli.print(`consistent with the tree head of ${values.previous} (RFC 9162)`);
          }
          if (values.record) await recordVerified(cli, bytes, file, Boolean(values.json));
          return;
        }
        if (!values.json) {
          cli.print(`FAILED ${file}: ${describe(report)}`);
          for (const f of report.failures) cli.print(`  ${f.check}: ${f.message}`);
        }
        const first = report.failures[0];
        throw new CommandFailed(`verification failed (${report.failures.length} problem${report.failures.length === 1 ? '' : 's'}; first: ${first.check}: ${first.message})`);
      },
    },
    'tree-head': {
      usage: 'audit tree-head',
      summary: 'check the store and sign a tree head now',
      async run(cli) {
        const trail = trailOf(cli);
        const head = await guarded(trail, () => trail.signTreeHead('demand', cli.actor));
        cli.print(`tree head #${head.id}: size ${head.treeSize}, root ${head.rootHash.toString('hex')}, ${head.timestamp.toISOString()}`);
      },
    },
    status: {
      usage: 'audit status [--check]',
      summary: 'tree size, root and latest signed head (--check re-reads every event against it)',
      options: { check: { type: 'boolean' } },
      async run(cli, { values }) {
        const trail = trailOf(cli);
        if (values.check) await guarded(trail, () => trail.checkStore());
        const health = trail.health();
        trail.stop();
        cli.printJson(health.details);
        if (!health.ok) throw new CommandFailed(`audit alarm: ${trail.alarm?.reason}`);
      },
    },
  },
};
