// Apple MDM throughput through the real endpoints (issue: check-ins and command fetches per second
// with 10,000 enrolled devices, against a minimal koa app answering a constant plist over the same
// TLS setup, in the same run; p99 latency; bar: at least 40% of the minimal app's rate).
//
// Ward runs as a real daemon process (node build/src/main.js); the baseline app in another; this
// process is the load generator: BENCH_CONNECTIONS keep-alive TLS connections (default 32), each
// request a device's plist signed with its identity (Mdm-Signature, signatures made before the
// clock starts), so the server does the full work: TLS, CMS verification, cert-auth, plist,
// SQLite and the audit event. Device keys are RSA-2048 like an iPhone's SCEP identity; the 10,000
// certificates (each its own serial and subject, bound to its own device) share a pool of keys so
// that making them takes seconds.
// One JSON object a line: name, value, unit, baseline {name, value}, ratio, p99Ms, ...
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import forge from 'node-forge';
import { AuditLog } from '../src/audit';
import { signMdmMessage } from '../src/apple/cms';
import { buildPlistBuffer, parsePlistDict } from '../src/apple/plist';
import { openDatabase } from '../src/db';
import { CertificateAuthority, parseCertificationRequest } from '../src/pki';
import { loadTestConfig, spawnDaemon, writeTestConfig } from '../test/support/ward';

const DEVICES = Number(process.env.BENCH_APPLE_DEVICES ?? 10_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const KEY_POOL = 8;
const TOPIC = 'com.apple.mgmt.External.00000000-0000-4000-8000-00000000bench';
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
const log = (s: string) => process.stderr.write(`bench/apple: ${s}\n`);

interface Device {
  udid: string;
  key: crypto.KeyObject;
  certDer: Buffer;
}

interface Req {
  path: string;
  contentType: string;
  body: Buffer;
  signature: string;
}

interface Run {
  rate: number;
  p99Ms: number;
  p50Ms: number;
  count: number;
  statuses: Record<number, number>;
  bodies: Buffer[];
  /** Server CPU milliseconds per request. */
  cpuPerRequest: number;
}

function signed(d: Device, p: string, contentType: string, body: Buffer): Req {
  return { path: p, contentType, body, signature: signMdmMessage(body, { key: d.key, certificate: d.certDer }) };
}

/** CPU time (user + system, ms) a process has used so far, from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Sends every request once over `CONNECTIONS` keep-alive connections; rate, p50, p99 and the
 * server's CPU milliseconds per request (steadier than rates on a shared two-core machine). */
async function drive(base: string, ca: string, reqs: Req[], serverPid: number, keepBodies = false): Promise<Run> {
  const cpuBefore = cpuMs(serverPid);
  const agent = new https.Agent({ keepAlive: true, maxSockets: CONNECTIONS, ca, servername: 'localhost' });
  const latencies = new Float64Array(reqs.length);
  const statuses: Record<number, number> = {};
  const bodies: Buffer[] = keepBodies ? new Array(reqs.length) : [];
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const r = reqs[i];
      const t0 = process.hrtime.bigint();
      const req = https.request(
        `${base}${r.path}`,
        {
          method: 'PUT',
          agent,
          headers: { 'Content-Type': r.contentType, 'Content-Length': String(r.body.length), 'Mdm-Signature': r.signature },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
            statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
            if (keepBodies) bodies[i] = Buffer.concat(chunks);
            resolve();
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(r.body);
    });
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < reqs.length) await one(next++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuPerRequest = Math.round(((cpuMs(serverPid) - cpuBefore) / reqs.length) * 1000) / 1000;
  agent.destroy();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const q = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] * 100) / 100;
  return { rate: Math.round(reqs.length / seconds), p99Ms: q(0.99), p50Ms: q(0.5), count: reqs.length, statuses, bodies, cpuPerRequest };
}

function startBaseline(tlsFile: string): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    // The constant answer of the minimal app: what Ward's endpoint answers in the simplest case.
    const baselineBody = `${tlsFile}.body`;
    fs.writeFileSync(baselineBody, '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
      '<plist version="1.0">\n<dict>\n\t<key>Status</key>\n\t<string>OK</string>\n</dict>\n</plist>\n');
    const proc = spawn(process.execPath, [path.join(__dirname, '_koa-baseline.js'), tlsFile, 'application/xml', baselineBody], { stdio: ['ignore', 'pipe', 'inherit'] });
    proc.stdout!.on('data', (d: Buffer) => {
      const m = /port (\d+)/.exec(d.toString());
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.once('exit', (code) => reject(new Error(`baseline exited ${code}`)));
  });
}

async function main(): Promise<void> {
  // ---- a Ward with 10,000 device identities issued by its CA ----
  const { dir, file, doc } = writeTestConfig({
    organization: 'Bench Hospital',
    logging: { level: 'info' },
    pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'ecdsa-p256', issuingKeyAlgorithm: 'ecdsa-p256' },
    apple: { apns: { enabled: false }, mdm: { initialCommands: ['DeviceInformation'] } },
  });
  const cfg = loadTestConfig(file, doc);
  const t0 = Date.now();
  const db = openDatabase(cfg.database.file);
  const audit = new AuditLog(db);
  const ca = CertificateAuthority.open(cfg, db, audit);
  const pool = Array.from({ length: KEY_POOL }, () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
  const csrs = pool.map((key) => parseCertificationRequest(csrFor(key)));
  const devices: Device[] = [];
  db.write(() => {
    for (let i = 0; i < DEVICES; i++) {
      const udid = `00008120-${i.toString(16).toUpperCase().padStart(16, '0')}`;
      const issued = ca.issue(
        { csr: csrs[i % KEY_POOL], profile: 'device', subject: [['O', 'Bench Hospital'], ['CN', `bench-${udid}`]] },
        { actor: { type: 'system', id: 'bench' } },
      );
      devices.push({ udid, key: pool[i % KEY_POOL], certDer: issued.der });
    }
  });
  const server = ca.serviceIdentity('server');
  const tlsFile = path.join(dir, 'baseline-tls.json');
  fs.writeFileSync(tlsFile, JSON.stringify({ key: server.key.export({ type: 'pkcs8', format: 'pem' }), cert: server.pem + ca.issuing.pem, ca: ca.chainPem() }), { mode: 0o600 });
  const caPem = ca.chainPem();
  db.close();
  log(`issued ${DEVICES} device certificates in ${Date.now() - t0} ms`);

  // BENCH_PROFILE_DIR: write a V8 CPU profile of the daemon there (for finding hot spots).
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const daemon = await spawnDaemon(file, profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {});
  const base = `https://127.0.0.1:${daemon.httpsPort}`;
  const baseline = await startBaseline(tlsFile);
  const baseUrl = `https://127.0.0.1:${baseline.port}`;
  const wardPid = daemon.proc.pid!;
  try {
    const checkin = (d: Device, body: Record<string, unknown>) =>
      signed(d, '/mdm/checkin', 'application/x-apple-aspen-mdm-checkin', buildPlistBuffer(body as never));
    const report = (d: Device, body: Record<string, unknown>) => signed(d, '/mdm/command', 'application/x-apple-aspen-mdm', buildPlistBuffer(body as never));
    const authenticate = devices.map((d) =>
      checkin(d, { BuildVersion: '22B83', DeviceName: `Bench ${d.udid.slice(-4)}`, MessageType: 'Authenticate', Model: 'MQ6J3ZD/A', ModelName: 'iPhone', OSVersion: '18.1', ProductName: 'iPhone15,2', SerialNumber: d.udid.slice(-12), Topic: TOPIC, UDID: d.udid }),
    );
    const tokenUpdate = devices.map((d) =>
      checkin(d, { AwaitingConfiguration: false, MessageType: 'TokenUpdate', PushMagic: crypto.randomUUID(), Token: crypto.randomBytes(32), Topic: TOPIC, UDID: d.udid, UnlockToken: crypto.randomBytes(64) }),
    );
    const idle = devices.map((d) => report(d, { Status: 'Idle', UDID: d.udid }));
    log('signed the request bodies');

    const check = (name: string, r: Run, want = 200) => {
      if (r.statuses[want] !== r.count) throw new Error(`${name}: statuses ${JSON.stringify(r.statuses)}`);
      log(`${name}: ${r.rate}/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms, server CPU ${r.cpuPerRequest} ms/request`);
    };

    // Enrollment: every device Authenticates and sends its first TokenUpdate (which queues DeviceInformation).
    const auth = await drive(base, caPem, authenticate, wardPid);
    check('Authenticate', auth);
    const enroll = await drive(base, caPem, tokenUpdate, wardPid);
    check('TokenUpdate (first, enrolls)', enroll);

    // Baseline: the same TokenUpdate requests against the minimal koa app.
    const koa = await drive(baseUrl, caPem, tokenUpdate, baseline.proc.pid!);
    check('baseline koa', koa);
    const baselineRef = { name: 'koa.constant-plist', value: koa.rate, unit: 'req/s', p99Ms: koa.p99Ms, cpuMsPerRequest: koa.cpuPerRequest };

    // Check-ins: TokenUpdate from each of the 10,000 enrolled devices (device row + audit event each).
    const checkins = await drive(base, caPem, tokenUpdate, wardPid);
    check('TokenUpdate (steady)', checkins);

    // Command fetches: each device polls (Idle) and gets its queued DeviceInformation (marked sent + audit).
    const fetch = await drive(base, caPem, idle, wardPid, true);
    check('Idle -> command', fetch);
    const acks = devices.map((d, i) => {
      const cmd = parsePlistDict(fetch.bodies[i]);
      return report(d, {
        CommandUUID: cmd.CommandUUID,
        QueryResponses: { DeviceName: `Bench ${d.udid.slice(-4)}`, OSVersion: '18.1', SerialNumber: d.udid.slice(-12), UDID: d.udid, BatteryLevel: 0.5 },
        Status: 'Acknowledged',
        UDID: d.udid,
      });
    });
    // Results: Acknowledged with DeviceInformation, parsed into the device record (+ audit), answered with an empty 200.
    const results = await drive(base, caPem, acks, wardPid);
    check('Acknowledged results', results);
    // Polls with nothing queued: the read-only path.
    const empty = await drive(base, caPem, idle, wardPid);
    check('Idle (empty queue)', empty);

    const common = { devices: DEVICES, connections: CONNECTIONS, baseline: baselineRef };
    const line = (name: string, r: Run, what: string) =>
      emit({
        name,
        value: r.rate,
        unit: 'req/s',
        ...common,
        ratio: Math.round((r.rate / koa.rate) * 1000) / 1000,
        bar: 0.4,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        cpuMsPerRequest: r.cpuPerRequest,
        // The rate Ward's CPU cost allows, relative to the baseline's (independent of other load on the machine).
        cpuRatio: r.cpuPerRequest > 0 ? Math.round((koa.cpuPerRequest / r.cpuPerRequest) * 1000) / 1000 : null,
        what,
      });
    line('apple.checkin.tokenupdate', checkins, 'TokenUpdate check-in: Mdm-Signature, cert-auth, device row update and audit event');
    line('apple.command.fetch', fetch, 'Idle poll answered with the queued command: marked sent, audit event');
    line('apple.command.result', results, 'Acknowledged DeviceInformation result: parsed into the device record, audit event');
    line('apple.command.idle_empty', empty, 'Idle poll with an empty queue');
    line('apple.checkin.authenticate', auth, 'Authenticate: certificate verified against the CA and bound (first contact)');
    line('apple.checkin.enroll', enroll, 'first TokenUpdate: enrolled, DeviceInformation queued, two audit events');
    emit({ name: 'apple.checkin.tokenupdate.p99', value: checkins.p99Ms, unit: 'ms', baseline: { name: 'koa.constant-plist.p99', value: koa.p99Ms }, connections: CONNECTIONS });
    emit({ name: 'apple.command.fetch.p99', value: fetch.p99Ms, unit: 'ms', baseline: { name: 'koa.constant-plist.p99', value: koa.p99Ms }, connections: CONNECTIONS });
  } finally {
    baseline.proc.kill('SIGTERM');
    await daemon.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A PKCS#10 request for a pooled key (RFC 2986), signed with node:crypto. */
function csrFor(key: crypto.KeyObject): Buffer {
  const { asn1 } = forge;
  const spki = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
  const seq = (v: forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, v);
  const oid = (o: string) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(o).getBytes());
  const name = seq([asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, [seq([oid('2.5.4.3'), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, 'bench')])])]);
  const info = seq([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, '\x00'),
    name,
    asn1.fromDer(forge.util.createBuffer(spki.toString('binary'))),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, []),
  ]);
  const infoDer = Buffer.from(asn1.toDer(info).getBytes(), 'binary');
  const sig = crypto.sign('sha256', infoDer, key);
  const csr = seq([info, seq([oid('1.2.840.113549.1.1.11'), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\x00${sig.toString('binary')}`)]);
  return Buffer.from(asn1.toDer(csr).getBytes(), 'binary');
}

main().catch((e) => {
  process.stderr.write(`bench/apple: ${(e as Error).stack}\n`);
  process.exit(1);
});
