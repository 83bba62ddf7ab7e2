// Android agent API throughput and long-poll memory (issue: agent syncs per second with 10,000 devices,
// against a minimal koa app answering constant JSON over the same TLS setup, in the same run; and
// long-poll connections held open at once with bounded memory).
//
// Ward runs as a real daemon process (node build/src/main.js); the baseline app in another; this
// process is the load generator. 10,000 devices are enrolled through AndroidService before the daemon
// starts (one transaction; CSRs from a pool of 8 P-256 keys, ECDSA P-256 CA so set-up is quick). A
// device's identity is its TLS client certificate, so each device has its own keep-alive connection;
// BENCH_CONNECTIONS loops (default 32) walk the devices. One sync = POST /status (stored, last-seen)
// + GET /commands?wait=0 (nothing queued), what an agent does at each check-in.
// Long polls: a fresh daemon with maxHeldPolls 9,000; all 10,000 devices poll with wait=120; the cap
// answers the other 1,000 at once with retry_later. Memory is the daemon's RSS growth per held poll,
// against the baseline app's RSS growth per open keep-alive TLS connection.
// One JSON object a line: name, value, unit, baseline {name, value}, ratio, ...
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import type { Daemon } from '../test/support/ward';
import { benchOutput, healthDetails, httpsCall, memoryOf, round, spawnBenchDaemon, startKoaBaseline } from './_load';
import { ANDROID_STATUS, type AndroidBenchDevice, BenchFleet, keyPool, openBenchStore, writeBaselineTls, writeBenchConfig } from './_seed';

const DEVICES = Number(process.env.BENCH_ANDROID_DEVICES ?? 10_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const HELD_CAP = DEVICES - Math.floor(DEVICES / 10);
const { emit, log } = benchOutput('android');
// The constant answer of the minimal app: what Ward's endpoint answers in the simplest case.
const KOA_ANSWER = JSON.stringify({ next: { action: 'continue' }, commands: [], policyEtag: '"baseline"', pendingCommands: 0 });

interface Device extends AndroidBenchDevice {
  agent?: https.Agent;
}

interface Pass {
  syncsPerSecond: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  newConnections: number;
  statuses: Record<number, number>;
}

/** One request on the device's own connection. */
function request(base: string, d: Device, method: string, p: string, body?: Buffer) {
  return httpsCall(`${base}${p}`, d.agent!, { method, body, headers: body ? { 'Content-Type': 'application/json' } : {} });
}

/** A command poll that calls `connected` once its TLS connection is up (the request is then on its way). */
function holdPoll(base: string, d: Device, connected: () => void): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${base}/android/agent/v1/commands?wait=120`, { agent: d.agent, servername: 'localhost' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('socket', (socket) => {
      if ((socket as tls.TLSSocket).encrypted && !socket.connecting) connected();
      else socket.once('secureConnect', connected);
    });
    req.on('error', reject);
    req.end();
  });
}

function agentsFor(devices: Device[]): void {
  for (const d of devices) {
    d.agent?.destroy();
    d.agent = new https.Agent({ keepAlive: true, maxSockets: 1, secureContext: d.context, servername: 'localhost' } as https.AgentOptions);
  }
}

interface RawPass {
  seconds: number;
  latencies: number[];
  fresh: number;
  statuses: Record<number, number>;
}

/** Every device of the list syncs once: CONNECTIONS loops over the list. */
async function syncPass(base: string, devices: Device[], status: Buffer): Promise<RawPass> {
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let next = 0;
  let fresh = 0;
  const loop = async () => {
    for (;;) {
      const i = next++;
      if (i >= devices.length) return;
      const t0 = process.hrtime.bigint();
      const a = await request(base, devices[i], 'POST', '/android/agent/v1/status', status);
      const b = await request(base, devices[i], 'GET', '/android/agent/v1/commands?wait=0');
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      for (const r of [a, b]) {
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (!r.reused) fresh++;
      }
    }
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, latencies, fresh, statuses };
}

function summary(passes: RawPass[]): Pass {
  const seconds = passes.reduce((a, p) => a + p.seconds, 0);
  const latencies = passes.flatMap((p) => p.latencies).sort((x, y) => x - y);
  const statuses: Record<number, number> = {};
  for (const p of passes) for (const [k, v] of Object.entries(p.statuses)) statuses[Number(k)] = (statuses[Number(k)] ?? 0) + v;
  return {
    syncsPerSecond: round(latencies.length / seconds),
    requestsPerSecond: round((2 * latencies.length) / seconds),
    p50Ms: round(latencies[Math.floor(latencies.length * 0.5)], 2),
    p99Ms: round(latencies[Math.floor(latencies.length * 0.99)], 2),
    newConnections: passes.reduce((a, p) => a + p.fresh, 0),
    statuses,
  };
}

/**
 * All devices sync twice against each server, BLOCK devices at a time: first on a new TLS connection
 * each (first contact), then again at once over that kept-alive connection (steady state). Each kind
 * is timed on its own. The servers take turns block by block, so Ward and the baseline see the
 * machine as it was at the same minute (a shared VM's speed drifts within a run).
 */
async function syncAll(bases: string[], devices: Device[], status: Buffer): Promise<{ first: Pass; steady: Pass }[]> {
  const BLOCK = 4 * CONNECTIONS;
  const first: RawPass[][] = bases.map(() => []);
  const steady: RawPass[][] = bases.map(() => []);
  agentsFor(devices);
  for (let i = 0; i < devices.length; i += BLOCK) {
    const block = devices.slice(i, i + BLOCK);
    for (let k = 0; k < bases.length; k++) {
      first[k]!.push(await syncPass(bases[k]!, block, status));
      steady[k]!.push(await syncPass(bases[k]!, block, status));
    }
    for (const d of block) d.agent?.destroy();
  }
  return bases.map((_, k) => ({ first: summary(first[k]!), steady: summary(steady[k]!) }));
}

async function heldPolls(port: number): Promise<number> {
  // Asked while 10,000 TLS connections come and go: a refused or dropped health request is asked again.
  for (let attempt = 1; ; attempt++) {
    try {
      return Number((await healthDetails(port, 'android')).heldPolls ?? NaN);
    } catch (e) {
      if (attempt >= 20) throw e;
      log(`healthz: ${(e as Error).message}; asking again`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function main(): Promise<void> {
  const { dir, file, doc } = writeBenchConfig({
    // Every simulated device connects from 127.0.0.1: as behind one NAT address, the per-address
    // cap (1,000 by default) must not apply, or most of the 10,000 held polls are refused.
    limits: { connectionsPerAddress: 0 },
    android: { longPollSeconds: 120, maxHeldPolls: HELD_CAP, defaultPolicy: { passcode: { minLength: 6 }, cameraDisabled: false } },
  });
  const t0 = Date.now();
  const fleet = new BenchFleet(openBenchStore(file, doc));
  const devices: Device[] = fleet.addAndroid(0, DEVICES, keyPool('ec'));
  const tlsFile = writeBaselineTls(dir, fleet.store.ca);
  await fleet.close();
  log(`enrolled ${DEVICES} devices in ${Date.now() - t0} ms`);
  const status = ANDROID_STATUS;

  let daemon: Daemon | undefined;
  let baseline: { proc: ChildProcess; port: number } | undefined;
  try {
    // ---- syncs per second: Ward and the baseline app taking turns, same devices, same loops ----
    // BENCH_PROFILE_DIR: write a V8 CPU profile of the daemon there (for finding hot spots).
    const profileDir = process.env.BENCH_PROFILE_DIR;
    daemon = await spawnBenchDaemon(file, profileDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {});
    const ward = `https://127.0.0.1:${daemon.httpsPort}`;
    baseline = await startKoaBaseline(tlsFile, 'application/json', KOA_ANSWER);
    const koa = `https://127.0.0.1:${baseline.port}`;
    const [{ first, steady }, { first: koaFirst, steady: koaSteady }] = await syncAll([ward, koa], devices, status);
    log(`ward: first contact ${JSON.stringify(first)}; steady ${JSON.stringify(steady)}`);
    if (steady.statuses[200] !== 2 * DEVICES || first.statuses[200] !== 2 * DEVICES) throw new Error('ward answered other than 200');
    log(`baseline: first contact ${JSON.stringify(koaFirst)}; steady ${JSON.stringify(koaSteady)}`);

    const ref = (p: Pass) => ({ name: 'koa.constant-json', value: p.syncsPerSecond, p99Ms: p.p99Ms });
    emit({
      name: 'android.sync',
      value: steady.syncsPerSecond,
      unit: 'syncs/s',
      baseline: ref(koaSteady),
      ratio: round(steady.syncsPerSecond / koaSteady.syncsPerSecond, 3),
      bar: 0.4,
      devices: DEVICES,
      connections: CONNECTIONS,
      requestsPerSecond: steady.requestsPerSecond,
      p50Ms: steady.p50Ms,
      p99Ms: steady.p99Ms,
      newConnections: steady.newConnections,
      baselineNewConnections: koaSteady.newConnections,
      what: 'POST /status (stored, audit only on change) + GET /commands?wait=0, TLS client-certificate auth per request',
    });
    emit({
      name: 'android.sync.first_contact',
      value: first.syncsPerSecond,
      unit: 'syncs/s',
      baseline: ref(koaFirst),
      ratio: round(first.syncsPerSecond / koaFirst.syncsPerSecond, 3),
      devices: DEVICES,
      connections: CONNECTIONS,
      p99Ms: first.p99Ms,
      newConnections: first.newConnections,
      what: 'the same sync on a new TLS connection per device (handshake with client certificate)',
    });
    emit({ name: 'android.sync.p99', value: steady.p99Ms, unit: 'ms', baseline: { name: 'koa.constant-json.p99', value: koaSteady.p99Ms }, connections: CONNECTIONS });
    await daemon.stop();
    daemon = undefined;

    // ---- long polls held at once, memory per held poll ----
    daemon = await spawnBenchDaemon(file);
    const wardHttp = daemon.httpPort;
    const pid = daemon.proc.pid!;
    agentsFor(devices);
    const rssBefore = memoryOf(pid).rss;
    const answered: { status: number; next: string; ms: number }[] = [];
    const pending: Promise<void>[] = [];
    let failed = 0;
    const holdStart = Date.now();
    // Devices connect CONNECTIONS at a time (each loop waits for its poll's TLS connection before the
    // next), as a ward's tablets do after a shift change, not all in the same millisecond.
    const base = `https://127.0.0.1:${daemon.httpsPort}`;
    let nextDevice = 0;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        for (;;) {
          const i = nextDevice++;
          if (i >= devices.length) return;
          const t = Date.now();
          let connected!: () => void;
          const isConnected = new Promise<void>((r) => (connected = r));
          pending.push(
            holdPoll(base, devices[i], connected).then(
              (r) => void answered.push({ status: r.status, next: JSON.parse(r.body.toString()).next?.action, ms: Date.now() - t }),
              () => {
                failed++;
                connected();
              },
            ),
          );
          await isConnected;
        }
      }),
    );
    // Wait for the condition: every poll either held by Ward, answered, or failed on the client.
    for (;;) {
      const held = await heldPolls(wardHttp);
      if (held + answered.length + failed >= DEVICES) break;
      if (Date.now() - holdStart > 120_000) throw new Error(`only ${held} held, ${answered.length} answered, ${failed} failed`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const held = await heldPolls(wardHttp);
    const rssHeld = memoryOf(pid).rss;
    const clientFailures = failed;
    const overCap = answered.filter((a) => a.next === 'retry_later');
    const overCapMs = overCap.map((a) => a.ms).sort((x, y) => x - y);
    log(`held ${held}, answered at once ${answered.length} (${overCap.length} retry_later), client failures ${clientFailures}, RSS ${round(rssBefore / 1048576)} -> ${round(rssHeld / 1048576)} MiB in ${Date.now() - holdStart} ms`);
    for (const d of devices) d.agent?.destroy();
    await Promise.all(pending);
    await daemon.stop();
    daemon = undefined;

    // Baseline memory: the koa app with the same number of open keep-alive TLS connections.
    baseline.proc.kill('SIGTERM');
    baseline = await startKoaBaseline(tlsFile, 'application/json', KOA_ANSWER);
    agentsFor(devices);
    const koaRssBefore = memoryOf(baseline.proc.pid!).rss;
    let opened = 0;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, k) => {
        for (let i = k; i < devices.length; i += CONNECTIONS) {
          // A connection the baseline resets (10,000 opened in a burst) is not counted, as a failed
          // poll is not counted on Ward's side; the figure is memory per connection held.
          const r = await request(`https://127.0.0.1:${baseline!.port}`, devices[i], 'GET', '/android/agent/v1/commands?wait=0').catch(() => undefined);
          if (r?.status === 200) opened++;
        }
      }),
    );
    const koaRss = memoryOf(baseline.proc.pid!).rss;
    for (const d of devices) d.agent?.destroy();

    const perHeld = (rssHeld - rssBefore) / Math.max(1, held);
    const perIdle = (koaRss - koaRssBefore) / Math.max(1, opened);
    emit({ name: 'android.longpoll.held', value: held, unit: 'connections', baseline: { name: 'android.maxHeldPolls', value: HELD_CAP }, ratio: round(held / HELD_CAP, 3), devices: DEVICES, overCapAnswered: overCap.length, clientFailures, overCapP99Ms: overCapMs.length ? overCapMs[Math.floor(overCapMs.length * 0.99)] : null, rssMiB: round(rssHeld / 1048576) });
    emit({ name: 'android.longpoll.rss_per_held_poll', value: Math.round(perHeld), unit: 'bytes', baseline: { name: 'koa RSS per open keep-alive TLS connection', value: Math.round(perIdle) }, ratio: round(perHeld / perIdle, 3), held, koaConnections: opened });
  } finally {
    baseline?.proc.kill('SIGTERM');
    await daemon?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench/android: ${(e as Error).stack}\n`);
  process.exit(1);
});
