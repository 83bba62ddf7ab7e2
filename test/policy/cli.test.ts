// wardctl policy as a real process: create from a template, edit through a file, history with the
// JSON Patch, groups and assignment, the effective policy, and compiled output checked by real
// peers (ajv schema for Android; openssl cms -verify and plistutil for Apple).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openDatabase } from '../../src/db';
import { AuditLog } from '../../src/audit';
import { ComplianceService, PolicyService, SAFEGUARDS, androidPolicyProblems } from '../../src/policy';
import { tool, wardctl, writeTestConfig } from '../support/ward';

const { file, dir } = writeTestConfig();
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const run = (...args: string[]) => wardctl([...args, '--config', file]);

t.test('policy lifecycle through wardctl', async (t) => {
  t.equal(run('policy', 'create', 'phones', '--template', 'hipaa-clinician-corporate-phone').stdout, 'created phones version 1\n');

  // Edit: show --json, change, update --file; history shows the patch.
  const shown = JSON.parse(run('policy', 'show', 'phones', '--json').stdout);
  shown.settings.passcode.minLength = 8;
  const edited = path.join(dir, 'phones.json');
  fs.writeFileSync(edited, JSON.stringify(shown));
  t.equal(run('policy', 'update', 'phones', '--file', edited).stdout, 'phones is now version 2\n');
  const history = JSON.parse(run('policy', 'history', 'phones', '--json').stdout);
  t.same(history[1].changes, [{ op: 'replace', path: '/passcode/minLength', value: 8 }]);
  t.equal(history[1].createdBy.split(':')[0], 'cli');

  // Bad input: one line, exit 2; unknown policy: exit 1.
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'passcode:\n  minLength: 99\n  colour: red\n');
  const refused = run('policy', 'update', 'phones', '--file', bad);
  t.equal(refused.status, 2);
  t.match(refused.stderr, /invalid policy: \/passcode: unknown setting "colour"; \/passcode\/minLength: must be <= 16/);
  t.equal(run('policy', 'assign', 'ghost', '--default').status, 1);
  t.equal(run('policy', 'assign', 'phones', '--ward', '4B', '--role', 'x').status, 2, 'exactly one scope');

  // Groups and assignment: the effective policy of the group.
  const assigned = run('policy', 'assign', 'phones', '--role', 'clinician-phone');
  t.equal(assigned.status, 0, assigned.stderr);
  t.equal(run('policy', 'group', 'icu-phones', '--unit', 'ICU', '--role', 'clinician-phone').stdout, 'group icu-phones: unit ICU, ward -, role clinician-phone\n');
  const eff = JSON.parse(run('policy', 'effective', '--group', 'icu-phones', '--json').stdout);
  t.same(eff.layers.map((l: { scope: string; policy: string; version: number }) => `${l.scope}:${l.policy}@${l.version}`), ['role:phones@2']);
  t.equal(eff.settings.passcode.minLength, 8);

  // Android: a document the agent schema accepts.
  const android = run('policy', 'compile', '--group', 'icu-phones', '--platform', 'android');
  t.equal(android.status, 0, android.stderr);
  const doc = JSON.parse(android.stdout);
  t.same(androidPolicyProblems(doc), []);
  t.equal(doc.policyId, eff.hash);
  t.equal(doc.passwordPolicy.minimumLength, 8);

  // Apple: a profile signed by Ward's profile signer, verified against Ward's root by openssl, read by plistutil.
  const out = path.join(dir, 'phones.mobileconfig');
  const apple = run('policy', 'compile', '--policy', 'phones', '--platform', 'apple', '--out', out);
  t.equal(apple.status, 0, apple.stderr);
  t.match(apple.stderr, /not applied: wifi: Clinical: no device identity/, 'what cannot be compiled without a device is said');
  const chain = path.join(dir, 'chain.pem');
  fs.writeFileSync(chain, run('ca', 'chain').stdout);
  const xml = path.join(dir, 'phones.plist');
  const verified = tool('openssl', ['cms', '-verify', '-inform', 'DER', '-in', out, '-CAfile', chain, '-purpose', 'any', '-out', xml]);
  t.equal(verified.status, 0, verified.stderr);
  t.equal(tool('plistutil', ['-i', xml, '-o', path.join(dir, 'phones.bin'), '-f', 'bin']).status, 0, 'plistutil parses the profile');
  t.match(fs.readFileSync(xml, 'utf8'), /<key>PayloadType<\/key>\s*<string>com\.apple\.mobiledevice\.passwordpolicy<\/string>/);
  t.match(fs.readFileSync(xml, 'utf8'), /<key>minLength<\/key>\s*<integer>8<\/integer>/);

  // A phone of that group reports (the daemon stores facts; here straight into the same database):
  // compliance with every reason and the breach action in force, and the per-device HIPAA report.
  {
    const db = openDatabase(path.join(dir, 'var', 'ward.db'));
    const audit = new AuditLog(db);
    const policies = new PolicyService({ db, audit });
    const compliance = new ComplianceService({ db, audit, policies });
    compliance.report({
      deviceId: 'pixel-7', platform: 'android', group: 'icu-phones', factsVersion: 1, lastSeenAt: new Date().toISOString(), osVersion: '14',
      securityPatchLevel: new Date().toISOString().slice(0, 10), passcodePresent: true, passcodeCompliant: true, encrypted: false, certificateSerials: ['5eed'],
    });
    db.close();
  }
  const verdict = run('policy', 'compliance', 'pixel-7');
  t.equal(verdict.status, 0, verdict.stderr);
  t.match(verdict.stdout, /^pixel-7: grace {2}policy [0-9a-f]{32}\n/);
  t.match(verdict.stdout, /\n {2}ok {3}passcode {7}passcode set and meets the policy\n/);
  t.match(verdict.stdout, /\n {2}warn encryption {5}storage not encrypted \(grace until \d{4}-/);
  const asJson = JSON.parse(run('policy', 'compliance', 'pixel-7', '--json').stdout);
  t.match(asJson, { deviceId: 'pixel-7', status: 'grace', compliant: true, standingActions: [] });
  t.equal(run('policy', 'compliance', 'ghost').status, 1);

  const report = JSON.parse(run('policy', 'report', 'pixel-7', '--json').stdout);
  const safeguard = (id: string) => report.safeguards.find((g: { id: string }) => g.id === id);
  t.equal(report.safeguards.length, SAFEGUARDS.length, 'every safeguard of the catalogue is listed');
  t.match(safeguard('164.312(a)(2)(iv)'), { status: 'in_grace', settings: [{ path: 'encryption.required', value: true }], evidence: [/^failing, in grace until .*: storage not encrypted$/] });
  t.match(safeguard('164.312(d)'), { status: 'met', evidence: ['ok: passcode set and meets the policy', /identity certificate \(serial 5eed\)/] });
  t.match(safeguard('164.312(e)(2)(ii)'), { status: 'configured', settings: [{ path: 'wifi' }, { path: 'vpn' }] });
  const reportText = run('policy', 'report', 'pixel-7').stdout;
  t.match(reportText, /^HIPAA report for pixel-7 \(android\), .*: grace; policy [0-9a-f]{32}\n/);
  t.match(reportText, /\nIN_GRACE +164\.312\(a\)\(2\)\(iv\) .*\n {4}setting {2}encryption\.required = true\n {4}evidence failing, in grace until/);

  const list = run('policy', 'list', '--json');
  t.same(JSON.parse(list.stdout)[0].assignments, [{ scope: 'role', target: 'clinician-phone' }]);

  // Every change above is in the audit log, as the shell user who ran wardctl; refusals are not.
  const db = openDatabase(path.join(dir, 'var', 'ward.db'), { readonly: true });
  const actions = db.sqlite.prepare("SELECT action, actor_type FROM audit_events WHERE action LIKE 'policy.%' AND action NOT LIKE 'policy.compliance.%' ORDER BY seq").all();
  const verdicts = db.sqlite.prepare("SELECT action, actor_type FROM audit_events WHERE action LIKE 'policy.compliance.%' ORDER BY seq").all();
  db.close();
  t.same(actions, [
    { action: 'policy.policy.created', actor_type: 'cli' },
    { action: 'policy.policy.updated', actor_type: 'cli' },
    { action: 'policy.assignment.set', actor_type: 'cli' },
    { action: 'policy.group.set', actor_type: 'cli' },
  ]);
  t.same(verdicts, [{ action: 'policy.compliance.changed', actor_type: 'system' }], 'the first verdict once; reading it again with wardctl changes nothing');
});
