// The baseline bench/android.ts compares Ward against: a minimal koa app on the same TLS setup as Ward's
// HTTPS listener (same key, certificate, ciphers, client-certificate request, keep-alive timeout), which
// reads the body and answers a constant JSON document. Prints "port N" when listening.
// (The leading underscore keeps bench/index.ts from running it as a bench of its own.)
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { TLS12_CIPHERS } from '../src/http';

const tls = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as { key: string; cert: string; ca: string };
const constant = Buffer.from(JSON.stringify({ next: { action: 'continue' }, commands: [], policyEtag: '"baseline"', pendingCommands: 0 }));

const app = new Koa();
app.use(async (ctx) => {
  for await (const _chunk of ctx.req) void _chunk;
  ctx.type = 'application/json';
  ctx.body = constant;
});
const server = https.createServer(
  { key: tls.key, cert: tls.cert, ca: tls.ca, minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS, honorCipherOrder: true, requestCert: true, rejectUnauthorized: false },
  app.callback(),
);
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
