// The auditor's round trip through the admin API: a bundle exported with POST /audit/bundle and
// uploaded back to POST /audit/verify (say, the copy on the archive medium) is marked a verified
// export, which is what audit retention needs before it may prune the events it holds.
import t from 'tap';
import { call, eventsNamed, startAdminWard, tokenCredential } from './support';

t.setTimeout(120_000);

t.test('an uploaded copy of an export verifies and is recorded as a verified export, once', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const auditor = tokenCredential(ward, 'auditor');
  const exported = await call(ward, auditor, 'POST', '/audit/bundle', {});
  t.equal(exported.status, 200, 'the auditor exports a bundle');

  const first = await call(ward, auditor, 'POST', '/audit/verify', exported.body);
  t.equal(first.status, 200);
  const report = first.json();
  t.equal(report.ok, true, 'the bundle verifies against this Ward root');
  t.equal(report.export?.newlyVerified, true, 'it is one of this Ward exports, now marked verified');
  t.match(report.export?.verifiedAt, /^\d{4}-\d\d-\d\dT/, 'with the time it was verified');
  const verified = eventsNamed(ward, 'audit.bundle.verified');
  t.equal(verified.length, 1, 'one audit.bundle.verified event');
  t.equal(verified[0].actor.type, 'admin', 'by the API caller');
  t.equal(verified[0].target.id, String(report.export.id), 'naming the export');

  const again = (await call(ward, auditor, 'POST', '/audit/verify', exported.body)).json();
  t.equal(again.export?.newlyVerified, false, 'a second upload finds it already verified');
  t.equal(eventsNamed(ward, 'audit.bundle.verified').length, 1, 'and records nothing new');

  // A byte changed: the report fails and nothing is marked.
  const altered = Buffer.from(exported.body);
  altered[altered.length - 2000] ^= 0x01;
  const bad = (await call(ward, auditor, 'POST', '/audit/verify', altered)).json();
  t.equal(bad.ok, false, 'an altered copy does not verify');
  t.equal(bad.export, undefined, 'and is not taken for a recorded export');
});
