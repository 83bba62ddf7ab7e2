// GET /api/v1/devices/{id}/hipaa-report over the real HTTPS listener: the policy domain's per-device
// HIPAA report (the one `wardctl policy report` prints), for the reading roles only, 404 for a device
// that never reported, plain text on request. The device is simulated: its facts are reported to
// the compliance service main.ts attached, as the Android and Apple domains would.
import t from 'tap';
import { bodySchema } from '../../src/admin/pipeline';
import { SAFEGUARDS, type DeviceFacts } from '../../src/policy';
import { wardctlAsync } from '../support/ward';
import { ADMIN_CTX, call, createPerson, eventsOf, signIn, startAdminWard, tokenCredential } from './support';

t.setTimeout(120_000);

t.test('HIPAA report: roles, 404, JSON and plain text', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  t.ok(ward.admin.attached().includes('compliance'), 'main.ts attached the compliance domain');
  ward.policy.createFromTemplate('icu-phone', 'hipaa-clinician-corporate-phone', ADMIN_CTX);
  ward.policy.assign('icu-phone', 'default', '', ADMIN_CTX);
  const facts: DeviceFacts = {
    deviceId: 'and-icu-7', platform: 'android', factsVersion: 1, lastSeenAt: new Date().toISOString(), enrolled: true,
    osVersion: '14', securityPatchLevel: new Date().toISOString().slice(0, 10), passcodePresent: false, passcodeCompliant: false, encrypted: true,
    certificateSerials: ['7a01'],
  };
  ward.compliance.report(facts);

  const auditor = tokenCredential(ward, 'auditor');
  const url = '/devices/and-icu-7/hipaa-report';
  const a = await call(ward, auditor, 'GET', url);
  t.equal(a.status, 200, `auditor token: ${a.body.toString().slice(0, 200)}`);
  t.match(a.headers['content-type'], /^application\/json/);
  t.equal(a.headers['cache-control'], 'no-store', 'a report is not kept in caches');
  const report = a.json();
  const validate = bodySchema('HipaaReport');
  t.ok(validate(report), `the answer matches the published HipaaReport schema ${JSON.stringify(validate.errors)}`);
  const direct = ward.compliance.hipaaReport('and-icu-7')!;
  t.same({ ...report, generatedAt: null }, { ...direct, generatedAt: null }, "the policy domain's own report, unchanged");
  t.same(report.safeguards.map((g: { id: string }) => g.id), SAFEGUARDS.map((g) => g.id), 'every safeguard of the catalogue, in citation order');
  t.equal(report.policy.layers[0]?.policy, 'icu-phone', 'judged against the assigned policy');
  const byId = (id: string) => report.safeguards.find((g: { id: string }) => g.id === id);
  t.equal(byId('164.312(a)(2)(iv)').status, 'met', 'encryption reported on: met');
  t.match(byId('164.312(a)(2)(iv)').evidence.join('\n'), /^ok: /m);
  t.equal(byId('164.312(d)').status, 'in_grace', 'no passcode yet: failing, within its grace period');
  t.match(byId('164.312(d)').evidence.join('\n'), /failing, in grace until .*passcode not set/);
  t.match(byId('164.312(d)').evidence.join('\n'), /identity certificate \(serial 7a01\)/, "Ward's own evidence: certificate authentication");
  t.ok(byId('164.312(a)(2)(iii)').settings.some((s: { path: string }) => s.path.startsWith('passcode.')), 'automatic logoff lists the passcode setting serving it');
  t.equal(eventsOf(ward, a.requestId).filter((e) => e.action === 'admin.token.used' && e.details.route === 'devices.hipaaReport').length, 1, 'the read is recorded as token use, like every token request');

  // The same text wardctl prints (evaluated again there, so only the time differs).
  const cli = await wardctlAsync(['policy', 'report', 'and-icu-7', '--config', ward.file]);
  t.equal(cli.status, 0, cli.stderr);
  const sameTime = (text: string) => text.replace(/^(HIPAA report for \S+ \(\w+\)), \S+:/, '$1, TIME:');
  for (const [how, extra, q] of [['Accept: text/plain', { accept: 'text/plain' }, ''], ['?format=text', {}, '?format=text']] as const) {
    const text = await call(ward, auditor, 'GET', url + q, undefined, extra);
    t.equal(text.status, 200, how);
    t.equal(text.headers['content-type'], 'text/plain; charset=utf-8', `${how}: plain text`);
    t.equal(sameTime(text.body.toString()), sameTime(cli.stdout), `${how}: what wardctl policy report prints`);
  }
  t.equal((await call(ward, auditor, 'GET', url + '?format=json', undefined, { accept: 'text/plain' })).json().deviceId, 'and-icu-7', '?format=json wins over Accept');
  const badFormat = await call(ward, auditor, 'GET', url + '?format=pdf');
  t.equal(badFormat.status, 400);
  t.equal(badFormat.json().error, 'invalid_query');

  // Roles: admin, operator and auditor read it (session or token); nac does not.
  for (const role of ['admin', 'operator', 'auditor'] as const) {
    const session = await signIn(ward, await createPerson(ward, role));
    const r = await call(ward, session, 'GET', url);
    t.equal(r.status, 200, `${role} session`);
    t.equal(r.json().deviceId, 'and-icu-7');
  }
  for (const who of [tokenCredential(ward, 'nac'), await signIn(ward, await createPerson(ward, 'nac'))]) {
    const r = await call(ward, who, 'GET', url);
    t.equal(r.status, 403, `nac ${who.kind} is refused`);
    t.equal(r.json().error, 'forbidden');
    t.notOk(r.body.toString().includes('164.312'), 'with nothing of the report');
    const denied = eventsOf(ward, r.requestId).filter((e) => e.action === 'admin.access.denied');
    t.equal(denied.length, 1, 'the refusal is an audit event');
    t.equal(denied[0]?.details.route, 'devices.hipaaReport');
  }
  t.equal((await call(ward, undefined, 'GET', url)).status, 401, 'no credentials: 401');

  // A device that never reported facts, and an id no device can have.
  const unknown = await call(ward, auditor, 'GET', '/devices/no-such-tablet/hipaa-report');
  t.equal(unknown.status, 404);
  t.match(unknown.json(), { error: 'no_such_device', reason: 'no device "no-such-tablet" has reported facts to Ward', requestId: unknown.requestId });
  const bad = await call(ward, auditor, 'GET', '/devices/a%20b/hipaa-report');
  t.equal(bad.status, 400);
  t.equal(bad.json().error, 'invalid_parameter');

  // The OpenAPI document lists it, with its roles and both media types.
  const spec = (await call(ward, undefined, 'GET', '/openapi.json')).json();
  const op = spec.paths['/devices/{deviceId}/hipaa-report']?.get;
  t.ok(op, 'in the OpenAPI document');
  t.same(op['x-ward-roles'], ['admin', 'operator', 'auditor']);
  t.same(Object.keys(op.responses['200'].content).sort(), ['application/json', 'text/plain']);
  t.same(op.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/HipaaReport' });
  t.same(op.parameters.map((p: { name: string }) => p.name), ['deviceId', 'format']);
  t.same(Object.keys(spec.paths['/enrollment/android'].post.responses['201'].content).sort(), ['application/json', 'image/png'], 'the Android QR code keeps its PNG variant');
});
