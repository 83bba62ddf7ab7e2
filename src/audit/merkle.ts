// Merkle tree hashing and proofs of RFC 9162 section 2.1 (the RFC 6962 tree, SHA-256):
// leaf hash = SHA-256(0x00 || leaf bytes), node hash = SHA-256(0x01 || left || right).
// Sizes and indexes are JS numbers (exact to 2^53); the code avoids 32-bit bit operators so trees
// beyond 2^31 leaves hash correctly.
import crypto from 'node:crypto';

export const HASH_SIZE = 32;

/** SHA-256 of the empty string: the root of the empty tree (RFC 9162 section 2.1.1). */
export const EMPTY_ROOT: Buffer = crypto.hash('sha256', Buffer.alloc(0), 'buffer');

/**
 * SHA-256 as a Buffer. The digest comes back as a binary (latin1) string and is copied into a pooled Buffer:
 * on Node 24, crypto.hash(..., 'buffer') allocates a native ArrayBuffer per call, which costs twice
 * the hash of a 400-byte event line (bench/audit.ts; 0.7 us against 1.4 us a leaf).
 */
function sha256(data: Uint8Array | string): Buffer {
  return Buffer.from(crypto.hash('sha256', data, 'binary'), 'latin1');
}

const leafScratch = Buffer.alloc(64 * 1024); // [0] stays 0x00, the leaf prefix

/** RFC 9162 section 2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0)). */
export function leafHash(leaf: Uint8Array | string): Buffer {
  // One-shot hashing (a string is hashed as its UTF-8 bytes): twice as fast as createHash per leaf.
  if (typeof leaf === 'string') {
    // Encoded into a scratch buffer rather than hashed as `\0${leaf}`: no prefixed copy of the line
    // is built (1.25 us to 0.88 us a 400-byte line).
    if (leaf.length * 3 + 1 > leafScratch.length) return sha256(`\0${leaf}`);
    const n = leafScratch.write(leaf, 1, 'utf8');
    return sha256(leafScratch.subarray(0, n + 1));
  }
  const input = Buffer.allocUnsafe(leaf.length + 1);
  input[0] = 0;
  input.set(leaf, 1);
  return sha256(input);
}

const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE);
nodeInput[0] = 1;

/** RFC 9162 section 2.1.1: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}

/** Largest power of two strictly less than n (n >= 2): the split point k of RFC 9162 section 2.1.1. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number) => n >= 1 && splitPoint(n + 1) === n;

/**
 * MTH over leaf hashes given back to back in one buffer (n * 32 bytes). Iterative and in place:
 * pairing level by level and carrying an odd last node up unchanged yields exactly the
 * left-balanced tree of RFC 9162 section 2.1.1.
 */
export function rootFromLeafHashes(hashes: Uint8Array | readonly Uint8Array[]): Buffer {
  let level: Buffer;
  if (Array.isArray(hashes)) {
    level = Buffer.alloc(hashes.length * HASH_SIZE);
    (hashes as readonly Uint8Array[]).forEach((h, i) => {
      if (h.length !== HASH_SIZE) throw new RangeError(`leaf hash ${i} is ${h.length} bytes, expected ${HASH_SIZE}`);
      level.set(h, i * HASH_SIZE);
    });
  } else {
    const flat = hashes as Uint8Array;
    if (flat.length % HASH_SIZE !== 0) throw new RangeError('leaf hashes must be a multiple of 32 bytes');
    level = Buffer.from(flat); // copy: the caller's buffer is not ours to overwrite
  }
  let n = level.length / HASH_SIZE;
  if (n === 0) return Buffer.from(EMPTY_ROOT);
  const input = Buffer.alloc(1 + 2 * HASH_SIZE);
  input[0] = 1;
  while (n > 1) {
    const pairs = Math.floor(n / 2);
    for (let i = 0; i < pairs; i++) {
      level.copy(input, 1, 2 * i * HASH_SIZE, (2 * i + 2) * HASH_SIZE);
      level.write(crypto.hash('sha256', input, 'binary'), i * HASH_SIZE, 'latin1');
    }
    if (n % 2 === 1) level.copy(level, pairs * HASH_SIZE, (n - 1) * HASH_SIZE, n * HASH_SIZE);
    n = pairs + (n % 2);
  }
  return Buffer.from(level.subarray(0, HASH_SIZE));
}

/**
 * The compact range [0, size): the roots of the perfect subtrees that the binary digits of `size`
 * decompose the tree into, largest (leftmost) first. Appending a leaf and reading the root are both
 * O(log n); this is the state Ward keeps in memory and what a range proof's left side carries.
 */
export class MerkleFrontier {
  private nodes: Buffer[];
  private count: number;

  constructor(size = 0, nodes: readonly Uint8Array[] = []) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad tree size ${size}`);
    if (nodes.length !== popcount(size)) {
      throw new RangeError(`a frontier of size ${size} has ${popcount(size)} nodes, got ${nodes.length}`);
    }
    for (const n of nodes) if (n.length !== HASH_SIZE) throw new RangeError('frontier nodes must be 32-byte hashes');
    this.count = size;
    this.nodes = nodes.map((n) => Buffer.from(n));
  }

  get size(): number {
    return this.count;
  }

  /** The subtree roots, largest first (copies). */
  get hashes(): Buffer[] {
    return this.nodes.map((n) => Buffer.from(n));
  }

  append(leafHashValue: Uint8Array): void {
    if (leafHashValue.length !== HASH_SIZE) throw new RangeError('leaf hash must be 32 bytes');
    // Each trailing 1 bit of the old size is a perfect subtree of the new leaf's height: merge it.
    let s = this.count;
    if (s % 2 === 0) {
      this.nodes.push(Buffer.from(leafHashValue)); // a copy: the caller's buffer is not ours to keep
    } else {
      let h = nodeHash(this.nodes.pop()!, leafHashValue);
      s = Math.floor(s / 2);
      while (s % 2 === 1) {
        h = nodeHash(this.nodes.pop()!, h);
        s = Math.floor(s / 2);
      }
      this.nodes.push(h);
    }
    this.count++;
  }

  /** MTH of the whole tree: fold the subtree roots from the right. */
  root(): Buffer {
    if (this.nodes.length === 0) return Buffer.from(EMPTY_ROOT);
    let acc = this.nodes[this.nodes.length - 1];
    for (let i = this.nodes.length - 2; i >= 0; i--) acc = nodeHash(this.nodes[i], acc);
    return Buffer.from(acc);
  }

  clone(): MerkleFrontier {
    return new MerkleFrontier(this.count, this.nodes);
  }
}

export function popcount(n: number): number {
  let c = 0;
  while (n > 0) {
    c += n % 2;
    n = Math.floor(n / 2);
  }
  return c;
}

/** Reads leaf hashes [start, end) back to back (the audit store answers this from SQLite). */
export type LeafHashReader = (start: number, end: number) => Uint8Array;

/** Leaves per tile: the perfect subtrees of 2^8 leaves whose hashes a MerkleTreeView may cache. */
export const TILE_LEAVES = 256;

/**
 * Proof generation over a tree of `size` leaves whose leaf hashes the reader supplies. Without a
 * tile cache, each proof reads and hashes every leaf once (about a second per million leaves); with
 * the hashes of the complete 256-leaf tiles (see MerkleTiles) every proof is O(log n) hashes plus
 * at most a few partial tiles read.
 */
export class MerkleTreeView {
  /** levels[k]: hashes of the aligned perfect subtrees of TILE_LEAVES * 2^k leaves, back to back. */
  private readonly levels: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly read: LeafHashReader,
    tiles?: Uint8Array,
  ) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bad tree size ${size}`);
    if (tiles) {
      if (tiles.length !== Math.floor(size / TILE_LEAVES) * HASH_SIZE) throw new RangeError('tile hashes do not match the tree size');
      let level = Buffer.from(tiles);
      while (level.length >= HASH_SIZE) {
        this.levels.push(level);
        const pairs = Math.floor(level.length / (2 * HASH_SIZE));
        const up = Buffer.allocUnsafe(pairs * HASH_SIZE);
        for (let i = 0; i < pairs; i++) {
          nodeHash(level.subarray(2 * i * HASH_SIZE, (2 * i + 1) * HASH_SIZE), level.subarray((2 * i + 1) * HASH_SIZE, (2 * i + 2) * HASH_SIZE)).copy(up, i * HASH_SIZE);
        }
        level = up;
      }
    }
  }

  static fromLeafHashes(hashes: readonly Uint8Array[] | Uint8Array): MerkleTreeView {
    const flat = Array.isArray(hashes) ? Buffer.concat(hashes as Uint8Array[]) : Buffer.from(hashes as Uint8Array);
    return new MerkleTreeView(flat.length / HASH_SIZE, (s, e) => flat.subarray(s * HASH_SIZE, e * HASH_SIZE));
  }

  /**
   * MTH(D[start:end]): by RFC 9162 section 2.1.1 it is the right fold of the perfect subtrees the
   * binary digits of end - start split the range into, largest first.
   */
  rangeHash(start: number, end: number): Buffer {
    if (end <= start) return Buffer.from(EMPTY_ROOT);
    const pieces: Buffer[] = [];
    let s = start;
    let rest = end - start;
    while (rest > 0) {
      let p = 1;
      while (p * 2 <= rest) p *= 2;
      pieces.push(this.perfectHash(s, p));
      s += p;
      rest -= p;
    }
    let acc = pieces[pieces.length - 1];
    for (let i = pieces.length - 2; i >= 0; i--) acc = nodeHash(pieces[i], acc);
    return Buffer.from(acc);
  }

  /** Hash of the perfect subtree of `count` (a power of two) leaves from `start`. */
  private perfectHash(start: number, count: number): Buffer {
    if (count >= TILE_LEAVES && start % count === 0) {
      let k = 0;
      while (TILE_LEAVES * 2 ** k < count) k++;
      const level = this.levels[k];
      const i = start / count;
      if (level && (i + 1) * HASH_SIZE <= level.length) return level.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
    }
    // Read in bounded chunks of whole perfect subtrees so a large range never needs one huge buffer.
    const CHUNK = 1 << 16;
    if (count <= CHUNK) return rootFromLeafHashes(this.read(start, start + count));
    const parts: Buffer[] = [];
    for (let s = start; s < start + count; s += CHUNK) parts.push(rootFromLeafHashes(this.read(s, s + CHUNK)));
    return rootFromLeafHashes(parts);
  }

  root(): Buffer {
    return this.size === 0 ? Buffer.from(EMPTY_ROOT) : this.rangeHash(0, this.size);
  }

  /** RFC 9162 section 2.1.3.1 PATH(m, D[n]), ordered from the leaf up. */
  inclusionProof(index: number): Buffer[] {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`leaf index ${index} is outside a tree of size ${this.size}`);
    }
    const path: Buffer[] = [];
    let start = 0;
    let end = this.size;
    let m = index;
    while (end - start > 1) {
      const k = splitPoint(end - start);
      if (m < k) {
        path.push(this.rangeHash(start + k, end));
        end = start + k;
      } else {
        path.push(this.rangeHash(start, start + k));
        start += k;
        m -= k;
      }
    }
    return path.reverse();
  }

  /** RFC 9162 section 2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), ordered from the bottom up. */
  consistencyProof(oldSize: number): Buffer[] {
    if (!Number.isSafeInteger(oldSize) || oldSize < 0 || oldSize > this.size) {
      throw new RangeError(`cannot prove consistency from size ${oldSize} to ${this.size}`);
    }
    if (oldSize === 0 || oldSize === this.size) return [];
    const proof: Buffer[] = [];
    let start = 0;
    let end = this.size;
    let m = oldSize;
    let complete = true;
    while (m !== end - start) {
      const k = splitPoint(end - start);
      if (m <= k) {
        proof.push(this.rangeHash(start + k, end));
        end = start + k;
      } else {
        proof.push(this.rangeHash(start, start + k));
        start += k;
        m -= k;
        complete = false;
      }
    }
    if (!complete) proof.push(this.rangeHash(start, end));
    return proof.reverse();
  }

  /** The compact range [0, size): see MerkleFrontier. */
  frontier(size: number): MerkleFrontier {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) throw new RangeError(`bad frontier size ${size}`);
    const nodes: Buffer[] = [];
    let start = 0;
    let rest = size;
    while (rest > 0) {
      let p = 1;
      while (p * 2 <= rest) p *= 2;
      nodes.push(this.rangeHash(start, start + p));
      start += p;
      rest -= p;
    }
    return new MerkleFrontier(size, nodes);
  }

  /** Proof that leaves [start, end) are entries start..end-1 of this tree; see RangeProof. */
  rangeProof(start: number, end: number): RangeProof {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > this.size) {
      throw new RangeError(`bad range [${start}, ${end}) for a tree of size ${this.size}`);
    }
    return { leftFrontier: this.frontier(start).hashes, consistency: this.consistencyProof(end) };
  }
}

/**
 * Collects the hashes of complete 256-leaf tiles while leaf hashes stream past (the store scan),
 * for a MerkleTreeView cache: 32 bytes per 256 events.
 */
export class MerkleTiles {
  private readonly pending = Buffer.alloc(TILE_LEAVES * HASH_SIZE);
  private fill = 0;
  private readonly done: Buffer[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(leaf: Uint8Array): void {
    this.pending.set(leaf, this.fill * HASH_SIZE);
    this.count++;
    if (++this.fill === TILE_LEAVES) {
      this.done.push(rootFromLeafHashes(this.pending));
      this.fill = 0;
    }
  }

  /** Hashes of the complete tiles so far, back to back. */
  hashes(): Buffer {
    return Buffer.concat(this.done);
  }
}

/**
 * A range proof that lines [start, end) of a bundle are leaves start..end-1 of a signed tree of
 * size n, and the cheapest form we found that needs only RFC 9162 parts:
 * - leftFrontier: the compact range [0, start), i.e. popcount(start) subtree hashes. Appending the
 *   bundle's leaf hashes to it yields the compact range [0, end) and so MTH(D[0:end]).
 * - consistency: the RFC 9162 consistency proof from tree size `end` to n, which takes that
 *   MTH(D[0:end]) to the signed root.
 * At most 2*log2(n)+1 hashes; a full export (start 0, end n) needs none and is checked by
 * recomputing the root directly.
 */
export interface RangeProof {
  leftFrontier: Buffer[];
  consistency: Buffer[];
}

/**
 * Checks that `leafHashes` are exactly leaves [start, end) of the tree of `treeSize` leaves whose
 * root is `signedRoot`, using a RangeProof. On failure, names the step that failed.
 */
export function verifyRangeProof(
  start: number,
  end: number,
  leafHashes: readonly Uint8Array[] | Uint8Array,
  treeSize: number,
  proof: RangeProof,
  signedRoot: Uint8Array,
): { ok: true } | { ok: false; reason: string } {
  let frontier: MerkleFrontier;
  try {
    frontier = new MerkleFrontier(start, proof.leftFrontier);
  } catch (e) {
    return { ok: false, reason: `left frontier: ${(e as Error).message}` };
  }
  if (Array.isArray(leafHashes)) for (const h of leafHashes as readonly Uint8Array[]) frontier.append(h);
  else {
    const flat = leafHashes as Uint8Array;
    for (let i = 0; i < flat.length; i += HASH_SIZE) frontier.append(flat.subarray(i, i + HASH_SIZE));
  }
  if (frontier.size !== end) {
    return { ok: false, reason: `range [${start}, ${end}) needs ${end - start} leaves, got ${frontier.size - start}` };
  }
  if (end > treeSize) return { ok: false, reason: `range ends at ${end}, beyond tree size ${treeSize}` };
  const rootAtEnd = frontier.root();
  if (end === treeSize) {
    if (proof.consistency.length !== 0) return { ok: false, reason: 'range reaches the tree size but carries a consistency proof' };
    return rootAtEnd.equals(signedRoot) ? { ok: true } : { ok: false, reason: 'recomputed root differs from the signed root' };
  }
  return verifyConsistency(end, treeSize, rootAtEnd, signedRoot, proof.consistency)
    ? { ok: true }
    : { ok: false, reason: `consistency proof from size ${end} to ${treeSize} does not reach the signed root` };
}

/** RFC 9162 section 2.1.3.2: the root an inclusion proof leads to, or null if the proof is malformed. */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
): Buffer | null {
  if (!(index >= 0 && index < size) || leaf.length !== HASH_SIZE) return null;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (p.length !== HASH_SIZE || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const r = rootFromInclusionProof(index, size, leaf, proof);
  return r !== null && root.length === HASH_SIZE && r.equals(root);
}

/** RFC 9162 section 2.1.4.2, plus the trivial cases (equal sizes, empty old tree). */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!(size1 >= 0 && size1 <= size2)) return false;
  if (root1.length !== HASH_SIZE || root2.length !== HASH_SIZE) return false;
  if (size1 === size2) return proof.length === 0 && Buffer.from(root1).equals(root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  for (const p of proof) if (p.length !== HASH_SIZE) return false;
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]);
  let sr: Buffer = Buffer.from(path[0]);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}
