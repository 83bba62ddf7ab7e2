// /scep on the plain-HTTP listener (RFC 8894 section 4): GetCACaps, GetCACert, GetNextCACert and
// PKIOperation by GET (base64 message) or POST (binary). The handler decodes the HTTP request,
// reads the pkiMessage, calls the ScepService method of its type and answers with a CertRep. Once a
// pkiMessage names its transaction every refusal is a signed CertRep FAILURE; before that (not SCEP
// at all) it is an HTTP 4xx with JSON {error, reason}. Served without koa (http/exchange.ts): an
// enrollment is three requests here.
import { HttpError, type Exchange, type ExchangeAnswer, type ExchangeRoutes } from '../http';
import { ScepError, type TransactionContext } from './errors';
import { buildCertRep, type CertRepOutcome } from './certrep';
import { readPkiOperation, type PkiOperation } from './pkioperation';
import type { ScepCaller, ScepService } from './service';
import type { ScepConfig } from '../config/sections/scep';

const PKI_MESSAGE = 'application/x-pki-message';
// Section 4.3: application/x-pki-message; scepclient sends octet-stream, some clients nothing at all.
const POST_TYPES = new Set([PKI_MESSAGE, 'application/octet-stream', 'application/pkcs7-mime', '']);

// Query parameters from the raw query string: a form parser turns '+' into a space, which would
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

async function pkiOperation(exchange: Exchange, service: ScepService, config: ScepConfig, params: Map<string, string>): Promise<ExchangeAnswer> {
  let message: Buffer;
  if (exchange.method === 'POST') {
    const type = exchange.header('content-type').split(';')[0]!.trim().toLowerCase();
    if (!POST_TYPES.has(type)) {
      exchange.req.resume();
      throw new HttpError(415, 'unsupported_media_type', `a PKIOperation body is binary DER sent as ${PKI_MESSAGE} (or application/octet-stream), not ${type}`);
    }
    message = await exchange.readBody(config.maxMessageBytes);
  } else {
    message = base64Message(params.get('message') ?? '', config.maxMessageBytes);
  }

  const caller: ScepCaller = { source: exchange.sourceAddress, requestId: exchange.requestId };
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
  return { type: PKI_MESSAGE, body: buildCertRep(ra, transaction, outcome) };
}

export function mountScepRoutes(routes: ExchangeRoutes, service: ScepService, config: ScepConfig): void {
  const handler = (exchange: Exchange): ExchangeAnswer | Promise<ExchangeAnswer> => {
    const params = queryParams(exchange.querystring);
    const operation = percentDecoded(params.get('operation') ?? '', 'operation');
    switch (operation) {
      case 'GetCACaps':
        return { type: 'text/plain; charset=utf-8', body: service.capabilities().join('\n') + '\n' };
      case 'GetCACert':
        return { type: 'application/x-x509-ca-ra-cert', body: service.caCertificates() };
      case 'GetNextCACert': {
        const next = service.nextCaCertificates();
        if (!next) {
          throw new HttpError(404, 'no_next_ca', 'Ward has no CA rollover in progress, so there is no next CA certificate (GetCACaps does not advertise GetNextCACert)');
        }
        return { type: 'application/x-x509-next-ca-cert', body: next };
      }
      case 'PKIOperation':
        return pkiOperation(exchange, service, config, params);
      case '':
        throw new HttpError(400, 'badRequest', 'SCEP requests need ?operation= (GetCACaps, GetCACert, PKIOperation)');
      default:
        throw new HttpError(400, 'badRequest', `unknown SCEP operation ${JSON.stringify(operation.slice(0, 40))}`);
    }
  };
  // Some clients append the CGI name of the original SCEP drafts to the configured URL.
  routes.add(['/scep', '/scep/pkiclient.exe'], ['GET', 'POST'], handler);
}
