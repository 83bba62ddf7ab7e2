// Fuzz: admin API request bodies (/api/v1, docs/admin-api.md). In process: the JSON parser and the
// route's ajv schema with the pipeline's error wording; then every route that takes a body on a
// running Ward with Ward's own domains, as an admin (API token, or a console session where the route
// needs a person): every answer is a 2xx or a 4xx JSON refusal, never a 500. Seeds: what the console
// (src/admin/console/app.js) and scripts send, one file per body schema (corpus/admin-api).
import t from 'tap';
import { NAMED_SCHEMAS } from '../../src/admin';
import { bodySchema, describeAjvError } from '../../src/admin/pipeline';
import { HttpError, parseJsonBody } from '../../src/http';
import { ADMIN_CTX, call, createPerson, enrollAndroid, opensslCsr, signIn, startAdminWard, tokenCredential, type Credential } from '../admin/support';
import { tempDir, wardctlAsync } from '../support/ward';
import { seeds, type Seed } from './corpus';
import { PARSED, errorLabel, fuzz, withinBodyLimit, jsonRefusal, parserRun } from './harness';
import { BYTE_MUTATORS, JSON_MUTATORS, weighted } from './mutate';

t.setTimeout(600_000);

const JSON_FUZZ = [...weighted(8, ...JSON_MUTATORS), ...weighted(1, ...BYTE_MUTATORS)];
const schemaOf = (seed: Seed) => seed.name.replace(/^regress-/, '').replace(/[-.].*$/, '');

t.test('request bodies: JSON, then the route schema', async (t) => {
  const all = seeds('admin-api');
  t.same(all.map(schemaOf).filter((n) => !NAMED_SCHEMAS[n as keyof typeof NAMED_SCHEMAS]), [], 'every seed names a body schema');
  await fuzz(t, {
    parser: 'admin-api',
    seeds: all,
    count: 12_000,
    mutators: JSON_FUZZ,
    seedsParse: true,
    run: parserRun(
      (input, seed) => {
        const body = parseJsonBody(withinBodyLimit(input));
        const validate = bodySchema(schemaOf(seed));
        if (!validate(body)) throw new HttpError(400, 'invalid_body', describeAjvError(validate.errors![0]!, 'body'));
      },
      (e) => (e instanceof HttpError && e.status < 500 ? `HttpError ${e.code}` : errorLabel(e)),
    ),
  });
});

t.test('every route with a body, on a running Ward', async (t) => {
  const ward = await startAdminWard({ wipe: { requireSecondAdmin: false } });
  t.teardown(() => ward.stop());
  const admin = tokenCredential(ward, 'admin');
  const person = await createPerson(ward, 'admin');
  const session = await signIn(ward, person);
  const target = await createPerson(ward, 'auditor', 'fuzz.target');
  const device = enrollAndroid(ward, { model: 'TC58', serialNumber: 'FUZZ0001' });
  const serial = ward.ca.issue({ csr: opensslCsr(tempDir(), 'fuzz-revoke'), profile: 'device' }, ADMIN_CTX).serial;
  const made = await wardctlAsync(['policy', 'create', 'fuzz-policy', '--template', 'hipaa-clinician-corporate-phone', '--config', ward.file]);
  t.equal(made.status, 0, `a policy to assign: ${made.stderr}`);
  const policyId = (await call(ward, admin, 'GET', '/policies')).json().policies[0].id as string;

  // Where each body goes, and as whom: routes for a person need the console session.
  const routes: Record<string, { method: string; path: string; as?: Credential }> = {
    Login: { method: 'POST', path: '/session' },
    OwnPassword: { method: 'POST', path: '/session/password', as: session },
    UserCreate: { method: 'POST', path: '/users' },
    UserPatch: { method: 'PATCH', path: `/users/${target.username}` },
    PasswordSet: { method: 'POST', path: `/users/${target.username}/password` },
    TokenCreate: { method: 'POST', path: '/tokens' },
    Revoke: { method: 'POST', path: `/certificates/${serial}/revoke` },
    ChallengeRequest: { method: 'POST', path: '/enrollment/challenges' },
    AppleEnrollmentRequest: { method: 'POST', path: '/enrollment/apple' },
    AndroidEnrollmentRequest: { method: 'POST', path: '/enrollment/android' },
    Lock: { method: 'POST', path: `/devices/${device}/lock` },
    Wipe: { method: 'POST', path: `/devices/${device}/wipe` },
    Reject: { method: 'POST', path: `/wipe-requests/${'0'.repeat(32)}/reject`, as: session },
    Assignment: { method: 'PUT', path: `/policies/${policyId}/assignments` },
    AuditExport: { method: 'POST', path: '/audit/bundle' },
  };
  await fuzz(t, {
    parser: 'http-admin-api',
    seeds: seeds('admin-api'),
    count: 1_500,
    mutators: JSON_FUZZ,
    maxMs: 2000,
    run: async (input, seed) => {
      const route = routes[schemaOf(seed)]!;
      const a = await call(ward, route.as ?? admin, route.method, route.path, input, { 'content-type': 'application/json' });
      return a.status < 300 ? PARSED : jsonRefusal(a);
    },
  });
  t.equal((await call(ward, session, 'GET', '/session')).status, 200, 'the console session survived');
});
