// /api/v1/openapi.json: the OpenAPI 3.1 document, built from the route table and the very schema
// objects ajv validates with (schemas.ts), so the document cannot drift from what is enforced.
import { ROLE_SUMMARY } from './roles';
import { API_PREFIX, type RouteSpec } from './routes';
import { type JsonSchema, NAMED_SCHEMAS, PARAMS, QUERY_SCHEMAS } from './schemas';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const ERRORS: Record<string, string> = {
  '400': 'Invalid request (body, query or parameters)',
  '401': 'No valid session cookie or API token',
  '403': 'The role (or credential kind) may not do this, or the CSRF token is missing',
  '404': 'No such resource',
  '409': 'Conflicts with the current state',
};

function queryParameters(name: string): object[] {
  const schema = QUERY_SCHEMAS[name] as { properties: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(schema.properties).map(([p, s]) => ({
    name: p,
    in: 'query',
    required: (schema.required ?? []).includes(p),
    ...(s.description ? { description: s.description } : {}),
    schema: s,
  }));
}

function operation(route: RouteSpec): Record<string, unknown> {
  const params = [...route.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: PARAMS[m[1]] ?? { type: 'string' },
  }));
  const responses: Record<string, unknown> = {};
  const ok = route.ok;
  if (ok.status === 204) responses['204'] = { description: ok.description ?? 'Done' };
  else if (ok.schema) responses[String(ok.status)] = { description: ok.description ?? 'Done', content: { 'application/json': { schema: ref(ok.schema) } } };
  else responses[String(ok.status)] = { description: ok.description ?? 'Done', content: { [ok.contentType ?? 'application/octet-stream']: {} } };
  if (ok.alternate) (responses[String(ok.status)] as { content: Record<string, unknown> }).content[ok.alternate] = {};
  for (const [status, description] of Object.entries(ERRORS)) {
    if (route.roles === 'public' && (status === '401' || status === '403') && route.id !== 'session.create') continue;
    responses[status] = { description, content: { 'application/json': { schema: ref('Error') } } };
  }
  const op: Record<string, unknown> = {
    operationId: route.id,
    summary: route.summary,
    tags: [route.tag],
    parameters: [...params, ...(route.query ? queryParameters(route.query) : [])],
    responses,
    'x-ward-roles': route.roles === 'public' ? [] : route.roles,
    'x-ward-person-only': route.person ?? false,
    security: route.roles === 'public' ? [] : route.person ? [{ session: [] }] : [{ session: [] }, { bearer: [] }],
  };
  if (route.body) op.requestBody = { required: true, content: { 'application/json': { schema: ref(route.body) } } };
  if (route.rawBody) op.requestBody = { required: true, description: route.rawBody.description, content: { [route.rawBody.contentType]: {} } };
  return op;
}

export function openApiDocument(routes: readonly RouteSpec[], info: { version: string; serverUrl?: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const p = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    (paths[p] ??= {})[r.method.toLowerCase()] = operation(r);
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'Ward admin API',
      version: info.version,
      description: [
        'The admin API of a Ward appliance. Sign in (POST /session) for a session cookie, then send the',
        'X-CSRF-Token header on every state change; scripts use `Authorization: Bearer <token>` instead.',
        'Roles: ' + Object.entries(ROLE_SUMMARY).map(([r, s]) => `${r}: ${s}`).join('; ') + '.',
        'Only the routes of the domains this Ward runs are listed.',
      ].join(' '),
    },
    servers: [{ url: `${info.serverUrl ?? ''}${API_PREFIX}` }],
    paths,
    components: {
      schemas: NAMED_SCHEMAS,
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: '__Host-ward_session', description: 'Console session (HttpOnly, Secure, SameSite=Strict); state changes also need the X-CSRF-Token header.' },
        bearer: { type: 'http', scheme: 'bearer', description: 'API token (ward_<id>_<secret>), created with wardctl token create or POST /tokens.' },
      },
    },
  };
}
