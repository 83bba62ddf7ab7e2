// Fuzz: the Android agent API bodies (docs/android-agent-protocol.md). In process, each input goes
// the way a request does: JSON.parse, the route's ajv schema, then the AndroidService call as an
// enrolled device (enroll, renew, status, security logs, command results); then the same mutants
// over HTTPS with the device's certificate. Every refusal is an AgentError (or the HTTP layer's 4xx)
// with a `next` that is never "unenrolled"; never a 500. Seeds: the agent simulator's request bodies
// (corpus/android-agent).
import t from 'tap';
import { AgentError, AndroidRequestError, type DeviceRecord } from '../../src/android';
import { commandResultSchema, compile, enrollRequestSchema, renewRequestSchema, securityLogBatchSchema, statusReportSchema } from '../../src/android/schemas';
import { HttpError, parseJsonBody } from '../../src/http';
import { startTestWard } from '../support/ward';
import { AgentSimulator } from '../android/agent-simulator';
import { FIXED, seeds, type Seed } from './corpus';
import { PARSED, errorLabel, fuzz, withinBodyLimit, parserRun, type HttpAnswerLike } from './harness';
import { BYTE_MUTATORS, DER_MUTATORS, JSON_MUTATORS, inJsonString, pemMutator, weighted } from './mutate';

t.setTimeout(600_000);

const CLI = { actor: { type: 'cli' as const, id: 'fuzz' }, source: 'local', requestId: null };
const REQUEST = { source: '127.0.0.1', requestId: null };
const validators = {
  enroll: compile(enrollRequestSchema),
  renew: compile(renewRequestSchema),
  status: compile(statusReportSchema),
  'security-logs': compile(securityLogBatchSchema),
  'command-result': compile(commandResultSchema),
};
type Route = keyof typeof validators;
const routeOf = (seed: Seed) => /^(?:regress-)?(command-result|security-logs|enroll|renew|status)/.exec(seed.name)![1] as Route;

const JSON_FUZZ = [...weighted(8, ...JSON_MUTATORS), ...weighted(1, ...BYTE_MUTATORS), ...weighted(4, inJsonString('csr', [pemMutator(DER_MUTATORS)]))];

t.test('agent request bodies, in process and over HTTPS', async (t) => {
  const ward = await startTestWard({ android: { longPollSeconds: 1 } });
  t.teardown(() => ward.stop());
  const { token } = ward.android.createToken({ maxDevices: null, expiresInHours: 24 }, CLI);
  const work = ward.android.createToken({ mode: 'work_profile', maxDevices: null, expiresInHours: 24 }, CLI).token;
  const sim = new AgentSimulator({ serverUrl: ward.httpsUrl, enrollmentToken: token, caSha256: ward.ca.rootFingerprint(), servername: 'localhost' });
  t.equal((await sim.enroll()).status, 201, 'the simulator enrolled');
  t.teardown(() => sim.close());
  // In process the mutants speak for a device of their own (renewals there replace its certificate).
  const own = ward.android.enroll(JSON.parse(seeds('android-agent', /^enroll\.json$/)[0]!.data.toString().replace(FIXED.androidToken, token)), REQUEST).deviceId;
  const device = (): DeviceRecord => ward.android.device(own)!;
  // A command to answer: the current one while it is open, a fresh LOCK once it is closed.
  const open = new Map<string, string>();
  const openCommand = (deviceId: string) => {
    const id = open.get(deviceId);
    const c = id && ward.android.commandsOf(deviceId).find((x) => x.id === id);
    if (c && ['queued', 'sent', 'acknowledged'].includes(c.status)) return id;
    const fresh = ward.android.queueCommand(deviceId, 'LOCK', {}, CLI).id;
    open.set(deviceId, fresh);
    return fresh;
  };
  // The seeds carry a placeholder token: the live one makes enroll mutants reach the service.
  const agentSeeds = seeds('android-agent').map((s) => ({ ...s, data: Buffer.from(s.data.toString('utf8').replace(FIXED.androidToken, /work-profile/.test(s.name) ? work : token)) }));

  const service = ward.android;
  await fuzz(t, {
    parser: 'android-agent',
    seeds: agentSeeds,
    count: 12_000,
    mutators: JSON_FUZZ,
    seedsParse: true,
    run: parserRun(
      async (input, seed) => {
        const body = parseJsonBody(withinBodyLimit(input));
        const route = routeOf(seed);
        const validate = validators[route];
        if (!validate(body)) throw new AgentError(400, 'invalid_request', 'schema', { action: 'continue' });
        const b = body as never;
        switch (route) {
          case 'enroll':
            return service.enroll(b, REQUEST);
          case 'renew':
            return service.renew(device(), (b as { csr: string }).csr, REQUEST);
          case 'status':
            return service.reportStatus(device(), b, REQUEST);
          case 'security-logs':
            return service.uploadSecurityLogs(device(), (b as { events: never }).events, REQUEST);
          case 'command-result':
            return service.commandResult(device(), openCommand(own), b, REQUEST);
        }
      },
      (e) => (e instanceof HttpError && e.status < 500 ? `HttpError ${e.code}` : errorLabel(e, AgentError, AndroidRequestError)),
    ),
  });

  // Over HTTPS with the device certificate: the agent's error format, `next` present, never "unenrolled".
  const agentClass = (a: HttpAnswerLike): string => {
    let body: { error?: unknown; next?: { action?: unknown } } = {};
    try {
      body = JSON.parse(a.body.toString('utf8'));
    } catch {
      // reported below
    }
    const action = body.next?.action;
    if (a.status >= 500 || typeof action !== 'string' || action === 'unenrolled' || (a.status >= 400 && typeof body.error !== 'string')) {
      throw new Error(`HTTP ${a.status}: ${a.body.toString('utf8').slice(0, 300)}`);
    }
    return a.status < 300 ? PARSED : `HTTP ${a.status} ${body.error}`;
  };
  const paths: Record<Route, () => string> = {
    enroll: () => '/enroll',
    renew: () => '/renew',
    status: () => '/status',
    'security-logs': () => '/security-logs',
    'command-result': () => `/commands/${openCommand(sim.deviceId!)}/result`,
  };
  await fuzz(t, {
    parser: 'http-android-agent',
    seeds: agentSeeds,
    count: 1_500,
    mutators: JSON_FUZZ,
    maxMs: 2000,
    run: async (input, seed) => {
      const r = await sim.rawCall('POST', paths[routeOf(seed)](), input);
      const outcome = agentClass({ status: r.status, headers: r.headers, body: Buffer.from(JSON.stringify(r.body)) });
      // A mutant renewal succeeded for some other key: the agent renews for its own and moves to it,
      // or a second such renewal would retire the certificate it still presents.
      if (routeOf(seed) === 'renew' && r.status === 201 && (await sim.renew()).status !== 201) throw new Error('the agent could not renew after a mutant renewal');
      return outcome;
    },
  });
  t.equal(service.device(sim.deviceId!)!.state, 'active', 'the device is still enrolled');
  t.equal((await sim.reportStatus()).status, 200, 'and still reports');
});
