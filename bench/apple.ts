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
import fs from 'node:fs';
import https from 'node:https';
import { signMdmMessage } from '../src/apple/cms';
import { buildPlistBuffer, parsePlistDict } from '../src/apple/plist';
import { benchOutput, cpuMs, latencySummary, spawnBenchDaemon, startKoaBaseline } from './_load';
import { type AppleBenchDevice, authenticateMessage, issueAppleIdentities, keyPool, openBenchStore, tokenUpdateMessage, writeBaselineTls, writeBenchConfig } from './_seed';

const DEVICES = Number(process.env.BENCH_APPLE_DEVICES ?? 10_000);
// Devices of their own that take every measured path once before the clock starts, so that the first
// measured phase (Authenticate) does not also pay for the daemon's JIT warming up: an appliance
// answers its devices with code that has long been compiled. (The SCEP bench warms up likewise.)
const WARMUP_DEVICES = Number(process.env.BENCH_APPLE_WARMUP_DEVICES ?? 1_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const { emit, log } = benchOutput('apple');

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
  seconds: number;
  latencies: Float64Array;
}

/** Runs of consecutive slices as one: rate over their summed time, percentiles over all latencies. */
function merged(runs: Run[]): Run {
  const count = runs.reduce((n, r) => n + r.count, 0);
  const seconds = runs.reduce((n, r) => n + r.seconds, 0);
  const latencies = new Float64Array(count);
  let at = 0;
  for (const r of runs) {
    latencies.set(r.latencies, at);
    at += r.latencies.length;
  }
  const statuses: Record<number, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.statuses)) statuses[Number(k)] = (statuses[Number(k)] ?? 0) + v;
  const cpu = runs.reduce((n, r) => n + r.cpuPerRequest * r.count, 0);
  return {
    rate: Math.round(count / seconds), ...latencySummary(latencies), count, statuses, bodies: runs.flatMap((r) => r.bodies),
    cpuPerRequest: Math.round((cpu / count) * 1000) / 1000, seconds, latencies,
  };
}

function signed(d: AppleBenchDevice, p: string, contentType: string, body: Buffer): Req {
  return { path: p, contentType, body, signature: signMdmMessage(body, { key: d.key, certificate: d.certDer }) };
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
  const { p50Ms, p99Ms } = latencySummary(latencies);
  return { rate: Math.round(reqs.length / seconds), p99Ms, p50Ms, count: reqs.length, statuses, bodies, cpuPerRequest, seconds, latencies };
}

async function main(): Promise<void> {
  // ---- a Ward with 10,000 device identities issued by its CA ----
  // Ward's default CA keys (RSA-3072), not the benches' quick P-256 CA: a device's first contact
  // verifies the issuing CA's signature on its certificate, and a P-256 verification costs about
  // twice an RSA-3072 one here (openssl speed: 10,451 and 23,785 a second).
  const { dir, file, doc } = writeBenchConfig({
    pki: { dir: './certs', passphrase: { file: './certs/passphrase' } },
    apple: { apns: { enabled: false }, mdm: { initialCommands: ['DeviceInformation'] } },
  });
  const t0 = Date.now();
  const store = openBenchStore(file, doc);
  const pool = keyPool('rsa');
  const devices = issueAppleIdentities(store, 0, DEVICES, pool);
  const warmupDevices = issueAppleIdentities(store, DEVICES, WARMUP_DEVICES, pool);
  const tlsFile = writeBaselineTls(dir, store.ca);
  const caPem = store.ca.chainPem();
  store.db.close();
  log(`issued ${DEVICES} device certificates (and ${WARMUP_DEVICES} for the warm-up) in ${Date.now() - t0} ms`);

  // BENCH_PROFILE_DIR: write a V8 CPU profile of the daemon there (for finding hot spots).
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const daemon = await spawnBenchDaemon(file, profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {});
  const base = `https://127.0.0.1:${daemon.httpsPort}`;
  // The constant answer of the minimal app: what Ward's endpoint answers in the simplest case.
  const baseline = await startKoaBaseline(tlsFile, 'application/xml', '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
    '<plist version="1.0">\n<dict>\n\t<key>Status</key>\n\t<string>OK</string>\n</dict>\n</plist>\n');
  const baseUrl = `https://127.0.0.1:${baseline.port}`;
  const wardPid = daemon.proc.pid!;
  try {
    const checkin = (d: AppleBenchDevice, body: Buffer) => signed(d, '/mdm/checkin', 'application/x-apple-aspen-mdm-checkin', body);
    const report = (d: AppleBenchDevice, body: Record<string, unknown>) => signed(d, '/mdm/command', 'application/x-apple-aspen-mdm', buildPlistBuffer(body as never));
    const acknowledge = (d: AppleBenchDevice, command: Buffer) =>
      report(d, {
        CommandUUID: parsePlistDict(command).CommandUUID,
        QueryResponses: { DeviceName: `Bench ${d.udid.slice(-4)}`, OSVersion: '18.1', SerialNumber: d.udid.slice(-12), UDID: d.udid, BatteryLevel: 0.5 },
        Status: 'Acknowledged',
        UDID: d.udid,
      });

    // Warm-up, not measured: the warm-up devices enroll, fetch their command, answer it and poll again.
    if (warmupDevices.length > 0) {
      const idleOf = (d: AppleBenchDevice) => report(d, { Status: 'Idle', UDID: d.udid });
      const warm = async (url: string, pid: number, reqs: Req[], keepBodies = false) => {
        const r = await drive(url, caPem, reqs, pid, keepBodies);
        if (r.statuses[200] !== r.count) throw new Error(`warm-up: statuses ${JSON.stringify(r.statuses)}`);
        return r;
      };
      const tokenUpdates = warmupDevices.map((d) => checkin(d, tokenUpdateMessage(d)));
      await warm(baseUrl, baseline.proc.pid!, tokenUpdates);
      await warm(base, wardPid, warmupDevices.map((d) => checkin(d, authenticateMessage(d))));
      await warm(base, wardPid, tokenUpdates);
      const commands = await warm(base, wardPid, warmupDevices.map(idleOf), true);
      await warm(base, wardPid, warmupDevices.map((d, i) => acknowledge(d, commands.bodies[i])));
      await warm(base, wardPid, warmupDevices.map(idleOf));
      log(`warm-up: ${warmupDevices.length} devices enrolled, fetched, answered and polled; the baseline answered as many`);
    }
    const authenticate = devices.map((d) => checkin(d, authenticateMessage(d)));
    const tokenUpdate = devices.map((d) => checkin(d, tokenUpdateMessage(d)));
    const idle = devices.map((d) => report(d, { Status: 'Idle', UDID: d.udid }));
    log('signed the request bodies');

    const check = (name: string, r: Run, want = 200) => {
      if (r.statuses[want] !== r.count) throw new Error(`${name}: statuses ${JSON.stringify(r.statuses)}`);
      log(`${name}: ${r.rate}/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms, server CPU ${r.cpuPerRequest} ms/request`);
    };

    // Enrollment: every device Authenticates and sends its first TokenUpdate (which queues DeviceInformation).
    // Baseline: the same TokenUpdate requests against the minimal koa app, in slices alternating
    // with the measured phase's, so both see the machine as it was then (this shared VM's speed
    // drifts by a third within minutes: openssl speed between runs, and baseline runs a minute
    // apart differing 2x).
    const SLICES = 5;
    const baselines = new Map<Run, Run>();
    const measured = async (name: string, bodies: Req[], wantBodies = false): Promise<Run> => {
      const koaRuns: Run[] = [];
      const wardRuns: Run[] = [];
      const size = Math.ceil(bodies.length / SLICES);
      for (let from = 0; from < bodies.length; from += size) {
        koaRuns.push(await drive(baseUrl, caPem, tokenUpdate.slice(from, from + size), baseline.proc.pid!));
        wardRuns.push(await drive(base, caPem, bodies.slice(from, from + size), wardPid, wantBodies));
      }
      const koa = merged(koaRuns);
      const r = merged(wardRuns);
      check(`baseline koa (alongside ${name})`, koa);
      check(name, r);
      baselines.set(r, koa);
      return r;
    };
    const auth = await measured('Authenticate', authenticate);
    const enroll = await measured('TokenUpdate (first, enrolls)', tokenUpdate);

    // Check-ins: TokenUpdate from each of the 10,000 enrolled devices (device row + audit event each).
    const checkins = await measured('TokenUpdate (steady)', tokenUpdate);

    // Command fetches: each device polls (Idle) and gets its queued DeviceInformation (marked sent + audit).
    const fetch = await measured('Idle -> command', idle, true);
    const acks = devices.map((d, i) => acknowledge(d, fetch.bodies[i]));
    // Results: Acknowledged with DeviceInformation, parsed into the device record (+ audit), answered with an empty 200.
    const results = await measured('Acknowledged results', acks);
    // Polls with nothing queued: the read-only path.
    const empty = await measured('Idle (empty queue)', idle);

    const baselineOf = (r: Run) => {
      const koa = baselines.get(r)!;
      return { koa, ref: { name: 'koa.constant-plist', value: koa.rate, unit: 'req/s', p99Ms: koa.p99Ms, cpuMsPerRequest: koa.cpuPerRequest } };
    };
    const line = (name: string, r: Run, what: string) => {
      const { koa, ref } = baselineOf(r);
      emit({
        name,
        value: r.rate,
        unit: 'req/s',
        devices: DEVICES,
        warmupDevices: WARMUP_DEVICES,
        connections: CONNECTIONS,
        baseline: ref,
        ratio: Math.round((r.rate / koa.rate) * 1000) / 1000,
        bar: 0.4,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        cpuMsPerRequest: r.cpuPerRequest,
        // The rate Ward's CPU cost allows, relative to the baseline's (independent of other load on the machine).
        cpuRatio: r.cpuPerRequest > 0 ? Math.round((koa.cpuPerRequest / r.cpuPerRequest) * 1000) / 1000 : null,
        what,
      });
    };
    line('apple.checkin.tokenupdate', checkins, 'TokenUpdate check-in: Mdm-Signature, cert-auth, device row update and audit event');
    line('apple.command.fetch', fetch, 'Idle poll answered with the queued command: marked sent, audit event');
    line('apple.command.result', results, 'Acknowledged DeviceInformation result: parsed into the device record, audit event');
    line('apple.command.idle_empty', empty, 'Idle poll with an empty queue');
    line('apple.checkin.authenticate', auth, 'Authenticate: certificate verified against the CA and bound (first contact)');
    line('apple.checkin.enroll', enroll, 'first TokenUpdate: enrolled, DeviceInformation queued, two audit events');
    emit({ name: 'apple.checkin.tokenupdate.p99', value: checkins.p99Ms, unit: 'ms', baseline: { name: 'koa.constant-plist.p99', value: baselineOf(checkins).koa.p99Ms }, connections: CONNECTIONS });
    emit({ name: 'apple.command.fetch.p99', value: fetch.p99Ms, unit: 'ms', baseline: { name: 'koa.constant-plist.p99', value: baselineOf(fetch).koa.p99Ms }, connections: CONNECTIONS });
  } finally {
    baseline.proc.kill('SIGTERM');
    await daemon.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench/apple: ${(e as Error).stack}\n`);
  process.exit(1);
});
