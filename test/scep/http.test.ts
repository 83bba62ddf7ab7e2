// /scep on a running Ward with requests openssl and pkijs built: the unauthenticated operations,
// PKIOperation by POST and by GET in every base64 spelling, GetCert, GetCRL, renewal rules,
// malformed and truncated messages, wrong content types, oversized bodies, and the audit trail.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { startTestWard, request, tempDir, type TestWard } from '../support/ward';
import { createScepService, FailInfo, PkiStatus, type ScepService } from '../../src/scep';
import { makeRequester, openssl, pemToDer, type Requester } from './throwaway-ca';
import { issuerAndSerial, issuerAndSerialNumber, loadPkijs } from './requests';
import { ScepTestClient } from './client';

let ward: TestWard;
let scep: ScepService;
let client: ScepTestClient;
let dir: string;
let device: Requester;
const admin = { actor: { type: 'cli' as const, id: 'test' }, source: 'local', requestId: null };

t.before(async () => {
  await loadPkijs();
  ward = await startTestWard({ scep: { renewal: { windowDays: 0 }, maxMessageBytes: 4096 } });
  scep = createScepService(ward.cfg, ward.db, ward.audit, ward.ca);
  dir = tempDir();
  device = makeRequester(dir, 'http-device');
  client = await new ScepTestClient(`${ward.httpUrl}/scep`, dir).init();
});
t.teardown(async () => {
  await ward?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(ward.dir, { recursive: true, force: true });
});

function auditLines(action: string): Record<string, any>[] {
  const rows = ward.db.sqlite.prepare('SELECT line FROM audit_events WHERE action = ? ORDER BY seq').pluck().all(action) as string[];
  return rows.map((l) => JSON.parse(l));
}

async function enroll(requester: Requester, options: Parameters<ScepTestClient['message']>[2] = {}) {
  const challenge = scep.createChallenge({}, admin).challenge;
  const answer = await client.post(await client.message(requester, requester.csr(challenge), options));
  return { challenge, reply: client.reply(answer, requester) };
}

t.test('GetCACaps, GetCACert, GetNextCACert', async (t) => {
  const caps = await request(`${ward.httpUrl}/scep?operation=GetCACaps`);
  t.equal(caps.status, 200);
  t.match(caps.headers['content-type'], /^text\/plain/);
  const list = caps.body.toString().trim().split('\n');
  for (const cap of ['POSTPKIOperation', 'SHA-256', 'SHA-512', 'AES', 'SCEPStandard', 'Renewal']) t.ok(list.includes(cap), cap);
  t.notOk(list.includes('GetNextCACert'), 'no rollover, so not advertised');

  const cacert = await request(`${ward.httpUrl}/scep?operation=GetCACert`);
  t.equal(cacert.headers['content-type'], 'application/x-x509-ca-ra-cert');
  t.equal(client.caCerts.length, 3, 'RA, issuing CA, root');
  const text = (der: Buffer) => openssl(['x509', '-inform', 'DER', '-noout', '-text'], der).toString();
  t.match(text(client.caCerts[0]!), /Digital Signature, Key Encipherment/, 'RA: digitalSignature + keyEncipherment');
  for (const ca of client.caCerts.slice(1)) {
    t.match(text(ca), /Key Usage: critical\s+Certificate Sign, CRL Sign\n/, 'CA: keyCertSign + cRLSign only');
  }
  t.ok(client.caCerts[1]!.equals(ward.ca.issuing.der) && client.caCerts[2]!.equals(ward.ca.root.der));

  const next = await request(`${ward.httpUrl}/scep?operation=GetNextCACert`);
  t.equal(next.status, 404);
  t.equal(next.json().error, 'no_next_ca');
  t.match(next.json().reason, /no CA rollover/);

  const unknown = await request(`${ward.httpUrl}/scep?operation=GetEverything`);
  t.equal(unknown.status, 400);
  t.match(unknown.json(), { error: 'badRequest', reason: /unknown SCEP operation/ });
  const none = await request(`${ward.httpUrl}/scep`);
  t.equal(none.status, 400);
  const put = await request(`${ward.httpUrl}/scep?operation=GetCACaps`, { method: 'PUT' });
  t.equal(put.status, 405);
});

t.test('PKCSReq by POST: issued certificate verifies against /ca.pem; audit records cipher and digest', async (t) => {
  const { reply } = await enroll(device, { cipher: 'aes256', digest: 'SHA-256' });
  t.equal(reply.pkiStatus, PkiStatus.SUCCESS);
  t.equal(reply.certificates.length, 1);
  const caPem = (await request(`${ward.httpUrl}/ca.pem`)).body;
  fs.writeFileSync(path.join(dir, 'ca.pem'), caPem);
  fs.writeFileSync(path.join(dir, 'issued.pem'), reply.certificates[0]!);
  t.match(openssl(['verify', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'issued.pem')]).toString(), /OK/);
  const text = openssl(['x509', '-noout', '-text', '-in', path.join(dir, 'issued.pem')]).toString();
  t.match(text, /Subject: O ?= ?Ward Test, CN ?= ?http-device/);
  t.match(text, /TLS Web Client Authentication/, 'device-identity profile');
  t.equal(reply.message.recipientNonce?.length, 16);

  const issued = auditLines('pki.certificate.issued').filter((e) => e.details.via === 'scep').at(-1)!;
  t.match(issued.details, { messageType: 'PKCSReq', contentCipher: 'aes-256-cbc', digestAlgorithm: 'sha256', keyTransport: 'rsaes-pkcs1-v1_5' });
  t.match(issued.details.challengeId, /^ch-/);
  t.equal(issued.actor.type, 'device');
});

t.test('subjectAltNames requested in the CSR are copied into the device certificate', async (t) => {
  const d = makeRequester(dir, 'san-device');
  const challenge = scep.createChallenge({}, admin).challenge;
  const csr = d.csr(challenge, '/O=Ward Test/CN=san-device', 'DNS:san-device.ward.test, IP:10.1.2.3, IP:fd00::1, email:nurse@ward.test, URI:urn:ward:device:42');
  const reply = client.reply(await client.post(await client.message(d, csr)), d);
  t.equal(reply.pkiStatus, PkiStatus.SUCCESS);
  const text = openssl(['x509', '-noout', '-ext', 'subjectAltName'], reply.certificates[0]!).toString();
  for (const name of ['DNS:san-device.ward.test', 'IP Address:10.1.2.3', 'IP Address:FD00:0:0:0:0:0:0:1', 'email:nurse@ward.test', 'URI:urn:ward:device:42']) {
    t.ok(text.includes(name), name);
  }
});

t.test('PKIOperation by GET: standard and URL-safe base64, percent-encoded or not, with line breaks', async (t) => {
  const issuedPem = fs.readFileSync(path.join(dir, 'issued.pem'));
  const getCrl = await client.message(device, issuerAndSerialNumber(pemToDer(issuedPem)), { messageType: '22' });
  const b64 = getCrl.toString('base64');
  t.ok(/[+/]/.test(b64), 'the message has + and / to get wrong');
  const urlSafe = (s: string) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const spellings: [string, (s: string) => string][] = [
    ['standard, raw', (s) => s],
    ['standard, percent-encoded', encodeURIComponent],
    ['URL-safe, raw', urlSafe],
    ['URL-safe, percent-encoded', (s) => encodeURIComponent(urlSafe(s))],
    ['standard with %0A line breaks', (s) => (s.match(/.{1,64}/g) ?? []).join('%0A')],
  ];
  const crlDer = (await request(`${ward.httpUrl}/crl`)).body;
  for (const [name, encode] of spellings) {
    const answer = await client.get(getCrl, encode);
    const reply = client.reply(answer, device);
    t.equal(reply.pkiStatus, PkiStatus.SUCCESS, name);
    t.equal(reply.crls.length, 1, `${name}: the CRL`);
    t.ok(pemToDer(reply.crls[0]!).equals(crlDer), `${name}: the CRL served at /crl`);
  }
  const notBase64 = await request(`${ward.httpUrl}/scep?operation=PKIOperation&message=%%%`);
  t.equal(notBase64.status, 400);
  const bad = await request(`${ward.httpUrl}/scep?operation=PKIOperation&message=ab!cd`);
  t.match(bad.json(), { error: 'badRequest', reason: 'message is not base64' });
  const empty = await request(`${ward.httpUrl}/scep?operation=PKIOperation`);
  t.equal(empty.status, 400);
});

t.test('GetCert by issuer and serial; unknown serial is badCertId', async (t) => {
  const issued = pemToDer(fs.readFileSync(path.join(dir, 'issued.pem')));
  const reply = client.reply(await client.post(await client.message(device, issuerAndSerialNumber(issued), { messageType: '21' })), device);
  t.equal(reply.pkiStatus, PkiStatus.SUCCESS);
  t.ok(pemToDer(reply.certificates[0]!).equals(issued));
  // Ward's issuing CA as issuer, a serial it never issued
  const unknown = client.reply(await client.post(await client.message(device, issuerAndSerial(ward.ca.issuing.der, Buffer.from('0badc0de', 'hex')), { messageType: '21' })), device);
  t.equal(unknown.pkiStatus, PkiStatus.FAILURE);
  t.equal(unknown.failInfo, FailInfo.badCertId);
  // a certificate some other CA issued
  const foreign = client.reply(await client.post(await client.message(device, issuerAndSerialNumber(device.cert), { messageType: '21' })), device);
  t.equal(foreign.failInfo, FailInfo.badCertId);
});

t.test('RenewalReq signed with the issued certificate', async (t) => {
  const issued = pemToDer(fs.readFileSync(path.join(dir, 'issued.pem')));
  const renewal = await client.message(device, device.csr(), { messageType: '17', signerCert: issued });
  const reply = client.reply(await client.post(renewal), device);
  t.equal(reply.pkiStatus, PkiStatus.SUCCESS, reply.failInfoText ?? 'renewed');
  const renewed = pemToDer(reply.certificates[0]!);
  t.notOk(renewed.equals(issued));
  const event = auditLines('pki.certificate.issued').at(-1)!;
  t.equal(event.details.messageType, 'RenewalReq');
  t.equal(event.details.renewalOf, ward.ca.verifyIssued(issued).record!.serial);

  // the same RenewalReq again (a client that lost the reply) gets the same certificate back
  const again = client.reply(await client.post(renewal), device);
  t.ok(pemToDer(again.certificates[0]!).equals(renewed), 'a re-sent request is answered, not issued twice');

  // a different subject than the signing certificate holds
  const other = await client.message(device, device.csr(undefined, '/O=Ward Test/CN=someone-else'), { messageType: '17', signerCert: issued });
  const refused = client.reply(await client.post(other), device);
  t.equal(refused.failInfo, FailInfo.badRequest);
  // signed by a certificate Ward never issued
  const selfSigned = client.reply(await client.post(await client.message(device, device.csr(), { messageType: '17' })), device);
  t.equal(selfSigned.failInfo, FailInfo.badCertId);
  // revoked
  ward.ca.revoke(ward.ca.verifyIssued(renewed).record!.serial, 'keyCompromise', admin);
  const revoked = client.reply(await client.post(await client.message(device, device.csr(), { messageType: '17', signerCert: renewed })), device);
  t.equal(revoked.failInfo, FailInfo.badCertId);
});

t.test('refused challenges: wrong, reused, expired, bound to another device; none leaks which', async (t) => {
  const wrong = client.reply(await client.post(await client.message(device, device.csr('0123456789abcdef0123456789abcdef'))), device);
  t.equal(wrong.failInfo, FailInfo.badRequest);
  const { challenge, reply } = await enroll(device);
  t.equal(reply.pkiStatus, PkiStatus.SUCCESS);
  const reused = client.reply(await client.post(await client.message(device, device.csr(challenge))), device);
  t.equal(reused.failInfo, FailInfo.badRequest);
  const bound = scep.createChallenge({ boundTo: 'somebody-else' }, admin);
  const boundReply = client.reply(await client.post(await client.message(device, device.csr(bound.challenge))), device);
  t.equal(boundReply.failInfo, FailInfo.badRequest);
  t.same(new Set([wrong.failInfoText, reused.failInfoText, boundReply.failInfoText]), new Set(['challenge password refused']), 'one text for the client');
  const reasons = auditLines('scep.request.refused').map((e) => e.reason as string);
  t.ok(reasons.some((r) => r.includes('unknown challenge')));
  t.ok(reasons.some((r) => r.includes('already used')));
  t.ok(reasons.some((r) => r.includes('is for somebody-else')));
  // the bound challenge was not spent by the wrong device: the right one still enrolls with it
  const right = makeRequester(dir, 'somebody-else');
  const ok = client.reply(await client.post(await client.message(right, right.csr(bound.challenge))), right);
  t.equal(ok.pkiStatus, PkiStatus.SUCCESS);
  // expired: written straight into the store with a past expiry
  const expired = scep.createChallenge({}, admin);
  ward.db.sqlite.prepare('UPDATE scep_challenges SET expires_at = ? WHERE id = ?').run(new Date(Date.now() - 1000).toISOString(), expired.id);
  const late = client.reply(await client.post(await client.message(device, device.csr(expired.challenge))), device);
  t.equal(late.failInfo, FailInfo.badRequest);
  t.ok(auditLines('scep.request.refused').at(-1)!.reason.includes('expired'));
  // no challenge ever reaches the audit log
  const all = ward.db.sqlite.prepare('SELECT line FROM audit_events').pluck().all() as string[];
  for (const c of [challenge, bound.challenge, expired.challenge]) t.notOk(all.some((l) => l.includes(c)), 'challenge not in audit');
});

t.test('malformed, truncated and wrong-type bodies get the documented answers', async (t) => {
  const valid = await client.message(device, device.csr('x'));
  const truncated = await client.post(valid.subarray(0, 700));
  t.equal(truncated.status, 400);
  t.match(truncated.json(), { error: 'badRequest', reason: /malformed/ });
  const garbage = await client.post(Buffer.from('this is not DER'));
  t.equal(garbage.status, 400);
  const emptyBody = await client.post(Buffer.alloc(0));
  t.equal(emptyBody.status, 400);
  // signature broken after the transaction is readable: a signed CertRep FAILURE badMessageCheck
  const tampered = Buffer.from(valid);
  tampered[tampered.length - 10] = tampered[tampered.length - 10]! ^ 1;
  const failure = client.reply(await client.post(tampered), device);
  t.equal(failure.pkiStatus, PkiStatus.FAILURE);
  t.equal(failure.failInfo, FailInfo.badMessageCheck);
  // wrong content types
  for (const type of ['application/json', 'text/plain', 'multipart/form-data; boundary=x']) {
    const answer = await client.post(valid, type);
    t.equal(answer.status, 415, type);
    t.equal(answer.json().error, 'unsupported_media_type');
  }
  t.equal((await client.post(valid, 'application/octet-stream')).status, 200, 'octet-stream (scepclient) accepted');
  // oversized: POST body and GET message over scep.maxMessageBytes (4 KiB here)
  const big = Buffer.alloc(4097, 0x30);
  const tooBig = await client.post(big);
  t.equal(tooBig.status, 413);
  t.equal(tooBig.json().error, 'payload_too_large');
  const tooBigGet = await client.get(big);
  t.equal(tooBigGet.status, 413);
  // refusals without a transaction are recorded too, with the source address
  const refused = auditLines('scep.request.refused');
  t.ok(refused.some((e) => e.reason.startsWith('malformed') && e.source === '127.0.0.1'));
  t.ok(refused.some((e) => e.details.failInfo === 'badMessageCheck' && e.details.transactionID));
});

t.test('the /scep/pkiclient.exe spelling works too', async (t) => {
  const answer = await request(`${ward.httpUrl}/scep/pkiclient.exe?operation=GetCACaps`);
  t.equal(answer.status, 200);
});

t.test('renewal window and duplicate subjects (a Ward with policy)', async (t) => {
  const strict = await startTestWard({ scep: { renewal: { windowDays: 14 }, duplicateSubject: 'refuse' } });
  t.teardown(async () => {
    await strict.stop();
    fs.rmSync(strict.dir, { recursive: true, force: true });
  });
  const service = createScepService(strict.cfg, strict.db, strict.audit, strict.ca);
  const c = await new ScepTestClient(`${strict.httpUrl}/scep`, dir).init();
  const d = makeRequester(dir, 'policy-device');
  const first = c.reply(await c.post(await c.message(d, d.csr(service.createChallenge({}, admin).challenge))), d);
  t.equal(first.pkiStatus, PkiStatus.SUCCESS);
  const second = c.reply(await c.post(await c.message(d, d.csr(service.createChallenge({}, admin).challenge))), d);
  t.equal(second.failInfo, FailInfo.badRequest, 'duplicate subject refused');
  const early = c.reply(await c.post(await c.message(d, d.csr(), { messageType: '17', signerCert: pemToDer(first.certificates[0]!) })), d);
  t.equal(early.failInfo, FailInfo.badTime, 'a 365-day certificate cannot renew with 14 days of window');
  t.match(early.failInfoText, /renewal opens/);
});

t.test('supersede: the earlier certificate of the subject is revoked', async (t) => {
  const sup = await startTestWard({ scep: { duplicateSubject: 'supersede' } });
  t.teardown(async () => {
    await sup.stop();
    fs.rmSync(sup.dir, { recursive: true, force: true });
  });
  const service = createScepService(sup.cfg, sup.db, sup.audit, sup.ca);
  const c = await new ScepTestClient(`${sup.httpUrl}/scep`, dir).init();
  const d = makeRequester(dir, 'supersede-device');
  const first = c.reply(await c.post(await c.message(d, d.csr(service.createChallenge({}, admin).challenge))), d);
  const second = c.reply(await c.post(await c.message(d, d.csr(service.createChallenge({}, admin).challenge))), d);
  t.equal(second.pkiStatus, PkiStatus.SUCCESS);
  t.equal(sup.ca.verifyIssued(pemToDer(first.certificates[0]!)).status, 'revoked');
  t.equal(sup.ca.verifyIssued(pemToDer(second.certificates[0]!)).status, 'valid');
});
