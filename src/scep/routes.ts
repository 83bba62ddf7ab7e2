// /scep on the plain-HTTP listener (RFC 8894 section 4): GetCACaps, GetCACert, GetNextCACert and
// PKIOperation by GET (base64 message) or POST (binary). The handler decodes the HTTP request,
// reads the pkiMessage, calls the ScepService method of its type and answers with a CertRep. Once a
// pkiMessage names its transaction every refusal is a signed CertRep FAILURE; before that (not SCEP
// at all) it is an HTTP 4xx with JSON {error, reason}.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { HttpError, readBody } from '../http';
import { ScepError, type TransactionContext } from './errors';
import { buildCertRep, type CertRepOutcome } from './certrep';
import { readPkiOperation, type PkiOperation } from './pkioperation';
import type { ScepCaller, ScepService } from './service';
import type { ScepConfig } from '../config/sections/scep';

const PKI_MESSAGE = 'application/x-pki-message';
// Section 4.3: application/x-pki-message; scepclient sends octet-stream, some clients nothing at all.
const POST_TYPES = new Set([PKI_MESSAGE, 'application/octet-stream', 'application/pkcs7-mime', '']);

// Query parameters from the raw query string: koa's parser turns '+' into a space, which would
// corrupt a standard-base64 message sent without percent-encoding.
function queryParams(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(key)) out.set(key, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

function percentDecoded(value: string, what: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new HttpError(400, 'badRequest', `${what} is not valid percent-encoding`);
  }
}

// Section 4.3: the GET message is base64. Accepted: standard or URL-safe alphabet, percent-encoded
// or not, with or without padding and line breaks.
function base64Message(raw: string, limit: number): Buffer {
  let text = percentDecoded(raw, 'message').replace(/[\r\n\t]/g, '');
  text = text.replace(/ /g, '+').replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (text.length === 0) throw new HttpError(400, 'badRequest', 'PKIOperation by GET needs a message parameter');
  if (!/^[A-Za-z0-9+/]+$/.test(text) || text.length % 4 === 1) throw new HttpError(400, 'badRequest', 'message is not base64');
  if (Math.floor((text.length * 3) / 4) > limit) throw new HttpError(413, 'payload_too_large', `PKIOperation message is larger than ${limit} bytes`);
  return Buffer.from(text, 'base64');
}

function callerOf(ctx: Context): ScepCaller {
  return { source: ctx.state.sourceAddress ?? null, requestId: ctx.state.requestId ?? null };
}

function dispatch(service: ScepService, op: PkiOperation, caller: ScepCaller): CertRepOutcome {
  switch (op.messageType) {
    case 'PKCSReq':
      return service.pkcsReq(op, caller);
    case 'RenewalReq':
      return service.renewalReq(op, caller);
    case 'GetCertInitial':
      return service.getCertInitial(op, caller);
    case 'GetCert':
      return service.getCert(op, caller);
    case 'GetCRL':
      return service.getCRL(op, caller);
  }
}

async function pkiOperation(ctx: Context, service: ScepService, config: ScepConfig, params: Map<string, string>): Promise<void> {
  let message: Buffer;
  if (ctx.method === 'POST') {
    const type = (ctx.get('content-type') || '').split(';')[0]!.trim().toLowerCase();
    if (!POST_TYPES.has(type)) {
      ctx.req.resume();
      throw new HttpError(415, 'unsupported_media_type', `a PKIOperation body is binary DER sent as ${PKI_MESSAGE} (or application/octet-stream), not ${type}`);
    }
    message = await readBody(ctx, config.maxMessageBytes);
  } else {
    message = base64Message(params.get('message') ?? '', config.maxMessageBytes);
  }

  const caller = callerOf(ctx);
  const ra = service.registrationAuthority();
  let op: PkiOperation | undefined;
  let transaction: TransactionContext;
  let outcome: CertRepOutcome;
  try {
    op = readPkiOperation(message, ra);
    transaction = op;
    outcome = dispatch(service, op, caller);
  } catch (err) {
    if (!(err instanceof ScepError)) throw err;
    if (op) err.transaction ??= op;
    service.refused(err, caller, op);
    if (!err.transaction) throw new HttpError(400, err.failInfo, err.reason);
    transaction = err.transaction;
    outcome = { pkiStatus: 'FAILURE', failInfo: err.failInfo, failInfoText: err.reason };
  }
  ctx.status = 200;
  ctx.type = PKI_MESSAGE;
  ctx.body = buildCertRep(ra, transaction, outcome);
}

export function mountScepRoutes(router: Router, service: ScepService, config: ScepConfig): void {
  const handler = async (ctx: Context): Promise<void> => {
    const params = queryParams(ctx.querystring);
    const operation = percentDecoded(params.get('operation') ?? '', 'operation');
    switch (operation) {
      case 'GetCACaps':
        ctx.type = 'text/plain';
        ctx.body = service.capabilities().join('\n') + '\n';
        return;
      case 'GetCACert':
        ctx.type = 'application/x-x509-ca-ra-cert';
        ctx.body = service.caCertificates();
        return;
      case 'GetNextCACert': {
        const next = service.nextCaCertificates();
        if (!next) {
          throw new HttpError(404, 'no_next_ca', 'Ward has no CA rollover in progress, so there is no next CA certificate (GetCACaps does not advertise GetNextCACert)');
        }
        ctx.type = 'application/x-x509-next-ca-cert';
        ctx.body = next;
        return;
      }
      case 'PKIOperation':
        return pkiOperation(ctx, service, config, params);
      case '':
        throw new HttpError(400, 'badRequest', 'SCEP requests need ?operation= (GetCACaps, GetCACert, PKIOperation)');
      default:
        throw new HttpError(400, 'badRequest', `unknown SCEP operation ${JSON.stringify(operation.slice(0, 40))}`);
    }
  };
  // Some clients append the CGI name of the original SCEP drafts to the configured URL.
  for (const path of ['/scep', '/scep/pkiclient.exe']) {
    router.get(path, handler);
    router.post(path, handler);
  }
}
