// Writes small ZIP archives for tests, including deliberately broken ones (APPNOTE.TXT 4.3 layout).
import zlib from 'node:zlib';

export interface ZipWriterEntry {
  name: string;
  data: Buffer;
  method?: 0 | 8;
  /** Lies to tell in the headers. */
  crc32?: number;
  uncompressedSize?: number;
  localName?: string;
  flags?: number;
  methodField?: number;
}

export function writeZip(entries: ZipWriterEntry[], opts: { comment?: Buffer; cdOffsetDelta?: number; entryCount?: number } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const method = e.method ?? 0;
    const body = method === 8 ? zlib.deflateRawSync(e.data) : e.data;
    const crc = e.crc32 ?? zlib.crc32(e.data);
    const usize = e.uncompressedSize ?? e.data.length;
    const name = Buffer.from(e.name);
    const localName = Buffer.from(e.localName ?? e.name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(e.flags ?? 0, 6);
    lh.writeUInt16LE(e.methodField ?? method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(usize, 22);
    lh.writeUInt16LE(localName.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(e.flags ?? 0, 8);
    ch.writeUInt16LE(e.methodField ?? method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(usize, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, localName, body);
    centrals.push(ch, name);
    offset += lh.length + localName.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const comment = opts.comment ?? Buffer.alloc(0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.entryCount ?? entries.length, 8);
  eocd.writeUInt16LE(opts.entryCount ?? entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset + (opts.cdOffsetDelta ?? 0), 16);
  eocd.writeUInt16LE(comment.length, 20);
  return Buffer.concat([...locals, cd, eocd, comment]);
}
