// A Ward with Apple MDM on loopback, an APNs stand-in it pushes to, an imported push certificate,
// and helpers to enroll simulated devices through the real endpoints.
import fs from 'node:fs';
import path from 'node:path';
import type { AppleMdm } from '../../src/apple';
import { startTestWard, request, type TestWard } from '../support/ward';
import { ApnsStandIn } from './apns-standin';
import { makeLeaf, makeRoot, type Identity } from './openssl';
import { installProfile, scepEnroll, SimulatedDevice, type DeviceOptions } from './simulator';

export const TOPIC = 'com.apple.mgmt.External.1c0a5e3b-1111-2222-3333-444455556666';

export interface AppleHarness {
  ward: TestWard;
  /** The Apple domain of that Ward (RunningWard.apple, wired in main.ts). */
  apple: AppleMdm;
  dir: string;
  /** Ward's CA chain (PEM file) for openssl and device trust. */
  caFile: string;
  caPem: string;
  apns: ApnsStandIn;
  apnsRoot: Identity;
  pushCert: Identity;
  /** Downloads a profile for a fresh token and enrolls a simulated device (SCEP + Authenticate + TokenUpdate). */
  enroll(opts?: Partial<DeviceOptions> & { group?: string; skipTokenUpdate?: boolean }): Promise<SimulatedDevice>;
  profileFor(group?: string): Promise<Buffer>;
  stop(): Promise<void>;
}

export async function startAppleWard(overrides: Record<string, unknown> = {}, opts: { clock?: () => Date } = {}): Promise<AppleHarness> {
  const apnsDir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'ward-apns-'));
  const apnsRoot = makeRoot(apnsDir, 'apns-root');
  const serverId = makeLeaf(apnsDir, apnsRoot, 'apns-standin', 'rsa:2048', ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth']);
  const pushCert = makeLeaf(apnsDir, apnsRoot, 'push', 'rsa:2048', ['extendedKeyUsage=clientAuth'], `/UID=${TOPIC}/CN=APSP:1c0a5e3b-1111-2222-3333-444455556666`);
  const apns = await ApnsStandIn.start(serverId, apnsRoot);
  const appleOverrides = (overrides.apple ?? {}) as Record<string, unknown>;
  // An RSA root: scepclient encrypts its request to every GetCACert certificate and cannot to an EC one.
  const ward = await startTestWard({
    pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'rsa-3072', issuingKeyAlgorithm: 'rsa-2048' },
    ...overrides,
    apple: {
      ...appleOverrides,
      apns: { url: apns.url, caFile: apnsRoot.certPath, backoffMs: 1, maxBackoffMs: 5, maxAttempts: 2, ...((appleOverrides.apns as object) ?? {}) },
    },
  }, opts);
  const apple = (ward as unknown as { apple: AppleMdm }).apple;
  await apple.service.importPushCertificate(
    { certificate: fs.readFileSync(pushCert.certPath), key: fs.readFileSync(pushCert.keyPath) },
    { actor: { type: 'cli', id: 'test' } },
  );
  const caPem = ward.ca.chainPem();
  const caFile = path.join(ward.dir, 'chain.pem');
  fs.writeFileSync(caFile, caPem);

  const profileFor = async (group?: string) => {
    const t = await apple.service.createToken({ group, oneTime: true }, { actor: { type: 'cli', id: 'test' } });
    const res = await request(t.url, { agent: ward.agent() });
    if (res.status !== 200) throw new Error(`enroll answered ${res.status}: ${res.body}`);
    return res.body;
  };

  const devices: SimulatedDevice[] = [];
  return {
    ward,
    apple,
    dir: ward.dir,
    caFile,
    caPem,
    apns,
    apnsRoot,
    pushCert,
    profileFor,
    async enroll(opts = {}) {
      const profile = await installProfile(await profileFor(opts.group), caFile, ward.dir);
      const identity = await scepEnroll(profile, ward.dir);
      const device = new SimulatedDevice(profile, identity, { ca: caPem, ...opts });
      devices.push(device);
      const a = await device.authenticate();
      if (a.status !== 200) throw new Error(`Authenticate answered ${a.status}: ${a.body}`);
      if (!opts.skipTokenUpdate) {
        const t = await device.tokenUpdate();
        if (t.status !== 200) throw new Error(`TokenUpdate answered ${t.status}: ${t.body}`);
      }
      return device;
    },
    async stop() {
      for (const d of devices) d.close();
      await ward.stop();
      await apns.close();
      fs.rmSync(apnsDir, { recursive: true, force: true });
    },
  };
}
