// ZIP reader for APKs (PKWARE APPNOTE.TXT 6.3.x): the central directory, stored and deflated entries.
// Strict on purpose: an APK that Android's own libziparchive would refuse is refused here too, with a
// reason a hospital network team can act on, and nothing in it can make us allocate unbounded memory.
import zlib from 'node:zlib';

export class ApkFormatError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApkFormatError';
  }
}

export interface ZipLimits {
  /** Largest number of central-directory entries accepted. */
  maxEntries: number;
  /** Largest uncompressed size of one entry we are asked to inflate. */
  maxEntryBytes: number;
  /** Largest compression ratio (uncompressed / compressed) of an entry we inflate: a zip-bomb guard. */
  maxRatio: number;
}

export const defaultZipLimits: ZipLimits = {
  maxEntries: 65_535,
  maxEntryBytes: 64 * 1024 * 1024,
  maxRatio: 1_000,
};

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Offset of the entry's data, past its local header. */
  dataOffset: number;
}

export interface ZipDirectory {
  entries: ZipEntry[];
  byName: Map<string, ZipEntry>;
  centralDirectoryOffset: number;
  centralDirectorySize: number;
  eocdOffset: number;
}

const EOCD_SIG = 0x06054b50;
const CDH_SIG = 0x02014b50;
const LFH_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const CDH_SIZE = 46;
const LFH_SIZE = 30;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;

function fail(reason: string, message: string): never {
  throw new ApkFormatError(reason, message);
}

/** Finds the End Of Central Directory record: it must end exactly at the end of the file (APPNOTE 4.3.16). */
function findEocd(buf: Buffer): number {
  if (buf.length < EOCD_SIZE) fail('not-a-zip', `file is ${buf.length} bytes, too short to be a ZIP/APK`);
  const lowest = Math.max(0, buf.length - EOCD_SIZE - 0xffff);
  for (let i = buf.length - EOCD_SIZE; i >= lowest; i--) {
    if (buf.readUInt32LE(i) !== EOCD_SIG) continue;
    const commentLength = buf.readUInt16LE(i + 20);
    // A signature that happens to sit inside the comment would not reach the end exactly.
    if (i + EOCD_SIZE + commentLength === buf.length) return i;
  }
  fail('not-a-zip', 'no ZIP end-of-central-directory record: not an APK, or the file is truncated');
}

/** Reads and cross-checks the central directory and every local header; inflates nothing. */
export function readZipDirectory(buf: Buffer, limits: ZipLimits = defaultZipLimits): ZipDirectory {
  const eocdOffset = findEocd(buf);
  const diskNumber = buf.readUInt16LE(eocdOffset + 4);
  const cdDisk = buf.readUInt16LE(eocdOffset + 6);
  const entriesOnDisk = buf.readUInt16LE(eocdOffset + 8);
  const totalEntries = buf.readUInt16LE(eocdOffset + 10);
  const cdSize = buf.readUInt32LE(eocdOffset + 12);
  const cdOffset = buf.readUInt32LE(eocdOffset + 16);
  if (diskNumber !== 0 || cdDisk !== 0 || entriesOnDisk !== totalEntries) {
    fail('unsupported-zip', 'multi-disk (split) ZIP archives are not APKs');
  }
  if (totalEntries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    fail('unsupported-zip', 'ZIP64 archives are not supported for APKs');
  }
  if (totalEntries > limits.maxEntries) {
    fail('zip-limit', `APK has ${totalEntries} entries, more than the limit of ${limits.maxEntries}`);
  }
  // APK Signature Scheme v2 requires the central directory to end where the EOCD starts.
  if (cdOffset + cdSize !== eocdOffset) {
    fail('malformed-zip', 'central directory does not end where the end-of-central-directory record starts');
  }

  const entries: ZipEntry[] = [];
  const byName = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let n = 0; n < totalEntries; n++) {
    if (p + CDH_SIZE > eocdOffset) fail('malformed-zip', `central directory entry ${n} runs past the directory`);
    if (buf.readUInt32LE(p) !== CDH_SIG) fail('malformed-zip', `central directory entry ${n} has a bad signature`);
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc32 = buf.readUInt32LE(p + 16);
    const compressedSize = buf.readUInt32LE(p + 20);
    const uncompressedSize = buf.readUInt32LE(p + 24);
    const nameLength = buf.readUInt16LE(p + 28);
    const extraLength = buf.readUInt16LE(p + 30);
    const commentLength = buf.readUInt16LE(p + 32);
    const localHeaderOffset = buf.readUInt32LE(p + 42);
    const end = p + CDH_SIZE + nameLength + extraLength + commentLength;
    if (end > eocdOffset) fail('malformed-zip', `central directory entry ${n} runs past the directory`);
    const nameBytes = buf.subarray(p + CDH_SIZE, p + CDH_SIZE + nameLength);
    const name = nameBytes.toString('utf8');
    if (nameLength === 0 || nameBytes.includes(0)) fail('malformed-zip', `central directory entry ${n} has an invalid name`);
    if (flags & 0x0001) fail('unsupported-zip', `entry ${name} is encrypted`);
    if (method !== METHOD_STORED && method !== METHOD_DEFLATED) {
      fail('unsupported-zip', `entry ${name} uses compression method ${method} (only stored and deflate are valid in an APK)`);
    }
    if (method === METHOD_STORED && compressedSize !== uncompressedSize) {
      fail('malformed-zip', `stored entry ${name} has different compressed and uncompressed sizes`);
    }
    // Two entries with one name is the "Master Key" attack (Android bug 8219321): refuse outright.
    if (byName.has(name)) fail('malformed-zip', `entry ${name} appears twice in the central directory`);

    // The local header must agree with the central directory (Android's libziparchive checks the same).
    const lh = localHeaderOffset;
    if (lh + LFH_SIZE > cdOffset) fail('malformed-zip', `entry ${name}: local header is outside the entries section`);
    if (buf.readUInt32LE(lh) !== LFH_SIG) fail('malformed-zip', `entry ${name}: bad local header signature`);
    const localNameLength = buf.readUInt16LE(lh + 26);
    const localExtraLength = buf.readUInt16LE(lh + 28);
    const dataOffset = lh + LFH_SIZE + localNameLength + localExtraLength;
    if (dataOffset > cdOffset) fail('malformed-zip', `entry ${name}: local header runs past the entries section`);
    if (!buf.subarray(lh + LFH_SIZE, lh + LFH_SIZE + localNameLength).equals(nameBytes)) {
      fail('malformed-zip', `entry ${name}: local header names a different file`);
    }
    if (dataOffset + compressedSize > cdOffset) fail('malformed-zip', `entry ${name}: data runs past the entries section`);

    const entry: ZipEntry = { name, method, flags, crc32, compressedSize, uncompressedSize, localHeaderOffset, dataOffset };
    entries.push(entry);
    byName.set(name, entry);
    p = end;
  }
  if (p !== eocdOffset) fail('malformed-zip', 'central directory size does not match its entries');
  return { entries, byName, centralDirectoryOffset: cdOffset, centralDirectorySize: cdSize, eocdOffset };
}

/** Returns an entry's bytes, inflating deflated entries under the size and ratio limits, and checks its CRC-32. */
export function readZipEntry(buf: Buffer, entry: ZipEntry, limits: ZipLimits = defaultZipLimits): Buffer {
  if (entry.uncompressedSize > limits.maxEntryBytes) {
    fail('zip-limit', `entry ${entry.name} is ${entry.uncompressedSize} bytes uncompressed, over the limit of ${limits.maxEntryBytes}`);
  }
  const raw = buf.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
  let data: Buffer;
  if (entry.method === METHOD_STORED) {
    data = raw;
  } else {
    if (entry.uncompressedSize > Math.max(1, entry.compressedSize) * limits.maxRatio) {
      fail('zip-limit', `entry ${entry.name} claims a compression ratio over ${limits.maxRatio}:1`);
    }
    try {
      // maxOutputLength bounds the allocation whatever the declared size says (one extra byte to detect a lie).
      data = zlib.inflateRawSync(raw, { maxOutputLength: entry.uncompressedSize + 1 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') fail('malformed-zip', `entry ${entry.name} inflates past its declared size`);
      fail('malformed-zip', `entry ${entry.name} is not valid deflate data`);
    }
  }
  if (data.length !== entry.uncompressedSize) {
    fail('malformed-zip', `entry ${entry.name} is ${data.length} bytes, its header says ${entry.uncompressedSize}`);
  }
  if (zlib.crc32(data) !== entry.crc32) fail('malformed-zip', `entry ${entry.name} fails its CRC-32 check`);
  return data;
}
