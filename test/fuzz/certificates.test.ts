// Fuzz: uploaded certificates and requests. PKCS#10 requests as the pki domain reads them (Android
// enrollment and renewal, wardctl issue), in process and through the agent's /renew on a running Ward;
// APNs push certificates as `wardctl apple push-cert import` reads them (PEM certificate and key,
// encrypted key, PKCS#12 in OpenSSL 3 and keychain formats). Refusals are CsrError / AppleError.
// Seeds: openssl and Android-agent CSRs, an openssl-made push certificate (corpus/csr,
// corpus/push-certificate).
import t from 'tap';
import { AppleError } from '../../src/apple';
import { CsrError, parseCertificationRequest } from '../../src/pki';
import { startTestWard } from '../support/ward';
import { AgentSimulator } from '../android/agent-simulator';
import { derToPem } from '../scep/throwaway-ca';
import { FIXED, seeds } from './corpus';
import { PARSED, errorLabel, fuzz, parserRun } from './harness';
import { BYTE_MUTATORS, DER_MUTATORS, pemMutator, weighted } from './mutate';

t.setTimeout(600_000);

const CERT_FUZZ = [...weighted(3, ...DER_MUTATORS), ...weighted(4, pemMutator(DER_MUTATORS)), ...weighted(1, ...BYTE_MUTATORS)];
const CLI = { actor: { type: 'cli' as const, id: 'fuzz' }, source: 'local', requestId: null };

t.test('PKCS#10 certification requests (pki)', async (t) => {
  await fuzz(t, {
    parser: 'csr',
    seeds: seeds('csr'),
    count: 12_000,
    mutators: CERT_FUZZ,
    seedsParse: true,
    run: parserRun((input) => parseCertificationRequest(input), (e) => errorLabel(e, CsrError)),
  });
});

t.test('a running Ward: push certificate import, and CSRs through the agent /renew', async (t) => {
  const ward = await startTestWard();
  t.teardown(() => ward.stop());
  await fuzz(t, {
    parser: 'push-certificate',
    seeds: seeds('push-certificate'),
    count: 3_000,
    mutators: CERT_FUZZ,
    seedsParse: true,
    run: parserRun((input) => ward.apple.service.importPushCertificate({ certificate: input, passphrase: FIXED.passphrase }, CLI), (e) => errorLabel(e, AppleError)),
  });

  const { token } = ward.android.createToken({ maxDevices: null }, CLI);
  const sim = new AgentSimulator({ serverUrl: ward.httpsUrl, enrollmentToken: token, caSha256: ward.ca.rootFingerprint(), servername: 'localhost' });
  t.equal((await sim.enroll()).status, 201, 'an agent to renew as');
  t.teardown(() => sim.close());
  const pem = (data: Buffer) => (data.subarray(0, 11).toString() === '-----BEGIN ' ? data : Buffer.from(derToPem(data, 'CERTIFICATE REQUEST')));
  await fuzz(t, {
    parser: 'http-csr',
    seeds: seeds('csr').map((s) => ({ ...s, data: pem(s.data) })),
    count: 600,
    mutators: [...weighted(4, pemMutator(DER_MUTATORS)), ...weighted(1, ...BYTE_MUTATORS)],
    maxMs: 2000,
    run: async (input) => {
      const r = await sim.rawCall('POST', '/renew', Buffer.from(JSON.stringify({ csr: input.toString('latin1') })));
      if (r.status >= 500 || !r.body.next || (r.status >= 400 && typeof r.body.error !== 'string')) throw new Error(`HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
      // A mutant renewal for another key succeeded: the agent renews for its own key and moves to it.
      if (r.status === 201 && (await sim.renew()).status !== 201) throw new Error('the agent could not renew after a mutant renewal');
      return r.status === 201 ? PARSED : `HTTP ${r.status} ${r.body.error}`;
    },
  });
});
