// The baseline bench/apple.ts compares Ward against: a minimal koa app on the same TLS setup as
// Ward's HTTPS listener (same key, certificate, ciphers, client-certificate request), which reads
// the body and answers a constant plist. Started by bench/apple.ts; prints "port N" when listening.
// (The leading underscore keeps bench/index.ts from running it as a bench of its own.)
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { TLS12_CIPHERS } from '../src/http';

const tls = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as { key: string; cert: string; ca: string };
const constant = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
    '<plist version="1.0">\n<dict>\n\t<key>Status</key>\n\t<string>OK</string>\n</dict>\n</plist>\n',
);

const app = new Koa();
app.use(async (ctx) => {
  for await (const _chunk of ctx.req) void _chunk;
  ctx.type = 'application/xml';
  ctx.body = constant;
});
const server = https.createServer(
  { key: tls.key, cert: tls.cert, ca: tls.ca, minVersion: 'TLSv1.2', ciphers: TLS12_CIPHERS, honorCipherOrder: true, requestCert: true, rejectUnauthorized: false },
  app.callback(),
);
server.keepAliveTimeout = 5000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
