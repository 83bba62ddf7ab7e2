// Debian's scepclient (micromdm 2.1.0) against the SCEP wire code alone: a minimal loopback HTTP
// front that answers GetCACaps, GetCACert and PKIOperation with src/scep, and a throwaway openssl CA
// that signs the CSR. Proves the parser reads what a stock client sends and the client accepts our
// GetCACert and CertRep, before any daemon exists.
import t from 'tap';
import { execFile } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildCertRep, buildCertsOnly, buildFailure, readPkiOperation, ScepError, type PkiOperation } from '../../src/scep';
import { makeThrowawayCa, openssl, pemToDer } from './throwaway-ca';

const ca = makeThrowawayCa();
const seen: PkiOperation[] = [];
let refuseChallenge = false;

function answer(body: Buffer): { status: number; type: string; payload: Buffer } {
  try {
    const op = readPkiOperation(body, ca.ra);
    seen.push(op);
    if (op.messageType === 'PKCSReq' && (refuseChallenge || op.certificationRequest.challengePassword !== 'open-sesame')) {
      return { status: 200, type: 'application/x-pki-message', payload: buildCertRep(ca.ra, op, { pkiStatus: 'FAILURE', failInfo: 'badRequest' }) };
    }
    if (op.messageType !== 'PKCSReq' && op.messageType !== 'RenewalReq') throw new ScepError('badRequest', 'unexpected');
    const issued = ca.issue(op.certificationRequest.der);
    return {
      status: 200,
      type: 'application/x-pki-message',
      payload: buildCertRep(ca.ra, op, { pkiStatus: 'SUCCESS', recipient: op.signer, certificates: [issued] }),
    };
  } catch (err) {
    if (err instanceof ScepError) {
      const failure = buildFailure(ca.ra, err);
      if (failure) return { status: 200, type: 'application/x-pki-message', payload: failure };
      return { status: 400, type: 'application/json', payload: Buffer.from(JSON.stringify({ error: err.failInfo, reason: err.reason })) };
    }
    throw err;
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const op = url.searchParams.get('operation');
    let out: { status: number; type: string; payload: Buffer };
    if (op === 'GetCACaps') out = { status: 200, type: 'text/plain', payload: Buffer.from('POSTPKIOperation\nSHA-256\nSHA-512\nAES\nSCEPStandard\nRenewal\n') };
    else if (op === 'GetCACert') out = { status: 200, type: 'application/x-x509-ca-ra-cert', payload: buildCertsOnly([ca.raCert, ca.caCert]) };
    else if (op === 'PKIOperation') out = answer(req.method === 'POST' ? Buffer.concat(chunks) : Buffer.from(url.searchParams.get('message') ?? '', 'base64'));
    else out = { status: 400, type: 'text/plain', payload: Buffer.from('unknown operation') };
    res.writeHead(out.status, { 'content-type': out.type, 'content-length': out.payload.length });
    res.end(out.payload);
  });
});

function scepclient(dir: string, args: string[]): Promise<{ code: number; output: string }> {
  const port = (server.address() as AddressInfo).port;
  return new Promise((resolve) => {
    execFile(
      'scepclient',
      ['-server-url', `http://127.0.0.1:${port}/scep`, '-private-key', path.join(dir, 'key.pem'), ...args],
      { cwd: dir, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

t.before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)));
t.teardown(() => {
  server.close();
  fs.rmSync(ca.dir, { recursive: true, force: true });
});

t.test('scepclient enrolls; its request is DES-CBC + SHA-1 encrypted to every GetCACert certificate', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = await scepclient(dir, ['-challenge', 'open-sesame', '-cn', 'device-1', '-organization', 'Ward Test']);
  t.equal(run.code, 0, run.output);
  const op = seen.at(-1)!;
  if (op.messageType !== 'PKCSReq') throw new Error(`expected PKCSReq, got ${op.messageType}`);
  t.equal(op.contentCipher, 'des-cbc', 'scepclient 2.1.0 sends single DES whatever GetCACaps says');
  t.equal(op.digestAlgorithm, 'sha1');
  t.equal(op.keyTransport, 'rsaes-pkcs1-v1_5');
  t.ok(op.certificationRequest.subjectName.includes('CN=device-1'), op.certificationRequest.subjectName);
  t.equal(op.certificationRequest.challengePassword, 'open-sesame');
  t.ok(op.signer.subjectPublicKeyInfo.equals(op.certificationRequest.subjectPublicKeyInfo), 'PKCSReq is signed by a self-signed cert of the CSR key');
  t.equal(op.senderNonce.length, 16);
  // the client wrote the certificate our CertRep carried, and it chains to the CA
  const clientPem = path.join(dir, 'client.pem');
  t.ok(fs.existsSync(clientPem));
  const verified = openssl(['verify', '-CAfile', ca.caCertPath, clientPem]).toString();
  t.match(verified, /client\.pem: OK/);
  const firstIssued = pemToDer(fs.readFileSync(clientPem));

  // Renewal: the same folder now holds client.pem, so scepclient sends RenewalReq signed with it.
  const renewal = await scepclient(dir, ['-cn', 'device-1', '-organization', 'Ward Test']);
  t.equal(renewal.code, 0, renewal.output);
  const renewed = seen.at(-1)!;
  t.equal(renewed.messageType, 'RenewalReq');
  t.ok(renewed.signer.der.equals(firstIssued), 'RenewalReq is signed with the certificate issued first');
  const secondIssued = pemToDer(fs.readFileSync(clientPem));
  t.notOk(secondIssued.equals(firstIssued), 'client.pem now holds the renewed certificate');
  t.match(openssl(['verify', '-CAfile', ca.caCertPath, clientPem]).toString(), /OK/);
});

t.test('scepclient reports a CertRep FAILURE with its failInfo', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = await scepclient(dir, ['-challenge', 'wrong', '-cn', 'device-2']);
  t.not(run.code, 0);
  t.match(run.output, /PKCSReq \(19\) request failed, failInfo: badRequest \(2\)/);
  t.notOk(fs.existsSync(path.join(dir, 'client.pem')));
});
