// wardctl policy ...: HIPAA templates, versioned policies, groups and assignment by scope, the
// effective policy of a device, compiled output for each platform, compliance and the HIPAA report.
import fs from 'node:fs';
import YAML from 'yaml';
import { buildPlist, signCms } from '../apple';
import {
  ComplianceService, PolicyError, PolicyService, SCOPES, TEMPLATES, explainSettings, explanationText, hipaaReportText, mobileconfig, template,
  type PolicySettings, type ProfileDict, type Scope,
} from '../policy';
import { CommandFailed, UsageError, type CliContext, type Verb, type VerbGroup } from './context';

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function services(cli: CliContext) {
  const policies = new PolicyService({ db: cli.db, audit: cli.audit });
  return { policies, compliance: new ComplianceService({ db: cli.db, audit: cli.audit, policies }) };
}

/** PolicyError -> exit 2 for bad input, 1 for not found / conflict. */
function verb(v: Verb): Verb {
  return {
    ...v,
    async run(cli, args) {
      try {
        await v.run(cli, args);
      } catch (e) {
        if (e instanceof PolicyError) {
          const detail = e.problems.length > 1 ? `\n  ${e.problems.join('\n  ')}` : '';
          if (e.code === 'bad-request') throw new UsageError(e.message + detail);
          throw new CommandFailed(e.message);
        }
        throw e;
      }
    },
  };
}

function need(v: string | undefined, usage: string): string {
  if (!v) throw new UsageError(`usage: wardctl ${usage}`);
  return v;
}

function readSettingsFile(file: string): { settings: unknown; description?: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  // Either the settings themselves, or { description, settings } (what `policy show --json` prints).
  if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'settings' in doc) {
    const d = doc as { settings: unknown; description?: unknown };
    return { settings: d.settings, description: typeof d.description === 'string' ? d.description : undefined };
  }
  return { settings: doc };
}

const SCOPE_OPTIONS = {
  default: { type: 'boolean' },
  unit: { type: 'string' },
  ward: { type: 'string' },
  role: { type: 'string' },
  device: { type: 'string' },
} as const;

function scopeOf(values: Values, usage: string): { scope: Scope; target: string } {
  const given = SCOPES.filter((s) => values[s] !== undefined && values[s] !== false);
  if (given.length !== 1) throw new UsageError(`give exactly one of --default, --unit, --ward, --role, --device; usage: wardctl ${usage}`);
  const scope = given[0];
  return { scope, target: scope === 'default' ? '' : String(values[scope]) };
}

function versionOf(values: Values): number | undefined {
  if (values.version === undefined) return undefined;
  const n = Number(values.version);
  if (!Number.isInteger(n) || n < 1) throw new UsageError('--version must be a positive whole number');
  return n;
}

function targetOf(values: Values, positional: string | undefined, usage: string): { deviceId?: string; group?: string } {
  const deviceId = (values.device as string | undefined) ?? positional;
  const group = values.group as string | undefined;
  if (!deviceId && !group) throw new UsageError(`usage: wardctl ${usage}`);
  return { deviceId, group };
}

export const policyCommands: VerbGroup = {
  name: 'policy',
  summary: 'device policies, HIPAA baselines, assignment and compliance',
  verbs: {
    templates: verb({
      usage: 'policy templates [--json]',
      summary: 'the shipped HIPAA baselines',
      options: { json: { type: 'boolean' } },
      run(cli, { values }) {
        if (values.json) return cli.printJson(TEMPLATES);
        for (const t of TEMPLATES) cli.print(`${t.name.padEnd(34)} ${(t.settings.mode ?? '').padEnd(21)} ${t.title}`);
      },
    }),
    list: verb({
      usage: 'policy list [--json]',
      summary: 'policies, their current version and where they are assigned',
      options: { json: { type: 'boolean' } },
      run(cli, { values }) {
        const list = services(cli).policies.policies();
        if (values.json) return cli.printJson(list);
        for (const p of list) {
          const where = p.assignments.map((a) => (a.scope === 'default' ? 'default' : `${a.scope}:${a.target}`)).join(', ') || '(unassigned)';
          cli.print(`${p.name.padEnd(34)} v${String(p.version).padEnd(4)} ${(p.mode ?? '-').padEnd(21)} ${where}`);
        }
      },
    }),
    show: verb({
      usage: 'policy show NAME [--version N] [--json]',
      summary: 'one policy version (YAML, or JSON to edit and update)',
      options: { version: { type: 'string' }, json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const name = need(positionals[0], 'policy show NAME [--version N] [--json]');
        const p = services(cli).policies.policy(name, versionOf(values));
        if (!p) throw new CommandFailed(`no policy ${name}${values.version ? ` version ${values.version}` : ''}`);
        if (values.json) return cli.printJson({ name: p.name, version: p.shownVersion, description: p.description, settings: p.settings });
        cli.print(`# ${p.name} version ${p.shownVersion} of ${p.version}${p.template ? ` (from template ${p.template})` : ''}\n# ${p.description}`);
        cli.print(YAML.stringify(p.settings));
      },
    }),
    create: verb({
      usage: 'policy create NAME (--template T | --file FILE) [--description TEXT]',
      summary: 'a new policy from a shipped template or a YAML/JSON file',
      options: { template: { type: 'string' }, file: { type: 'string' }, description: { type: 'string' } },
      run(cli, { positionals, values }) {
        const usage = 'policy create NAME (--template T | --file FILE) [--description TEXT]';
        const name = need(positionals[0], usage);
        if (!values.template === !values.file) throw new UsageError(`give --template or --file; usage: wardctl ${usage}`);
        const { policies } = services(cli);
        const p = values.template
          ? policies.createFromTemplate(name, values.template as string, cli.actor, values.description as string | undefined)
          : (() => {
              const f = readSettingsFile(values.file as string);
              return policies.create(name, { settings: f.settings, description: (values.description as string | undefined) ?? f.description }, cli.actor);
            })();
        cli.print(`created ${p.name} version ${p.version}`);
      },
    }),
    update: verb({
      usage: 'policy update NAME --file FILE [--description TEXT]',
      summary: 'store a new version (the file replaces the settings whole)',
      options: { file: { type: 'string' }, description: { type: 'string' } },
      run(cli, { positionals, values }) {
        const usage = 'policy update NAME --file FILE [--description TEXT]';
        const name = need(positionals[0], usage);
        if (!values.file && values.description === undefined) throw new UsageError(`usage: wardctl ${usage}`);
        const f = values.file ? readSettingsFile(values.file as string) : { settings: undefined, description: undefined };
        const p = services(cli).policies.update(name, { settings: f.settings, description: (values.description as string | undefined) ?? f.description }, cli.actor);
        cli.print(`${p.name} is now version ${p.version}`);
      },
    }),
    history: verb({
      usage: 'policy history NAME [--json]',
      summary: 'every version with its changes (RFC 6902 JSON Patch)',
      options: { json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const name = need(positionals[0], 'policy history NAME [--json]');
        const h = services(cli).policies.history(name);
        if (values.json) return cli.printJson(h);
        for (const v of h) {
          cli.print(`version ${v.version}  ${v.createdAt}  ${v.createdBy}`);
          for (const c of v.changes) cli.print(`  ${c.op.padEnd(7)} ${c.path}${'value' in c ? ` = ${JSON.stringify(c.value)}` : ''}`);
        }
      },
    }),
    explain: verb({
      usage: 'policy explain NAME [--version N] [--json]',
      summary: 'each setting and the 45 CFR 164.3xx safeguards it serves (a policy or a template)',
      options: { version: { type: 'string' }, json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const name = need(positionals[0], 'policy explain NAME [--version N] [--json]');
        let title: string;
        let settings: PolicySettings;
        const p = services(cli).policies.policy(name, versionOf(values));
        if (p) {
          title = `${p.name} version ${p.shownVersion}${p.settings.mode ? ` (${p.settings.mode})` : ''}`;
          settings = p.settings;
        } else {
          const t = template(name);
          if (!t) throw new CommandFailed(`no policy or template ${name}`);
          title = `template ${t.name} (${t.settings.mode}): ${t.title}`;
          settings = t.settings;
        }
        const e = explainSettings(settings);
        if (values.json) return cli.printJson({ title, ...e });
        cli.print(explanationText(title, e));
      },
    }),
    assign: verb({
      usage: 'policy assign NAME (--default | --unit U | --ward W | --role R | --device ID)',
      summary: 'assign a policy to a scope (replaces what that scope had)',
      options: SCOPE_OPTIONS,
      run(cli, { positionals, values }) {
        const usage = 'policy assign NAME (--default | --unit U | --ward W | --role R | --device ID)';
        const name = need(positionals[0], usage);
        const { scope, target } = scopeOf(values, usage);
        services(cli).policies.assign(name, scope, target, cli.actor);
        cli.print(`assigned ${name} to ${scope}${target ? ` ${target}` : ''}; the daemon sends it to the affected devices`);
      },
    }),
    unassign: verb({
      usage: 'policy unassign (--default | --unit U | --ward W | --role R | --device ID)',
      summary: 'remove the policy assigned to a scope',
      options: SCOPE_OPTIONS,
      run(cli, { values }) {
        const { scope, target } = scopeOf(values, 'policy unassign (--default | --unit U | --ward W | --role R | --device ID)');
        services(cli).policies.unassign(scope, target, cli.actor);
        cli.print(`nothing is assigned to ${scope}${target ? ` ${target}` : ''} any more`);
      },
    }),
    assignments: verb({
      usage: 'policy assignments [--json]',
      summary: 'every assignment, least specific scope first',
      options: { json: { type: 'boolean' } },
      run(cli, { values }) {
        const list = services(cli).policies.assignments().sort((a, b) => SCOPES.indexOf(a.scope) - SCOPES.indexOf(b.scope) || a.target.localeCompare(b.target));
        if (values.json) return cli.printJson(list);
        for (const a of list) cli.print(`${a.scope.padEnd(8)} ${(a.target || '-').padEnd(30)} ${a.policyName}`);
      },
    }),
    group: verb({
      usage: 'policy group NAME [--unit U] [--ward W] [--role R] [--remove]',
      summary: 'place an enrollment group (the group of its tokens) in a unit, ward and device role',
      options: { unit: { type: 'string' }, ward: { type: 'string' }, role: { type: 'string' }, remove: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const name = need(positionals[0], 'policy group NAME [--unit U] [--ward W] [--role R] [--remove]');
        const { policies } = services(cli);
        if (values.remove) {
          policies.removeGroup(name, cli.actor);
          return cli.print(`group ${name} removed`);
        }
        const attr = (k: string) => (values[k] === undefined ? undefined : values[k] === '' ? null : (values[k] as string));
        const g = policies.setGroup(name, { unit: attr('unit'), ward: attr('ward'), role: attr('role') }, cli.actor);
        cli.print(`group ${g.name}: unit ${g.unit ?? '-'}, ward ${g.ward ?? '-'}, role ${g.role ?? '-'}`);
      },
    }),
    groups: verb({
      usage: 'policy groups [--json]',
      summary: 'enrollment groups and their unit, ward and role',
      options: { json: { type: 'boolean' } },
      run(cli, { values }) {
        const list = services(cli).policies.groups();
        if (values.json) return cli.printJson(list);
        for (const g of list) cli.print(`${g.name.padEnd(30)} unit ${(g.unit ?? '-').padEnd(16)} ward ${(g.ward ?? '-').padEnd(12)} role ${g.role ?? '-'}`);
      },
    }),
    effective: verb({
      usage: 'policy effective (DEVICE | --device ID | --group G) [--json]',
      summary: 'the effective settings of a device or group, and which policy each came from',
      options: { device: { type: 'string' }, group: { type: 'string' }, json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const e = services(cli).policies.effectiveFor(targetOf(values, positionals[0], 'policy effective (DEVICE | --device ID | --group G) [--json]'));
        if (values.json) return cli.printJson(e);
        cli.print(`effective policy ${e.hash}`);
        cli.print(`layers: ${e.layers.map((l) => `${l.scope}${l.target ? ` ${l.target}` : ''} = ${l.policy} v${l.version}`).join('; ') || '(no policy applies)'}`);
        for (const r of explainSettings(e.settings).settings) {
          const from = (e.sources[r.path] ?? []).map((s) => `${s.policy}@${s.scope}`).join('+');
          cli.print(`  ${r.path.padEnd(36)} ${JSON.stringify(r.value).slice(0, 60).padEnd(60)} ${r.merge.padEnd(10)} ${from}`);
        }
      },
    }),
    compile: verb({
      usage: 'policy compile (DEVICE | --device ID | --group G | --policy NAME) --platform apple|android [--out FILE] [--unsigned]',
      summary: 'Android agent policy (JSON) or Apple profile (signed .mobileconfig)',
      options: {
        device: { type: 'string' }, group: { type: 'string' }, policy: { type: 'string' }, platform: { type: 'string' },
        out: { type: 'string' }, unsigned: { type: 'boolean' },
      },
      run(cli, { positionals, values }) {
        const usage = 'policy compile (DEVICE | --device ID | --group G | --policy NAME) --platform apple|android [--out FILE] [--unsigned]';
        const { policies } = services(cli);
        let compiled;
        if (values.policy) {
          const p = policies.policy(values.policy as string);
          if (!p) throw new CommandFailed(`no policy ${values.policy}`);
          compiled = policies.compiledForLayers([{ scope: 'default', target: '', policy: p.name, version: p.version, settings: p.settings }]);
        } else {
          compiled = policies.compiledFor(targetOf(values, positionals[0], usage));
        }
        const write = (bytes: Buffer | string) => {
          if (typeof values.out === 'string') fs.writeFileSync(values.out, bytes);
          else cli.out.write(bytes);
        };
        if (values.platform === 'android') {
          const a = compiled.android();
          for (const n of a.notApplied) process.stderr.write(`not applied: ${n.setting}: ${n.reason}\n`);
          return write(JSON.stringify(a.document, null, 2) + '\n');
        }
        if (values.platform !== 'apple') throw new UsageError(`--platform apple|android; usage: wardctl ${usage}`);
        const cfg = cli.config;
        const identifier = (cfg.policy as { profileIdentifier?: string } | undefined)?.profileIdentifier;
        const apple = compiled.apple({ organization: cfg.organization, identifier, rootCertificate: cli.ca.root.der });
        for (const n of apple.notApplied) process.stderr.write(`not applied: ${n.setting}: ${n.reason}\n`);
        if (values.unsigned) return write(buildPlist(apple.profile as Parameters<typeof buildPlist>[0]));
        const signer = cli.ca.serviceIdentity('profileSigner');
        write(
          mobileconfig(apple, {
            serialize: (p: ProfileDict) => buildPlist(p as Parameters<typeof buildPlist>[0]),
            sign: (content) => signCms(content, { key: signer.key, certificate: signer.der, chain: signer.chainDer.slice(1) }),
          }),
        );
      },
    }),
    compliance: verb({
      usage: 'policy compliance DEVICE [--json]',
      summary: 'compliant or not, with every reason and the breach actions in force (from the facts the device last reported)',
      options: { json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const id = need(positionals[0], 'policy compliance DEVICE [--json]');
        const { compliance } = services(cli);
        const r = compliance.evaluate(id);
        if (!r) throw new CommandFailed(`no device ${id} has reported facts`);
        const actions = compliance.standingActions(id);
        if (values.json) return cli.printJson({ ...r, standingActions: actions });
        cli.print(`${id}: ${r.status}${r.compliant ? '' : ' (not compliant)'}  policy ${r.policyHash}${r.breachAction ? `  on breach: ${r.breachAction}` : ''}`);
        for (const f of r.findings) cli.print(`  ${f.ok ? 'ok  ' : f.enforced ? 'FAIL' : 'warn'} ${f.rule.padEnd(14)} ${f.text}${!f.ok && !f.enforced ? ` (grace until ${f.graceUntil})` : ''}`);
        for (const a of actions) {
          cli.print(`  ${a.action.toUpperCase().padEnd(10)} since ${a.takenAt}${a.commandId ? `, command ${a.commandId}` : ''}${a.note ? ` (${a.note})` : ''}`);
        }
      },
    }),
    report: verb({
      usage: 'policy report DEVICE [--json]',
      summary: 'per-device HIPAA report: each safeguard with its settings and evidence',
      options: { json: { type: 'boolean' } },
      run(cli, { positionals, values }) {
        const id = need(positionals[0], 'policy report DEVICE [--json]');
        const r = services(cli).compliance.hipaaReport(id);
        if (!r) throw new CommandFailed(`no device ${id} has reported facts`);
        if (values.json) return cli.printJson(r);
        cli.print(hipaaReportText(r));
      },
    }),
  },
};
