// The two listeners against real clients: openssl s_client for TLS versions and the chain, node's
// http/https for health, limits, JSON errors and request ids.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { readBody, readJson } from '../../src/http';
import { request, startTestWard, tempDir, tool, toolAsync, spawnDaemon, writeTestConfig, runDaemonToExit } from '../support/ward';

t.test('health, TLS versions, chain, limits, errors', async (t) => {
  const ward = await startTestWard({ limits: { bodyBytes: 2048 } });
  t.teardown(() => ward.stop());
  ward.listeners.plain.post('/test/echo-size', async (ctx) => {
    ctx.body = { size: (await readBody(ctx, ward.cfg.limits.bodyBytes)).length };
  });
  ward.listeners.plain.post('/test/echo-json', async (ctx) => {
    ctx.body = { got: await readJson(ctx, ward.cfg.limits.bodyBytes) };
  });

  for (const url of [ward.httpUrl, ward.httpsUrl]) {
    const h = await request(`${url}/healthz`, { agent: url.startsWith('https') ? ward.agent() : undefined });
    t.equal(h.status, 200, `${url} /healthz`);
    const body = h.json();
    t.equal(body.status, 'ok');
    t.equal(body.runtime.node, 'v24.21.0', 'pinned runtime');
    t.match(body.runtime.openssl, /^3\.5\./);
    t.match(h.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  }

  const work = tempDir('ward-tls-');
  const chainFile = path.join(work, 'chain.pem');
  fs.writeFileSync(chainFile, (await request(`${ward.httpUrl}/ca.pem`)).body);
  const port = String(ward.ports.httpsPort);
  const sClient = (...args: string[]) =>
    toolAsync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', chainFile, ...args], { input: '' });
  const v11 = await sClient('-tls1_1');
  t.not(v11.status, 0, 'TLS 1.1 refused');
  for (const v of ['-tls1_2', '-tls1_3']) {
    const r = await sClient(v, '-verify_return_error', '-verify_hostname', 'localhost');
    t.equal(r.status, 0, `${v} accepted`);
    t.match(r.stdout, /Verify return code: 0 \(ok\)/, `${v}: chain verifies against /ca.pem`);
    t.match(r.stdout, new RegExp(`(Protocol\\s*:\\s*|New, )TLSv1\\.${v.slice(-1)}`), `${v} negotiated`);
  }
  const weak = await sClient('-tls1_2', '-cipher', 'AES128-SHA');
  t.not(weak.status, 0, 'non-forward-secret TLS 1.2 suite refused');

  const ok = await request(`${ward.httpUrl}/test/echo-size`, { method: 'POST', body: Buffer.alloc(2000) });
  t.equal(ok.status, 200);
  t.same(ok.json(), { size: 2000 });
  const big = await request(`${ward.httpUrl}/test/echo-size`, { method: 'POST', body: Buffer.alloc(5000) });
  t.equal(big.status, 413, 'body over the limit');
  t.equal(big.json().error, 'payload_too_large');
  // Found by the fuzz run: a chunked body far over the limit, then the next request on the same
  // keep-alive connection. It hung six seconds and was reset while the rest of the body sat unread.
  const one = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => one.destroy());
  const chunked = await request(`${ward.httpUrl}/test/echo-size`, { method: 'POST', body: Buffer.alloc(2_000_000), agent: one as never });
  t.equal(chunked.status, 413, 'chunked body over the limit');
  const started = Date.now();
  const next = await request(`${ward.httpUrl}/test/echo-size`, { method: 'POST', body: Buffer.alloc(10), agent: one as never });
  t.same([next.status, next.json()], [200, { size: 10 }], 'the connection serves the next request');
  t.ok(Date.now() - started < 3000, 'at once, not after a timeout');

  // I-JSON (RFC 7493): a lone surrogate escape is valid JSON but could never be audited (found by fuzzing).
  const json = (body: string) => request(`${ward.httpUrl}/test/echo-json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  t.same((await json('{"a":"\\ud83d\\ude91"}')).json(), { got: { a: '\u{1F691}' } }, 'an escaped surrogate pair is one character');
  const lone = await json('{"a":"x\\ud83d"}');
  t.same([lone.status, lone.json().error], [400, 'invalid_json'], 'a lone surrogate escape: 400');
  t.equal((await json('{"\\udc00":1}')).status, 400, 'in a member name too');

  const nf = await request(`${ward.httpUrl}/nope`, { headers: { 'x-request-id': 'trace-12345678' } });
  t.equal(nf.status, 404);
  t.equal(nf.headers['content-type'], 'application/json; charset=utf-8');
  t.same(nf.json(), { error: 'not_found', reason: 'no route for GET /nope', requestId: 'trace-12345678' });
  const bad = await request(`${ward.httpUrl}/nope`, { headers: { 'x-request-id': 'bad id with spaces' } });
  t.not(bad.headers['x-request-id'], 'bad id with spaces', 'an unsafe request id is replaced');
});

t.test('SIGTERM: graceful shutdown, exit 0', async (t) => {
  const { file } = writeTestConfig();
  const d = await spawnDaemon(file);
  const h = await request(`http://127.0.0.1:${d.httpPort}/healthz`);
  t.equal(h.status, 200);
  t.equal(await d.stop('SIGTERM'), 0);
  t.notMatch(d.output(), /"level":50/, 'no error logged');
});

t.test('refuses to start on Node older than 24, with one line', async (t) => {
  if (!fs.existsSync('/usr/bin/node')) return void t.pass('no system node to try');
  const sys = tool('/usr/bin/node', ['-v']).stdout.trim();
  if (Number(sys.slice(1).split('.')[0]) >= 24) return void t.pass(`system node is ${sys}`);
  const { file } = writeTestConfig();
  const r = runDaemonToExit(['--config', file], {}, '/usr/bin/node');
  t.equal(r.status, 2);
  t.match(r.stderr.trim(), /^ward: Node 2\d\.[\d.]+ is too old \(needs >= 24/);
  t.equal(r.stderr.trim().split('\n').length, 1);
});

t.test('the pinned runtime is what node_modules/.bin/node runs', async (t) => {
  const r = tool(path.resolve(__dirname, '../../../node_modules/.bin/node'), ['-p', 'process.version + " " + process.versions.openssl']);
  t.match(r.stdout.trim(), /^v24\.21\.0 3\.5\.\d+$/);
  t.equal(process.version, 'v24.21.0', 'tests run on it too');
});

t.test('remembered route matches answer like the router: fixed paths, parameters, methods, routes mounted later', async (t) => {
  const ward = await startTestWard();
  t.teardown(() => ward.stop());
  const secure = ward.listeners.secure;
  secure.put('/test/fixed', async (ctx, next) => {
    ctx.body = { route: 'fixed' };
    await next();
  });
  secure.get('/test/item/:id', (ctx) => {
    ctx.body = { route: 'item', id: ctx.params.id };
  });
  const agent = ward.agent();
  const call = (method: string, p: string) => request(`${ward.httpsUrl}${p}`, { method, agent, body: method === 'PUT' ? Buffer.from('{}') : undefined });
  for (let i = 0; i < 3; i++) {
    const fixed = await call('PUT', '/test/fixed');
    t.same([fixed.status, fixed.json()], [200, { route: 'fixed' }], `PUT /test/fixed, time ${i + 1}`);
    const item = await call('GET', `/test/item/${i}`);
    t.same([item.status, item.json()], [200, { route: 'item', id: String(i) }], `GET /test/item/${i}: its own parameter, not a remembered one`);
    t.equal((await call('GET', '/test/fixed')).status, 405, `GET /test/fixed, time ${i + 1}: 405, the PUT route is not taken`);
  }
  // Routes mounted after the path was answered (and remembered) take part.
  secure.put('/test/fixed', (ctx) => {
    ctx.body = { route: 'fixed', then: 'the route mounted later' };
  });
  secure.get('/test/fixed', (ctx) => {
    ctx.body = { route: 'fixed, by GET' };
  });
  const then = await call('PUT', '/test/fixed');
  t.same([then.status, then.json()], [200, { route: 'fixed', then: 'the route mounted later' }], 'a route mounted later on a remembered path runs');
  const late = await call('GET', '/test/fixed');
  t.same([late.status, late.json()], [200, { route: 'fixed, by GET' }], 'a route mounted later answers its path');
  t.equal((await call('GET', '/test/nothing-here')).status, 404, 'an unknown path stays 404');
});
