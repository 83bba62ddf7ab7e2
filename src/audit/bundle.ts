// The audit bundle an auditor pulls: one ustar file that stock tools can check (docs/audit-bundle.md).
//   entries.jsonl        one canonical JSON event a line (RFC 8785), exactly the Merkle leaf bytes
//   leaf-hashes.bin      the RFC 9162 leaf hash of each line, 32 bytes each, in order (to name the line
//                        that changed; its SHA-256 is signed, and the root never depends on it)
//   tree-head.json       signed tree head + the range the file covers + the proofs for that range
//   tree-head.json.p7s   CMS SignedData (RFC 5652), DER, detached, over tree-head.json
//   chain.pem            Ward's CA chain, root first
//   VERIFY.txt           the exact commands
import crypto, { X509Certificate } from 'node:crypto';
import { type CmsSigner, certificatesFromPem, certificatesToPem, signDetached, verifyDetached } from './cms';
import { canonicalJson } from './jcs';
import { HASH_SIZE, MerkleFrontier, type RangeProof, leafHash, verifyConsistency, verifyRangeProof } from './merkle';
import { TarFormatError, readTar, writeTar } from './tar';

export const BUNDLE_FORMAT = 'ward-audit-bundle/1';

export const BUNDLE_FILES = {
  entries: 'entries.jsonl',
  leafHashes: 'leaf-hashes.bin',
  treeHead: 'tree-head.json',
  signature: 'tree-head.json.p7s',
  chain: 'chain.pem',
  verify: 'VERIFY.txt',
} as const;

/** A signed tree head's facts (RFC 9162 section 4.10 in spirit: size, root, time). */
export interface TreeHeadFacts {
  treeSize: number;
  rootHash: Buffer;
  timestamp: Date;
}

/** An RFC 9162 consistency proof from an earlier tree head to this bundle's tree head. */
export interface ConsistencyFrom {
  treeSize: number;
  rootHash: Buffer;
  proof: Buffer[];
}

/** tree-head.json as written (hashes in lowercase hex). */
export interface BundleTreeHead {
  format: typeof BUNDLE_FORMAT;
  hashAlgorithm: 'sha-256';
  tree: string;
  treeSize: number;
  rootHash: string;
  timestamp: string;
  range: { start: number; end: number; since: string | null; until: string | null };
  entries: { file: string; lines: number; sha256: string };
  leafHashes: { file: string; sha256: string };
  /** SHA-256 of VERIFY.txt and chain.pem as written, so neither can be swapped unnoticed. */
  files: { 'VERIFY.txt': string; 'chain.pem': string };
  rangeProof: { leftFrontier: string[]; consistency: string[] };
  consistencyProofs: { treeSize: number; rootHash: string; proof: string[] }[];
}

export interface BundleInput {
  /** Event lines (canonical JSON, no newline) for leaves [start, start + lines.length). */
  lines: readonly Uint8Array[];
  /** Their leaf hashes, if the store already has them (computed otherwise). */
  leafHashes?: readonly Uint8Array[];
  start: number;
  treeHead: TreeHeadFacts;
  rangeProof: RangeProof;
  since?: string | null;
  until?: string | null;
  consistencyProofs?: readonly ConsistencyFrom[];
  signer: CmsSigner;
  /** chain.pem: Ward's CA certificates, root first. */
  caChain: readonly X509Certificate[];
}

const TREE = 'RFC 9162 section 2.1 Merkle tree; leaf hash = SHA-256(0x00 || line), node hash = SHA-256(0x01 || left || right); line = one line of entries.jsonl without its newline';
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export function buildBundle(input: BundleInput): Buffer {
  const { lines, start, treeHead } = input;
  const end = start + lines.length;
  const hashes = input.leafHashes ?? lines.map((l) => leafHash(l));
  if (hashes.length !== lines.length) throw new RangeError('bundle: one leaf hash per line');
  let size = 0;
  for (const l of lines) size += l.length + 1;
  const entries = Buffer.allocUnsafe(size);
  let o = 0;
  for (const l of lines) {
    entries.set(l, o);
    o += l.length;
    entries[o++] = 0x0a;
  }
  const leafFile = Buffer.allocUnsafe(hashes.length * HASH_SIZE);
  hashes.forEach((h, i) => leafFile.set(h, i * HASH_SIZE));
  const head: BundleTreeHead = {
    format: BUNDLE_FORMAT,
    hashAlgorithm: 'sha-256',
    tree: TREE,
    treeSize: treeHead.treeSize,
    rootHash: hex(treeHead.rootHash),
    timestamp: treeHead.timestamp.toISOString(),
    range: { start, end, since: input.since ?? null, until: input.until ?? null },
    entries: { file: BUNDLE_FILES.entries, lines: lines.length, sha256: sha256(entries) },
    leafHashes: { file: BUNDLE_FILES.leafHashes, sha256: sha256(leafFile) },
    files: { 'VERIFY.txt': '', 'chain.pem': '' },
    rangeProof: { leftFrontier: input.rangeProof.leftFrontier.map(hex), consistency: input.rangeProof.consistency.map(hex) },
    consistencyProofs: (input.consistencyProofs ?? []).map((c) => ({ treeSize: c.treeSize, rootHash: hex(c.rootHash), proof: c.proof.map(hex) })),
  };
  const verify = Buffer.from(verifyText(head, input.caChain));
  const chainPem = Buffer.from(certificatesToPem(input.caChain));
  head.files = { 'VERIFY.txt': sha256(verify), 'chain.pem': sha256(chainPem) };
  const headBytes = Buffer.from(`${JSON.stringify(head, null, 2)}\n`);
  const p7s = signDetached(headBytes, input.signer, new Date());
  const mtime = treeHead.timestamp;
  return writeTar([
    { name: BUNDLE_FILES.verify, data: verify, mtime },
    { name: BUNDLE_FILES.treeHead, data: headBytes, mtime },
    { name: BUNDLE_FILES.signature, data: p7s, mtime },
    { name: BUNDLE_FILES.chain, data: chainPem, mtime },
    { name: BUNDLE_FILES.entries, data: entries, mtime },
    { name: BUNDLE_FILES.leafHashes, data: leafFile, mtime },
  ]);
}

function sha256(b: Uint8Array): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** The Python 3 (standard library only) script in VERIFY.txt that recomputes the signed root. */
export const ROOT_SCRIPT = String.raw`python3 - <<'EOF'
import hashlib, json
H = lambda b: hashlib.sha256(b).digest()
head = json.load(open('tree-head.json'))
lines = open('entries.jsonl', 'rb').read().split(b'\n')
assert lines.pop() == b'', 'entries.jsonl must end with a newline'
start, end, n = head['range']['start'], head['range']['end'], head['treeSize']
assert len(lines) == end - start, 'line count differs from the signed range'
# Compact range [0, start) from the proof, then append each line's RFC 9162 leaf hash.
size, nodes = start, [bytes.fromhex(x) for x in head['rangeProof']['leftFrontier']]
for line in lines:
    h, s = H(b'\x00' + line), size
    while s & 1:
        h, s = H(b'\x01' + nodes.pop() + h), s >> 1
    nodes.append(h)
    size += 1
root = nodes[-1] if nodes else H(b'')
for x in reversed(nodes[:-1]):
    root = H(b'\x01' + x + root)
proof = [bytes.fromhex(x) for x in head['rangeProof']['consistency']]
if 0 < size < n:  # RFC 9162 section 2.1.4.2: consistency from tree size 'end' to the signed size
    if size & (size - 1) == 0:
        proof.insert(0, root)
    fn, sn = size - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        assert sn > 0, 'consistency proof too long'
        if fn & 1 or fn == sn:
            fr, sr = H(b'\x01' + c + fr), H(b'\x01' + c + sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = H(b'\x01' + sr + c)
        fn, sn = fn >> 1, sn >> 1
    root = sr if sn == 0 and fr == root else b''  # b'': the lines do not lead to the signed tree
if size == 0 < n:
    print('EMPTY RANGE: no entries here to check against the root')
else:
    print('root OK' if root.hex() == head['rootHash'] else 'ROOT MISMATCH', root.hex())
EOF`;

export const CMS_VERIFY_COMMAND =
  'openssl cms -verify -binary -inform DER -in tree-head.json.p7s -content tree-head.json -CAfile chain.pem -purpose any -out /dev/null';

function verifyText(head: BundleTreeHead, caChain: readonly X509Certificate[]): string {
  const root = caChain[0];
  return `Ward audit bundle (${BUNDLE_FORMAT})

Entries ${head.range.start + 1}..${head.range.end} (sequence numbers) of a log of ${head.treeSize} events,
signed tree head of ${head.timestamp}. The signed facts are in tree-head.json; this text is not signed.
Run the commands below in the directory where this bundle was unpacked (tar -xf BUNDLE.tar).

1. The tree head is signed by Ward's audit signer (prints "CMS Verification successful"):

${CMS_VERIFY_COMMAND}

   chain.pem is only trustworthy if its first certificate is the Ward root CA you know. Compare
   this fingerprint with the one recorded when Ward was installed:

openssl x509 -in chain.pem -noout -subject -fingerprint -sha256

   (expected here: ${root ? root.fingerprint256 : 'no root in chain.pem'})
   If the audit signer's certificate has expired since, add -attime <seconds since 1970> with a time
   inside its validity (the signing time: openssl cms -cmsout -print -inform DER -in tree-head.json.p7s).

2. The lines are exactly the signed entries (prints "root OK" and the recomputed root, which must
   equal "rootHash" in tree-head.json). Needs Python 3, standard library only:

${ROOT_SCRIPT}

   leaf = SHA-256(0x00 || line), node = SHA-256(0x01 || left || right) (RFC 9162 section 2.1);
   for a partial export the proof in tree-head.json "rangeProof" links the lines to the full tree.

3. Optional: wardctl audit verify BUNDLE.tar [--previous OLDER.tar] runs all checks, names the line
   that changed, and checks the RFC 9162 consistency proof between two bundles' tree heads.
`;
}

export type BundleCheck = 'archive' | 'signature' | 'tree-head' | 'entries' | 'root' | 'consistency' | 'previous';

export interface BundleFailure {
  check: BundleCheck;
  message: string;
  /** 1-based line number in entries.jsonl, when the failure is about one line. */
  line?: number;
}

export interface BundleReport {
  ok: boolean;
  failures: BundleFailure[];
  treeHead?: BundleTreeHead;
  signer?: { subject: string; fingerprint256: string; signingTime: string };
  /** SHA-256 fingerprint of the first certificate of chain.pem (Ward's root CA). */
  rootFingerprint256?: string;
  lines: number;
}

export interface VerifyBundleOptions {
  /** An older bundle: its tree head must be consistent with this one (RFC 9162 section 2.1.4). */
  previous?: Uint8Array;
  /** Trust these CA certificates instead of the bundle's own chain.pem. */
  trustAnchors?: readonly X509Certificate[];
  /** Time at which the signer chain must be valid (default: the signing time). */
  at?: Date;
}

const HEX32 = /^[0-9a-f]{64}$/;
const MAX_REPORTED = 20;

function parseTreeHead(bytes: Buffer): BundleTreeHead {
  let v: BundleTreeHead;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new Error(`tree-head.json is not JSON (${(e as Error).message})`);
  }
  const need = (cond: unknown, what: string) => {
    if (!cond) throw new Error(`tree-head.json: ${what}`);
  };
  const isIndex = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  const hexList = (a: unknown) => Array.isArray(a) && a.every((x) => typeof x === 'string' && HEX32.test(x));
  need(v && typeof v === 'object', 'not an object');
  need(v.format === BUNDLE_FORMAT, `format is not ${BUNDLE_FORMAT}`);
  need(v.hashAlgorithm === 'sha-256', 'hashAlgorithm is not sha-256');
  need(isIndex(v.treeSize), 'treeSize is not a non-negative integer');
  need(typeof v.rootHash === 'string' && HEX32.test(v.rootHash), 'rootHash is not 32 bytes of hex');
  need(typeof v.timestamp === 'string' && !Number.isNaN(Date.parse(v.timestamp)), 'timestamp is not a time');
  need(v.range && isIndex(v.range.start) && isIndex(v.range.end) && v.range.start <= v.range.end && v.range.end <= v.treeSize,
    'range is not [start, end) within the tree');
  need(v.entries && isIndex(v.entries.lines) && typeof v.entries.sha256 === 'string' && HEX32.test(v.entries.sha256), 'entries is malformed');
  need(v.leafHashes && typeof v.leafHashes.sha256 === 'string' && HEX32.test(v.leafHashes.sha256), 'leafHashes is malformed');
  need(v.files && HEX32.test(String(v.files['VERIFY.txt'])) && HEX32.test(String(v.files['chain.pem'])), 'files is malformed');
  need(v.rangeProof && hexList(v.rangeProof.leftFrontier) && hexList(v.rangeProof.consistency), 'rangeProof is malformed');
  need(Array.isArray(v.consistencyProofs) && v.consistencyProofs.every((c) =>
    c && isIndex(c.treeSize) && typeof c.rootHash === 'string' && HEX32.test(c.rootHash) && hexList(c.proof)), 'consistencyProofs is malformed');
  return v;
}

interface OpenedBundle {
  head: BundleTreeHead;
  headBytes: Buffer;
  p7s: Buffer;
  chain: X509Certificate[];
  files: Map<string, Buffer>;
}

/** Reads the archive and tree-head.json; throws with the check that failed. */
function openBundle(bytes: Uint8Array): OpenedBundle {
  let entries;
  try {
    entries = readTar(bytes, { maxEntries: 16 });
  } catch (e) {
    throw Object.assign(new Error(e instanceof TarFormatError ? e.message : `not a bundle (${(e as Error).message})`), { check: 'archive' });
  }
  const files = new Map(entries.map((e) => [e.name, e.data]));
  const known = new Set<string>(Object.values(BUNDLE_FILES));
  for (const name of files.keys()) {
    if (!known.has(name)) throw Object.assign(new Error(`unexpected file ${name} in the bundle`), { check: 'archive' });
  }
  for (const name of [BUNDLE_FILES.treeHead, BUNDLE_FILES.signature, BUNDLE_FILES.chain, BUNDLE_FILES.entries]) {
    if (!files.has(name)) throw Object.assign(new Error(`${name} is missing from the bundle`), { check: 'archive' });
  }
  const headBytes = files.get(BUNDLE_FILES.treeHead)!;
  let chain: X509Certificate[];
  try {
    chain = certificatesFromPem(files.get(BUNDLE_FILES.chain)!.toString('latin1'));
  } catch {
    throw Object.assign(new Error('chain.pem holds a certificate that does not parse'), { check: 'signature' });
  }
  let head: BundleTreeHead;
  try {
    head = parseTreeHead(headBytes);
  } catch (e) {
    throw Object.assign(e as Error, { check: 'tree-head' });
  }
  return { head, headBytes, p7s: files.get(BUNDLE_FILES.signature)!, chain, files };
}

/** Splits entries.jsonl into lines; every line, the last included, ends with "\n". */
function splitLines(data: Buffer): { lines: Buffer[]; error?: string } {
  const lines: Buffer[] = [];
  let s = 0;
  while (s < data.length) {
    const nl = data.indexOf(0x0a, s);
    if (nl === -1) return { lines, error: `line ${lines.length + 1} has no final newline (file truncated?)` };
    lines.push(data.subarray(s, nl));
    s = nl + 1;
  }
  return { lines };
}

function seqOf(line: Buffer): string {
  try {
    const v = JSON.parse(line.toString('utf8'));
    return typeof v?.seq === 'number' ? ` (seq ${v.seq})` : '';
  } catch {
    return '';
  }
}

/**
 * Names how the lines differ from the signed leaf hashes: changed bytes, dropped, inserted or
 * reordered lines. Walks both lists once, realigning on the next line that matches.
 */
function diagnoseLines(lines: Buffer[], computed: Buffer[], signed: Buffer[], start: number): BundleFailure[] {
  const out: BundleFailure[] = [];
  let index: Map<string, number> | null = null;
  const where = (h: Buffer) => {
    index ??= new Map(signed.map((s, i) => [s.toString('hex'), i]));
    return index.get(h.toString('hex'));
  };
  const seqText = (i: number) => `seq ${start + i + 1}`;
  let i = 0;
  let j = 0;
  while ((i < lines.length || j < signed.length) && out.length < MAX_REPORTED) {
    if (i < lines.length && j < signed.length && computed[i].equals(signed[j])) {
      i++;
      j++;
      continue;
    }
    if (i >= lines.length) {
      out.push({ check: 'entries', message: `entries ${seqText(j)}..${seqText(signed.length - 1)} missing after the last line (lines dropped)` });
      break;
    }
    if (j >= signed.length) {
      out.push({ check: 'entries', line: i + 1, message: `line ${i + 1}${seqOf(lines[i])} is not a signed entry (line added)` });
      i++;
      continue;
    }
    const at = where(computed[i]);
    if (at !== undefined && at > j) {
      // Line i is a later entry: either entries j..at-1 were dropped, or they were moved below.
      const movedLater = computed.slice(i + 1).some((h) => h.equals(signed[j]));
      if (movedLater) {
        out.push({ check: 'entries', line: i + 1, message: `line ${i + 1} holds the entry signed as ${seqText(at)}, expected ${seqText(j)} (lines reordered)` });
        i++;
        j++;
      } else {
        const count = at - j;
        out.push({ check: 'entries', line: i + 1, message: `${count === 1 ? 'entry' : `${count} entries`} ${seqText(j)}${count > 1 ? `..${seqText(at - 1)}` : ''} missing before line ${i + 1} (line dropped)` });
        j = at;
      }
    } else if (at !== undefined && at < j) {
      out.push({ check: 'entries', line: i + 1, message: `line ${i + 1} repeats or moves the entry signed as ${seqText(at)}, expected ${seqText(j)} (lines reordered)` });
      i++;
      j++;
    } else if (i + 1 < lines.length && computed[i + 1].equals(signed[j])) {
      out.push({ check: 'entries', line: i + 1, message: `line ${i + 1}${seqOf(lines[i])} is not a signed entry (line added)` });
      i++;
    } else {
      out.push({ check: 'entries', line: i + 1, message: `line ${i + 1}${seqOf(lines[i])} differs from the signed entry ${seqText(j)} (bytes changed)` });
      i++;
      j++;
    }
  }
  return out;
}

/**
 * Every check an auditor needs, offline: archive shape, the CMS signature over tree-head.json and its
 * chain, the lines against the signed leaf hashes (naming the line), the Merkle root (through the
 * range proof for a partial export), the embedded consistency proofs, and with `previous` the RFC
 * 9162 consistency of the older bundle's tree head with this one.
 */
export function verifyBundle(bytes: Uint8Array, options: VerifyBundleOptions = {}): BundleReport {
  const failures: BundleFailure[] = [];
  const report: BundleReport = { ok: false, failures, lines: 0 };
  let b: OpenedBundle;
  try {
    b = openBundle(bytes);
  } catch (e) {
    failures.push({ check: (e as { check?: BundleCheck }).check ?? 'archive', message: (e as Error).message });
    return report;
  }
  const { head } = b;
  report.treeHead = head;
  report.rootFingerprint256 = b.chain[0]?.fingerprint256;
  const anchors = options.trustAnchors ?? b.chain;
  try {
    const v = verifyDetached(b.p7s, b.headBytes, { trustAnchors: anchors, at: options.at });
    report.signer = { subject: v.signer.subject.replace(/\n/g, ', '), fingerprint256: v.signer.fingerprint256, signingTime: v.signingTime.toISOString() };
  } catch (e) {
    failures.push({ check: 'signature', message: `tree-head.json.p7s: ${(e as Error).message}` });
  }

  for (const name of [BUNDLE_FILES.verify, BUNDLE_FILES.chain] as const) {
    const data = b.files.get(name);
    if (!data) failures.push({ check: 'archive', message: `${name} is missing from the bundle` });
    else if (sha256(data) !== head.files[name]) failures.push({ check: 'archive', message: `${name} differs from the copy whose SHA-256 is signed in tree-head.json` });
  }

  const entriesFile = b.files.get(BUNDLE_FILES.entries)!;
  const { lines, error } = splitLines(entriesFile);
  report.lines = lines.length;
  if (error) failures.push({ check: 'entries', line: lines.length + 1, message: error });
  const { start, end } = head.range;
  const computed = lines.map((l) => leafHash(l));

  // The signed leaf hashes let us say which line differs; without them we still check the root.
  const leafFile = b.files.get(BUNDLE_FILES.leafHashes);
  let signedHashes: Buffer[] | null = null;
  if (!leafFile) failures.push({ check: 'entries', message: 'leaf-hashes.bin is missing: cannot name the line that differs' });
  else if (sha256(leafFile) !== head.leafHashes.sha256 || leafFile.length !== (end - start) * HASH_SIZE) {
    failures.push({ check: 'entries', message: 'leaf-hashes.bin does not match its signed SHA-256 (file altered)' });
  } else {
    signedHashes = [];
    for (let o = 0; o < leafFile.length; o += HASH_SIZE) signedHashes.push(leafFile.subarray(o, o + HASH_SIZE));
  }
  if (signedHashes) failures.push(...diagnoseLines(lines, computed, signedHashes, start));
  const linesOk = !failures.some((f) => f.check === 'entries');
  if (lines.length !== end - start && !failures.some((f) => f.check === 'entries')) {
    failures.push({ check: 'entries', message: `entries.jsonl has ${lines.length} lines, the signed range [${start}, ${end}) has ${end - start}` });
  }
  if (linesOk && sha256(entriesFile) !== head.entries.sha256) {
    failures.push({ check: 'entries', message: 'entries.jsonl does not match its signed SHA-256' });
  }

  const proof = { leftFrontier: head.rangeProof.leftFrontier.map(fromHex), consistency: head.rangeProof.consistency.map(fromHex) };
  const rootHash = fromHex(head.rootHash);
  const r = verifyRangeProof(start, end, computed, head.treeSize, proof, rootHash);
  if (!r.ok) failures.push({ check: 'root', message: `Merkle root: ${r.reason}` });

  for (const c of head.consistencyProofs) {
    if (!verifyConsistency(c.treeSize, head.treeSize, fromHex(c.rootHash), rootHash, c.proof.map(fromHex))) {
      failures.push({ check: 'consistency', message: `consistency proof from tree size ${c.treeSize} (root ${c.rootHash}) is invalid` });
    }
  }

  if (options.previous) checkPrevious(options.previous, b, r.ok ? { start, computed, leftFrontier: proof.leftFrontier } : null, options, failures);
  report.ok = failures.length === 0;
  return report;
}

const fromHex = (h: string) => Buffer.from(h, 'hex');

function checkPrevious(
  previous: Uint8Array,
  current: OpenedBundle,
  verifiedLines: { start: number; computed: Buffer[]; leftFrontier: Buffer[] } | null,
  options: VerifyBundleOptions,
  failures: BundleFailure[],
): void {
  let old: OpenedBundle;
  try {
    old = openBundle(previous);
  } catch (e) {
    failures.push({ check: 'previous', message: `previous bundle: ${(e as Error).message}` });
    return;
  }
  const anchors = options.trustAnchors ?? current.chain;
  try {
    verifyDetached(old.p7s, old.headBytes, { trustAnchors: anchors, at: options.at });
  } catch (e) {
    failures.push({ check: 'previous', message: `previous bundle's tree head is not signed under this bundle's CA: ${(e as Error).message}` });
    return;
  }
  const m = old.head.treeSize;
  const n = current.head.treeSize;
  const oldRoot = fromHex(old.head.rootHash);
  const newRoot = fromHex(current.head.rootHash);
  if (m > n) {
    failures.push({ check: 'previous', message: `previous tree head has ${m} entries, more than this one's ${n}` });
    return;
  }
  if (m === n) {
    if (!oldRoot.equals(newRoot)) failures.push({ check: 'previous', message: `inconsistent with the previous tree head: both have ${n} entries but different roots` });
    return;
  }
  const embedded = current.head.consistencyProofs.find((c) => c.treeSize === m && c.rootHash === old.head.rootHash);
  if (embedded) {
    if (!verifyConsistency(m, n, oldRoot, newRoot, embedded.proof.map(fromHex))) {
      failures.push({ check: 'previous', message: `inconsistent with the previous tree head (size ${m}): the RFC 9162 consistency proof fails` });
    }
    return;
  }
  // No embedded proof for that head: if this bundle's verified lines span tree size m, the root at
  // m follows from them directly (the range proof already tied them to the signed root).
  if (verifiedLines && verifiedLines.start <= m && m <= verifiedLines.start + verifiedLines.computed.length) {
    const f = new MerkleFrontier(verifiedLines.start, verifiedLines.leftFrontier);
    for (const h of verifiedLines.computed.slice(0, m - verifiedLines.start)) f.append(h);
    if (!f.root().equals(oldRoot)) {
      failures.push({ check: 'previous', message: `inconsistent with the previous tree head (size ${m}): the first ${m} entries here hash to a different root` });
    }
    return;
  }
  const other = current.head.consistencyProofs.find((c) => c.treeSize === m);
  failures.push({
    check: 'previous',
    message: other
      ? `inconsistent with the previous tree head: this bundle proves a different root for tree size ${m}`
      : `no consistency proof from tree size ${m} in this bundle, and its lines do not cover that size`,
  });
}

/** The canonical line bytes of events, for building a bundle from event objects (tests, tools). */
export function eventLines(events: readonly unknown[]): Buffer[] {
  return events.map((e) => Buffer.from(canonicalJson(e)));
}
