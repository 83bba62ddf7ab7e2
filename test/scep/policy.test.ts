// Enrollment control on a running Ward: manual approval (PENDING, GetCertInitial polls, re-sends,
// `wardctl scep approve` / `reject`), strong-only algorithms, legacy reply ciphers, and a static
// challenge that only exists when config names one.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { startTestWard, tempDir, wardctlAsync, request } from '../support/ward';
import { createScepService, FailInfo, PkiStatus, parsePkiMessage } from '../../src/scep';
import { makeRequester, openssl } from './throwaway-ca';
import { issuerAndSubject, loadPkijs } from './requests';
import { ScepTestClient } from './client';

const admin = { actor: { type: 'cli' as const, id: 'test' }, source: 'local', requestId: null };
const dir = tempDir();
t.before(loadPkijs);
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

async function ward(overrides: Record<string, unknown>) {
  const w = await startTestWard(overrides);
  t.teardown(async () => {
    await w.stop();
    fs.rmSync(w.dir, { recursive: true, force: true });
  });
  return { w, service: createScepService(w.cfg, w.db, w.audit, w.ca), client: await new ScepTestClient(`${w.httpUrl}/scep`, dir).init() };
}

t.test('manual approval: PENDING, polls, approve, then the certificate', async (t) => {
  const { w, service, client } = await ward({ scep: { approval: { mode: 'manual' } } });
  const d = makeRequester(dir, 'pending-device');
  const pkcsReq = await client.message(d, d.csr(service.createChallenge({}, admin).challenge), { transactionID: 'tx-pending-1' });
  const first = client.reply(await client.post(pkcsReq), d);
  t.equal(first.pkiStatus, PkiStatus.PENDING);
  t.equal(first.message.transactionID, 'tx-pending-1');

  const listed = await wardctlAsync(['scep', 'pending', '--json', '--config', w.file]);
  t.equal(listed.status, 0, listed.stderr);
  const pending = JSON.parse(listed.stdout) as { id: string; subject: string; transactionId: string }[];
  t.equal(pending.length, 1);
  t.equal(pending[0]!.transactionId, 'tx-pending-1');
  t.match(pending[0]!.subject, /pending-device/);

  // GetCertInitial (CertPoll) signed by the same requester, and the PKCSReq re-sent: both PENDING
  const poll = await client.message(d, issuerAndSubject(w.ca.issuing.der, d.cert), { messageType: '20', transactionID: 'tx-pending-1' });
  t.equal(client.reply(await client.post(poll), d).pkiStatus, PkiStatus.PENDING);
  t.equal(client.reply(await client.post(pkcsReq), d).pkiStatus, PkiStatus.PENDING, 're-sent PKCSReq: still pending, challenge not asked again');
  // someone else polling the same transactionID learns nothing
  const stranger = makeRequester(dir, 'stranger');
  const theirPoll = await client.message(stranger, issuerAndSubject(w.ca.issuing.der, d.cert), { messageType: '20', transactionID: 'tx-pending-1' });
  t.equal(client.reply(await client.post(theirPoll), stranger).failInfo, FailInfo.badCertId);

  const approved = await wardctlAsync(['scep', 'approve', pending[0]!.id, '--config', w.file]);
  t.equal(approved.status, 0, approved.stderr);
  t.match(approved.stdout, new RegExp(`approved ${pending[0]!.id}: certificate [0-9a-f]+`));
  const again = await wardctlAsync(['scep', 'approve', pending[0]!.id, '--config', w.file]);
  t.equal(again.status, 1);
  t.match(again.stderr, /is issued, not pending/);

  const done = client.reply(await client.post(poll), d);
  t.equal(done.pkiStatus, PkiStatus.SUCCESS);
  t.equal(done.certificates.length, 1);
  const resent = client.reply(await client.post(pkcsReq), d);
  t.same(resent.certificates, done.certificates, 'the re-sent PKCSReq gets the same certificate');
  const events = (w.db.sqlite.prepare("SELECT action FROM audit_events WHERE action LIKE 'scep.%' ORDER BY seq").pluck().all() as string[]);
  t.ok(events.includes('scep.request.pending') && events.includes('scep.request.approved') && events.includes('scep.request.polled'));
});

t.test('manual approval: reject, and unknown IDs', async (t) => {
  const { w, service, client } = await ward({ scep: { approval: { mode: 'manual' } } });
  const d = makeRequester(dir, 'rejected-device');
  const pkcsReq = await client.message(d, d.csr(service.createChallenge({}, admin).challenge));
  t.equal(client.reply(await client.post(pkcsReq), d).pkiStatus, PkiStatus.PENDING);
  const [row] = service.pendingRequests();
  const rejected = await wardctlAsync(['scep', 'reject', row!.id, '--reason', 'unknown device', '--config', w.file]);
  t.equal(rejected.status, 0, rejected.stderr);
  const after = client.reply(await client.post(pkcsReq), d);
  t.equal(after.pkiStatus, PkiStatus.FAILURE);
  t.equal(after.failInfo, FailInfo.badRequest);
  const unknown = await wardctlAsync(['scep', 'approve', 'rq-nothing', '--config', w.file]);
  t.equal(unknown.status, 1);
  t.match(unknown.stderr, /no SCEP request rq-nothing/);
  const usage = await wardctlAsync(['scep', 'approve', '--config', w.file]);
  t.equal(usage.status, 2);
});

t.test('strong-only: DES, 3DES and SHA-1 refused as badAlg and not advertised', async (t) => {
  const { w, service, client } = await ward({ scep: { algorithms: { strongOnly: true } } });
  const caps = (await request(`${w.httpUrl}/scep?operation=GetCACaps`)).body.toString();
  t.notMatch(caps, /SHA-1|DES3/);
  const d = makeRequester(dir, 'strong-device');
  for (const [options, what] of [
    [{ cipher: 'des' as const }, 'des-cbc'],
    [{ cipher: 'des3' as const }, 'des-ede3-cbc'],
    [{ digest: 'SHA-1' as const }, 'sha1'],
  ] as const) {
    const reply = client.reply(await client.post(await client.message(d, d.csr(service.createChallenge({}, admin).challenge), options)), d);
    t.equal(reply.failInfo, FailInfo.badAlg, what);
    t.match(reply.failInfoText, new RegExp(what));
  }
  const ok = client.reply(await client.post(await client.message(d, d.csr(service.createChallenge({}, admin).challenge), { cipher: 'aes128', digest: 'SHA-512' })), d);
  t.equal(ok.pkiStatus, PkiStatus.SUCCESS);
});

t.test('replies are AES-256-CBC unless legacyReplyCipher, then the request cipher', async (t) => {
  const envelopeCipher = (certRep: Buffer) => {
    const inner = parsePkiMessage(certRep).content!;
    return openssl(['cms', '-cmsout', '-print', '-inform', 'DER'], inner).toString().match(/contentEncryptionAlgorithm:\s*\n\s*algorithm: (\S+)/)?.[1];
  };
  const plain = await ward({});
  const d = makeRequester(dir, 'cipher-device');
  const aes = await plain.client.post(await plain.client.message(d, d.csr(plain.service.createChallenge({}, admin).challenge), { cipher: 'des3' }));
  t.equal(envelopeCipher(aes.body), 'aes-256-cbc');
  const legacy = await ward({ scep: { algorithms: { legacyReplyCipher: true } } });
  const tdes = await legacy.client.post(await legacy.client.message(d, d.csr(legacy.service.createChallenge({}, admin).challenge), { cipher: 'des3' }));
  t.equal(envelopeCipher(tdes.body), 'des-ede3-cbc');
  t.equal(legacy.client.reply(tdes, d).pkiStatus, PkiStatus.SUCCESS);
});

t.test('a static challenge works only when config names its file, which must be private', async (t) => {
  const secretFile = path.join(dir, 'static-challenge');
  fs.writeFileSync(secretFile, 'a-long-static-network-gear-challenge\n', { mode: 0o600 });
  const { client } = await ward({ scep: { challenges: { staticChallengeFile: secretFile } } });
  const d = makeRequester(dir, 'switch-1');
  for (let i = 0; i < 2; i++) {
    const reply = client.reply(await client.post(await client.message(d, d.csr('a-long-static-network-gear-challenge'))), d);
    t.equal(reply.pkiStatus, PkiStatus.SUCCESS, `static challenge use ${i + 1}`);
  }
  const without = await ward({});
  const refused = without.client.reply(await without.client.post(await without.client.message(d, d.csr('a-long-static-network-gear-challenge'))), d);
  t.equal(refused.failInfo, FailInfo.badRequest, 'no static challenge unless configured');
  fs.chmodSync(secretFile, 0o644);
  await t.rejects(startTestWard({ scep: { challenges: { staticChallengeFile: secretFile } } }), { name: 'ConfigError', message: /chmod 600/ });
});
