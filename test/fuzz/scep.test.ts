// Fuzz: the SCEP PKIOperation parsers (RFC 8894), layer by layer in process (the signed pkiMessage,
// the pkcsPKIEnvelope opened with the corpus RA's key, the messageData inside: PKCS#10,
// IssuerAndSerialNumber, IssuerAndSubject), then /scep on a running Ward by POST and by GET. Seeds:
// scepclient's wire captures and pkijs/openssl requests (corpus/scep-*), plus one scepclient
// enrollment against this Ward captured on the way. Every refusal is a ScepError; over HTTP every
// answer is a signed CertRep or a 4xx JSON refusal, never a 500.
import t from 'tap';
import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  MessageType, PkiStatus, failInfoName, RegistrationAuthority, ScepError, createScepService, openEnvelope, parseCertificate, parseCertificationRequest,
  parseIssuerAndSerialNumber, parseIssuerAndSubject, parsePkiMessage, readPkiOperation,
} from '../../src/scep';
import { request, startTestWard, tempDir, toolAsync, type TestWard } from '../support/ward';
import { pemToDer } from '../scep/throwaway-ca';
import { corpusFile, seeds, type Seed } from './corpus';
import { PARSED, errorLabel, fuzz, jsonRefusal, parserRun } from './harness';
import { BYTE_MUTATORS, DER_MUTATORS, base64Text, weighted } from './mutate';

t.setTimeout(600_000);

const ra = new RegistrationAuthority(pemToDer(corpusFile('scep-ra', 'ra.crt.pem')), createPrivateKey(corpusFile('scep-ra', 'ra.key.pem')), [pemToDer(corpusFile('scep-ra', 'ca.crt.pem'))]);
const scepTyped = (e: unknown) => errorLabel(e, ScepError);
const DER = [...weighted(3, ...DER_MUTATORS), ...weighted(1, ...BYTE_MUTATORS)];

t.test('pkiMessage: SignedData, SCEP attributes, signature, then the whole operation', async (t) => {
  await fuzz(t, {
    parser: 'scep-pkimessage',
    seeds: seeds('scep-pkimessage'),
    count: 20_000,
    mutators: DER,
    seedsParse: true,
    run: parserRun((input) => readPkiOperation(input, ra), scepTyped),
  });
});

t.test('pkcsPKIEnvelope: EnvelopedData opened with the RA key', async (t) => {
  await fuzz(t, {
    parser: 'scep-envelope',
    seeds: seeds('scep-envelope'),
    count: 8_000,
    mutators: DER,
    seedsParse: true,
    run: parserRun((input) => openEnvelope(input, [ra]), scepTyped),
  });
});

// The parser a messageData goes to depends on the message type its seed came from.
function messageData(input: Buffer, seed: Seed): unknown {
  if (/getcertinitial/.test(seed.name)) return parseIssuerAndSubject(input);
  if (/getcert|getcrl/.test(seed.name)) return parseIssuerAndSerialNumber(input);
  return parseCertificationRequest(input);
}

t.test('messageData: PKCS#10, IssuerAndSerialNumber, IssuerAndSubject', async (t) => {
  await fuzz(t, {
    parser: 'scep-messagedata',
    seeds: seeds('scep-messagedata'),
    count: 14_000,
    mutators: DER,
    seedsParse: true,
    run: parserRun(messageData, scepTyped),
  });
});

// ---------------------------------------------------------------- over HTTP

/** scepclient enrolling through a recording proxy in front of Ward: the PKIOperation bodies it sent. */
async function captureScepclient(ward: TestWard, challenge: string): Promise<Buffer[]> {
  const bodies: Buffer[] = [];
  const target = new URL(ward.httpUrl);
  const proxy = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST') bodies.push(body);
      const out = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      });
      out.end(body);
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const dir = tempDir('ward-fuzz-scep-');
  try {
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/scep`;
    const run = await toolAsync('scepclient', ['-server-url', url, '-private-key', path.join(dir, 'key.pem'), '-challenge', challenge, '-cn', 'ward-fuzz-ipad'], { cwd: dir });
    if (run.status !== 0) throw new Error(`scepclient: ${run.stdout}${run.stderr}`);
  } finally {
    proxy.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return bodies;
}

t.test('/scep PKIOperation by POST and GET on a running Ward', async (t) => {
  // RSA throughout: scepclient encrypts to every GetCACert certificate.
  const ward = await startTestWard({ pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'rsa-3072', issuingKeyAlgorithm: 'rsa-2048' } });
  t.teardown(() => ward.stop());
  const scep = createScepService(ward.cfg, ward.db, ward.audit, ward.ca);
  const wardRa = parseCertificate(ward.ca.serviceIdentity('scepRa').der);
  const live = await captureScepclient(ward, scep.createChallenge({}, { actor: { type: 'cli', id: 'fuzz' }, source: null, requestId: null }).challenge);
  t.ok(live.length > 0, 'scepclient enrolled through the recording proxy');
  const postSeeds: Seed[] = [...live.map((data, i) => ({ name: `live-scepclient-${i}.der`, data })), ...seeds('scep-pkimessage')];

  // The documented answers: a CertRep signed by Ward's RA (to a request that named its transaction),
  // or a 4xx JSON refusal (anything that is not a readable pkiMessage).
  const answerClass = (a: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }): string => {
    if (a.status === 200 && a.headers['content-type'] === 'application/x-pki-message') {
      const rep = parsePkiMessage(a.body, { signerCandidates: [wardRa] });
      if (rep.messageType !== MessageType.CertRep) throw new Error(`answer is messageType ${rep.messageType}, not a CertRep`);
      const status = Object.entries(PkiStatus).find(([, v]) => v === rep.pkiStatus)?.[0];
      if (!status) throw new Error(`CertRep with pkiStatus ${rep.pkiStatus}`);
      return status === 'SUCCESS' ? PARSED : `CertRep ${status} ${rep.failInfo === undefined ? '' : failInfoName(rep.failInfo)}`;
    }
    return jsonRefusal(a);
  };

  await fuzz(t, {
    parser: 'http-scep-post',
    seeds: postSeeds,
    count: 1_500,
    mutators: DER,
    maxMs: 2000,
    run: async (input) => answerClass(await request(`${ward.httpUrl}/scep?operation=PKIOperation`, { method: 'POST', headers: { 'content-type': 'application/x-pki-message' }, body: input })),
  });

  // GET: the message parameter as scepclient wrote it (URL-safe base64), or the base64 of a DER seed,
  // mutated as DER and then as text.
  const getSeeds: Seed[] = [
    ...seeds('scep-get'),
    ...postSeeds.map((s) => ({ name: s.name.replace(/\.der$/, '.txt'), data: Buffer.from(encodeURIComponent(s.data.toString('base64'))) })),
  ];
  const asDer = DER.map(({ mutator, weight }) => ({
    weight,
    mutator: {
      name: `base64(${mutator.name})`,
      apply: (input: Buffer, rng: Parameters<typeof mutator.apply>[1], others: readonly Buffer[]) => {
        const der = Buffer.from(input.toString('latin1').replace(/%2B/gi, '+').replace(/%2F/gi, '/').replace(/%3D/gi, '=').replace(/-/g, '+').replace(/_/g, '/'), 'base64');
        const out = mutator.apply(der, rng, others);
        return out && Buffer.from(rng.chance(0.5) ? encodeURIComponent(out.toString('base64')) : out.toString('base64url'));
      },
    },
  }));
  await fuzz(t, {
    parser: 'http-scep-get',
    seeds: getSeeds,
    count: 700,
    mutators: [...asDer, ...weighted(6, base64Text)],
    maxMs: 2000,
    run: async (input) => {
      const raw = input.toString('latin1').replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
      // Node refuses a request line past its 16 KiB header limit itself, before Ward sees it (a GET
      // message of more than about 12 KB of DER; real ones are 2 to 4 KB, larger ones go by POST):
      // with 400/431, or by closing while a very long line is still being sent.
      const overLimit = raw.length > 16 * 1024;
      let answer: Awaited<ReturnType<typeof request>>;
      try {
        answer = await request(`${ward.httpUrl}/scep?operation=PKIOperation&message=${raw}`);
      } catch (e) {
        if (overLimit && (e as { code?: string }).code === 'ECONNRESET') return 'connection closed (Node: request line over 16 KiB)';
        throw e;
      }
      if (overLimit && (answer.status === 400 || answer.status === 431)) return `HTTP ${answer.status} (Node: request line over 16 KiB)`;
      return answerClass(answer);
    },
  });
});
