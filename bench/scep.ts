// SCEP bench (issue 13): the same scepclient workload (pre-generated RSA-2048 keys, N enrollments,
// C at a time, each in its own folder) against a Ward daemon and against micromdm's scepserver from
// the same Debian package (RSA-2048 CA: `scepserver ca -init -keySize 2048`), both on loopback.
// Prints enrollments per second and server CPU milliseconds per enrollment (the daemon and its
// children, from /proc/<pid>/stat) for each, their ratio, the floor of three RSA-2048 private-key
// operations, and the in-process cost of the hot path (parse, verify, decrypt, sign the certificate,
// build the CertRep).
// Usage: node build/bench/scep.js [--n 200] [--concurrency 4] [--warmup 8000] [--baseline-warmup 400]
// (warm-up enrollments are not measured. A long-running appliance runs code V8 compiled long ago: after 400
// enrollments the daemon still finished 228 compilations during the next 400 (`--trace-opt`), and
// their code, allocated in the old generation, kept V8's concurrent marking busy; after 2,000, 41;
// after 4,000, 9. Session 6, /scep without koa: 46 compilations in the 800 after 3,000 (node's HTTP
// internals among them), V8's compiler thread 0.29 ms an enrollment; 3 in the 800 after 8,000,
// 0.04 ms). scepserver, compiled ahead of time, gets --baseline-warmup (400): its file depot
// costs it more CPU an enrollment as it grows (10.25 ms after 3,200 enrollments, 6.3-6.9 after 600),
// so a smaller depot keeps the comparison on the side of scepserver.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AuditLog } from '../src/audit';
import { openDatabase } from '../src/db';
import { CertificateAuthority, buildCertificate, der as pkiDer } from '../src/pki';
import { buildCertRep, buildCertsOnly, createScepService, parseCertificate, readPkiOperation } from '../src/scep';
import { loadTestConfig, mainJs, request, tempDir, unitNodeOptions, waitFor, writeTestConfig } from '../test/support/ward';
import { makeThrowawayCa } from '../test/scep/throwaway-ca';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '200' }, concurrency: { type: 'string', default: '4' }, warmup: { type: 'string', default: '8000' }, 'baseline-warmup': { type: 'string', default: '400' } },
});
const N = Number(values.n);
const C = Number(values.concurrency);
const WARMUP = Number(values.warmup);
const BASELINE_WARMUP = Math.min(WARMUP, Number(values['baseline-warmup']));
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function emit(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

// utime + stime + cutime + cstime of `pid` and every live descendant, in milliseconds.
function cpuMs(pid: number): number {
  const stat = (p: number): { ppid: number; ticks: number } | undefined => {
    try {
      const text = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // fields[0] is state (field 3); utime..cstime are fields 14..17
      return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) };
    } catch {
      return undefined;
    }
  };
  const all = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s) all.set(Number(entry), s);
  }
  let ticks = 0;
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    const s = all.get(p);
    if (!s) continue;
    ticks += s.ticks;
    for (const [child, cs] of all) if (cs.ppid === p) queue.push(child);
  }
  return (ticks * 1000) / CLK_TCK;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], cwd?: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d) => (output += d));
    p.stderr.on('data', (d) => (output += d));
    p.on('close', (status) => resolve({ status, output }));
  });
}

async function rsaKeys(count: number): Promise<KeyObject[]> {
  const make = () =>
    new Promise<KeyObject>((resolve, reject) =>
      generateKeyPair('rsa', { modulusLength: 2048 }, (err, _pub, key) => (err ? reject(err) : resolve(key))),
    );
  return Promise.all(Array.from({ length: count }, make));
}

interface Workload {
  url: string;
  challenge(i: number): string;
}

// One scepclient run per enrollment, C at a time, each in a fresh folder holding its key.
async function drive(root: string, name: string, keys: KeyObject[], from: number, to: number, w: Workload): Promise<number> {
  let next = from;
  let failed = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= to) return;
      const folder = path.join(root, `${name}-${i}`);
      fs.mkdirSync(folder);
      fs.writeFileSync(path.join(folder, 'key.pem'), keys[i]!.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
      const r = await run('scepclient', ['-server-url', w.url, '-private-key', path.join(folder, 'key.pem'), '-challenge', w.challenge(i), '-cn', `bench-${name}-${i}`], folder);
      if (r.status !== 0 || !fs.existsSync(path.join(folder, 'client.pem'))) {
        failed++;
        if (failed === 1) process.stderr.write(`${name}: enrollment ${i} failed: ${r.output.trim().split('\n').at(-1)}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: C }, worker));
  return failed;
}

interface Server {
  name: string;
  pid: number;
  workload: Workload;
  // Ward must not fail any; scepserver's file depot has no lock around its serial file, so a few of
  // its enrollments fail under concurrency: counted, not fatal.
  mustSucceed: boolean;
  stop(): Promise<void>;
}

interface Tally {
  cpuMs: number;
  wallMs: number;
  failed: number;
}

// Both servers run side by side; the measured enrollments go to them in alternating rounds, so a
// change in the machine's load (other work on these two cores) weighs on both alike. Rates count
// successful enrollments; CPU is divided by the attempts (a refused one costs about the same).
// The RSA floor is timed once a round too, so it sees the same machine load as the servers.
async function compare(root: string, keys: KeyObject[], servers: Server[], floors: number[]): Promise<Map<string, Tally>> {
  const tally = new Map(servers.map((s) => [s.name, { cpuMs: 0, wallMs: 0, failed: 0 } as Tally]));
  for (const s of servers) {
    // Each server's warm-up ends where the measured keys begin.
    const failed = await drive(root, s.name, keys, WARMUP - (s.name === 'ward' ? WARMUP : BASELINE_WARMUP), WARMUP, s.workload);
    if (failed && s.mustSucceed) throw new Error(`${s.name}: ${failed} warm-up enrollments failed`);
  }
  const rounds = 4;
  const slice = Math.ceil(N / rounds);
  for (let r = 0; r < rounds; r++) {
    floors.push(rsaFloorMs(keys[0]!));
    const from = WARMUP + r * slice;
    const to = Math.min(WARMUP + N, from + slice);
    for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
      const t = tally.get(s.name)!;
      const cpuBefore = cpuMs(s.pid);
      const started = process.hrtime.bigint();
      const failed = await drive(root, s.name, keys, from, to, s.workload);
      t.wallMs += Number(process.hrtime.bigint() - started) / 1e6;
      t.cpuMs += cpuMs(s.pid) - cpuBefore;
      t.failed += failed;
      if (failed && s.mustSucceed) throw new Error(`${s.name}: ${failed} enrollments failed`);
    }
  }
  return tally;
}

// `node [the unit's node options] build/src/main.js --config FILE` with its log going to a file, as
// journald would take it: a pipe the bench's busy event loop drains late would make the daemon wait
// on its own log writes.
async function startDaemon(file: string): Promise<{ pid: number; httpPort: number; stop(): Promise<void> }> {
  const logFile = path.join(path.dirname(file), 'ward.log');
  const fd = fs.openSync(logFile, 'w');
  // WARD_BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the daemon under the bench load.
  const nodeArgs = (process.env.WARD_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proc = spawn(process.execPath, [...unitNodeOptions(), ...nodeArgs, mainJs, '--config', file], { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`ward exited before ready:\n${fs.readFileSync(logFile, 'utf8')}`);
    const line = fs.readFileSync(logFile, 'utf8').split('\n').find((l) => l.includes('"msg":"ready"'));
    return line ? (JSON.parse(line) as { httpPort: number }) : undefined;
  }, 60_000, 'ward to be ready');
  return {
    pid: proc.pid!,
    httpPort: ready!.httpPort,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

async function ward(root: string, keys: KeyObject[]): Promise<Server> {
  // RSA root and RSA-2048 issuing CA: scepclient encrypts to every GetCACert certificate (no EC), and
  // the issuing key matches scepserver's 2048-bit CA.
  const { file, doc } = writeTestConfig(
    { pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'rsa-3072', issuingKeyAlgorithm: 'rsa-2048' } },
    fs.mkdtempSync(path.join(root, 'ward-')),
  );
  const daemon = await startDaemon(file);
  // One-time challenges made beforehand in this process (not counted as daemon CPU).
  const cfg = loadTestConfig(file, doc);
  const db = openDatabase(cfg.database.file, { busyTimeoutMs: 10_000 });
  const audit = new AuditLog(db);
  const service = createScepService(cfg, db, audit, CertificateAuthority.open(cfg, db, audit));
  const ctx = { actor: { type: 'cli' as const, id: 'bench' }, source: 'local', requestId: null };
  const challenges = keys.map(() => service.createChallenge({ ttl: '1h' }, ctx).challenge);
  db.close();
  return {
    name: 'ward',
    pid: daemon.pid,
    workload: { url: `http://127.0.0.1:${daemon.httpPort}/scep`, challenge: (i) => challenges[i]! },
    mustSucceed: true,
    stop: () => daemon.stop(),
  };
}

async function scepserver(root: string): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(root, 'scepserver-'));
  const init = spawnSync('scepserver', ['ca', '-init', '-keySize', '2048', '-depot', path.join(dir, 'depot')], { cwd: dir, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`scepserver ca -init: ${init.stderr}`);
  const port = await freePort();
  // scepserver binds every interface on -port; the workload reaches it over loopback. Its log goes to
  // a file like Ward's.
  const log = fs.openSync(path.join(dir, 'scepserver.log'), 'w');
  const proc: ChildProcess = spawn('scepserver', ['-depot', path.join(dir, 'depot'), '-port', String(port), '-challenge', 'bench-static-challenge', '-allowrenew', '0'], {
    cwd: dir,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}/scep`;
  await waitFor(async () => {
    try {
      return (await request(`${url}?operation=GetCACaps`)).status === 200;
    } catch {
      return false;
    }
  }, 10_000, 'scepserver to listen');
  return {
    name: 'scepserver',
    pid: proc.pid!,
    workload: { url, challenge: () => 'bench-static-challenge' },
    mustSucceed: false,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

// CPU time, not wall time: the other work on this machine's two cores must not count.
function cpuMicros(usage: NodeJS.CpuUsage): number {
  return usage.user + usage.system;
}

// Three RSA-2048 private-key operations (decrypt the envelope key, sign the certificate, sign the
// CertRep): the floor of an enrollment's server CPU, timed on the runtime Ward uses (OpenSSL 3.5).
function rsaFloorMs(key: KeyObject): number {
  const data = Buffer.alloc(32, 1);
  for (let i = 0; i < 50; i++) sign('sha256', data, key);
  const count = 400;
  const started = process.cpuUsage();
  for (let i = 0; i < count; i++) sign('sha256', data, key);
  return (3 * cpuMicros(process.cpuUsage(started))) / 1000 / count;
}

// The hot path without HTTP and the database, on a request scepclient really sent (DES-CBC, SHA-1,
// encrypted to RA and CA): parse and verify, RSA-decrypt, DES, CSR, sign the certificate (pki's
// buildCertificate), then the CertRep (AES-256 envelope, RA signature). Comparable to the issue's
// throwaway path (about 2.3 ms).
async function wirePathMs(root: string): Promise<number> {
  const ca = makeThrowawayCa(fs.mkdtempSync(path.join(root, 'wire-')));
  let captured: Buffer | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const op = new URL(req.url ?? '/', 'http://x').searchParams.get('operation');
      if (op === 'GetCACaps') return res.end('POSTPKIOperation\nSHA-256\nAES\nSCEPStandard\n');
      if (op === 'GetCACert') {
        res.writeHead(200, { 'content-type': 'application/x-x509-ca-ra-cert' });
        return res.end(buildCertsOnly([ca.raCert, ca.caCert]));
      }
      captured = Buffer.concat(chunks);
      res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const folder = fs.mkdtempSync(path.join(root, 'wire-client-'));
  await run('scepclient', ['-server-url', `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/scep`, '-private-key', path.join(folder, 'key.pem'), '-challenge', 'x'], folder);
  server.close();
  if (!captured) throw new Error('no PKIOperation captured from scepclient');
  const message = captured;
  const caKey = createPrivateKey(fs.readFileSync(ca.caKeyPath));
  const issuer = pkiDer.fromDer(parseCertificate(ca.caCert).subject);
  const once = () => {
    const o = readPkiOperation(message, ca.ra);
    if (o.messageType !== 'PKCSReq') throw new Error(o.messageType);
    const csr = o.certificationRequest;
    const issued = buildCertificate({
      serial: pkiDer.randomSerial(),
      issuer,
      subject: pkiDer.fromDer(csr.subject),
      spkiDer: csr.subjectPublicKeyInfo,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 365 * 86_400_000),
      ext: { keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: [pkiDer.OID.clientAuth], subjectKeyId: pkiDer.keyIdentifier(csr.subjectPublicKeyInfo) },
      signingKey: caKey,
    });
    buildCertRep(ca.ra, o, { pkiStatus: 'SUCCESS', recipient: o.signer, certificates: [issued] });
  };
  for (let i = 0; i < 200; i++) once();
  const count = 1000;
  const started = process.cpuUsage();
  for (let i = 0; i < count; i++) once();
  return cpuMicros(process.cpuUsage(started)) / 1000 / count;
}

async function main(): Promise<void> {
  const root = tempDir('ward-bench-');
  try {
    // Warm-up (the daemon's JIT reaching steady state, as a long-running appliance is) reuses a small
    // pool of keys under fresh names; every measured enrollment has a key of its own.
    const pool = await rsaKeys(Math.min(WARMUP, 16));
    const keys = [...Array.from({ length: WARMUP }, (_, i) => pool[i % pool.length]!), ...(await rsaKeys(N))];
    const floors: number[] = [];
    const wire = await wirePathMs(root);
    const servers: Server[] = [];
    let tally: Map<string, Tally>;
    try {
      servers.push(await ward(root, keys));
      servers.push(await scepserver(root));
      tally = await compare(root, keys, servers, floors);
    } finally {
      for (const s of servers) await s.stop();
    }
    const result = (name: string) => {
      const t = tally.get(name)!;
      return { perSecond: ((N - t.failed) * 1000) / t.wallMs, cpuPerEnrollment: t.cpuMs / N, failed: t.failed };
    };
    const floor = floors.reduce((a, b) => a + b, 0) / floors.length;
    const w = result('ward');
    const s = result('scepserver');
    const common = { n: N, concurrency: C, failed: { ward: w.failed, scepserver: s.failed } };
    emit({ name: 'scep.enrollments_per_second', value: round(w.perSecond), unit: 'enrollments/s', baseline: { name: 'scepserver 2.1.0', value: round(s.perSecond) }, ratio: round(w.perSecond / s.perSecond), ...common });
    emit({ name: 'scep.server_cpu_ms_per_enrollment', value: round(w.cpuPerEnrollment), unit: 'ms', baseline: { name: 'scepserver 2.1.0', value: round(s.cpuPerEnrollment) }, ratio: round(w.cpuPerEnrollment / s.cpuPerEnrollment), ...common });
    emit({
      name: 'scep.server_cpu_vs_rsa_floor',
      value: round(w.cpuPerEnrollment / floor),
      unit: 'x',
      baseline: { name: '3 RSA-2048 private-key operations, node:crypto (ms)', value: round(floor) },
      ratio: round(w.cpuPerEnrollment / floor),
      bar: 3,
      opensslSpeedSignsPerSecond: opensslSpeed(),
    });
    emit({ name: 'scep.wire_path_ms', value: round(wire), unit: 'ms', baseline: { name: 'issue 13 throwaway path incl. certificate signing', value: 2.3 }, ratio: round(wire / 2.3) });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// `openssl speed rsa2048` signs per second (the system CLI, OpenSSL 3.0): the reference figure.
function opensslSpeed(): number | null {
  const r = spawnSync('openssl', ['speed', '-seconds', '1', 'rsa2048'], { encoding: 'utf8' });
  const m = /rsa 2048 bits\s+\S+\s+\S+\s+([0-9.]+)/.exec(r.stdout ?? '');
  return m ? Number(m[1]) : null;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

main().catch((err) => {
  process.stderr.write(`scep bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
