// POSIX ustar archives (IEEE Std 1003.1 "pax" utility, ustar interchange format): the container of an
// audit bundle. The writer makes plain regular-file entries that GNU tar, bsdtar and Python's tarfile
// all read; the reader accepts only that shape and refuses anything truncated, oversized or odd, so
// a verifier never guesses at what an archive means.

export const BLOCK = 512;
/** Largest size an ustar header's 11 octal digits can state; larger files get a pax `size` record. */
const USTAR_MAX_SIZE = 0o77777777777;

export interface TarFile {
  name: string;
  data: Uint8Array;
  /** Modification time (default: the Unix epoch, so archives of equal content are equal bytes). */
  mtime?: Date;
  mode?: number;
}

export interface TarEntry {
  name: string;
  /** A view into the archive bytes (no copy). */
  data: Buffer;
  mode: number;
  mtime: Date;
  /** Byte offset of the entry's header in the archive. */
  offset: number;
}

export class TarFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`tar: ${message} (at byte ${offset})`);
    this.name = 'TarFormatError';
  }
}

// Names are flat ASCII with no path tricks: a bundle is a handful of well-known files.
const NAME = /^[A-Za-z0-9._-]{1,100}$/;

function octal(value: number, width: number): string {
  // width - 1 digits, zero padded, then NUL.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, size: number, mtime: number, mode: number, type: '0' | 'x'): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'ascii');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(Math.min(size, USTAR_MAX_SIZE), 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum is computed with its own field as spaces
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  h.write(octal(0, 8), 329, 'ascii');
  h.write(octal(0, 8), 337, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** pax extended header record: "<len> key=value\n", where len counts the whole record. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

/**
 * The header block(s) for one regular file of `size` bytes. Stream the data after it, then
 * tarPadding(size); end the archive with TAR_END.
 */
export function tarHeader(name: string, size: number, mtime = new Date(0), mode = 0o644): Buffer {
  if (!NAME.test(name) || name === '.' || name === '..') throw new RangeError(`tar: unsupported entry name ${JSON.stringify(name)}`);
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`tar: bad size ${size}`);
  const seconds = Math.max(0, Math.floor(mtime.getTime() / 1000));
  const file = header(name, size, seconds, mode, '0');
  if (size <= USTAR_MAX_SIZE) return file;
  const pax = Buffer.from(paxRecord('size', String(size)), 'ascii');
  return Buffer.concat([header('PaxHeader', pax.length, seconds, 0o644, 'x'), pax, tarPadding(pax.length), file]);
}

export function tarPadding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** End of archive: two zero blocks. */
export const TAR_END: Buffer = Buffer.alloc(2 * BLOCK);

export function writeTar(files: readonly TarFile[]): Buffer {
  const names = new Set<string>();
  const parts: Buffer[] = [];
  for (const f of files) {
    if (names.has(f.name)) throw new RangeError(`tar: duplicate entry ${f.name}`);
    names.add(f.name);
    parts.push(tarHeader(f.name, f.data.length, f.mtime, f.mode), Buffer.from(f.data.buffer, f.data.byteOffset, f.data.length), tarPadding(f.data.length));
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

export interface ReadTarOptions {
  /** Refuse more entries than this (default 64). */
  maxEntries?: number;
  /** Refuse an entry declaring more bytes than this (default 2^40). */
  maxEntrySize?: number;
}

function field(h: Buffer, start: number, len: number): string {
  const raw = h.subarray(start, start + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? len : nul).toString('latin1');
}

/** An octal number field: digits, then NUL or space terminators only. */
function numeric(h: Buffer, start: number, len: number, what: string, offset: number): number {
  const raw = h.subarray(start, start + len).toString('latin1');
  const m = /^ *([0-7]+)[ \0]*$/.exec(raw);
  if (!m) throw new TarFormatError(`${what} field ${JSON.stringify(raw)} is not an octal number`, offset + start);
  const v = parseInt(m[1], 8);
  if (!Number.isSafeInteger(v)) throw new TarFormatError(`${what} field is out of range`, offset + start);
  return v;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function parsePax(data: Buffer, offset: number): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    const lenText = sp === -1 ? '' : data.subarray(i, sp).toString('ascii');
    if (!/^[1-9][0-9]{0,8}$/.test(lenText)) throw new TarFormatError('malformed pax record length', offset);
    const len = Number(lenText);
    if (i + len > data.length || data[i + len - 1] !== 0x0a) throw new TarFormatError('malformed pax record', offset);
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq <= 0) throw new TarFormatError('pax record without key', offset);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/**
 * Reads an archive of regular files. Throws TarFormatError naming what is wrong and where for a
 * short archive, a bad checksum, a non-ustar header, links or devices, names with path parts,
 * duplicates, non-zero padding, a missing end marker or bytes after it.
 */
export function readTar(bytes: Uint8Array, options: ReadTarOptions = {}): TarEntry[] {
  const maxEntries = options.maxEntries ?? 64;
  const maxEntrySize = options.maxEntrySize ?? 2 ** 40;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length % BLOCK !== 0) {
    throw new TarFormatError(`archive is ${buf.length} bytes, not a whole number of 512-byte blocks (truncated?)`, buf.length);
  }
  const entries: TarEntry[] = [];
  const names = new Set<string>();
  let pax: Map<string, string> | null = null;
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > buf.length) throw new TarFormatError('archive ends without the end-of-archive marker (truncated)', offset);
    const h = buf.subarray(offset, offset + BLOCK);
    if (isZero(h)) {
      if (pax) throw new TarFormatError('pax header not followed by a file', offset);
      if (offset + 2 * BLOCK > buf.length) throw new TarFormatError('end-of-archive marker is one block, not two (truncated)', offset);
      if (!isZero(buf.subarray(offset + BLOCK, offset + 2 * BLOCK))) throw new TarFormatError('zero block followed by data', offset);
      if (!isZero(buf.subarray(offset + 2 * BLOCK))) throw new TarFormatError('data after the end-of-archive marker', offset + 2 * BLOCK);
      return entries;
    }
    const stored = numeric(h, 148, 8, 'checksum', offset);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
    if (sum !== stored) throw new TarFormatError(`header checksum mismatch (stored ${stored}, computed ${sum})`, offset);
    if (h.subarray(257, 263).toString('latin1') !== 'ustar\0' || h.subarray(263, 265).toString('latin1') !== '00') {
      throw new TarFormatError('not a POSIX ustar header (magic/version)', offset + 257);
    }
    const type = String.fromCharCode(h[156]);
    const mode = numeric(h, 100, 8, 'mode', offset);
    const mtime = numeric(h, 136, 12, 'mtime', offset);
    let size = numeric(h, 124, 12, 'size', offset);
    if (type === '0' && pax?.has('size')) {
      const s = pax.get('size')!;
      if (!/^[0-9]{1,16}$/.test(s)) throw new TarFormatError('pax size is not a decimal number', offset);
      size = Number(s);
    }
    if (!Number.isSafeInteger(size) || size > maxEntrySize) {
      throw new TarFormatError(`entry declares ${size} bytes, more than the ${maxEntrySize} allowed (oversized)`, offset + 124);
    }
    const dataStart = offset + BLOCK;
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (dataStart + padded > buf.length) {
      throw new TarFormatError(`entry declares ${size} bytes but only ${Math.max(0, buf.length - dataStart)} remain (truncated)`, offset);
    }
    if (!isZero(buf.subarray(dataStart + size, dataStart + padded))) throw new TarFormatError('non-zero padding after entry data', dataStart + size);
    const data = buf.subarray(dataStart, dataStart + size);
    if (type === 'x') {
      if (pax) throw new TarFormatError('two pax headers in a row', offset);
      pax = parsePax(data, offset);
    } else if (type === '0' || type === '\0') {
      const prefix = field(h, 345, 155);
      let name = field(h, 0, 100);
      if (prefix) name = `${prefix}/${name}`;
      if (pax?.has('path')) name = pax.get('path')!;
      if (!NAME.test(name) || name === '.' || name === '..') {
        throw new TarFormatError(`entry name ${JSON.stringify(name)} is not a plain file name`, offset);
      }
      if (names.has(name)) throw new TarFormatError(`duplicate entry ${name}`, offset);
      names.add(name);
      if (entries.length >= maxEntries) throw new TarFormatError(`more than ${maxEntries} entries`, offset);
      entries.push({ name, data, mode, mtime: new Date(mtime * 1000), offset });
      pax = null;
    } else {
      throw new TarFormatError(`entry type ${JSON.stringify(type)} is not a regular file`, offset + 156);
    }
    offset = dataStart + padded;
  }
}
