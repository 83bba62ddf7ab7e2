// Shift change and memory (issue 10, "Load and speed": 2,000 devices checking in within one minute
// while an admin pages the device list, p50/p99 for both; RSS at 10,000 and 100,000 enrolled devices).
//
// Ward runs as a real daemon (node build/src/main.js: TLS, SQLite, audit); this process seeds its
// database through the domain services while no daemon runs (bench/_seed.ts: CA issuance, Apple
// check-in service behind cert-auth, AndroidService.enroll, compliance judged and the effective
// policy recorded as sent, as on a Ward that has run for a while) and generates the load.
//
// 1. Shift change, on a Ward with BENCH_SHIFT_APPLE enrolled Apple devices (10,000) and
//    BENCH_SHIFT_ANDROID Android agents (1,000). BENCH_SHIFT_CHECKINS devices (2,000, Apple and
//    Android in the fleet's proportion) each start a check-in session at evenly spaced moments over
//    BENCH_SHIFT_WINDOW_S seconds (60): open loop, a session starts on time whether or not earlier
//    ones have ended. A session is one device on its own new TLS connection (kept alive for the
//    session): an iPhone sends TokenUpdate (30% of them), then Idle to the command endpoint, and when
//    a command is queued for it (25%: DeviceInformation queued before the run) receives it and
//    sends the Acknowledged result; every Apple message carries a Mdm-Signature made before the
//    clock starts. An Android agent posts its status and polls its commands (wait=0) with its client
//    certificate. Meanwhile an admin, signed in through the admin API with password and TOTP, pages
//    GET /api/v1/devices (50 a page, by name) one page after the other, without pause
//    (BENCH_SHIFT_ADMIN_PAUSE_MS between pages for a human-paced admin), until the last session
//    ends. Baselines from the same run: the admin paging alone for
//    BENCH_SHIFT_ADMIN_BASELINE_S seconds (15, no device load), and device sessions alone (a tenth
//    as many, same pace, no admin). Ward's scheduled jobs keep their default schedules; the ones
//    that ran during the shift are listed with their duration.
// 2. Memory: VmRSS and VmHWM of a freshly started daemon after a warm-up: BENCH_MEMORY_WARMUP check-in
//    sessions (500, flat out on 8 connections), the admin's sign-in and first page of the device list,
//    and a compliance look-up of a key no device has, which runs Ward's full compliance sync (as its
//    schedule does every 5 minutes) so the per-device evaluations it keeps are in memory. Measured
//    for an empty Ward (the baseline), the shift-change fleet, and the same fleet grown to
//    BENCH_MEMORY_APPLE Apple devices (100,000; Android grown in the same proportion; 0 skips it).
//    MiB, and MiB per 1,000 devices above the empty Ward. The grown fleet also gets the admin paging
//    alone, and the full compliance sync is timed at both sizes.
//
// Quick run: BENCH_SHIFT_APPLE=2000 BENCH_SHIFT_ANDROID=200 BENCH_SHIFT_CHECKINS=400 BENCH_SHIFT_WINDOW_S=10
//   BENCH_SHIFT_ADMIN_BASELINE_S=5 BENCH_MEMORY_APPLE=5000 BENCH_MEMORY_WARMUP=100 node build/bench/shift-change.js
// One JSON object a line: name, value, unit, baseline {name, value}, ratio, ...
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import https from 'node:https';
import tls from 'node:tls';
import YAML from 'yaml';
import { adminServices, base32Decode, totp, totpStep } from '../src/admin';
import { signMdmMessage } from '../src/apple/cms';
import { buildPlistBuffer } from '../src/apple/plist';
import type { Daemon } from '../test/support/ward';
import { type Answer, MiB, benchOutput, cpuMs, healthDetails, httpsCall, latencySummary, memoryOf, round, sleep, spawnBenchDaemon } from './_load';
import { ANDROID_STATUS, type AndroidBenchDevice, type AppleBenchDevice, BenchFleet, type BenchStore, keyPool, openBenchStore, tokenUpdateMessage, writeBenchConfig } from './_seed';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const APPLE = num('BENCH_SHIFT_APPLE', 10_000);
const ANDROID = num('BENCH_SHIFT_ANDROID', 1_000);
const CHECKINS = num('BENCH_SHIFT_CHECKINS', 2_000);
const WINDOW_MS = num('BENCH_SHIFT_WINDOW_S', 60) * 1000;
const ADMIN_BASELINE_MS = num('BENCH_SHIFT_ADMIN_BASELINE_S', 15) * 1000;
const ADMIN_PAUSE_MS = num('BENCH_SHIFT_ADMIN_PAUSE_MS', 0);
const LARGE_APPLE = num('BENCH_MEMORY_APPLE', 100_000);
const WARMUP = num('BENCH_MEMORY_WARMUP', 500);
const TOKEN_UPDATE_SHARE = 0.3;
const COMMAND_SHARE = 0.25;
const PAGE = 50;
const LARGE_PAGES = 10;
const { emit, log } = benchOutput('shift-change');

const ANDROID_SHARE = ANDROID / (APPLE + ANDROID);
const SYSTEM = { actor: { type: 'system' as const, id: 'bench' }, source: null, requestId: null };

// ---- device sessions

type StepKind = 'apple.tokenupdate' | 'apple.idle' | 'apple.idle_command' | 'apple.result' | 'android.status' | 'android.commands';

interface Step {
  kind: StepKind;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Why the answer is wrong, or undefined. */
  check(a: Answer): string | undefined;
}

interface Session {
  agent: () => https.Agent;
  steps: Step[];
}

const ok200 = (a: Answer) => (a.status === 200 ? undefined : `status ${a.status}: ${a.body.toString().slice(0, 200)}`);

function appleStep(kind: StepKind, d: AppleBenchDevice, path: string, contentType: string, body: Buffer, check = ok200): Step {
  const signature = signMdmMessage(body, { key: d.key, certificate: d.certDer });
  return { kind, method: 'PUT', path, headers: { 'Content-Type': contentType, 'Mdm-Signature': signature }, body, check };
}

const report = (d: AppleBenchDevice, kind: StepKind, body: Record<string, unknown>, check?: Step['check']) =>
  appleStep(kind, d, '/mdm/command', 'application/x-apple-aspen-mdm', buildPlistBuffer(body as never), check);

/** An iPhone's session: TokenUpdate (some), Idle, and the queued command's result when it has one. */
function appleSession(d: AppleBenchDevice, trust: tls.SecureContext, tokenUpdate: boolean, commandUuid: string | undefined): Session {
  const steps: Step[] = [];
  if (tokenUpdate) steps.push(appleStep('apple.tokenupdate', d, '/mdm/checkin', 'application/x-apple-aspen-mdm-checkin', tokenUpdateMessage(d)));
  if (commandUuid) {
    steps.push(report(d, 'apple.idle_command', { Status: 'Idle', UDID: d.udid }, (a) => ok200(a) ?? (a.body.includes(commandUuid) ? undefined : 'the queued command was not handed out')));
    steps.push(report(d, 'apple.result', {
      CommandUUID: commandUuid,
      QueryResponses: { DeviceName: `Bench ${d.udid.slice(-4)}`, OSVersion: '18.1', SerialNumber: d.udid.slice(-12), UDID: d.udid, BatteryLevel: 0.5 },
      Status: 'Acknowledged',
      UDID: d.udid,
    }));
  } else {
    steps.push(report(d, 'apple.idle', { Status: 'Idle', UDID: d.udid }, (a) => ok200(a) ?? (a.body.length === 0 ? undefined : 'a command was handed out where none was queued')));
  }
  return { agent: () => new https.Agent({ keepAlive: true, maxSockets: 1, secureContext: trust } as https.AgentOptions), steps };
}

/** An Android agent's check-in: status, then a command poll that does not wait. */
function androidSession(d: AndroidBenchDevice): Session {
  return {
    agent: () => new https.Agent({ keepAlive: true, maxSockets: 1, secureContext: d.context } as https.AgentOptions),
    steps: [
      { kind: 'android.status', method: 'POST', path: '/android/agent/v1/status', headers: { 'Content-Type': 'application/json' }, body: ANDROID_STATUS, check: ok200 },
      { kind: 'android.commands', method: 'GET', path: '/android/agent/v1/commands?wait=0', headers: {}, check: ok200 },
    ],
  };
}

class Tally {
  readonly latencies: number[] = [];
  readonly byKind = new Map<string, number[]>();
  readonly sessions: number[] = [];
  errors = 0;
  readonly samples: string[] = [];

  record(kind: string, ms: number): void {
    this.latencies.push(ms);
    let l = this.byKind.get(kind);
    if (!l) this.byKind.set(kind, (l = []));
    l.push(ms);
  }

  fail(what: string): void {
    this.errors++;
    if (this.samples.length < 5) this.samples.push(what);
  }

  kinds(): Record<string, ReturnType<typeof latencySummary>> {
    return Object.fromEntries([...this.byKind].sort().map(([k, v]) => [k, latencySummary(v)]));
  }
}

async function runSession(base: string, s: Session, tally: Tally): Promise<void> {
  const agent = s.agent();
  const t0 = performance.now();
  try {
    for (const step of s.steps) {
      let a: Answer;
      const sent = performance.now();
      try {
        a = await httpsCall(`${base}${step.path}`, agent, { method: step.method, headers: step.headers, body: step.body });
      } catch (e) {
        // A request cut off (Ward's requestTimeout, a reset) counts in the latencies with the time it took.
        tally.record(step.kind, performance.now() - sent);
        tally.fail(`${step.kind}: ${(e as Error).message}`);
        return;
      }
      tally.record(step.kind, a.ms);
      const wrong = step.check(a);
      if (wrong) {
        tally.fail(`${step.kind}: ${wrong}`);
        return;
      }
    }
    tally.sessions.push(performance.now() - t0);
  } finally {
    agent.destroy();
  }
}

/** Starts session i at start + i * windowMs / n (open loop); resolves when all have ended. */
async function paced(base: string, sessions: Session[], windowMs: number, tally: Tally): Promise<{ seconds: number; maxLateMs: number }> {
  const started = performance.now();
  const running: Promise<void>[] = [];
  let maxLateMs = 0;
  for (let i = 0; i < sessions.length; i++) {
    const due = started + (i * windowMs) / sessions.length;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    maxLateMs = Math.max(maxLateMs, performance.now() - due);
    running.push(runSession(base, sessions[i], tally));
  }
  await Promise.all(running);
  return { seconds: (performance.now() - started) / 1000, maxLateMs: round(maxLateMs) };
}

/** Runs every session, `concurrency` at a time, as fast as they are answered. */
async function flatOut(base: string, sessions: Session[], concurrency: number, tally: Tally): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < sessions.length) await runSession(base, sessions[next++], tally);
  }));
}

// ---- the admin

interface AdminPerson {
  username: string;
  password: string;
  secret: Buffer;
}

/** Creates an admin account in the Ward's database (as `wardctl user create` does). */
async function createAdmin(s: BenchStore): Promise<AdminPerson> {
  const password = `correct horse ${crypto.randomBytes(6).toString('hex')}`;
  const created = await adminServices(s.cfg, s.db, s.audit).accounts.create({ username: 'charge-nurse-admin', role: 'admin', password }, SYSTEM);
  return { username: created.user.username, password, secret: base32Decode(new URL(created.otpauthUri).searchParams.get('secret')!) };
}

let lastTotpStep = -1;

/** Signs in through the API (password + the current TOTP code; a code is good once, so a second
 * sign-in within the same 30 s step waits for the next one). Answers the session cookie. */
async function signIn(base: string, caPem: string, who: AdminPerson): Promise<Record<string, string>> {
  while (totpStep() === lastTotpStep) await sleep(500);
  lastTotpStep = totpStep();
  const agent = new https.Agent({ ca: caPem });
  const a = await httpsCall(`${base}/api/v1/session`, agent, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: Buffer.from(JSON.stringify({ username: who.username, password: who.password, code: totp(who.secret) })),
  });
  agent.destroy();
  if (a.status !== 201) throw new Error(`admin sign-in answered ${a.status}: ${a.body}`);
  const setCookie = ([] as string[]).concat(a.headers['set-cookie'] ?? []);
  return { cookie: setCookie[0].split(';')[0] };
}

class AdminPager {
  readonly agent: https.Agent;
  private offset = 0;
  total = 0;

  constructor(
    private readonly base: string,
    caPem: string,
    readonly headers: Record<string, string>,
  ) {
    // The console's browser keeps its connection alive.
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: caPem });
  }

  /** Reads the next page of the device list (by name), wrapping at the end. */
  async page(tally: Tally): Promise<void> {
    const offset = this.offset;
    let a: Answer;
    try {
      a = await httpsCall(`${this.base}/api/v1/devices?limit=${PAGE}&offset=${offset}`, this.agent, { headers: this.headers });
    } catch (e) {
      tally.fail(`admin page: ${(e as Error).message}`);
      return;
    }
    tally.record('admin.devices.page', a.ms);
    if (a.status !== 200) return tally.fail(`admin page: status ${a.status}: ${a.body.toString().slice(0, 200)}`);
    const body = JSON.parse(a.body.toString()) as { devices: unknown[]; total: number };
    this.total = body.total;
    if (body.devices.length !== Math.min(PAGE, body.total - offset)) tally.fail(`admin page at ${offset}: ${body.devices.length} devices of ${body.total}`);
    this.offset = offset + PAGE >= body.total ? 0 : offset + PAGE;
  }

  /** Pages one after the other until `done()`, `pauseMs` between an answer and the next click. */
  async pageUntil(done: () => boolean, tally: Tally, pauseMs = 0): Promise<void> {
    while (!done()) {
      await this.page(tally);
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---- memory

interface MemoryPoint {
  devices: number;
  apple: number;
  android: number;
  readyMiB: number;
  afterCheckinsMiB: number;
  /** After the check-ins and the first page, before the compliance sync. */
  beforeSyncMiB: number;
  rssMiB: number;
  hwmMiB: number;
  firstPageMs: number;
  /** The unknown-key compliance look-up, which runs Ward's full compliance sync. */
  syncMs: number;
}

/**
 * A freshly started daemon: RSS at ready; then the warm-up check-in sessions, the admin's sign-in
 * and first page of the device list, and a compliance look-up of a key no device has (a visitor's
 * MAC address at the NAC), which makes Ward run its full compliance sync as its schedule does every
 * five minutes, so the per-device evaluations it keeps are in memory; then RSS and its peak.
 */
async function memoryPoint(daemon: Daemon, caPem: string, admin: AdminPerson, warmup: Session[], counts: { apple: number; android: number }): Promise<MemoryPoint & { pager: AdminPager }> {
  const pid = daemon.proc.pid!;
  const base = `https://127.0.0.1:${daemon.httpsPort}`;
  const ready = memoryOf(pid);
  const tally = new Tally();
  await flatOut(base, warmup, 8, tally);
  const afterCheckins = memoryOf(pid);
  const pager = new AdminPager(base, caPem, await signIn(base, caPem, admin));
  await pager.page(tally);
  const beforeSync = memoryOf(pid);
  const lookup = await httpsCall(`${base}/api/v1/compliance/mac:02:00:5e:10:00:01`, pager.agent, { headers: pager.headers });
  if (lookup.status !== 200) tally.fail(`compliance look-up: status ${lookup.status}`);
  if (tally.errors) throw new Error(`warm-up: ${tally.errors} errors, e.g. ${tally.samples.join('; ')}`);
  const m = memoryOf(pid);
  const point = {
    devices: counts.apple + counts.android, ...counts, readyMiB: MiB(ready.rss), afterCheckinsMiB: MiB(afterCheckins.rss), beforeSyncMiB: MiB(beforeSync.rss), rssMiB: MiB(m.rss), hwmMiB: MiB(m.hwm),
    firstPageMs: round(tally.byKind.get('admin.devices.page')![0]), syncMs: round(lookup.ms),
  };
  log(`memory with ${point.devices} devices: ${JSON.stringify(point)}`);
  return { ...point, pager };
}

/** Duration and run count of Ward's scheduled jobs (/healthz). */
async function jobs(daemon: Daemon): Promise<Record<string, { runs: number; lastDurationMs?: number }>> {
  const details = await healthDetails(daemon.httpPort, 'jobs');
  return Object.fromEntries(Object.entries(details).map(([name, j]) => [name, { runs: j.runs, lastDurationMs: j.lastDurationMs }]));
}

// ---- the run

const shuffled = <T>(xs: T[]): T[] => {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
};
const every = <T>(xs: T[], n: number) => Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]);
const ratio = (a: number, b: number) => round(a / b, 2);

async function main(): Promise<void> {
  const started = Date.now();
  const shiftAndroid = Math.round(CHECKINS * ANDROID_SHARE);
  const shiftApple = CHECKINS - shiftAndroid;
  const quietApple = Math.round(shiftApple / 10);
  const quietAndroid = Math.round(shiftAndroid / 10);
  const warmAndroid = Math.round(WARMUP * ANDROID_SHARE);
  const warmApple = WARMUP - warmAndroid;
  if (shiftApple + quietApple + warmApple > APPLE || shiftAndroid + quietAndroid + warmAndroid > ANDROID) {
    throw new Error('BENCH_SHIFT_APPLE / BENCH_SHIFT_ANDROID too small for BENCH_SHIFT_CHECKINS and BENCH_MEMORY_WARMUP');
  }
  const appleConfig = { apns: { enabled: false }, mdm: { initialCommands: [] } };
  const rsaPool = keyPool('rsa');
  const ecPool = keyPool('ec');
  const dirs: string[] = [];
  let daemon: Daemon | undefined;
  try {
    // ---- the baseline for memory: an empty Ward, the same warm-up without devices ----
    const empty = writeBenchConfig({ apple: appleConfig });
    dirs.push(empty.dir);
    const emptyFleet = new BenchFleet(openBenchStore(empty.file, empty.doc));
    const emptyAdmin = await createAdmin(emptyFleet.store);
    const emptyCa = emptyFleet.store.ca.chainPem();
    await emptyFleet.close();
    daemon = await spawnBenchDaemon(empty.file);
    const emptyPoint = await memoryPoint(daemon, emptyCa, emptyAdmin, [], { apple: 0, android: 0 });
    emptyPoint.pager.close();
    await daemon.stop();
    daemon = undefined;

    // ---- the shift-change fleet ----
    const { dir, file, doc } = writeBenchConfig({ apple: appleConfig });
    dirs.push(dir);
    let t0 = Date.now();
    const fleet = new BenchFleet(openBenchStore(file, doc));
    const apple = await fleet.addApple(0, APPLE, rsaPool);
    const android = fleet.addAndroid(0, ANDROID, ecPool);
    const seeded = Date.now() - t0;
    t0 = Date.now();
    const compliance = fleet.settlePolicy([...apple.map((d) => d.udid), ...android.map((d) => d.id)]);
    log(`seeded ${APPLE} Apple and ${ANDROID} Android devices in ${seeded} ms, compliance and policy settled in ${Date.now() - t0} ms: ${JSON.stringify(compliance)}`);
    const admin = await createAdmin(fleet.store);
    const caPem = fleet.store.ca.chainPem();
    // The shift's Apple devices come first, then the quiet run's, the warm-up's last; a quarter of
    // the session devices have DeviceInformation queued (as after an admin's refresh).
    const queued = new Map<string, string>();
    for (const d of apple.slice(0, shiftApple + quietApple)) {
      if (crypto.randomInt(1000) < COMMAND_SHARE * 1000) queued.set(d.udid, (await fleet.apple.service.queueCommand(d.udid, 'DeviceInformation', {}, SYSTEM)).uuid);
    }
    await fleet.close();

    t0 = Date.now();
    // iPhones present no TLS client certificate (they sign each message): one context trusting Ward's CA.
    const trust = tls.createSecureContext({ ca: caPem });
    const sessionsOf = (appleDevices: AppleBenchDevice[], androidDevices: AndroidBenchDevice[], tokenUpdateShare: number): Session[] =>
      // Platforms interleaved, as tablets of a ward come on shift together.
      shuffled([
        ...appleDevices.map((d) => appleSession(d, trust, crypto.randomInt(1000) < tokenUpdateShare * 1000, queued.get(d.udid))),
        ...androidDevices.map((d) => androidSession(d)),
      ]);
    const shift = sessionsOf(apple.slice(0, shiftApple), android.slice(0, shiftAndroid), TOKEN_UPDATE_SHARE);
    const quiet = sessionsOf(apple.slice(shiftApple, shiftApple + quietApple), android.slice(shiftAndroid, shiftAndroid + quietAndroid), TOKEN_UPDATE_SHARE);
    const warmup = (appleDevices: AppleBenchDevice[], androidDevices: AndroidBenchDevice[]) => sessionsOf(appleDevices, androidDevices, 1);
    const smallWarmup = warmup(apple.slice(APPLE - warmApple), android.slice(ANDROID - warmAndroid));
    log(`signed the sessions' messages in ${Date.now() - t0} ms`);

    daemon = await spawnBenchDaemon(file);
    const base = `https://127.0.0.1:${daemon.httpsPort}`;
    const pid = daemon.proc.pid!;
    const small = await memoryPoint(daemon, caPem, admin, smallWarmup, { apple: APPLE, android: ANDROID });
    const pager = small.pager;

    // Baseline 1: the admin pages alone.
    const adminQuiet = new Tally();
    const quietUntil = performance.now() + ADMIN_BASELINE_MS;
    const adminCpu = cpuMs(pid);
    await pager.pageUntil(() => performance.now() >= quietUntil, adminQuiet, ADMIN_PAUSE_MS);
    const aq = latencySummary(adminQuiet.latencies);
    const cpuPerPage = round((cpuMs(pid) - adminCpu) / aq.count, 1);
    log(`admin paging alone: ${JSON.stringify(aq)}, ${adminQuiet.errors} errors`);

    // Baseline 2: device sessions alone, at the shift's pace.
    const devicesQuiet = new Tally();
    const quietCpu = cpuMs(pid);
    await paced(base, quiet, (WINDOW_MS * quiet.length) / shift.length, devicesQuiet);
    const quietCpuPerRequest = round((cpuMs(pid) - quietCpu) / devicesQuiet.latencies.length, 2);
    const dq = latencySummary(devicesQuiet.latencies);
    log(`device sessions alone: ${JSON.stringify(dq)}, ${devicesQuiet.errors} errors`);

    // The shift change.
    const jobsBefore = await jobs(daemon);
    const cpuBefore = cpuMs(pid);
    const devices = new Tally();
    const adminBusy = new Tally();
    let shiftOver = false;
    const paging = pager.pageUntil(() => shiftOver, adminBusy, ADMIN_PAUSE_MS);
    const run = await paced(base, shift, WINDOW_MS, devices);
    shiftOver = true;
    await paging;
    const cpuUsed = cpuMs(pid) - cpuBefore;
    const loadAverage = os.loadavg()[0];
    const jobsAfter = await jobs(daemon);
    const jobsRan = Object.fromEntries(Object.entries(jobsAfter).filter(([n, j]) => j.runs > (jobsBefore[n]?.runs ?? 0)).map(([n, j]) => [n, j.lastDurationMs ?? null]));
    const afterShift = memoryOf(pid);
    pager.close();
    await daemon.stop();
    daemon = undefined;

    const d = latencySummary(devices.latencies);
    const ab = latencySummary(adminBusy.latencies);
    const sessions = latencySummary(devices.sessions);
    log(`shift: devices ${JSON.stringify(d)} (${devices.errors} errors ${devices.samples.join('; ')}); admin ${JSON.stringify(ab)} (${adminBusy.errors} errors ${adminBusy.samples.join('; ')})`);
    const fleetSize = { apple: APPLE, android: ANDROID };
    emit({
      name: 'shift.checkin.p99', value: d.p99Ms, unit: 'ms', p50Ms: d.p50Ms, maxMs: d.maxMs,
      baseline: { name: 'checkin.p99.no_admin_load', value: dq.p99Ms, p50Ms: dq.p50Ms, sessions: quiet.length }, ratio: ratio(d.p99Ms, dq.p99Ms), p50Ratio: ratio(d.p50Ms, dq.p50Ms),
      fleet: fleetSize, checkins: shift.length, appleSessions: shiftApple, androidSessions: shiftAndroid, windowS: WINDOW_MS / 1000, lastEndedS: round(run.seconds), maxStartLateMs: run.maxLateMs,
      requests: d.count, errors: devices.errors, byKind: devices.kinds(), sessionP50Ms: sessions.p50Ms, sessionP99Ms: sessions.p99Ms,
      // Server CPU: per request (devices and admin pages together) and as a share of one core; the
      // machine's load average says how much CPU other processes took meanwhile.
      serverCpuMsPerRequest: round(cpuUsed / (d.count + ab.count), 2), quietCpuMsPerDeviceRequest: quietCpuPerRequest, serverCpuPercent: round(cpuUsed / 10 / run.seconds), loadAverage: round(loadAverage, 2),
      jobsRanMs: jobsRan,
      what: "device requests during the shift change (each device on its own new TLS connection, the handshake in its first request's time), the admin paging meanwhile",
    });
    emit({
      name: 'shift.admin.page.p99', value: ab.p99Ms, unit: 'ms', p50Ms: ab.p50Ms, maxMs: ab.maxMs,
      baseline: { name: 'admin.page.p99.no_device_load', value: aq.p99Ms, p50Ms: aq.p50Ms, pages: aq.count, serverCpuMsPerPage: cpuPerPage }, ratio: ratio(ab.p99Ms, aq.p99Ms), p50Ratio: ratio(ab.p50Ms, aq.p50Ms),
      fleet: fleetSize, pages: ab.count, pageSize: PAGE, pauseMs: ADMIN_PAUSE_MS, listed: pager.total, errors: adminBusy.errors,
      what: 'GET /api/v1/devices?limit=50&offset=N (by name) with a session cookie, one page after the other, during the shift change',
    });
    emit({
      name: 'shift.errors', value: devices.errors + adminBusy.errors, unit: 'errors', bar: 0, deviceErrors: devices.errors, adminErrors: adminBusy.errors,
      baselineErrors: devicesQuiet.errors + adminQuiet.errors, samples: [...devices.samples, ...adminBusy.samples, ...devicesQuiet.samples, ...adminQuiet.samples],
    });
    emit({
      name: 'memory.rss.after_shift', value: MiB(afterShift.rss), unit: 'MiB', hwmMiB: MiB(afterShift.hwm), devices: small.devices,
      baseline: { name: `memory.rss.${small.devices}`, value: small.rssMiB }, ratio: ratio(MiB(afterShift.rss), small.rssMiB),
    });

    // ---- the fleet grown to BENCH_MEMORY_APPLE ----
    const points: MemoryPoint[] = [small];
    let largePages: ReturnType<typeof latencySummary> | undefined;
    let largeJobs: Awaited<ReturnType<typeof jobs>> | undefined;
    if (LARGE_APPLE > APPLE) {
      const largeAndroid = Math.round((LARGE_APPLE * ANDROID) / APPLE);
      t0 = Date.now();
      const more = new BenchFleet(openBenchStore(file, doc));
      const moreApple = await more.addApple(APPLE, LARGE_APPLE - APPLE, rsaPool);
      const moreAndroid = more.addAndroid(ANDROID, largeAndroid - ANDROID, ecPool);
      const grown = Date.now() - t0;
      t0 = Date.now();
      more.settlePolicy([...moreApple.map((x) => x.udid), ...moreAndroid.map((x) => x.id)]);
      await more.close();
      log(`grew the fleet to ${LARGE_APPLE} Apple and ${largeAndroid} Android devices in ${grown} ms, settled in ${Date.now() - t0} ms`);
      // The warm-up devices spread over the whole fleet, old and new.
      const largeWarmup = warmup(every([...apple.slice(shiftApple + quietApple), ...moreApple], warmApple), every([...android.slice(shiftAndroid + quietAndroid), ...moreAndroid], warmAndroid));
      // The look-up in the warm-up runs the full compliance sync; the scheduled one (every 5 minutes)
      // is moved out of the way so that it does not run again under the paging that follows.
      fs.writeFileSync(file, YAML.stringify({ ...doc, policy: { complianceSchedule: '0 0 1 1 *' } }));
      daemon = await spawnBenchDaemon(file);
      const large = await memoryPoint(daemon, caPem, admin, largeWarmup, { apple: LARGE_APPLE, android: largeAndroid });
      points.push(large);
      const tally = new Tally();
      for (let i = 0; i < LARGE_PAGES; i++) await large.pager.page(tally);
      largePages = latencySummary(tally.latencies);
      largeJobs = await jobs(daemon);
      large.pager.close();
      log(`admin paging alone with ${large.devices} devices: ${JSON.stringify(largePages)}, ${tally.errors} errors; jobs ${JSON.stringify(largeJobs)}`);
      await daemon.stop();
      daemon = undefined;
    }

    for (const p of points) {
      emit({
        name: `memory.rss.${p.devices}`, value: p.rssMiB, unit: 'MiB', hwmMiB: p.hwmMiB, readyMiB: p.readyMiB, afterCheckinsMiB: p.afterCheckinsMiB, beforeSyncMiB: p.beforeSyncMiB,
        baseline: { name: 'memory.rss.empty', value: emptyPoint.rssMiB, hwmMiB: emptyPoint.hwmMiB }, ratio: ratio(p.rssMiB, emptyPoint.rssMiB),
        devices: p.devices, apple: p.apple, android: p.android,
        mibPer1000Devices: round((p.rssMiB - emptyPoint.rssMiB) / (p.devices / 1000), 2), hwmMibPer1000Devices: round((p.hwmMiB - emptyPoint.hwmMiB) / (p.devices / 1000), 2),
        warmup: `${WARMUP} check-in sessions, admin sign-in, first device-list page, unknown-key compliance look-up (full compliance sync)`,
      });
    }
    if (points.length === 2) {
      const [a, b] = points;
      const deviceRatio = round(b.devices / a.devices, 2);
      emit({
        name: 'memory.rss.slope', value: round((b.rssMiB - a.rssMiB) / ((b.devices - a.devices) / 1000), 3), unit: 'MiB per 1000 devices',
        hwmSlope: round((b.hwmMiB - a.hwmMiB) / ((b.devices - a.devices) / 1000), 3), from: a.devices, to: b.devices,
      });
      emit({
        name: `admin.page.p50.${b.devices}`, value: largePages!.p50Ms, unit: 'ms', p99Ms: largePages!.p99Ms, pages: largePages!.count, firstPageMs: b.firstPageMs,
        baseline: { name: `admin.page.p50.${a.devices}`, value: aq.p50Ms, p99Ms: aq.p99Ms, firstPageMs: a.firstPageMs }, ratio: ratio(largePages!.p50Ms, aq.p50Ms), deviceRatio,
        what: 'the same admin paging, no device load, on the grown fleet',
      });
      emit({
        name: `compliance.sync.${b.devices}`, value: round(b.syncMs / 1000, 2), unit: 's', baseline: { name: `compliance.sync.${a.devices}`, value: round(a.syncMs / 1000, 2) },
        ratio: ratio(b.syncMs, a.syncMs), deviceRatio, scheduledRunMs: largeJobs?.['compliance-evaluate']?.lastDurationMs ?? null,
        what: "Ward's full compliance sync (every 5 minutes, and on a look-up of an unknown key), timed as the look-up that ran it; the daemon answers nothing else meanwhile",
      });
    }
    log(`done in ${round((Date.now() - started) / 1000)} s`);
  } finally {
    await daemon?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench/shift-change: ${(e as Error).stack}\n`);
  process.exit(1);
});
