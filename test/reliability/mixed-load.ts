// Every kind of client of a Ward daemon at once, for the fault tests (kill, full disk, locked
// database, slow clients): SCEP enrollments (pkiMessages built by openssl and pkijs, test/scep), Apple
// check-ins and command fetches (the simulated device of test/apple, signed plists), Android agents
// enrolling, reporting, polling and answering commands (the reference agent of test/android), and an
// admin API client issuing challenges and queuing commands. Every request carries its own
// X-Request-Id. An answered request is remembered with what must now be in the database: its effect,
// and the audit events that carry its request id.
import crypto, { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { parsePlistDict } from '../../src/apple/plist';
import { AgentSimulator, type ReceivedCommand } from '../android/agent-simulator';
import { fixture } from '../apple/fixture';
import { makeLeaf, makeRoot } from '../apple/openssl';
import { installProfile, scepEnroll, SimulatedDevice, typicalAnswer } from '../apple/simulator';
import { ScepTestClient } from '../scep/client';
import { loadPkijs } from '../scep/requests';
import { makeRequester, type Requester } from '../scep/throwaway-ca';
import { request, wardctl, type HttpAnswer } from '../support/ward';
import type { AuditIndex } from './store-checks';

export type Kind =
  | 'scep.enroll' | 'admin.challenge' | 'admin.lock' | 'admin.refresh'
  | 'apple.token' | 'apple.fetch' | 'apple.result'
  | 'android.enroll' | 'android.status' | 'android.fetch' | 'android.result';

export interface Answered {
  kind: Kind;
  requestId: string;
  /** Audit actions that must be recorded with this request id ('a|b': either). */
  events: string[];
  /** What the database must now hold: undefined, or what is wrong. */
  effect?: (db: Database.Database, audit: AuditIndex) => string | undefined;
}

/** A 503 answer: its JSON body (error, reason, and for the Android agent `next`) and Retry-After. */
export interface Refusal {
  what: string;
  body: { error?: string; reason?: string; next?: { action: string } } | undefined;
  retryAfter: string | undefined;
}

/** A PKCSReq ready to send: the same bytes again are the same SCEP transaction. */
export interface ScepRequest {
  kind: 'scep.enroll';
  cn: string;
  requester: Requester;
  message: Buffer;
}

/** A request the daemon died under: it may or may not have taken effect, and is sent again after the restart. */
export type Unanswered = ScepRequest | { kind: 'android.enroll'; agent: AgentSimulator };

export type Wardctl = (args: string[]) => { status: number | null; stdout: string; stderr: string };

export interface WardEndpoints {
  configFile: string;
  httpUrl: string;
  httpsUrl: string;
  caPem: string;
  dir: string;
  /** How to run wardctl against this daemon's files (default: as a plain process). */
  wardctl?: Wardctl;
}

/** Seeded PRNG (mulberry32): the same seed gives the same kill moments and mix. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const requestId = (kind: string) => `${kind.replace('.', '-')}-${crypto.randomBytes(6).toString('hex')}`;
const serialOf = (pem: string) => BigInt(`0x${new X509Certificate(pem).serialNumber}`).toString(16);

function wardctlJson<T>(run: Wardctl, args: string[]): T {
  const r = run(args);
  if (r.status !== 0) throw new Error(`wardctl ${args.slice(0, 3).join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Android agents taking part (the ones enrolled during the load join until there are this many). */
const MAX_AGENTS = 6;

/** Row checks shared by the effects below. */
const row = (db: Database.Database, sql: string, ...args: unknown[]) => db.prepare(sql).get(...args) as Record<string, unknown> | undefined;

export class MixedLoad {
  /** Requests answered since the last take(). */
  private answered: Answered[] = [];
  private unanswered: Unanswered[] = [];
  /** Answers that were not what the client expects (a 500, a refusal): must stay empty. */
  readonly unexpected: string[] = [];
  /** When true, a 503 is a refusal the test expects (full disk, locked database) and lands in `refused`. */
  expectRefusals = false;
  readonly refused: Refusal[] = [];
  private running = false;
  private workers: Promise<void>[] = [];
  private enrollSeq = 0;
  private scepSeq = 0;
  private readonly tlsAgent: https.Agent;

  private constructor(
    readonly ward: WardEndpoints,
    private readonly rand: () => number,
    private readonly adminToken: string,
    private readonly androidToken: string,
    private readonly scep: ScepTestClient,
    private readonly requesters: Requester[],
    readonly apple: SimulatedDevice[],
    readonly android: AgentSimulator[],
  ) {
    this.tlsAgent = new https.Agent({ ca: ward.caPem, servername: 'localhost', keepAlive: false });
  }

  /** Credentials and enrolled devices for the load, made through the running daemon (wardctl, API, SCEP). */
  static async prepare(ward: WardEndpoints, rand: () => number, devices = { apple: 2, android: 3 }): Promise<MixedLoad> {
    await loadPkijs();
    const run = ward.wardctl ?? wardctl;
    const adminToken = wardctlJson<{ token: string }>(run, ['token', 'create', '--name', 'mixed-load', '--role', 'admin', '--json', '--config', ward.configFile]).token;
    const androidToken = wardctlJson<{ token: string }>(run, ['android', 'token', 'create', '--max-devices', '100000', '--json', '--config', ward.configFile]).token;
    // Apple: an APNs push certificate (its UID is the MDM topic of the profiles); pushes are off in the config.
    const apns = path.join(ward.dir, 'apns');
    fs.mkdirSync(apns, { recursive: true });
    const apnsRoot = makeRoot(apns, 'apns-root');
    const push = makeLeaf(apns, apnsRoot, 'push', 'rsa:2048', ['extendedKeyUsage=clientAuth'], '/UID=com.apple.mgmt.External.0b5e1c2d-aaaa-bbbb-cccc-ddddeeeeffff/CN=APSP:0b5e1c2d');
    const imported = run(['apple', 'push-cert', 'import', push.certPath, push.keyPath, '--config', ward.configFile]);
    if (imported.status !== 0) throw new Error(`push certificate import: ${imported.stderr}`);

    const scep = await new ScepTestClient(`${ward.httpUrl}/scep`, ward.dir).init();
    const requesters = [makeRequester(ward.dir, 'load-a'), makeRequester(ward.dir, 'load-b')];
    const load = new MixedLoad(ward, rand, adminToken, androidToken, scep, requesters, [], []);
    const caFile = path.join(ward.dir, 'chain.pem');
    fs.writeFileSync(caFile, ward.caPem);
    for (let i = 0; i < devices.apple; i++) {
      const link = await load.admin('POST', '/enrollment/apple', { singleUse: true });
      if (link.status !== 201) throw new Error(`enrollment link: ${link.status} ${link.body}`);
      const signed = await request(link.json().url, { agent: load.tlsAgent });
      const profile = await installProfile(signed.body, caFile, ward.dir);
      const device = new SimulatedDevice(profile, await scepEnroll(profile, ward.dir), { ca: ward.caPem });
      for (const step of [() => device.authenticate(), () => device.tokenUpdate()]) {
        const a = await step();
        if (a.status !== 200) throw new Error(`Apple check-in: ${a.status} ${a.body}`);
      }
      load.apple.push(device);
    }
    for (let i = 0; i < devices.android; i++) {
      const agent = load.newAgent();
      const a = await agent.enroll();
      if (a.status !== 201) throw new Error(`Android enroll: ${a.status} ${JSON.stringify(a.body)}`);
      load.android.push(agent);
    }
    return load;
  }

  private newAgent(): AgentSimulator {
    const u = new URL(this.ward.httpsUrl);
    return new AgentSimulator({
      serverUrl: `https://${u.hostname}:${u.port}`, enrollmentToken: this.androidToken, servername: 'localhost',
      caSha256: crypto.createHash('sha256').update(new X509Certificate(this.ward.caPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)!.at(-1)!).raw).digest('hex'),
      model: `Kill Tablet ${++this.enrollSeq}`,
    });
  }

  /** An admin API call with the load's bearer token. */
  admin(method: string, apiPath: string, body?: unknown, id = requestId('admin')): Promise<HttpAnswer> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.adminToken}`, 'x-request-id': id };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return request(`${this.ward.httpsUrl}/api/v1${apiPath}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), agent: this.tlsAgent });
  }

  /** Starts one worker per client (SCEP, admin, each Apple device, each Android agent). */
  start(): void {
    this.running = true;
    const loop = async (name: string, step: () => Promise<void>) => {
      while (this.running) {
        try {
          await step();
        } catch (e) {
          // A connection cut by the kill: nothing was promised. Before the kill it is a failure.
          if (this.running) this.unexpected.push(`${name}: ${(e as Error).message}`);
        }
      }
    };
    this.workers = [
      loop('scep', () => this.scepEnrollment()),
      loop('admin', () => this.adminAction()),
      ...this.apple.map((d, i) => loop(`apple-${i}`, () => this.appleCheckin(d))),
      ...this.android.map((a, i) => loop(`android-${i}`, () => this.androidSync(a))),
    ];
  }

  /** Stops the workers: no new request from now on (call it just before the kill); settles when the
   * requests in flight have ended. */
  stop(): Promise<void> {
    this.running = false;
    return Promise.all(this.workers).then(() => undefined);
  }

  /** How many requests were answered since the last take(). */
  get answeredCount(): number {
    return this.answered.length;
  }

  /** Takes the answered and unanswered requests recorded so far. */
  take(): { answered: Answered[]; unanswered: Unanswered[] } {
    const out = { answered: this.answered, unanswered: this.unanswered };
    this.answered = [];
    this.unanswered = [];
    return out;
  }

  /** Drops pooled connections to a killed daemon. */
  reconnect(): void {
    this.tlsAgent.destroy();
    for (const d of this.apple) d.use(d.identity);
    for (const a of this.android) a.close();
  }

  private note(a: Answered): void {
    this.answered.push(a);
  }

  private expectStatus(what: string, answer: { status: number; body: unknown; headers: HttpAnswer['headers'] }, ...ok: number[]): boolean {
    if (ok.includes(answer.status)) return true;
    if (answer.status === 503 && this.expectRefusals) {
      const text = Buffer.isBuffer(answer.body) ? answer.body.toString() : JSON.stringify(answer.body);
      let body: Refusal['body'];
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      this.refused.push({ what, body, retryAfter: answer.headers['retry-after'] as string | undefined });
      return false;
    }
    const body = Buffer.isBuffer(answer.body) ? answer.body.toString().slice(0, 200) : JSON.stringify(answer.body).slice(0, 200);
    this.unexpected.push(`${what}: HTTP ${answer.status} ${body}`);
    return false;
  }

  // ---- SCEP: a one-time challenge from the admin API, then a PKCSReq for a new subject

  private async scepEnrollment(): Promise<void> {
    const request = await this.scepRequest();
    if (request && this.running) await this.sendScep(request);
  }

  /** A PKCSReq for a new subject with a fresh challenge (undefined when the challenge was refused). */
  async scepRequest(): Promise<ScepRequest | undefined> {
    const challengeId = requestId('admin.challenge');
    const c = await this.admin('POST', '/enrollment/challenges', { ttlMinutes: 60 }, challengeId);
    if (!this.expectStatus('challenge', c, 201)) return undefined;
    const { id, challenge } = c.json();
    this.note({
      kind: 'admin.challenge', requestId: challengeId, events: ['scep.challenge.created'],
      effect: (db) => (row(db, 'SELECT 1 FROM scep_challenges WHERE id = ?', id) ? undefined : `challenge ${id} missing`),
    });
    const requester = this.requesters[this.scepSeq % this.requesters.length];
    const cn = `load-${process.pid}-${++this.scepSeq}`;
    return { kind: 'scep.enroll', cn, requester, message: await this.scep.message(requester, requester.csr(challenge, `/O=Ward Test/CN=${cn}`)) };
  }

  /** Sends (or re-sends, same transactionID) a PKCSReq; a lost answer is queued for after the restart. */
  async sendScep(u: ScepRequest): Promise<void> {
    const id = requestId('scep.enroll');
    let answer: HttpAnswer;
    try {
      answer = await request(`${this.ward.httpUrl}/scep?operation=PKIOperation`, {
        method: 'POST', headers: { 'content-type': 'application/x-pki-message', 'x-request-id': id }, body: u.message,
      });
    } catch (e) {
      this.unanswered.push(u);
      throw e;
    }
    if (!this.expectStatus(`scep ${u.cn}`, answer, 200)) return;
    const reply = this.scep.reply(answer, u.requester);
    if (reply.pkiStatus !== 0 || reply.certificates.length !== 1) {
      this.unexpected.push(`scep ${u.cn}: pkiStatus ${reply.pkiStatus} ${reply.failInfoText ?? ''}`);
      return;
    }
    const serial = serialOf(reply.certificates[0]);
    this.note({
      // A re-sent transaction that was issued before the crash is answered from its record (polled).
      kind: 'scep.enroll', requestId: id, events: ['pki.certificate.issued|scep.request.polled'],
      effect: (db) => {
        const cert = row(db, 'SELECT subject, revoked_at FROM certificates WHERE serial = ?', serial);
        if (!cert || !String(cert.subject).includes(`CN=${u.cn}`)) return `certificate ${serial} of ${u.cn} missing`;
        if (cert.revoked_at) return `certificate ${serial} of ${u.cn} revoked`;
        return row(db, "SELECT 1 FROM scep_requests WHERE certificate_serial = ? AND status = 'issued'", serial) ? undefined : `no SCEP request record for ${serial}`;
      },
    });
  }

  // ---- admin: lock an Android device, ask an Apple device for fresh inventory

  private async adminAction(): Promise<void> {
    if (this.rand() < 0.5 || this.apple.length === 0) {
      const device = this.android[Math.floor(this.rand() * this.android.length)];
      const id = requestId('admin.lock');
      const a = await this.admin('POST', `/devices/${device.deviceId}/lock`, { message: 'crash test' }, id);
      if (!this.expectStatus('lock', a, 202)) return;
      const command = a.json().id;
      this.note({
        kind: 'admin.lock', requestId: id, events: ['android.command.queued'],
        effect: (db) => (row(db, 'SELECT 1 FROM android_commands WHERE id = ?', command) ? undefined : `Android command ${command} missing`),
      });
    } else {
      const device = this.apple[Math.floor(this.rand() * this.apple.length)];
      const id = requestId('admin.refresh');
      const a = await this.admin('POST', `/devices/${device.udid}/refresh`, undefined, id);
      if (!this.expectStatus('refresh', a, 202)) return;
      const command = a.json().id;
      this.note({
        kind: 'admin.refresh', requestId: id, events: ['apple.command.queued'],
        effect: (db) => (row(db, 'SELECT 1 FROM apple_commands WHERE uuid = ?', command) ? undefined : `Apple command ${command} missing`),
      });
    }
  }

  // ---- Apple: TokenUpdate check-ins, and Idle / command results on the command endpoint

  private async appleCheckin(d: SimulatedDevice): Promise<void> {
    if (this.rand() < 0.3) {
      const id = requestId('apple.token');
      const a = await d.checkinRaw(fixture('checkin-tokenupdate', d.vars), { 'X-Request-Id': id });
      if (this.expectStatus('TokenUpdate', a, 200)) this.note({ kind: 'apple.token', requestId: id, events: ['apple.device.token_updated'] });
      return;
    }
    // Idle, then one result after another: each answer carries the next command, if any.
    let kind: Kind = 'apple.fetch';
    let id = requestId(kind);
    let answered: string | undefined; // the command the last request was the result of
    let a = await d.reportRaw(fixture('result-idle', d.vars), { 'X-Request-Id': id });
    for (;;) {
      if (!this.expectStatus(kind === 'apple.fetch' ? 'command fetch' : 'command result', a, 200)) return;
      const cmd = a.body.length > 0 ? parsePlistDict(a.body) : undefined;
      const acknowledged = answered;
      const sent = cmd && String(cmd.CommandUUID);
      const status = (db: Database.Database, uuid: string) => row(db, 'SELECT status FROM apple_commands WHERE uuid = ?', uuid)?.status;
      this.note({
        kind, requestId: id,
        events: [...(acknowledged ? ['apple.command.acknowledged'] : []), ...(sent ? ['apple.command.sent'] : [])],
        effect: (db) => {
          if (acknowledged && status(db, acknowledged) !== 'acknowledged') return `Apple command ${acknowledged} not acknowledged`;
          if (sent && ['queued', undefined].includes(status(db, sent) as string | undefined)) return `Apple command ${sent} not marked sent`;
          return undefined;
        },
      });
      if (!cmd || !sent || !this.running) return;
      const result = typicalAnswer(d)(cmd);
      kind = 'apple.result';
      id = requestId(kind);
      answered = sent;
      a = await d.reportRaw(fixture(`result-${result.name}`, { ...d.vars, ...(result.vars ?? {}), CommandUUID: sent }), { 'X-Request-Id': id });
    }
  }

  // ---- Android: status reports, command polls and results; now and then a new device enrolls

  private async androidSync(agent: AgentSimulator): Promise<void> {
    const r = this.rand();
    if (r < 0.1) return this.enrollAndroid(this.newAgent());
    if (r < 0.5) {
      const id = requestId('android.status');
      const reportedAt = new Date().toISOString();
      const a = await agent.call('POST', '/status', agent.statusReport({ reportedAt }), { headers: { 'x-request-id': id } });
      if (!this.expectStatus('status', a, 200)) return;
      const deviceId = agent.deviceId;
      this.note({
        kind: 'android.status', requestId: id, events: [],
        effect: (db) => {
          const stored = row(db, 'SELECT status FROM android_devices WHERE id = ?', deviceId)?.status;
          const at = stored ? (JSON.parse(String(stored)) as { reportedAt?: string }).reportedAt : undefined;
          return at && at >= reportedAt ? undefined : `status of ${deviceId} reported at ${reportedAt} is not stored (have ${at})`;
        },
      });
      return;
    }
    const id = requestId('android.fetch');
    const a = await agent.call<{ commands: ReceivedCommand[] }>('GET', '/commands?wait=0', undefined, { headers: { 'x-request-id': id } });
    if (!this.expectStatus('poll', a, 200)) return;
    const commands = a.body.commands;
    // Sent but unanswered commands come again (at least once): the event is that of the first delivery.
    this.note({
      kind: 'android.fetch', requestId: id, events: [],
      effect: (db, audit) => commands.map((c) => {
        if (row(db, 'SELECT status FROM android_commands WHERE id = ?', c.id)?.status === 'queued') return `Android command ${c.id} not marked sent`;
        return audit.has('android.command.sent', c.id) ? undefined : `Android command ${c.id} has no android.command.sent event`;
      }).find(Boolean),
    });
    for (const c of commands) {
      if (!this.running) return;
      const rid = requestId('android.result');
      const done = await agent.call('POST', `/commands/${c.id}/result`, { status: 'done' }, { headers: { 'x-request-id': rid } });
      if (!this.expectStatus('result', done, 200)) return;
      this.note({
        kind: 'android.result', requestId: rid, events: ['android.command.completed'],
        effect: (db) => (row(db, 'SELECT status FROM android_commands WHERE id = ?', c.id)?.status === 'done' ? undefined : `Android command ${c.id} not done`),
      });
    }
  }

  /** Enrolls (or re-enrolls, same installation) an agent; a lost answer is queued for after the restart. */
  async enrollAndroid(agent: AgentSimulator): Promise<void> {
    const id = requestId('android.enroll');
    let a;
    try {
      a = await agent.enroll({ headers: { 'x-request-id': id } });
    } catch (e) {
      this.unanswered.push({ kind: 'android.enroll', agent });
      throw e;
    }
    if (!this.expectStatus('enroll', a, 201)) return;
    if (!this.android.includes(agent) && this.android.length < MAX_AGENTS) this.android.push(agent);
    const deviceId = agent.deviceId!;
    const serial = serialOf(agent.certificatePem!);
    this.note({
      kind: 'android.enroll', requestId: id, events: ['pki.certificate.issued', 'android.device.enrolled|android.device.reenrolled'],
      effect: (db) => {
        const d = row(db, 'SELECT cert_serial, installation_id FROM android_devices WHERE id = ?', deviceId);
        if (!d) return `Android device ${deviceId} missing`;
        const held = row(db, 'SELECT count(*) AS n FROM android_devices WHERE installation_id = ?', agent.installationId)?.n;
        if (held !== 1) return `installation ${agent.installationId} has ${held} device records`;
        return row(db, 'SELECT 1 FROM certificates WHERE serial = ?', serial) ? undefined : `certificate ${serial} of ${deviceId} missing`;
      },
    });
  }

  close(): void {
    this.running = false;
    this.tlsAgent.destroy();
    for (const d of this.apple) d.close();
    for (const a of this.android) a.close();
  }
}
