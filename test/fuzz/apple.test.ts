// Fuzz: Apple MDM's network-facing parsers. In process: check-in messages and command reports (the
// XML plist parser, the message decoders, the command-result readers) and the Mdm-Signature header
// (base64 CMS SignedData, detached). Then /mdm/checkin and /mdm/command on a running Ward, as an
// enrolled device that signs every mutated body: each answer is a 200 or a 4xx JSON refusal, never
// a 500. Seeds: the device plists of test/apple/fixtures and signatures by the device simulator and
// by `openssl cms` (corpus/apple-*, corpus/mdm-signature).
import t from 'tap';
import { CmsError, MdmProtocolError, verifyMdmSignature } from '../../src/apple';
import { decodeCheckin, decodeCommandReport } from '../../src/apple/messages';
import { factsFromResult } from '../../src/apple/results';
import { startAppleWard } from '../apple/harness';
import { FIXED, corpusFile, seeds, type Seed } from './corpus';
import { PARSED, errorLabel, fuzz, jsonRefusal, parserRun } from './harness';
import { BYTE_MUTATORS, DER_MUTATORS, PLIST_MUTATORS, base64Text, weighted } from './mutate';

t.setTimeout(600_000);

const PLIST = [...weighted(3, ...PLIST_MUTATORS), ...weighted(1, ...BYTE_MUTATORS)];
const mdmTyped = (e: unknown) => errorLabel(e, MdmProtocolError);
const RESULT_TYPES = ['DeviceInformation', 'SecurityInfo', 'ProfileList', 'InstalledApplicationList', 'UserList', 'DeviceLock'];

t.test('check-in messages: plist, MessageType, enrollment keys', async (t) => {
  await fuzz(t, {
    parser: 'apple-checkin',
    seeds: seeds('apple-checkin'),
    count: 15_000,
    mutators: PLIST,
    seedsParse: true,
    run: parserRun((input) => decodeCheckin(input), mdmTyped),
  });
});

t.test('command reports and the results read from them', async (t) => {
  await fuzz(t, {
    parser: 'apple-report',
    seeds: seeds('apple-report'),
    count: 15_000,
    mutators: PLIST,
    seedsParse: true,
    run: parserRun((input) => {
      const report = decodeCommandReport(input);
      // every result reader over every report: a device may answer any command with any shape
      for (const type of RESULT_TYPES) factsFromResult(type, report.raw);
    }, mdmTyped),
  });
});

t.test('Mdm-Signature: detached CMS SignedData over the body', async (t) => {
  const body = corpusFile('mdm-signature', 'body.plist');
  const signatures = seeds('mdm-signature', /\.der$/);
  const cmsTyped = (e: unknown) => errorLabel(e, CmsError);
  await fuzz(t, {
    parser: 'mdm-signature',
    seeds: signatures,
    count: 12_000,
    mutators: [...weighted(3, ...DER_MUTATORS), ...weighted(1, ...BYTE_MUTATORS)],
    seedsParse: true,
    run: parserRun((input) => verifyMdmSignature(input.toString('base64'), body), cmsTyped),
  });
  // The header text itself: padding, URL-safe alphabet, whitespace, junk characters.
  await fuzz(t, {
    parser: 'mdm-signature-header',
    seeds: signatures.map((s) => ({ name: s.name.replace(/\.der$/, '.b64'), data: Buffer.from(s.data.toString('base64')) })),
    count: 3_000,
    mutators: [...weighted(4, base64Text), ...weighted(1, ...BYTE_MUTATORS)],
    seedsParse: true,
    run: parserRun((input) => verifyMdmSignature(input.toString('latin1'), body), cmsTyped),
  });
});

t.test('/mdm/checkin and /mdm/command as an enrolled device signing each mutant', async (t) => {
  const h = await startAppleWard();
  t.teardown(() => h.stop());
  const device = await h.enroll();
  // The seeds speak for this device; CheckOut is left out (it would end the enrollment under test).
  const forDevice = (list: Seed[]) =>
    list.filter((s) => !/checkout/.test(s.name)).map((s) => ({ name: s.name, data: Buffer.from(s.data.toString('utf8').replaceAll(FIXED.udid, device.udid)) }));
  // A mutant may still unenroll it (a MessageType turned into CheckOut): enroll it again, unmutated.
  const stillEnrolled = async () => {
    if (h.apple.service.device(device.udid)?.status === 'enrolled') return;
    for (const step of [() => device.authenticate(), () => device.tokenUpdate()]) {
      const r = await step();
      if (r.status !== 200) throw new Error(`re-enrollment answered ${r.status}: ${r.body}`);
    }
  };
  type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };
  const answerClass = (a: Answer) => (a.status === 200 ? PARSED : jsonRefusal(a));
  // Apple, UserAuthenticate: a server that does not manage the user answers 410 (check-in only).
  const checkinClass = (a: Answer) => (a.status === 410 && a.body.length === 0 ? 'HTTP 410 (UserAuthenticate: user not managed)' : answerClass(a));

  await fuzz(t, {
    parser: 'http-apple-checkin',
    seeds: forDevice(seeds('apple-checkin')),
    count: 800,
    mutators: PLIST,
    maxMs: 2000,
    run: async (input) => {
      const outcome = checkinClass(await device.checkinRaw(input));
      await stillEnrolled();
      return outcome;
    },
  });
  // Reports answer a live command of the seed's kind (its UUID put in place of the corpus one), so
  // results go on to the result readers, the device record and the audit log.
  const open = new Map<string, string>();
  const commandFor = async (seed: Seed): Promise<string> => {
    const type = RESULT_TYPES.find((r) => seed.name.includes(r.toLowerCase())) ?? 'DeviceLock';
    const uuid = open.get(type);
    if (uuid && ['queued', 'sent', 'not-now'].includes(h.apple.service.command(uuid)?.status ?? '')) return uuid;
    const queued = await h.apple.service.queueCommand(device.udid, type, {}, { actor: { type: 'cli', id: 'fuzz' } });
    open.set(type, queued.uuid);
    return queued.uuid;
  };
  const placeholder = Buffer.from(FIXED.commandUuid);
  const withCommand = (input: Buffer, uuid: string): Buffer => {
    const out = Buffer.from(input);
    for (let at = out.indexOf(placeholder); at >= 0; at = out.indexOf(placeholder, at + 1)) out.write(uuid, at, 'latin1');
    return out;
  };
  await fuzz(t, {
    parser: 'http-apple-command',
    seeds: forDevice(seeds('apple-report')),
    count: 800,
    mutators: PLIST,
    maxMs: 2000,
    run: async (input, seed) => {
      const outcome = answerClass(await device.reportRaw(withCommand(input, await commandFor(seed))));
      await stillEnrolled();
      return outcome;
    },
  });
  t.equal((await device.idle()).status, 200, 'the device still checks in');
});
