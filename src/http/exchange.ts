// Fixed paths of the plain-HTTP listener answered from node:http itself, without koa. A SCEP
// enrollment is three requests on /scep (GetCACaps, GetCACert, PKIOperation), and koa's context,
// the router's per-request middleware chain and compose cost about 0.25 ms of the daemon's 3.4 ms
// CPU an enrollment under scepclient (docs/reliability.md, session 6). An answer here is the answer
// koa would give: X-Request-Id, the access log line, the security headers, JSON errors from
// errorAnswer, body limits from readRequestBody, 405 with Allow for other methods.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AccessLog } from '../config';
import { errorAnswer, HttpError } from './errors';
import { DEFAULT_CACHE_CONTROL, SECURITY_HEADERS, readRequestBody, requestIdOf } from './middleware';

/** One request on a koa-less route. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly method: string;
  readonly path: string;
  /** The query string after '?', not decoded. */
  readonly querystring: string;
  readonly requestId: string;
  /** Read when the request arrived: the socket can be gone by the time it is audited. */
  readonly sourceAddress: string | null;
  /** A request header by its lower-case name, '' when absent. */
  header(name: string): string;
  /** The body, at most `limit` bytes (413 otherwise); Expect: 100-continue is answered only now. */
  readBody(limit: number): Promise<Buffer>;
}

export interface ExchangeAnswer {
  status?: number;
  /** The full Content-Type, charset included. */
  type: string;
  body: Buffer | string;
}

export type ExchangeHandler = (exchange: Exchange) => ExchangeAnswer | Promise<ExchangeAnswer>;

interface ExchangeRoute {
  handler: ExchangeHandler;
  allow: string;
  methods: ReadonlySet<string>;
}

/** The koa-less routes of one listener, by path. */
export class ExchangeRoutes {
  private readonly routes = new Map<string, ExchangeRoute>();

  constructor(
    private readonly accessLog: AccessLog,
    private readonly log: Logger,
  ) {}

  /** Answers `paths` (matched as @koa/router does: any case, one trailing slash) for `methods`; GET brings HEAD. */
  add(paths: readonly string[], methods: readonly string[], handler: ExchangeHandler): void {
    const all = new Set(methods.map((m) => m.toUpperCase()));
    if (all.has('GET')) all.add('HEAD');
    const route = { handler, methods: all, allow: [...all, 'OPTIONS'].join(', ') };
    for (const path of paths) this.routes.set(routeKey(path), route);
  }

  /** Serves the request when a route answers its path; false leaves it to koa. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = this.routes.get(routeKey(path));
    if (!route) return false;
    const started = process.hrtime.bigint();
    const requestId = requestIdOf(req.headers['x-request-id'] as string | undefined);
    const sourceAddress = req.socket?.remoteAddress ?? null;
    const method = req.method ?? 'GET';
    const send = (status: number, type: string, body: Buffer | string, headers?: Record<string, string>) => {
      if (!res.headersSent && !res.destroyed) {
        if (headers) for (const name in headers) res.setHeader(name, headers[name]!);
        res.writeHead(status, {
          'Content-Type': type,
          'Content-Length': Buffer.byteLength(body),
          'X-Request-Id': requestId,
          ...SECURITY_HEADERS,
          'Cache-Control': DEFAULT_CACHE_CONTROL,
        });
        res.end(body);
      }
      this.accessLog.request(requestId, method, path, status, Number(process.hrtime.bigint() - started) / 1e6, sourceAddress);
    };
    const fail = (e: unknown) => {
      const answer = errorAnswer(e, this.log, requestId);
      send(answer.status, 'application/json; charset=utf-8', JSON.stringify(answer.body), answer.headers);
    };
    if (!route.methods.has(method)) {
      if (method === 'OPTIONS') send(200, 'text/plain; charset=utf-8', '', { Allow: route.allow });
      else fail(new HttpError(405, 'method_not_allowed', `${path} answers ${route.allow}, not ${method}`, { Allow: route.allow }));
      req.resume();
      return true;
    }
    const exchange: Exchange = {
      req,
      method,
      path,
      querystring: q < 0 ? '' : url.slice(q + 1),
      requestId,
      sourceAddress,
      header: (name) => {
        const v = req.headers[name];
        return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
      },
      readBody: (limit) => readRequestBody(req, res, limit),
    };
    try {
      const answer = route.handler(exchange);
      // GetCACaps and GetCACert answer at once; only a body read makes a promise. A throw while
      // sending lands in fail too (which then only logs), never in an unhandled rejection.
      if (answer instanceof Promise) answer.then((a) => send(a.status ?? 200, a.type, a.body)).catch(fail);
      else send(answer.status ?? 200, answer.type, answer.body);
    } catch (e) {
      fail(e);
    }
    return true;
  }
}

function routeKey(path: string): string {
  const key = path.toLowerCase();
  return key.length > 1 && key.endsWith('/') ? key.slice(0, -1) : key;
}
