import crypto from 'node:crypto';
import t from 'tap';
import {
  EMPTY_ROOT,
  MerkleFrontier,
  MerkleTiles,
  MerkleTreeView,
  leafHash,
  nodeHash,
  rootFromInclusionProof,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
  verifyRangeProof,
} from '../../src/audit/merkle';

const h = (s: string) => Buffer.from(s, 'hex');

// Vector data from transparency-dev/merkle testonly/constants.go and proof/verify_test.go (the
// RFC 6962 reference vectors also used by certificate-transparency's merkle_tree_test.cc).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(h);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
].map(h);
const LEAF_HASHES = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
  '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7',
  '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7',
  'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658',
  'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
  '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1',
].map(h);
// [leaf index, tree size, proof]
const INCLUSION: [number, number, string[]][] = [
  [0, 8, [
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ]],
  [5, 8, [
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  ]],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  ]],
];
// [size1, size2, proof]
const CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [1, 8, [
    '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
  ]],
  [6, 8, [
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  ]],
  [2, 5, [
    '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
    'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
  ]],
  [6, 7, [
    '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
    'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  ]],
];

// Independent reference: RFC 9162 section 2.1 written recursively, straight from the text.
function refMth(d: Buffer[]): Buffer {
  if (d.length === 0) return crypto.createHash('sha256').digest();
  if (d.length === 1) return crypto.createHash('sha256').update(Buffer.from([0])).update(d[0]).digest();
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return crypto.createHash('sha256').update(Buffer.from([1])).update(refMth(d.slice(0, k))).update(refMth(d.slice(k))).digest();
}
function refPath(m: number, d: Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m < k ? [...refPath(m, d.slice(0, k)), refMth(d.slice(k))] : [...refPath(m - k, d.slice(k)), refMth(d.slice(0, k))];
}
function refSubproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [refMth(d)];
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return m <= k
    ? [...refSubproof(m, d.slice(0, k), b), refMth(d.slice(k))]
    : [...refSubproof(m - k, d.slice(k), false), refMth(d.slice(0, k))];
}

const hexes = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

t.test('RFC 6962 vectors: leaf hashes and roots of sizes 0..8', async (t) => {
  LEAVES.forEach((l, i) => t.equal(leafHash(l).toString('hex'), LEAF_HASHES[i].toString('hex'), `leaf ${i}`));
  t.equal(EMPTY_ROOT.toString('hex'), ROOTS[0].toString('hex'), 'empty tree root is SHA-256("")');
  for (const s of ['', 'a', '{"k":"\u00f6\u20ac\ud83d\ude00"}']) {
    t.equal(leafHash(s).toString('hex'), leafHash(Buffer.from(s, 'utf8')).toString('hex'), `string and UTF-8 bytes hash alike: ${JSON.stringify(s)}`);
    t.equal(leafHash(s).toString('hex'), crypto.createHash('sha256').update(Buffer.concat([Buffer.from([0]), Buffer.from(s, 'utf8')])).digest('hex'), 'SHA-256(0x00 || bytes)');
  }
  for (let n = 0; n <= 8; n++) {
    const hashes = LEAVES.slice(0, n).map((l) => leafHash(l));
    t.equal(rootFromLeafHashes(hashes).toString('hex'), ROOTS[n].toString('hex'), `rootFromLeafHashes size ${n}`);
    t.equal(rootFromLeafHashes(Buffer.concat(hashes)).toString('hex'), ROOTS[n].toString('hex'), `flat buffer size ${n}`);
    const f = new MerkleFrontier();
    hashes.forEach((x) => f.append(x));
    t.equal(f.root().toString('hex'), ROOTS[n].toString('hex'), `frontier size ${n}`);
    t.equal(MerkleTreeView.fromLeafHashes(hashes).root().toString('hex'), ROOTS[n].toString('hex'), `tree view size ${n}`);
  }
});

t.test('RFC 6962 vectors: inclusion proofs generate and verify', async (t) => {
  const view = (n: number) => MerkleTreeView.fromLeafHashes(LEAVES.slice(0, n).map((l) => leafHash(l)));
  for (const [index, size, proofHex] of INCLUSION) {
    const proof = proofHex.map(h);
    t.same(hexes(view(size).inclusionProof(index)), proofHex, `generated PATH(${index}, D[${size}])`);
    t.ok(verifyInclusion(index, size, LEAF_HASHES[index], proof, ROOTS[size]), `verifies ${index}/${size}`);
    t.notOk(verifyInclusion(index + 1, size, LEAF_HASHES[index], proof, ROOTS[size]), 'wrong index fails');
    t.notOk(verifyInclusion(index, size * 2, LEAF_HASHES[index], proof, ROOTS[size]), 'wrong size fails');
    t.notOk(verifyInclusion(index, size, LEAF_HASHES[(index + 1) % 8], proof, ROOTS[size]), 'wrong leaf fails');
    t.notOk(verifyInclusion(index, size, LEAF_HASHES[index], [...proof, ROOTS[size]], ROOTS[size]), 'trailing hash fails');
    t.notOk(verifyInclusion(index, size, LEAF_HASHES[index], proof.slice(0, -1), ROOTS[size]), 'truncated proof fails');
    for (let i = 0; i < proof.length; i++) {
      const bad = proof.map((p) => Buffer.from(p));
      bad[i][0] ^= 8;
      t.notOk(verifyInclusion(index, size, LEAF_HASHES[index], bad, ROOTS[size]), `flipped bit in proof[${i}] fails`);
    }
  }
  t.ok(verifyInclusion(0, 1, LEAF_HASHES[0], [], ROOTS[1]), 'single-leaf tree: empty proof');
  t.notOk(verifyInclusion(0, 0, LEAF_HASHES[0], [], ROOTS[0]), 'index 0 of an empty tree fails');
  t.notOk(verifyInclusion(2, 1, LEAF_HASHES[0], [], ROOTS[1]), 'index beyond size fails');
  t.equal(rootFromInclusionProof(0, 2, LEAF_HASHES[0], [Buffer.alloc(5)]), null, 'short proof element is rejected');
});

t.test('RFC 6962 vectors: consistency proofs generate and verify', async (t) => {
  const full = MerkleTreeView.fromLeafHashes(LEAF_HASHES);
  for (const [m, n, proofHex] of CONSISTENCY) {
    const proof = proofHex.map(h);
    const tree = MerkleTreeView.fromLeafHashes(LEAF_HASHES.slice(0, n));
    t.same(hexes(tree.consistencyProof(m)), proofHex, `generated PROOF(${m}, D[${n}])`);
    t.ok(verifyConsistency(m, n, ROOTS[m], ROOTS[n], proof), `verifies ${m} -> ${n}`);
    if (proof.length === 0) continue;
    t.notOk(verifyConsistency(m, n, ROOTS[n], ROOTS[m], proof), 'swapped roots fail');
    t.notOk(verifyConsistency(m - 1, n, ROOTS[m], ROOTS[n], proof), 'size1 - 1 fails');
    t.notOk(verifyConsistency(m + 1, n, ROOTS[m], ROOTS[n], proof), 'size1 + 1 fails');
    t.notOk(verifyConsistency(m, n * 2, ROOTS[m], ROOTS[n], proof), 'size2 * 2 fails');
    t.notOk(verifyConsistency(m, n, ROOTS[m], ROOTS[n], []), 'empty proof fails');
    t.notOk(verifyConsistency(m, n, ROOTS[m], ROOTS[n], [...proof, ROOTS[m]]), 'trailing root1 fails');
    t.notOk(verifyConsistency(m, n, ROOTS[m], ROOTS[n], [proof[0], ...proof]), 'preceding proof[0] fails');
    t.notOk(verifyConsistency(m, n, ROOTS[m], ROOTS[n], proof.slice(0, -1)), 'truncated proof fails');
    for (let i = 0; i < proof.length; i++) {
      const bad = proof.map((p) => Buffer.from(p));
      bad[i][0] ^= 16;
      t.notOk(verifyConsistency(m, n, ROOTS[m], ROOTS[n], bad), `flipped bit in proof[${i}] fails`);
    }
  }
  void full;
  const r1 = ROOTS[1];
  t.ok(verifyConsistency(0, 0, ROOTS[0], ROOTS[0], []), '0 -> 0 with equal roots');
  t.ok(verifyConsistency(0, 5, ROOTS[0], ROOTS[5], []), 'empty tree is consistent with anything');
  t.notOk(verifyConsistency(0, 5, ROOTS[0], ROOTS[5], [EMPTY_ROOT]), 'but not with a non-empty proof');
  t.notOk(verifyConsistency(1, 1, r1, ROOTS[2], []), 'equal sizes, different roots fail');
  t.notOk(verifyConsistency(2, 1, ROOTS[2], r1, []), 'time travel to the past fails');
  t.notOk(verifyConsistency(1, 1, r1, r1, [EMPTY_ROOT]), 'equal sizes with a non-empty proof fail');
});

t.test('property: every inclusion and consistency proof for n up to 64 matches the RFC text and verifies', async (t) => {
  const leaves = Array.from({ length: 64 }, (_, i) => Buffer.from(`leaf ${i}`));
  const hashes = leaves.map((l) => leafHash(l));
  let checked = 0;
  let mismatches = 0;
  for (let n = 1; n <= 64; n++) {
    const d = leaves.slice(0, n);
    const tree = MerkleTreeView.fromLeafHashes(hashes.slice(0, n));
    const root = tree.root();
    if (!root.equals(refMth(d))) mismatches++;
    const f = new MerkleFrontier();
    hashes.slice(0, n).forEach((x) => f.append(x));
    if (!f.root().equals(root)) mismatches++;
    for (let i = 0; i < n; i++) {
      const p = tree.inclusionProof(i);
      if (hexes(p).join() !== hexes(refPath(i, d)).join()) mismatches++;
      if (!verifyInclusion(i, n, hashes[i], p, root)) mismatches++;
      if (n > 1 && verifyInclusion(i, n, hashes[(i + 1) % n], p, root)) mismatches++;
      checked++;
    }
    for (let m = 0; m <= n; m++) {
      const p = tree.consistencyProof(m);
      const expected = m === 0 || m === n ? [] : refSubproof(m, d, true);
      if (hexes(p).join() !== hexes(expected).join()) mismatches++;
      const rootM = rootFromLeafHashes(hashes.slice(0, m));
      if (!verifyConsistency(m, n, rootM, root, p)) mismatches++;
      if (m > 0 && m < n && verifyConsistency(m, n, rootFromLeafHashes(hashes.slice(1, m + 1)), root, p)) mismatches++;
      checked++;
    }
  }
  t.equal(mismatches, 0, `${checked} proofs agree with the reference and verify; altered inputs fail`);
});

t.test('property: range proofs for every [a, b) of trees up to 24 reach the signed root', async (t) => {
  const hashes = Array.from({ length: 24 }, (_, i) => leafHash(Buffer.from(`event ${i}`)));
  let bad = 0;
  let count = 0;
  for (let n = 1; n <= 24; n++) {
    const tree = MerkleTreeView.fromLeafHashes(hashes.slice(0, n));
    const root = tree.root();
    for (let a = 0; a <= n; a++) {
      for (let b = a; b <= n; b++) {
        const proof = tree.rangeProof(a, b);
        const ok = verifyRangeProof(a, b, hashes.slice(a, b), n, proof, root);
        if (!ok.ok) bad++;
        if (b > a) {
          // Any change to the lines (altered leaf, shifted start, dropped last line) must fail.
          const altered = hashes.slice(a, b).map((x) => Buffer.from(x));
          altered[altered.length - 1][3] ^= 1;
          if (verifyRangeProof(a, b, altered, n, proof, root).ok) bad++;
          if (verifyRangeProof(a, b, hashes.slice(a, b - 1), n, proof, root).ok) bad++;
          if (a + 1 <= n && b + 1 <= n) {
            const shifted = verifyRangeProof(a + 1, b + 1, hashes.slice(a, b), n, tree.rangeProof(a + 1, b + 1), root);
            if (shifted.ok) bad++;
          }
        }
        count++;
      }
    }
  }
  t.equal(bad, 0, `${count} ranges verified, and their tampered forms rejected`);
});

t.test('large trees: chunked range hashing equals one-pass hashing', async (t) => {
  const n = 200_003;
  const flat = crypto.randomBytes(n * 32);
  const view = MerkleTreeView.fromLeafHashes(flat);
  const expected = rootFromLeafHashes(flat);
  t.equal(view.root().toString('hex'), expected.toString('hex'), 'root over 200,003 leaves');
  const f = new MerkleFrontier();
  for (let i = 0; i < n; i++) f.append(flat.subarray(i * 32, i * 32 + 32));
  t.equal(f.root().toString('hex'), expected.toString('hex'), 'frontier root');
  t.equal(view.frontier(131_075).root().toString('hex'), rootFromLeafHashes(flat.subarray(0, 131_075 * 32)).toString('hex'), 'frontier at 131,075');
  const idx = 150_001;
  t.ok(verifyInclusion(idx, n, flat.subarray(idx * 32, idx * 32 + 32), view.inclusionProof(idx), expected), 'inclusion in a large tree');
  const m = 70_000;
  t.ok(verifyConsistency(m, n, view.frontier(m).root(), expected, view.consistencyProof(m)), 'consistency in a large tree');
  const restored = new MerkleFrontier(f.size, f.hashes);
  restored.append(leafHash('next'));
  f.append(leafHash('next'));
  t.equal(restored.root().toString('hex'), f.root().toString('hex'), 'a frontier restored from its hashes continues identically');
  t.throws(() => new MerkleFrontier(5, [EMPTY_ROOT]), /has 2 nodes/, 'frontier size and node count must agree');

  const million = crypto.randomBytes(1_000_000 * 32);
  const started = process.hrtime.bigint();
  const root = rootFromLeafHashes(million);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.equal(root.length, 32, `root over 1,000,000 leaf hashes computed in ${ms.toFixed(0)} ms`);
  t.equal(nodeHash(EMPTY_ROOT, EMPTY_ROOT).length, 32);
});

t.test('tile cache: proofs from a tiled view equal the plain ones, with few leaf reads', async (t) => {
  const n = 5_000;
  const flat = crypto.randomBytes(n * 32);
  const plain = MerkleTreeView.fromLeafHashes(flat);
  const tiles = new MerkleTiles();
  for (let i = 0; i < n; i++) tiles.push(flat.subarray(i * 32, i * 32 + 32));
  t.equal(tiles.size, n);
  let leavesRead = 0;
  const tiled = new MerkleTreeView(n, (s, e) => {
    leavesRead += e - s;
    return flat.subarray(s * 32, e * 32);
  }, tiles.hashes());
  let mismatches = 0;
  for (const i of [0, 1, 255, 256, 257, 1023, 1024, 2047, 4095, 4096, 4999]) {
    if (!tiled.inclusionProof(i).every((h, k) => h.equals(plain.inclusionProof(i)[k]))) mismatches++;
  }
  for (const m of [1, 2, 255, 256, 300, 511, 512, 1024, 3000, 4096, 4999, 5000]) {
    if (hexes(tiled.consistencyProof(m)).join() !== hexes(plain.consistencyProof(m)).join()) mismatches++;
    if (!tiled.frontier(m).root().equals(rootFromLeafHashes(flat.subarray(0, m * 32)))) mismatches++;
  }
  if (!tiled.root().equals(plain.root())) mismatches++;
  t.equal(mismatches, 0, 'same proofs, frontiers and root');
  t.ok(leavesRead < 23 * 2 * 256 * 3, `only partial tiles were read (${leavesRead} leaf hashes for 23 proofs/frontiers)`);
  t.throws(() => new MerkleTreeView(n, () => flat, Buffer.alloc(32)), /tile hashes do not match/);
});
