// The baseline the Apple and Android benches compare Ward against: a minimal koa app on the same TLS
// setup as Ward's HTTPS listener (same key, certificate, ciphers, client-certificate request,
// keep-alive timeout) that reads the body and answers a constant document.
// Usage: node _koa-baseline.js TLS-JSON-FILE CONTENT-TYPE BODY-FILE; prints "port N" when listening.
// (The leading underscore keeps bench/index.ts from running it as a bench of its own.)
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { TLS12_CIPHERS } from '../src/http';

const [tlsFile, contentType, bodyFile] = process.argv.slice(2);
const tls = JSON.parse(fs.readFileSync(tlsFile, 'utf8')) as { key: string; cert: string; ca: string };
const constant = fs.readFileSync(bodyFile);

const app = new Koa();
app.use(async (ctx) => {
  for await (const _chunk of ctx.req) void _chunk;
  ctx.type = contentType;
  ctx.body = constant;
});
const server = https.createServer(
  { key: tls.key, cert: tls.cert, ca: tls.ca, minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS, honorCipherOrder: true, requestCert: true, rejectUnauthorized: false },
  app.callback(),
);
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
