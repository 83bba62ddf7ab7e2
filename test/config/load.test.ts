// Bad configuration: exit status 2 and one line naming the key and the problem, never a stack trace.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { configFromObject, loadConfig, ConfigError } from '../../src/config';
import { runDaemonToExit, tempDir, wardctl, writeTestConfig } from '../support/ward';

const cases: { name: string; yaml: string; expect: RegExp }[] = [
  { name: 'wrong type', yaml: 'https:\n  port: "eighty"\n', expect: /https\.port: must be integer/ },
  { name: 'port out of range', yaml: 'http:\n  port: 70000\n', expect: /http\.port: must be <= 65535/ },
  { name: 'unknown key', yaml: 'hostname: a\nfrobnicate: true\n', expect: /frobnicate: unknown key/ },
  { name: 'unknown nested key', yaml: 'pki:\n  rootKey: x\n', expect: /pki\.rootKey: unknown key/ },
  { name: 'bad enum', yaml: 'pki:\n  rootKeyAlgorithm: rsa-1024\n', expect: /pki\.rootKeyAlgorithm: must be one of "rsa-3072", "ecdsa-p256"/ },
  { name: 'bad YAML', yaml: 'hostname: [unclosed\n', expect: /YAML error/ },
  { name: 'duplicate key', yaml: 'hostname: a\nhostname: b\n', expect: /YAML error.*(unique|duplicate|Map keys)/i },
  { name: 'not a mapping', yaml: '- a\n- b\n', expect: /must be (object|a mapping)/ },
  { name: 'bad publicUrl', yaml: 'https:\n  publicUrl: "ftp://x/"\n', expect: /https\.publicUrl: must match pattern/ },
];

for (const c of cases) {
  t.test(`daemon refuses a config with ${c.name}`, async (t) => {
    const dir = tempDir('ward-cfg-');
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, c.yaml);
    const r = runDaemonToExit(['--config', file]);
    t.equal(r.status, 2, 'exit status 2');
    const lines = r.stderr.trim().split('\n');
    t.equal(lines.length, 1, `one line: ${r.stderr}`);
    t.match(lines[0], c.expect);
    t.match(lines[0], file, 'names the file');
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    const cli = wardctl(['config', 'check', '--config', file]);
    t.equal(cli.status, 2, 'wardctl: exit 2 too');
    t.match(cli.stderr, c.expect);
  });
}

t.test('missing file', async (t) => {
  const r = runDaemonToExit(['--config', '/nonexistent/ward.yaml']);
  t.equal(r.status, 2);
  t.match(r.stderr.trim(), /^config \/nonexistent\/ward\.yaml: cannot read file \(no such file\)$/);
  const env = runDaemonToExit([], { WARD_CONFIG: '/nonexistent/env.yaml' });
  t.equal(env.status, 2);
  t.match(env.stderr, /env\.yaml/, 'WARD_CONFIG is honoured');
});

t.test('defaults fill in, relative paths resolve against the config folder', async (t) => {
  const cfg = configFromObject({}, '/etc/ward/appliance.config.yaml');
  t.equal(cfg.dataDir, '/etc/ward/var');
  t.equal(cfg.database.file, '/etc/ward/var/ward.db');
  t.equal(cfg.pki.dir, '/etc/ward/certs');
  t.equal(cfg.pki.passphrase.file, '/etc/ward/certs/ca-passphrase');
  t.equal(cfg.http.port, 8080);
  t.equal(cfg.https.port, 8443);
  t.equal(cfg.http.host, '127.0.0.1');
  t.equal(cfg.https.publicUrl, 'https://localhost:8443');
  t.equal(cfg.limits.bodyBytes, 1048576);
  t.throws(() => configFromObject({ limits: { bodyBytes: 10 } }, '/x.yaml'), ConfigError);
});

t.test('the shipped appliance.config.yaml is valid and --config works after the verb', async (t) => {
  const shipped = path.resolve(__dirname, '../../../appliance.config.yaml');
  const cfg = loadConfig(shipped);
  t.equal(cfg.hostname, 'localhost');
  const { file } = writeTestConfig();
  const after = wardctl(['config', 'check', '--config', file]);
  const before = wardctl(['--config', file, 'config', 'check']);
  t.equal(after.status, 0, after.stderr);
  t.equal(before.status, 0, before.stderr);
  t.equal(after.stdout, before.stdout);
  const schema = JSON.parse(wardctl(['config', 'schema']).stdout);
  t.ok(schema.properties.pki.properties.passphrase.description, 'schema documents keys');
  const unknown = wardctl(['frob', 'nicate']);
  t.equal(unknown.status, 2);
});
