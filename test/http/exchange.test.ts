// The koa-less routes of the plain listener (src/http/exchange.ts) against node's http client: the
// same answer koa would give (request id, security headers, access log, JSON errors, body limit),
// method and path matching as @koa/router does it, and no crash on a handler that fails.
import http from 'node:http';
import t from 'tap';
import { HttpError } from '../../src/http';
import { memoryLog, request, startTestWard } from '../support/ward';

t.test('an exchange route answers like a koa route', async (t) => {
  const log = memoryLog();
  const ward = await startTestWard({ limits: { bodyBytes: 2048 } }, { logger: log.logger });
  t.teardown(() => ward.stop());
  let crashes = 0;
  ward.listeners.plainExchanges.add(['/test/exchange'], ['GET', 'POST'], async (exchange) => {
    if (exchange.method === 'POST') {
      const body = await exchange.readBody(2048);
      return { type: 'application/octet-stream', body: Buffer.from(`${body.length} from ${exchange.sourceAddress}`) };
    }
    const what = new URLSearchParams(exchange.querystring).get('what');
    if (what === 'refuse') throw new HttpError(409, 'conflict_here', 'refused on purpose', { 'Retry-After': '7' });
    if (what === 'crash') {
      crashes++;
      throw new Error('a bug, not for the client');
    }
    return { status: 203, type: 'text/plain; charset=utf-8', body: `query ${exchange.querystring} id ${exchange.requestId}` };
  });
  ward.listeners.plainExchanges.add(['/test/exchange-sync'], ['GET'], () => {
    throw new Error('thrown before any promise');
  });
  // A body that is neither a string nor a Buffer makes the send itself throw, after the promise.
  ward.listeners.plainExchanges.add(['/test/exchange-bad-body'], ['GET'], async () => ({ type: 'text/plain', body: 42 as unknown as string }));

  const ok = await request(`${ward.httpUrl}/test/exchange?a=1+2`, { headers: { 'x-request-id': 'proxy-id-1234' } });
  t.equal(ok.status, 203);
  t.equal(ok.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(ok.body.toString(), 'query a=1+2 id proxy-id-1234', 'raw query string; a sane proxy request id is kept');
  t.equal(ok.headers['x-request-id'], 'proxy-id-1234');
  t.equal(ok.headers['x-content-type-options'], 'nosniff');
  t.equal(ok.headers['referrer-policy'], 'no-referrer');
  t.equal(ok.headers['cache-control'], 'no-store');
  t.equal(ok.headers['content-length'], String(ok.body.length));

  const fresh = await request(`${ward.httpUrl}/test/exchange`, { headers: { 'x-request-id': 'no spaces allowed!' } });
  t.match(fresh.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'an insane request id is replaced');
  t.equal(fresh.body.toString(), `query  id ${fresh.headers['x-request-id']}`);

  // @koa/router matches without regard to case and with one trailing slash
  t.equal((await request(`${ward.httpUrl}/TEST/Exchange/`)).status, 203);
  const deeper = await request(`${ward.httpUrl}/test/exchange/more`);
  t.equal(deeper.status, 404, 'a longer path is koa\'s');
  t.equal(deeper.json().error, 'not_found');

  const head = await request(`${ward.httpUrl}/test/exchange`, { method: 'HEAD' });
  t.equal(head.status, 203, 'GET brings HEAD');
  t.equal(head.body.length, 0);
  const options = await request(`${ward.httpUrl}/test/exchange`, { method: 'OPTIONS' });
  t.equal(options.status, 200);
  t.equal(options.headers.allow, 'GET, POST, HEAD, OPTIONS');
  const put = await request(`${ward.httpUrl}/test/exchange`, { method: 'PUT', body: 'x' });
  t.equal(put.status, 405);
  t.equal(put.headers.allow, 'GET, POST, HEAD, OPTIONS');
  t.match(put.json(), { error: 'method_not_allowed', reason: /answers GET, POST, HEAD, OPTIONS, not PUT/ });
  t.equal(put.json().requestId, put.headers['x-request-id']);

  const posted = await request(`${ward.httpUrl}/test/exchange`, { method: 'POST', body: Buffer.alloc(1500) });
  t.equal(posted.body.toString(), '1500 from 127.0.0.1');
  const big = await request(`${ward.httpUrl}/test/exchange`, { method: 'POST', body: Buffer.alloc(5000) });
  t.equal(big.status, 413);
  t.equal(big.json().error, 'payload_too_large');
  t.equal(big.headers.connection, 'close', 'the connection closes after an oversized body');
  // Expect: 100-continue is answered only when the handler reads, so an oversized upload is refused first.
  const continued = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = http.request(`${ward.httpUrl}/test/exchange`, { method: 'POST', headers: { expect: '100-continue', 'content-length': '9000' } });
    req.on('continue', () => (continued = true));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode!, continued });
      req.destroy();
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  t.same(continued, { status: 413, continued: false });

  const refused = await request(`${ward.httpUrl}/test/exchange?what=refuse`);
  t.equal(refused.status, 409);
  t.equal(refused.headers['retry-after'], '7');
  t.equal(refused.headers['content-type'], 'application/json; charset=utf-8');
  t.same(refused.json(), { error: 'conflict_here', reason: 'refused on purpose', requestId: refused.headers['x-request-id'] });

  const crash = await request(`${ward.httpUrl}/test/exchange?what=crash`);
  t.equal(crash.status, 500);
  t.same(crash.json(), { error: 'internal_error', reason: 'internal error', requestId: crash.headers['x-request-id'] });
  t.notOk(crash.body.toString().includes('a bug'), 'the error message stays in the log');
  const syncCrash = await request(`${ward.httpUrl}/test/exchange-sync`);
  t.equal(syncCrash.status, 500);
  const badBody = await request(`${ward.httpUrl}/test/exchange-bad-body`);
  t.equal(badBody.status, 500, 'a throw while sending is answered, not an unhandled rejection');
  t.equal(badBody.json().error, 'internal_error');
  t.equal(crashes, 1);
  t.equal((await request(`${ward.httpUrl}/test/exchange`)).status, 203, 'still answering');

  const lines = log.lines.map((l) => JSON.parse(l));
  const access = lines.filter((l) => l.msg === 'request' && l.requestId === 'proxy-id-1234');
  t.equal(access.length, 1, 'one access line a request');
  t.match(access[0], { listener: 'http', method: 'GET', path: '/test/exchange', status: 203, ip: '127.0.0.1' });
  t.type(access[0].ms, 'number');
  const failed = lines.filter((l) => l.msg === 'request failed');
  t.equal(failed.length, 3, 'each failure logged as Ward\'s fault');
  t.equal(failed[0].requestId, crash.headers['x-request-id']);
  t.equal(lines.filter((l) => l.msg === 'request' && l.status === 405).length, 1, 'refusals are access-logged too');
});
