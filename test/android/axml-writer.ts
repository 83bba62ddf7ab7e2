// Writes Android binary XML for tests (ResourceTypes.h layout), with UTF-8 or UTF-16 string pools, so the
// parser is checked on encodings and shapes aapt itself does not emit here, and on broken documents.
export type AxmlWriterValue = string | number | boolean | { ref: number };

export interface AxmlWriterAttr {
  ns?: string;
  name: string;
  /** Framework resource id placed in the resource map. */
  id?: number;
  value: AxmlWriterValue;
}

export interface AxmlWriterElement {
  name: string;
  attrs?: AxmlWriterAttr[];
  children?: AxmlWriterElement[];
}

export const ANDROID = 'http://schemas.android.com/apk/res/android';

function chunk(type: number, headerSize: number, header: Buffer, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(type, 0);
  h.writeUInt16LE(headerSize, 2);
  h.writeUInt32LE(8 + header.length + body.length, 4);
  return Buffer.concat([h, header, body]);
}

function encodeString(s: string, utf8: boolean): Buffer {
  if (utf8) {
    const b = Buffer.from(s, 'utf8');
    const len = (n: number) => (n > 0x7f ? Buffer.from([0x80 | (n >> 8), n & 0xff]) : Buffer.from([n]));
    return Buffer.concat([len(s.length), len(b.length), b, Buffer.from([0])]);
  }
  const b = Buffer.from(s, 'utf16le');
  const n = s.length;
  const len = Buffer.alloc(n > 0x7fff ? 4 : 2);
  if (n > 0x7fff) {
    len.writeUInt16LE(0x8000 | (n >>> 16), 0);
    len.writeUInt16LE(n & 0xffff, 2);
  } else len.writeUInt16LE(n, 0);
  return Buffer.concat([len, b, Buffer.alloc(2)]);
}

export function stringPool(strings: string[], utf8: boolean): Buffer {
  const data: Buffer[] = [];
  const offsets = Buffer.alloc(4 * strings.length);
  let off = 0;
  strings.forEach((s, i) => {
    const e = encodeString(s, utf8);
    offsets.writeUInt32LE(off, 4 * i);
    data.push(e);
    off += e.length;
  });
  let body = Buffer.concat([offsets, ...data]);
  if (body.length % 4) body = Buffer.concat([body, Buffer.alloc(4 - (body.length % 4))]);
  const header = Buffer.alloc(20);
  header.writeUInt32LE(strings.length, 0);
  header.writeUInt32LE(0, 4);
  header.writeUInt32LE(utf8 ? 0x100 : 0, 8);
  header.writeUInt32LE(28 + offsets.length, 12);
  header.writeUInt32LE(0, 16);
  return chunk(0x0001, 28, header, body);
}

export function writeAxml(root: AxmlWriterElement, opts: { utf8?: boolean; resourceMap?: boolean } = {}): Buffer {
  const utf8 = opts.utf8 ?? false;
  // Attribute names with resource ids come first so the resource map lines up with their indexes.
  const idKeys: { name: string; id: number }[] = [];
  const walk = (el: AxmlWriterElement) => {
    for (const a of el.attrs ?? []) {
      if (a.id !== undefined && !idKeys.some((k) => k.name === a.name && k.id === a.id)) idKeys.push({ name: a.name, id: a.id });
    }
    el.children?.forEach(walk);
  };
  walk(root);
  const strings: string[] = idKeys.map((k) => k.name);
  const index = (s: string) => {
    let i = strings.indexOf(s, idKeys.length);
    if (i < 0) {
      strings.push(s);
      i = strings.length - 1;
    }
    return i;
  };
  const attrNameIndex = (a: AxmlWriterAttr) => (a.id !== undefined ? idKeys.findIndex((k) => k.name === a.name && k.id === a.id) : index(a.name));

  const nodes: Buffer[] = [];
  const node = (type: number, line: number, ext: Buffer) => {
    const header = Buffer.alloc(8);
    header.writeUInt32LE(line, 0);
    header.writeUInt32LE(0xffffffff, 4);
    nodes.push(chunk(type, 16, header, ext));
  };
  let line = 1;
  const emit = (el: AxmlWriterElement) => {
    const attrs = el.attrs ?? [];
    const ext = Buffer.alloc(20 + 20 * attrs.length);
    ext.writeUInt32LE(0xffffffff, 0);
    ext.writeUInt32LE(index(el.name), 4);
    ext.writeUInt16LE(20, 8);
    ext.writeUInt16LE(20, 10);
    ext.writeUInt16LE(attrs.length, 12);
    attrs.forEach((a, i) => {
      const p = 20 + 20 * i;
      ext.writeUInt32LE(a.ns ? index(a.ns) : 0xffffffff, p);
      ext.writeUInt32LE(attrNameIndex(a), p + 4);
      let raw = 0xffffffff;
      let type = 0x10;
      let data = 0;
      if (typeof a.value === 'string') {
        raw = index(a.value);
        type = 0x03;
        data = raw;
      } else if (typeof a.value === 'number') {
        data = a.value >>> 0;
      } else if (typeof a.value === 'boolean') {
        type = 0x12;
        data = a.value ? 0xffffffff : 0;
      } else {
        type = 0x01;
        data = a.value.ref >>> 0;
      }
      ext.writeUInt32LE(raw, p + 8);
      ext.writeUInt16LE(8, p + 12);
      ext[p + 15] = type;
      ext.writeUInt32LE(data, p + 16);
    });
    node(0x0102, line++, ext);
    el.children?.forEach(emit);
    const end = Buffer.alloc(8);
    end.writeUInt32LE(0xffffffff, 0);
    end.writeUInt32LE(index(el.name), 4);
    node(0x0103, line++, end);
  };
  const nsExt = Buffer.alloc(8);
  nsExt.writeUInt32LE(index('android'), 0);
  nsExt.writeUInt32LE(index(ANDROID), 4);
  node(0x0100, 0, nsExt);
  emit(root);
  node(0x0101, line, nsExt);

  const parts: Buffer[] = [stringPool(strings, utf8)];
  if (opts.resourceMap ?? true) {
    const ids = Buffer.alloc(4 * idKeys.length);
    idKeys.forEach((k, i) => ids.writeUInt32LE(k.id, 4 * i));
    parts.push(chunk(0x0180, 8, Buffer.alloc(0), ids));
  }
  parts.push(...nodes);
  const body = Buffer.concat(parts);
  return chunk(0x0003, 8, Buffer.alloc(0), body);
}
