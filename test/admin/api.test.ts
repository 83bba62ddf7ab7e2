// The API as a parser of hostile input: bad JSON, wrong types, unknown properties, oversized bodies,
// bad parameters and queries all get a JSON 4xx with a reason, never a 500. The OpenAPI document is
// built from the route table and the very schemas ajv enforces. The console is served locally with
// a strict Content-Security-Policy and references nothing outside the appliance.
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import t from 'tap';
import { NAMED_SCHEMAS, ROUTES } from '../../src/admin';
import { consoleDir } from '../../src/admin/console';
import { request } from '../support/ward';
import { attachMissing, call, createPerson, memoryDomains, signIn, startAdminWard, tokenCredential } from './support';

// Real servers (and for some, real processes) on a shared two-core machine.
t.setTimeout(120_000);

t.test('malformed requests: a clear 4xx, never a crash', async (t) => {
  const ward = await startAdminWard({}, { limits: { bodyBytes: 4096 } });
  t.teardown(() => ward.stop());
  attachMissing(ward, memoryDomains(ward).all);
  const admin = tokenCredential(ward, 'admin');
  const raw = (method: string, p: string, body: string | Buffer, headers: Record<string, string>) =>
    request(`${ward.httpsUrl}/api/v1${p}`, { method, body, agent: ward.agent(), headers: { ...admin.headers, ...headers } });
  const cases: [string, Promise<{ status: number; body: Buffer }>, number, string][] = [
    ['not JSON', raw('POST', '/tokens', '{"name": ', { 'content-type': 'application/json' }), 400, 'invalid_json'],
    ['JSON with a BOM and garbage', raw('POST', '/tokens', '\ufeff}{', { 'content-type': 'application/json' }), 400, 'invalid_json'],
    ['form-encoded', raw('POST', '/tokens', 'name=x&role=nac', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type'],
    ['no content type', raw('POST', '/tokens', '{}', {}), 415, 'unsupported_media_type'],
    ['an array', raw('POST', '/tokens', '[]', { 'content-type': 'application/json' }), 400, 'invalid_body'],
    ['null', raw('POST', '/tokens', 'null', { 'content-type': 'application/json' }), 400, 'invalid_body'],
    ['wrong type', raw('POST', '/tokens', '{"name": 5, "role": "nac"}', { 'content-type': 'application/json' }), 400, 'invalid_body'],
    ['unknown role', raw('POST', '/tokens', '{"name": "x", "role": "root"}', { 'content-type': 'application/json' }), 400, 'invalid_body'],
    ['unknown property', raw('POST', '/tokens', '{"name": "x", "role": "nac", "secretHash": "00"}', { 'content-type': 'application/json' }), 400, 'invalid_body'],
    ['prototype pollution attempt', raw('POST', '/tokens', '{"name": "x", "role": "nac", "__proto__": {"role": "admin"}}', { 'content-type': 'application/json' }), 400, 'invalid_body'],
    ['oversized body', raw('POST', '/tokens', JSON.stringify({ name: 'x'.repeat(5000), role: 'nac' }), { 'content-type': 'application/json' }), 413, 'payload_too_large'],
    ['days out of range', raw('POST', '/tokens', '{"name": "x", "role": "nac", "days": 0}', { 'content-type': 'application/json' }), 400, 'invalid_body'],
    ['bad serial parameter', raw('GET', '/certificates/zz-not-hex', '', {}), 400, 'invalid_parameter'],
    ['bad user name parameter', raw('GET', '/users/..%2F..%2Fetc', '', {}), 400, 'invalid_parameter'],
    ['bad query integer', raw('GET', '/certificates?limit=lots', '', {}), 400, 'invalid_query'],
    ['query out of range', raw('GET', '/certificates?limit=100000', '', {}), 400, 'invalid_query'],
    ['unknown query parameter', raw('GET', '/certificates?sort=serial', '', {}), 400, 'invalid_query'],
    ['date that is not a date', raw('POST', '/audit/bundle', '{"since": "yesterday"}', { 'content-type': 'application/json' }), 400, 'invalid_body'],
    ['wipe without a mode', raw('POST', '/devices/x1/wipe', '{"reason": "lost"}', { 'content-type': 'application/json' }), 400, 'invalid_body'],
    ['unknown certificate', raw('POST', '/certificates/abcdef0123/revoke', '{}', { 'content-type': 'application/json' }), 404, 'not_found'],
    ['audit upload of the wrong type', raw('POST', '/audit/verify', 'hello', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
  ];
  for (const [what, pending, status, code] of cases) {
    const a = await pending;
    const body = JSON.parse(a.body.toString());
    t.same([a.status, body.error], [status, code], `${what}: ${status} ${code}`);
    t.ok(typeof body.reason === 'string' && body.reason.length > 0, `${what}: with a reason (${body.reason})`);
  }
  t.equal(ward.admin.tokens.list().filter((x) => x.role === 'admin' && x.name !== admin.name).length, 0, 'no malformed request created an admin token');
  const huge = await raw('POST', '/session', JSON.stringify({ username: 'a'.repeat(3000), password: 'b', code: '123456' }), { 'content-type': 'application/json' });
  t.equal(huge.status, 400, 'an overlong user name at sign-in is refused by the schema');
});

t.test('OpenAPI 3.1 document: every served route, its roles, the enforced schemas', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const before = (await call(ward, undefined, 'GET', '/openapi.json')).json();
  const count = (doc: { paths: Record<string, Record<string, unknown>> }) => Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0);
  t.equal(count(before), ward.admin.served().length, 'only the routes this Ward serves');
  attachMissing(ward, memoryDomains(ward).all);
  const doc = (await call(ward, undefined, 'GET', '/openapi.json')).json();
  t.equal(doc.openapi, '3.1.0');
  t.equal(count(doc), ROUTES.length, 'every route of the table once every domain is attached');
  for (const r of ROUTES) {
    const op = doc.paths[r.path.replace(/:([A-Za-z]+)/g, '{$1}')]?.[r.method.toLowerCase()];
    if (!op) {
      t.fail(`${r.method} ${r.path} missing`);
      continue;
    }
    t.same(op['x-ward-roles'], r.roles === 'public' ? [] : r.roles, `${r.id}: roles documented`);
    if (r.body) t.same(op.requestBody.content['application/json'].schema, { $ref: `#/components/schemas/${r.body}` }, `${r.id}: body schema referenced`);
    for (const m of r.path.matchAll(/:([A-Za-z]+)/g)) t.ok(op.parameters.some((p: { name: string; in: string }) => p.name === m[1] && p.in === 'path'), `${r.id}: path parameter ${m[1]}`);
  }
  t.same(doc.components.schemas, JSON.parse(JSON.stringify(NAMED_SCHEMAS)), 'components are the schema objects ajv validates with');
  const ajv = new Ajv({ strict: false });
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    t.doesNotThrow(() => ajv.compile(schema as object), `${name} compiles as JSON Schema`);
  }
  t.same(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.bearer.description });
});

t.test('console: served locally, strict CSP, nothing from outside', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const root = await request(`${ward.httpsUrl}/`, { agent: ward.agent() });
  t.same([root.status, root.headers.location], [302, '/console/'], '/ leads to the console');
  const index = await request(`${ward.httpsUrl}/console/`, { agent: ward.agent() });
  t.equal(index.status, 200);
  t.match(index.headers['content-type'], /text\/html/);
  const csp = String(index.headers['content-security-policy']);
  for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) t.ok(csp.includes(d), `CSP: ${d}`);
  t.equal(index.headers['x-frame-options'], 'DENY');
  const again = await request(`${ward.httpsUrl}/console/`, { agent: ward.agent(), headers: { 'if-none-match': String(index.headers.etag) } });
  t.equal(again.status, 304, 'ETag revalidation');
  for (const asset of ['app.js', 'app.css']) {
    const a = await request(`${ward.httpsUrl}/console/${asset}`, { agent: ward.agent() });
    t.equal(a.status, 200, `${asset} served`);
  }
  t.equal((await request(`${ward.httpsUrl}/console/../package.json`, { agent: ward.agent() })).status, 404, 'no path outside the assets');
  t.equal((await request(`${ward.httpsUrl}/console/app.ts`, { agent: ward.agent() })).status, 404, 'only the listed assets');
  for (const file of fs.readdirSync(consoleDir())) {
    const text = fs.readFileSync(path.join(consoleDir(), file), 'utf8');
    t.notMatch(text, /(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i, `${file}: no absolute URL to another host`);
    if (!file.endsWith('.js')) t.notMatch(text, /@import|@font-face|url\(/i, `${file}: no imported styles, fonts or remote images`);
    if (file.endsWith('.html')) t.notMatch(text, /<script>|<style|\sstyle=|\son[a-z]+=/i, `${file}: no inline script or style (CSP)`);
    if (file.endsWith('.js')) t.notMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, `${file}: no HTML from strings`);
  }
  const person = await createPerson(ward, 'auditor');
  const s = await signIn(ward, person);
  t.equal((await call(ward, s, 'GET', '/session')).json().username, person.username, 'the session works for the console');
});
