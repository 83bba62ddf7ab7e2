import t from 'tap';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApnsClient, type ApnsOptions, type PushResult } from '../../src/apple/apns';
import { ApnsStandIn, ConnectProxy } from './apns-standin';
import { makeLeaf, makeRoot } from './openssl';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const topic = 'com.apple.mgmt.External.1c0a5e3b-1111-2222-3333-444455556666';
const root = makeRoot(dir);
const serverId = makeLeaf(dir, root, 'apns-standin', 'rsa:2048', ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth']);
const pushCert = makeLeaf(dir, root, 'push', 'rsa:2048', ['extendedKeyUsage=clientAuth'], `/UID=${topic}/CN=APSP:1c0a5e3b-1111-2222-3333-444455556666`);

const tokenA = crypto.randomBytes(32);
const tokenB = crypto.randomBytes(32);

let standIn: ApnsStandIn;
t.before(async () => {
  standIn = await ApnsStandIn.start(serverId, root);
});
t.teardown(() => standIn.close());

function client(extra: Partial<ApnsOptions> = {}): ApnsClient {
  const c = new ApnsClient({
    url: standIn.url,
    certificate: pushCert.certPem,
    key: pushCert.key,
    topic,
    ca: root.certPem,
    backoffMs: 2,
    maxBackoffMs: 10,
    maxAttempts: 3,
    ...extra,
  });
  t.teardown(() => c.close());
  return c;
}

t.test('a push is an HTTP/2 POST with the push certificate, topic, push type and PushMagic', async (t) => {
  standIn.reset();
  const results: PushResult[] = [];
  const c = client({ onResult: (_tok, r) => results.push(r) });
  const r = await c.push({ token: tokenA, pushMagic: 'CEFDF0BD-E342-4A27-8742-E930EA116B0A' });
  t.same(r, { status: 'sent', apnsId: 'apns-0', attempts: 1 });
  t.equal(standIn.requests.length, 1);
  const req = standIn.requests[0];
  t.equal(req.path, `/3/device/${tokenA.toString('hex')}`);
  t.equal(req.headers[':method'], 'POST');
  t.equal(req.headers['apns-topic'], topic);
  t.equal(req.headers['apns-push-type'], 'mdm');
  t.same(JSON.parse(req.body), { mdm: 'CEFDF0BD-E342-4A27-8742-E930EA116B0A' });
  t.equal(req.clientCertSubject, `UID=${topic},CN=APSP:1c0a5e3b-1111-2222-3333-444455556666`, 'authenticated with the push certificate');
  t.same(results, [r], 'onResult observed the push');
  // The HTTP/2 session is reused.
  await c.push({ token: tokenB, pushMagic: 'm' });
  t.equal(standIn.requests.length, 2);
});

t.test('410 Unregistered marks the token dead and is not retried', async (t) => {
  standIn.reset(() => ({ status: 410, reason: 'Unregistered' }));
  const dead: string[] = [];
  const c = client({ onUnregistered: (tok) => dead.push(tok.toString('hex')) });
  const r = await c.push({ token: tokenA, pushMagic: 'm' });
  t.same(r, { status: 'unregistered', attempts: 1, reason: 'Unregistered' });
  t.same(dead, [tokenA.toString('hex')]);
  t.equal(standIn.requests.length, 1);
});

t.test('429/500/503 are retried with backoff; 4xx other than 410 and 429 are not', async (t) => {
  standIn.reset((_r, i) => (i === 0 ? { status: 503, reason: 'ServiceUnavailable' } : { status: 200 }));
  t.match(await client().push({ token: tokenA, pushMagic: 'm' }), { status: 'sent', attempts: 2 });
  t.equal(standIn.requests.length, 2);

  standIn.reset(() => ({ status: 500, reason: 'InternalServerError' }));
  t.same(await client().push({ token: tokenA, pushMagic: 'm' }), { status: 'failed', reason: 'APNs 500 InternalServerError', attempts: 3 });
  t.equal(standIn.requests.length, 3, 'gave up after maxAttempts');

  standIn.reset(() => ({ status: 400, reason: 'BadDeviceToken' }));
  t.same(await client().push({ token: tokenA, pushMagic: 'm' }), { status: 'rejected', httpStatus: 400, reason: 'BadDeviceToken', attempts: 1 });
  t.equal(standIn.requests.length, 1);

  standIn.reset(() => ({ status: 403, reason: 'BadCertificateEnvironment' }));
  t.match(await client().push({ token: tokenA, pushMagic: 'm' }), { status: 'rejected', httpStatus: 403 });
});

t.test('pushes to one device coalesce', async (t) => {
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  standIn.reset(async () => {
    await gate;
    return { status: 200 };
  });
  const c = client();
  // Asked for several times before anything is on the wire: one request.
  const first = c.push({ token: tokenA, pushMagic: 'm' });
  t.equal(c.push({ token: tokenA, pushMagic: 'm' }), first, 'same promise');
  t.equal(c.push({ token: tokenA, pushMagic: 'm' }), first);
  const other = c.push({ token: tokenB, pushMagic: 'm' });
  t.not(other, first, 'another device gets its own push');
  await standIn.waitFor(2);
  // Asked for again while on the wire: exactly one follow-up after it, not one per request.
  for (let i = 0; i < 5; i++) t.equal(c.push({ token: tokenA, pushMagic: 'm' }), first);
  release();
  await standIn.waitFor(3);
  gate = Promise.resolve();
  t.match(await first, { status: 'sent' });
  await other;
  const toA = standIn.requests.filter((r) => r.path.endsWith(tokenA.toString('hex')));
  t.equal(toA.length, 2, 'first push plus one follow-up');
  t.equal(c.inFlight, 0);
  const again = c.push({ token: tokenA, pushMagic: 'm' });
  t.not(again, first, 'a settled push is not reused');
  await again;
});

t.test('through an HTTP CONNECT proxy', async (t) => {
  standIn.reset();
  const proxy = await ConnectProxy.start();
  t.teardown(() => proxy.close());
  const r = await client({ proxy: proxy.url }).push({ token: tokenB, pushMagic: 'm' });
  t.match(r, { status: 'sent' });
  t.same(proxy.targets, [`127.0.0.1:${standIn.port}`], 'the proxy was asked to CONNECT to APNs');
  t.equal(standIn.requests.length, 1);
});

t.test('an unreachable APNs fails after the retries, without throwing', async (t) => {
  // A port with nothing listening: bind one, note it, close it.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const r = await client({ url: `https://127.0.0.1:${port}` }).push({ token: tokenA, pushMagic: 'm' });
  t.match(r, { status: 'failed', attempts: 3 });
  t.match((r as { reason: string }).reason, /ECONNREFUSED/);
});

t.test('a push certificate APNs does not trust is refused at the TLS layer', async (t) => {
  standIn.reset();
  const otherRoot = makeRoot(dir, 'other-root');
  const stranger = makeLeaf(dir, otherRoot, 'stranger', 'rsa:2048', ['extendedKeyUsage=clientAuth']);
  const r = await client({ certificate: stranger.certPem, key: stranger.key, maxAttempts: 1 }).push({ token: tokenA, pushMagic: 'm' });
  t.match(r, { status: 'failed', attempts: 1 });
  t.equal(standIn.requests.length, 0, 'nothing reached the endpoint');
});
