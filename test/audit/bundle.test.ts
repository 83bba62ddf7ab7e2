import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { type BundleInput, buildBundle, eventLines, verifyBundle } from '../../src/audit/bundle';
import { MerkleTreeView, leafHash } from '../../src/audit/merkle';
import { readTar, writeTar } from '../../src/audit/tar';
import { makeTestCa } from './openssl-ca';
import { stockToolChecks } from './stock-tools';

const ca = makeTestCa();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => {
  fs.rmSync(ca.dir, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

const events = Array.from({ length: 45 }, (_, i) => ({
  seq: i + 1,
  time: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
  action: i % 3 ? 'scep.certificate.issued' : 'admin.login.failed',
  actor: { type: 'system', id: 'ward' },
  target: { type: 'device', id: `dev-${i}` },
  outcome: i % 3 ? 'success' : 'failure',
  reason: i % 3 ? null : 'bad password',
  source: '127.0.0.1',
  requestId: `req-${i}`,
  details: { n: i, note: 'ünïcödé \u2028 ok' },
}));
const lines = eventLines(events);
const hashes = lines.map((l) => leafHash(l));

function bundleOf(size: number, start = 0, end = size, extra: Partial<BundleInput> = {}, signer = ca.rsa): Buffer {
  const tree = MerkleTreeView.fromLeafHashes(hashes.slice(0, size));
  return buildBundle({
    lines: lines.slice(start, end),
    leafHashes: hashes.slice(start, end),
    start,
    treeHead: { treeSize: size, rootHash: tree.root(), timestamp: new Date() },
    rangeProof: tree.rangeProof(start, end),
    signer: { key: signer.key, certificate: signer.cert, chain: [ca.issuing] },
    caChain: [ca.root, ca.issuing],
    ...extra,
  });
}

/** Rewrites one member of a bundle (what someone editing the file by hand would do). */
function edit(bundle: Buffer, name: string, change: (data: Buffer) => Buffer): Buffer {
  return writeTar(readTar(bundle).map((e) => ({ name: e.name, data: e.name === name ? change(Buffer.from(e.data)) : e.data })));
}
const member = (bundle: Buffer, name: string) => readTar(bundle).find((e) => e.name === name)!.data;
const entriesOf = (bundle: Buffer) => member(bundle, 'entries.jsonl').toString('utf8').split('\n').slice(0, -1);
const withLines = (bundle: Buffer, f: (ls: string[]) => string[]) =>
  edit(bundle, 'entries.jsonl', () => Buffer.from(f(entriesOf(bundle)).map((l) => `${l}\n`).join('')));

t.test('a full export verifies, with wardctl logic and with stock tools', async (t) => {
  const bundle = bundleOf(45);
  const report = verifyBundle(bundle);
  t.same(report.failures, [], 'no failures');
  t.ok(report.ok);
  t.equal(report.lines, 45);
  t.equal(report.rootFingerprint256, ca.root.fingerprint256);
  t.match(report.signer?.subject, /audit signer RSA/);
  t.same(readTar(bundle).map((e) => e.name).sort(),
    ['VERIFY.txt', 'chain.pem', 'entries.jsonl', 'leaf-hashes.bin', 'tree-head.json', 'tree-head.json.p7s']);
  t.equal(member(bundle, 'entries.jsonl').toString('utf8'), lines.map((l) => `${l}\n`).join(''), 'entries.jsonl is the canonical lines');

  const stock = stockToolChecks(bundle, work);
  t.equal(stock.cms.status, 0, `openssl cms -verify from VERIFY.txt: ${stock.cms.stderr.trim()}`);
  t.equal(stock.py.status, 0, stock.py.stderr);
  const root = JSON.parse(member(bundle, 'tree-head.json').toString()).rootHash;
  t.equal(stock.py.stdout.trim(), `root OK ${root}`, 'the python script in VERIFY.txt recomputes the signed root');
  t.match(stock.fp.stdout, `sha256 Fingerprint=${ca.root.fingerprint256}`, 'VERIFY.txt fingerprint command prints the root CA');
  t.match(stock.text, ca.root.fingerprint256, 'and VERIFY.txt states it');
});

t.test('range exports: every [a, b) of a 45-entry log reaches the signed root', async (t) => {
  for (const [a, b] of [[0, 10], [10, 45], [13, 29], [32, 33], [0, 45], [44, 45], [20, 20]]) {
    const bundle = bundleOf(45, a, b, { since: events[a]?.time ?? null, until: events[b - 1]?.time ?? null }, ca.ec);
    const report = verifyBundle(bundle);
    t.same(report.failures, [], `[${a}, ${b}) verifies`);
    if (b - a === 1 || b - a === 16) {
      const stock = stockToolChecks(bundle, work);
      t.equal(stock.cms.status, 0, 'openssl accepts the EC signer');
      t.match(stock.py.stdout, /^root OK /, `python script verifies [${a}, ${b})`);
    }
  }
  t.match(stockToolChecks(bundleOf(45, 0, 0), work).py.stdout, /^EMPTY RANGE/, 'an empty range says so instead of a false mismatch');
  t.same(verifyBundle(bundleOf(45, 0, 0)).failures, [], 'and verifies (the signature is all there is)');
  const partial = bundleOf(45, 13, 29);
  const stock = stockToolChecks(partial, work);
  t.match(stock.py.stdout, /^root OK /, 'python script handles the range proof');
  const shifted = edit(partial, 'entries.jsonl', () => Buffer.from(lines.slice(14, 30).map((l) => `${l}\n`).join('')));
  t.match(stockToolChecks(shifted, work).py.stdout, /^ROOT MISMATCH/, 'and refuses lines shifted by one');
  t.same(verifyBundle(shifted).failures.map((x) => x.message), [
    'entry seq 14 missing before line 1 (line dropped)',
    'line 16 (seq 30) is not a signed entry (line added)',
    'Merkle root: consistency proof from size 29 to 45 does not reach the signed root',
  ], 'as does verifyBundle, naming both ends');
});

t.test('tampering: each change fails and is named', async (t) => {
  const bundle = bundleOf(45);
  const failuresOf = (b: Buffer) => verifyBundle(b).failures;

  // One byte changed in line 17.
  const changed = withLines(bundle, (ls) => ls.map((l, i) => (i === 16 ? l.replace('dev-16', 'dev-61') : l)));
  let f = failuresOf(changed);
  t.match(f, [{ check: 'entries', line: 17, message: /line 17 \(seq 17\) differs from the signed entry seq 17 \(bytes changed\)/ }], 'byte change named');
  t.ok(f.some((x) => x.check === 'root'), 'and the root no longer matches');
  t.match(stockToolChecks(changed, work).py.stdout, /^ROOT MISMATCH/, 'stock python check fails too');

  // Line 30 dropped.
  f = failuresOf(withLines(bundle, (ls) => ls.filter((_, i) => i !== 29)));
  t.match(f, [{ check: 'entries', line: 30, message: /entry seq 30 missing before line 30 \(line dropped\)/ }], 'dropped line named');
  f = failuresOf(withLines(bundle, (ls) => ls.slice(0, -1)));
  t.match(f, [{ check: 'entries', message: /seq 45\.\.seq 45 missing after the last line/ }], 'dropped last line named');

  // Lines 5 and 6 swapped.
  f = failuresOf(withLines(bundle, (ls) => ls.map((l, i) => (i === 4 ? ls[5] : i === 5 ? ls[4] : l))));
  t.match(f[0], { check: 'entries', line: 5, message: /line 5 holds the entry signed as seq 6, expected seq 5 \(lines reordered\)/ }, 'reorder named');
  t.ok(f.some((x) => x.check === 'root'), 'and the root fails');

  // A forged line inserted.
  f = failuresOf(withLines(bundle, (ls) => [...ls.slice(0, 9), ls[9].replace('req-9', 'req-X'), ...ls.slice(9)]));
  t.match(f[0], { check: 'entries', line: 10, message: /line 10 \(seq 10\) is not a signed entry \(line added\)/ }, 'inserted line named');

  // Last line cut short (no newline).
  f = failuresOf(edit(bundle, 'entries.jsonl', (d) => d.subarray(0, d.length - 5)));
  t.ok(f.some((x) => x.check === 'entries' && /line 45 has no final newline/.test(x.message)), 'truncated last line named');

  // Signature swapped for the one of another bundle (same signer, different tree head).
  const other = bundleOf(44);
  const swapped = edit(bundle, 'tree-head.json.p7s', () => Buffer.from(member(other, 'tree-head.json.p7s')));
  f = failuresOf(swapped);
  t.match(f, [{ check: 'signature', message: /tree-head\.json\.p7s: CMS: messageDigest does not match/ }], 'swapped signature named');
  t.not(stockToolChecks(swapped, work).cms.status, 0, 'openssl rejects it too');

  // tree-head.json edited to claim a different root.
  const forgedHead = edit(bundle, 'tree-head.json', (d) => Buffer.from(d.toString().replace(/"rootHash": "[0-9a-f]{64}"/, `"rootHash": "${'ab'.repeat(32)}"`)));
  f = failuresOf(forgedHead);
  t.ok(f.some((x) => x.check === 'signature'), 'edited tree head: signature fails');
  t.ok(f.some((x) => x.check === 'root' && /recomputed root differs/.test(x.message)), 'edited tree head: root differs');

  // A signed head whose root does not match its lines (what a bug or a forged log would produce).
  const tree = MerkleTreeView.fromLeafHashes(hashes.slice(0, 44));
  f = failuresOf(bundleOf(45, 0, 45, { treeHead: { treeSize: 45, rootHash: tree.root(), timestamp: new Date() } }));
  t.match(f, [{ check: 'root', message: /Merkle root: recomputed root differs from the signed root/ }], 'root mismatch named');

  // The leaf-hash list itself altered.
  f = failuresOf(edit(bundle, 'leaf-hashes.bin', (d) => { d[40] ^= 1; return d; }));
  t.match(f, [{ check: 'entries', message: /leaf-hashes\.bin does not match its signed SHA-256/ }], 'leaf hash file tampering named');

  // Different CA than the auditor trusts.
  const otherCa = makeTestCa('Impostor');
  fs.rmSync(otherCa.dir, { recursive: true, force: true });
  f = verifyBundle(bundle, { trustAnchors: [otherCa.root] }).failures;
  t.match(f, [{ check: 'signature', message: /no trusted issuer/ }], 'untrusted CA named');

  // Not a bundle at all / broken archive.
  t.match(failuresOf(bundle.subarray(0, 1536)), [{ check: 'archive' }], 'truncated tar');
  t.match(failuresOf(Buffer.from('hello')), [{ check: 'archive' }], 'garbage');
  t.match(failuresOf(edit(bundle, 'tree-head.json', () => Buffer.from('{'))), [{ check: 'tree-head', message: /not JSON/ }], 'unparsable tree head');
  const extraFile = writeTar([...readTar(bundle).map((e) => ({ name: e.name, data: e.data })), { name: 'evil.sh', data: Buffer.from('x') }]);
  t.match(failuresOf(extraFile), [{ check: 'archive', message: /unexpected file evil\.sh/ }], 'unexpected member');
});

t.test('--previous: RFC 9162 consistency between two bundles', async (t) => {
  const older = bundleOf(20);
  const olderHead = JSON.parse(member(older, 'tree-head.json').toString());
  const tree45 = MerkleTreeView.fromLeafHashes(hashes);
  const proofFrom20 = { treeSize: 20, rootHash: Buffer.from(olderHead.rootHash, 'hex'), proof: tree45.consistencyProof(20) };

  t.same(verifyBundle(bundleOf(45), { previous: older }).failures, [], 'full newer export: consistency recomputed from its lines');
  const rangeWithProof = bundleOf(45, 30, 45, { consistencyProofs: [proofFrom20] });
  t.same(verifyBundle(rangeWithProof, { previous: older }).failures, [], 'range export: embedded RFC 9162 proof verifies');
  t.match(verifyBundle(bundleOf(45, 30, 45), { previous: older }).failures, [{ check: 'previous', message: /no consistency proof from tree size 20/ }],
    'range export without a proof says so');
  t.same(verifyBundle(bundleOf(20), { previous: older }).failures, [], 'same size, same root');
  t.match(verifyBundle(older, { previous: bundleOf(45) }).failures, [{ check: 'previous', message: /more than this one's/ }], 'previous newer than current');

  // A forked log: entry 7 rewritten after the older bundle was taken, tree re-signed.
  const forkedLines = lines.map((l, i) => (i === 6 ? Buffer.from(l.toString().replace('req-6', 'req-6-edited')) : l));
  const forkedHashes = forkedLines.map((l) => leafHash(l));
  const forkTree = MerkleTreeView.fromLeafHashes(forkedHashes);
  const fork = (start: number, proofs: BundleInput['consistencyProofs'] = []) => buildBundle({
    lines: forkedLines.slice(start),
    leafHashes: forkedHashes.slice(start),
    start,
    treeHead: { treeSize: 45, rootHash: forkTree.root(), timestamp: new Date() },
    rangeProof: forkTree.rangeProof(start, 45),
    consistencyProofs: proofs,
    signer: { key: ca.rsa.key, certificate: ca.rsa.cert, chain: [ca.issuing] },
    caChain: [ca.root, ca.issuing],
  });
  t.same(verifyBundle(fork(0)).failures, [], 'the forked bundle is self-consistent on its own');
  t.match(verifyBundle(fork(0), { previous: older }).failures,
    [{ check: 'previous', message: /inconsistent with the previous tree head \(size 20\): the first 20 entries here hash to a different root/ }],
    'full export of a forked log is caught');
  const forgedProof = { treeSize: 20, rootHash: Buffer.from(olderHead.rootHash, 'hex'), proof: forkTree.consistencyProof(20) };
  const f = verifyBundle(fork(30, [forgedProof]), { previous: older }).failures;
  t.ok(f.some((x) => x.check === 'previous' && /RFC 9162 consistency proof fails/.test(x.message)), 'range export of a forked log: proof fails');
  t.ok(f.some((x) => x.check === 'consistency'), 'and the embedded proof is reported invalid on its own');
});

t.test('VERIFY.txt and chain.pem cannot be swapped unnoticed', async (t) => {
  const bundle = bundleOf(10);
  const doctored = edit(bundle, 'VERIFY.txt', (d) => Buffer.from(d.toString().replace("'root OK' if", "'root OK' if True or")));
  t.not(member(doctored, 'VERIFY.txt').toString(), member(bundle, 'VERIFY.txt').toString(), 'instructions doctored to always say OK');
  const f = verifyBundle(doctored).failures;
  t.match(f, [{ check: 'archive', message: /VERIFY\.txt differs from the copy whose SHA-256 is signed/ }], 'edited instructions named');
  const noVerify = writeTar(readTar(bundle).filter((e) => e.name !== 'VERIFY.txt').map((e) => ({ name: e.name, data: e.data })));
  t.match(verifyBundle(noVerify).failures, [{ check: 'archive', message: /VERIFY\.txt is missing/ }]);
  const reordered = edit(bundle, 'chain.pem', () => Buffer.from(ca.issuing.toString() + ca.root.toString()));
  t.match(verifyBundle(reordered).failures, [{ check: 'archive', message: /chain\.pem differs/ }], 'replaced chain named');
});

t.test('fuzz: any damage gives a report, never an exception', async (t) => {
  const bundle = bundleOf(20, 5, 17, { consistencyProofs: [] });
  let seed = 0x5eed;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const head = member(bundle, 'tree-head.json').toString();
  const headMutations = [
    (h: string) => h.replace(/"treeSize": \d+/, '"treeSize": 9007199254740993'),
    (h: string) => h.replace(/"start": \d+/, '"start": 4503599627370496'),
    (h: string) => h.replace(/"end": \d+/, '"end": -1'),
    (h: string) => h.replace(/"leftFrontier": \[[^\]]*\]/, '"leftFrontier": "x"'),
    (h: string) => h.replace(/"consistencyProofs": \[\]/, '"consistencyProofs": [{"treeSize": 1e300, "rootHash": "00", "proof": [1]}]'),
    (h: string) => h.replace(/"range": \{/, '"range": null, "r": {'),
    (h: string) => h.replace(/\{/, '['),
    (h: string) => JSON.stringify({ ...JSON.parse(h), files: null }),
  ];
  let exceptions = 0;
  let accepted = 0;
  const runs = 300;
  for (let i = 0; i < runs; i++) {
    let damaged: Buffer;
    const kind = i % 4;
    if (kind === 0) {
      damaged = Buffer.from(bundle);
      for (let k = 0; k < 1 + rand(4); k++) damaged[rand(damaged.length)] ^= 1 << rand(8);
    } else if (kind === 1) {
      damaged = bundle.subarray(0, rand(bundle.length));
    } else if (kind === 2) {
      damaged = edit(bundle, 'tree-head.json', () => Buffer.from(headMutations[rand(headMutations.length)](head)));
    } else {
      const p7s = Buffer.from(member(bundle, 'tree-head.json.p7s'));
      p7s[rand(p7s.length)] ^= 0xff;
      damaged = edit(bundle, 'tree-head.json.p7s', () => p7s);
    }
    try {
      const r = verifyBundle(damaged, { previous: i % 5 === 0 ? damaged : undefined });
      if (r.ok && !damaged.equals(bundle)) accepted++;
    } catch {
      exceptions++;
    }
  }
  t.equal(exceptions, 0, `${runs} damaged bundles: no exception`);
  t.equal(accepted, 0, 'and none of them passes verification');
});
