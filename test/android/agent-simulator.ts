// Reference agent for docs/android-agent-protocol.md: what a hospital's DPC does after the QR scan,
// in Node. It pins Ward's CA from the QR code, enrolls with a CSR (key kept here, as the Android
// Keystore would), then authenticates every call with its certificate, reports status, long-polls for
// commands and answers them. It obeys `next` and only ever drops its enrollment on `unenrolled`.
// The Android tests and bench/android.ts drive it.
import crypto, { type KeyObject } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import forge from 'node-forge';
import { der } from '../../src/pki';

export type NextAction = 'continue' | 'retry_later' | 'reauthenticate' | 'unenrolled';

export interface Next {
  action: NextAction;
  retryAfterSeconds?: number;
  reason?: string;
}

export interface AgentAnswer<T = Record<string, unknown>> {
  status: number;
  body: T & { next?: Next; error?: string; reason?: string };
  headers: Record<string, string | string[] | undefined>;
  next: Next;
}

export interface SimulatorOptions {
  /** The admin extras of the provisioning QR code. */
  serverUrl: string;
  enrollmentToken: string;
  caSha256: string;
  /** TLS name of Ward's server certificate (its configured hostname) when serverUrl is an IP address. */
  servername?: string;
  managementMode?: 'device_owner' | 'profile_owner';
  model?: string;
  /** Reuse a key (the bench makes thousands of devices); default: a fresh P-256 key. */
  key?: KeyObject;
  keepAlive?: boolean;
}

export type AgentState = 'new' | 'enrolled' | 'unenrolled';

export interface ReceivedCommand {
  id: string;
  type: string;
  payload: Record<string, unknown>;
  queuedAt: string;
}

/** A PKCS#10 request (RFC 2986) signed with node:crypto. */
export function buildCsr(key: KeyObject, commonName: string): string {
  const spki = crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });
  const emptyAttributes = forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 0, true, []);
  const info = der.seq([der.integer(0), der.name([['CN', commonName]]), der.fromDer(spki), emptyAttributes]);
  const alg = der.signatureAlgorithm(key);
  return der.pemEncode(der.signed(info, alg.node, alg.digest, key), 'CERTIFICATE REQUEST');
}

export class AgentSimulator {
  state: AgentState = 'new';
  deviceId?: string;
  certificatePem?: string;
  caChainPem?: string[];
  policy?: Record<string, unknown>;
  policyEtag?: string;
  lastNext?: Next;
  /** Every command received, in order, and what it did with it. */
  readonly handled: { command: ReceivedCommand; result: string }[] = [];
  /** Set by a WIPE: what the device would have erased. */
  wiped?: 'full' | 'work_profile';
  locked = 0;
  readonly installationId = crypto.randomUUID();
  private readonly key: KeyObject;
  private agent?: https.Agent;
  private readonly url: URL;

  constructor(readonly opts: SimulatorOptions) {
    this.url = new URL(opts.serverUrl);
    this.key = opts.key ?? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  }

  get managementMode(): 'device_owner' | 'profile_owner' {
    return this.opts.managementMode ?? 'device_owner';
  }

  /**
   * Step 1: fetch Ward's chain over a TLS connection that is not verified yet, and keep it only if the
   * root's SHA-256 matches the pin from the QR code.
   */
  async pinCa(): Promise<void> {
    const answer = await this.call<{ caChain: string[] }>('GET', '/ca', undefined, { unverified: true });
    if (answer.status !== 200) throw new Error(`CA fetch: HTTP ${answer.status}`);
    const chain = answer.body.caChain;
    const root = new crypto.X509Certificate(chain[chain.length - 1]);
    const sha = crypto.createHash('sha256').update(root.raw).digest('hex');
    if (sha !== this.opts.caSha256) throw new Error(`CA pin mismatch: got ${sha}, QR says ${this.opts.caSha256}`);
    if (!new crypto.X509Certificate(chain[0]).verify(root.publicKey)) throw new Error('issuing CA is not signed by the pinned root');
    this.caChainPem = chain;
    this.resetAgent();
  }

  facts(): Record<string, unknown> {
    return {
      installationId: this.installationId,
      manufacturer: 'Ward',
      model: this.opts.model ?? 'Simulated Tablet',
      serialNumber: `SIM${this.installationId.slice(0, 8).toUpperCase()}`,
      androidVersion: '14',
      sdkInt: 34,
      securityPatch: '2026-10-05',
      managementMode: this.managementMode,
      agentPackage: 'org.example.wardagent',
      agentVersionCode: 42,
    };
  }

  /** Step 2: enroll with the token, the facts and a CSR. */
  async enroll(opts: { headers?: Record<string, string> } = {}): Promise<AgentAnswer> {
    if (!this.caChainPem) await this.pinCa();
    const answer = await this.call<{ deviceId: string; certificate: string; caChain: string[]; policy: Record<string, unknown>; policyEtag: string }>('POST', '/enroll', {
      token: this.opts.enrollmentToken,
      csr: buildCsr(this.key, this.installationId),
      facts: this.facts(),
    }, opts);
    if (answer.status === 201) {
      this.state = 'enrolled';
      this.deviceId = answer.body.deviceId;
      this.certificatePem = answer.body.certificate;
      this.caChainPem = answer.body.caChain;
      this.policy = answer.body.policy;
      this.policyEtag = answer.body.policyEtag;
      this.resetAgent();
    }
    return answer;
  }

  async renew(): Promise<AgentAnswer> {
    const answer = await this.call<{ certificate: string }>('POST', '/renew', { csr: buildCsr(this.key, this.installationId) });
    if (answer.status === 201) {
      this.certificatePem = answer.body.certificate;
      this.resetAgent();
    }
    return answer;
  }

  statusReport(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      model: this.opts.model ?? 'Simulated Tablet',
      androidVersion: '14',
      sdkInt: 34,
      securityPatch: '2026-10-05',
      encryption: 'active_per_user',
      passcodeSufficient: true,
      managementMode: this.managementMode,
      installedApps: [
        { packageName: 'org.example.wardagent', versionCode: 42, versionName: '1.2.3' },
        { packageName: 'org.hospital.ehr', versionCode: 3100, versionName: '31.0' },
      ],
      lockTask: { active: false },
      battery: { level: 87, charging: true },
      lastUser: null,
      policyEtag: this.policyEtag,
      reportedAt: new Date().toISOString(),
      ...overrides,
    };
  }

  async reportStatus(overrides: Record<string, unknown> = {}): Promise<AgentAnswer<{ policyEtag: string; pendingCommands: number }>> {
    return this.call('POST', '/status', this.statusReport(overrides));
  }

  async fetchPolicy(): Promise<AgentAnswer<{ policy: Record<string, unknown>; policyEtag: string }>> {
    const answer = await this.call<{ policy: Record<string, unknown>; policyEtag: string }>('GET', '/policy', undefined, { headers: this.policyEtag ? { 'If-None-Match': this.policyEtag } : {} });
    if (answer.status === 200) {
      this.policy = answer.body.policy;
      this.policyEtag = answer.body.policyEtag;
    }
    return answer;
  }

  async pollCommands(waitSeconds: number): Promise<AgentAnswer<{ commands: ReceivedCommand[]; policyEtag: string }>> {
    return this.call('GET', `/commands?wait=${waitSeconds}`);
  }

  async sendResult(id: string, status: 'acknowledged' | 'done' | 'failed' | 'not_supported', extra: { error?: string; output?: Record<string, unknown> } = {}): Promise<AgentAnswer> {
    return this.call('POST', `/commands/${id}/result`, { status, ...extra });
  }

  async uploadSecurityLogs(events: Record<string, unknown>[]): Promise<AgentAnswer<{ accepted: number; duplicates: number }>> {
    return this.call('POST', '/security-logs', { events });
  }

  /**
   * One round of the agent's loop: poll (held up to waitSeconds), carry out what came, answer each
   * command. Irreversible commands (WIPE, REBOOT) are acknowledged before they run.
   */
  async syncOnce(waitSeconds: number): Promise<ReceivedCommand[]> {
    const answer = await this.pollCommands(waitSeconds);
    if (answer.status !== 200) return [];
    if (answer.body.policyEtag && answer.body.policyEtag !== this.policyEtag) await this.fetchPolicy();
    for (const c of answer.body.commands) await this.execute(c);
    return answer.body.commands;
  }

  private async execute(c: ReceivedCommand): Promise<void> {
    // Commands arrive at least once: an id already handled is answered again, not run again.
    const seen = this.handled.find((h) => h.command.id === c.id);
    if (seen) {
      await this.sendResult(c.id, seen.result === 'acknowledged' ? 'acknowledged' : 'done');
      return;
    }
    switch (c.type) {
      case 'LOCK':
        this.locked++;
        await this.sendResult(c.id, 'done', { output: { lockedAt: new Date().toISOString() } });
        this.handled.push({ command: c, result: 'done' });
        return;
      case 'WIPE': {
        const scope = c.payload.scope as 'full' | 'work_profile';
        // A profile owner can only remove its profile, whatever it is asked.
        if (this.managementMode === 'profile_owner' && scope === 'full') {
          await this.sendResult(c.id, 'failed', { error: 'a profile owner cannot factory-reset the device' });
          this.handled.push({ command: c, result: 'failed' });
          return;
        }
        await this.sendResult(c.id, 'acknowledged');
        this.handled.push({ command: c, result: 'acknowledged' });
        this.wiped = scope;
        return;
      }
      case 'REBOOT':
        await this.sendResult(c.id, 'acknowledged');
        this.handled.push({ command: c, result: 'acknowledged' });
        return;
      default:
        await this.sendResult(c.id, 'not_supported', { error: `the simulator does not carry out ${c.type}` });
        this.handled.push({ command: c, result: 'not_supported' });
    }
  }

  /** Downloads an app named by INSTALL_APP with the device certificate and checks its SHA-256, as the agent must. */
  async downloadApp(payload: Record<string, unknown>): Promise<{ status: number; body: Buffer; sha256Ok: boolean }> {
    const url = new URL(String(payload.url));
    const r = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = https.request({ host: this.url.hostname, port: this.url.port, path: url.pathname, method: 'GET', agent: this.httpsAgent(), servername: this.opts.servername }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    return { ...r, sha256Ok: crypto.createHash('sha256').update(r.body).digest('hex') === payload.sha256 };
  }

  /** Low level: one JSON call to the agent API, its answer and its `next` (body, else Ward-Next header). */
  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    opts: { unverified?: boolean; headers?: Record<string, string> } = {},
  ): Promise<AgentAnswer<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const answer = await this.rawCall<T>(method, path, payload, 'application/json', opts);
    this.lastNext = answer.next;
    // The one way to stop being managed: Ward said so, over a connection to the pinned CA.
    if (answer.next.action === 'unenrolled') this.state = 'unenrolled';
    return answer;
  }

  /** Sends bytes as they are (tests use it for malformed bodies); does not change the agent's state. */
  rawCall<T = Record<string, unknown>>(
    method: string,
    path: string,
    payload: Buffer | undefined,
    contentType = 'application/json',
    opts: { unverified?: boolean; headers?: Record<string, string> } = {},
  ): Promise<AgentAnswer<T>> {
    const agent = opts.unverified ? new https.Agent({ rejectUnauthorized: false, keepAlive: false }) : this.httpsAgent();
    return new Promise<AgentAnswer<T>>((resolve, reject) => {
      const req = https.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path: `/android/agent/v1${path}`,
          method,
          agent,
          servername: this.opts.servername,
          headers: { Accept: 'application/json', ...(payload ? { 'Content-Type': contentType, 'Content-Length': String(payload.length) } : {}), ...(opts.headers ?? {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (opts.unverified) agent.destroy();
            const text = Buffer.concat(chunks).toString();
            let parsed: AgentAnswer<T>['body'] = {} as AgentAnswer<T>['body'];
            if (text) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = { error: 'not_json', reason: text.slice(0, 200) } as AgentAnswer<T>['body'];
              }
            }
            const header = String(res.headers['ward-next'] ?? '');
            // Without a directive (a proxy's error page, a dropped connection) the only safe reading is "retry later".
            const next: Next = parsed.next ?? (header ? { action: header.split(';')[0].trim() as NextAction } : { action: 'retry_later', retryAfterSeconds: 30 });
            resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers, next });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  private httpsAgent(): https.Agent {
    if (!this.agent) {
      if (!this.caChainPem) throw new Error('pin the CA first');
      this.agent = new https.Agent({
        ca: this.caChainPem,
        key: this.certificatePem ? (this.key.export({ type: 'pkcs8', format: 'pem' }) as string) : undefined,
        cert: this.certificatePem,
        keepAlive: this.opts.keepAlive ?? true,
        maxSockets: 2,
        servername: this.opts.servername,
        checkServerIdentity: (host, cert) => tls.checkServerIdentity(this.opts.servername ?? host, cert),
      });
    }
    return this.agent;
  }

  private resetAgent(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  /** Closes the agent's connections (a held poll ends from the client side). */
  close(): void {
    this.resetAgent();
  }
}
