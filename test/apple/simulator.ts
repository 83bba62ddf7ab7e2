// A simulated Apple device (our own client code): it installs an enrollment profile the way a
// device does (verifies the CMS signature with openssl, reads the SCEP and MDM payloads), gets its
// identity over SCEP from Ward's /scep with micromdm's scepclient (the real SCEP peer), then talks
// the check-in and command protocol with plists shaped like a real device's (fixtures/), signing
// each request with Mdm-Signature or presenting its identity as the TLS client certificate.
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { signMdmMessage } from '../../src/apple/cms';
import { parsePlistDict, type PlistDict } from '../../src/apple/plist';
import { toolAsync } from '../support/ward';
import { fixture } from './fixture';

export interface DeviceIdentity {
  key: crypto.KeyObject;
  keyPem: string;
  certPem: string;
  certDer: Buffer;
  serial: string;
}

export interface InstalledProfile {
  /** The plist bytes inside the signature. */
  content: Buffer;
  raw: PlistDict;
  scep: PlistDict;
  mdm: PlistDict;
  root: Buffer;
}

export interface Answer {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

/** Verifies a signed .mobileconfig with openssl (like the device does) and reads its payloads. */
export async function installProfile(signed: Buffer, caFile: string, dir: string): Promise<InstalledProfile> {
  const inFile = path.join(dir, `profile-${crypto.randomBytes(4).toString('hex')}.mobileconfig`);
  fs.writeFileSync(inFile, signed);
  const r = await toolAsync('openssl', ['cms', '-verify', '-inform', 'DER', '-in', inFile, '-CAfile', caFile, '-purpose', 'any']);
  if (r.status !== 0) throw new Error(`profile signature refused by openssl: ${r.stderr}`);
  const raw = parsePlistDict(r.raw);
  const payloads = raw.PayloadContent as PlistDict[];
  const byType = (t: string) => payloads.find((p) => p.PayloadType === t)!;
  return {
    content: r.raw,
    raw,
    scep: byType('com.apple.security.scep').PayloadContent as PlistDict,
    mdm: byType('com.apple.mdm'),
    root: byType('com.apple.security.root').PayloadContent as Buffer,
  };
}

/** Enrolls over SCEP with scepclient, using the profile's SCEP payload (URL, Challenge, Subject, Keysize). */
export async function scepEnroll(profile: InstalledProfile, dir: string): Promise<DeviceIdentity> {
  const work = fs.mkdtempSync(path.join(dir, 'scep-'));
  const subject = Object.fromEntries((profile.scep.Subject as string[][][]).map((rdn) => rdn[0]));
  const keyFile = path.join(work, 'device.key');
  const certFile = path.join(work, 'device.pem');
  const r = await toolAsync(
    'scepclient',
    [
      '-server-url', String(profile.scep.URL),
      '-challenge', String(profile.scep.Challenge),
      '-private-key', keyFile,
      '-certificate', certFile,
      '-cn', subject.CN ?? 'device',
      '-organization', subject.O ?? '',
      '-ou', subject.OU ?? '',
      '-country', 'US',
      '-keySize', String(profile.scep.Keysize ?? 2048),
    ],
    { cwd: work, timeout: 60_000 },
  );
  if (r.status !== 0 || !fs.existsSync(certFile)) throw new Error(`scepclient failed (${r.status}): ${r.stderr}${r.stdout}`);
  return identityFromFiles(keyFile, certFile);
}

export function identityFromFiles(keyFile: string, certFile: string): DeviceIdentity {
  const keyPem = fs.readFileSync(keyFile, 'utf8');
  const certPem = fs.readFileSync(certFile, 'utf8');
  const cert = new crypto.X509Certificate(certPem);
  return { key: crypto.createPrivateKey(keyPem), keyPem, certPem, certDer: cert.raw, serial: BigInt(`0x${cert.serialNumber}`).toString(16) };
}

export interface DeviceOptions {
  udid?: string;
  serialNumber?: string;
  deviceName?: string;
  /** How the device proves its identity (default: Mdm-Signature, as SignMessage asks). */
  auth?: 'mdm-signature' | 'tls' | 'both' | 'none';
  /** Trust anchors for Ward's HTTPS listener (PEM). */
  ca: string;
  /** A Shared iPad (DeviceInformation IsMultiUser, an iPad product name) instead of an iPhone. */
  sharedIpad?: boolean;
}

export class SimulatedDevice {
  readonly udid: string;
  readonly serialNumber: string;
  readonly deviceName: string;
  readonly pushToken = crypto.randomBytes(32);
  readonly pushMagic = crypto.randomUUID().toUpperCase();
  readonly unlockToken = crypto.randomBytes(180);
  private agent: https.Agent;
  auth: NonNullable<DeviceOptions['auth']>;

  constructor(
    readonly profile: InstalledProfile,
    public identity: DeviceIdentity,
    private readonly opts: DeviceOptions,
  ) {
    this.udid = opts.udid ?? `00008120-${crypto.randomBytes(8).toString('hex').toUpperCase()}`;
    this.serialNumber = opts.serialNumber ?? crypto.randomBytes(6).toString('hex').toUpperCase();
    this.deviceName = opts.deviceName ?? `Ward iPhone ${this.udid.slice(-4)}`;
    this.auth = opts.auth ?? 'mdm-signature';
    this.agent = this.makeAgent();
  }

  private makeAgent(): https.Agent {
    const tls = this.auth === 'tls' || this.auth === 'both';
    return new https.Agent({
      ca: this.opts.ca,
      servername: 'localhost',
      keepAlive: true,
      ...(tls ? { key: this.identity.keyPem, cert: this.identity.certPem } : {}),
    });
  }

  /** Switches identity or auth mode (negative tests). */
  use(identity: DeviceIdentity, auth = this.auth): void {
    this.identity = identity;
    this.auth = auth;
    this.agent.destroy();
    this.agent = this.makeAgent();
  }

  get vars() {
    return {
      UDID: this.udid,
      Topic: String(this.profile.mdm.Topic),
      SerialNumber: this.serialNumber,
      DeviceName: this.deviceName,
      PushMagic: this.pushMagic,
      Token: this.pushToken,
      UnlockToken: this.unlockToken,
      OSVersion: '18.1',
      // A locally administered MAC per device (first octet 0xa6), derived from the UDID.
      WiFiMAC: ['a6', ...(this.udid.replace(/[^0-9A-F]/gi, '').slice(-10).toLowerCase().match(/../g) ?? [])].join(':'),
      ...(this.opts.sharedIpad ? { ProductName: 'iPad13,18', ModelName: 'iPad', IsMultiUser: true } : { ProductName: 'iPhone15,2', ModelName: 'iPhone', IsMultiUser: false }),
    };
  }

  /** PUT a body to a URL as the device does. */
  put(url: string, body: Buffer, contentType: string, extraHeaders: Record<string, string> = {}): Promise<Answer> {
    const headers: Record<string, string> = { 'Content-Type': contentType, 'Content-Length': String(body.length), 'User-Agent': 'MDM/1.0', ...extraHeaders };
    if (this.auth === 'mdm-signature' || this.auth === 'both') {
      headers['Mdm-Signature'] = signMdmMessage(body, { key: this.identity.key, certificate: this.identity.certDer });
    }
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method: 'PUT', headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  checkinRaw(body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    return this.put(String(this.profile.mdm.CheckInURL), body, 'application/x-apple-aspen-mdm-checkin', headers);
  }

  reportRaw(body: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
    return this.put(String(this.profile.mdm.ServerURL), body, 'application/x-apple-aspen-mdm', headers);
  }

  checkin(name: string, vars: Record<string, string | Buffer | boolean> = {}): Promise<Answer> {
    return this.checkinRaw(fixture(`checkin-${name}`, { ...this.vars, ...vars }));
  }

  authenticate(): Promise<Answer> {
    return this.checkin('authenticate');
  }

  tokenUpdate(): Promise<Answer> {
    return this.checkin('tokenupdate');
  }

  /** A command report from a fixture; answers with the next command (parsed) or none. */
  async report(name: string, vars: Record<string, string | Buffer | boolean> = {}): Promise<{ status: number; command?: PlistDict; answer: Answer }> {
    const answer = await this.reportRaw(fixture(`result-${name}`, { ...this.vars, ...vars }));
    const command = answer.status === 200 && answer.body.length > 0 ? parsePlistDict(answer.body) : undefined;
    return { status: answer.status, command, answer };
  }

  idle() {
    return this.report('idle');
  }

  /**
   * One device session: Idle, then answer each command until the server has none left.
   * `answer` picks the result fixture (and vars) for a command; default Acknowledged.
   */
  async session(
    answer: (cmd: PlistDict) => { name: string; vars?: Record<string, string | Buffer | boolean> } = () => ({ name: 'acknowledged' }),
  ): Promise<PlistDict[]> {
    const seen: PlistDict[] = [];
    let r = await this.idle();
    if (r.status !== 200) throw new Error(`Idle answered ${r.status}: ${r.answer.body}`);
    while (r.command) {
      seen.push(r.command);
      if (seen.length > 100) throw new Error('server keeps sending commands (spinning)');
      const a = answer(r.command);
      r = await this.report(a.name, { CommandUUID: String(r.command.CommandUUID), ...(a.vars ?? {}) });
      if (r.status !== 200) throw new Error(`report answered ${r.status}: ${r.answer.body}`);
    }
    return seen;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Default answers a well-behaved iPhone gives (inventory and security results as fixtures). */
export function typicalAnswer(device: SimulatedDevice, passcode = true) {
  return (cmd: PlistDict) => {
    const type = (cmd.Command as PlistDict).RequestType;
    switch (type) {
      case 'DeviceInformation':
        return { name: 'deviceinformation' };
      case 'SecurityInfo':
        return { name: 'securityinfo', vars: { PasscodePresent: passcode, PasscodeCompliant: passcode } };
      case 'ProfileList':
        return { name: 'profilelist' };
      case 'InstalledApplicationList':
        return { name: 'installedapplicationlist' };
      case 'UserList':
        return { name: 'userlist' };
      default:
        void device;
        return { name: 'acknowledged' };
    }
  };
}
