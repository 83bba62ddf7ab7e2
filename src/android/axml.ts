// Android binary XML (AXML), the compiled form of AndroidManifest.xml. Layout from AOSP
// frameworks/base/libs/androidfw/include/androidfw/ResourceTypes.h (ResChunk_header, ResStringPool_header,
// ResXMLTree_node, ResXMLTree_attrExt, Res_value). Every offset is bounds-checked against its chunk.
import { ApkFormatError } from './zip';

const RES_STRING_POOL_TYPE = 0x0001;
const RES_XML_TYPE = 0x0003;
const RES_XML_START_NAMESPACE_TYPE = 0x0100;
const RES_XML_END_NAMESPACE_TYPE = 0x0101;
const RES_XML_START_ELEMENT_TYPE = 0x0102;
const RES_XML_END_ELEMENT_TYPE = 0x0103;
const RES_XML_CDATA_TYPE = 0x0104;
const RES_XML_RESOURCE_MAP_TYPE = 0x0180;

const UTF8_FLAG = 0x100;
const NO_INDEX = 0xffffffff;

/** Res_value data types (ResourceTypes.h). */
export const ResValueType = {
  NULL: 0x00,
  REFERENCE: 0x01,
  ATTRIBUTE: 0x02,
  STRING: 0x03,
  FLOAT: 0x04,
  DYNAMIC_REFERENCE: 0x07,
  INT_DEC: 0x10,
  INT_HEX: 0x11,
  INT_BOOLEAN: 0x12,
} as const;

export type AxmlValue =
  | { type: 'string'; value: string }
  | { type: 'int'; value: number }
  | { type: 'boolean'; value: boolean }
  | { type: 'reference'; id: number }
  | { type: 'float'; value: number }
  | { type: 'null' }
  | { type: 'other'; dataType: number; data: number };

export interface AxmlAttribute {
  namespace: string | null;
  name: string;
  /** Framework resource id of the attribute (from the resource map), e.g. 0x01010003 for android:name. */
  resourceId: number | null;
  value: AxmlValue;
}

export interface AxmlElement {
  name: string;
  namespace: string | null;
  attributes: AxmlAttribute[];
  children: AxmlElement[];
  line: number;
}

export interface AxmlLimits {
  maxStrings: number;
  maxDepth: number;
  maxElements: number;
}

export const defaultAxmlLimits: AxmlLimits = { maxStrings: 200_000, maxDepth: 64, maxElements: 200_000 };

function fail(message: string): never {
  throw new ApkFormatError('malformed-manifest', `AndroidManifest.xml: ${message}`);
}

/** A ResStringPool: UTF-8 or UTF-16 strings, decoded lazily and cached. */
export class StringPool {
  private readonly cache: (string | undefined)[];
  private readonly utf8: boolean;
  private readonly offsets: number[];
  private readonly dataStart: number;
  private readonly dataEnd: number;

  constructor(
    private readonly buf: Buffer,
    chunkStart: number,
    chunkEnd: number,
    limits: AxmlLimits = defaultAxmlLimits,
  ) {
    const headerSize = buf.readUInt16LE(chunkStart + 2);
    if (headerSize < 28 || chunkStart + headerSize > chunkEnd) fail('string pool header is too short');
    const stringCount = buf.readUInt32LE(chunkStart + 8);
    const styleCount = buf.readUInt32LE(chunkStart + 12);
    const flags = buf.readUInt32LE(chunkStart + 16);
    const stringsStart = buf.readUInt32LE(chunkStart + 20);
    const stylesStart = buf.readUInt32LE(chunkStart + 24);
    if (stringCount > limits.maxStrings) fail(`string pool has ${stringCount} strings, over the limit`);
    const offsetsStart = chunkStart + headerSize;
    if (offsetsStart + 4 * (stringCount + styleCount) > chunkEnd) fail('string pool offsets run past the chunk');
    if (stringCount > 0 && (stringsStart === 0 || chunkStart + stringsStart > chunkEnd)) fail('string pool data is outside the chunk');
    this.utf8 = (flags & UTF8_FLAG) !== 0;
    this.dataStart = chunkStart + stringsStart;
    this.dataEnd = stylesStart !== 0 && chunkStart + stylesStart <= chunkEnd && stylesStart > stringsStart ? chunkStart + stylesStart : chunkEnd;
    this.offsets = [];
    for (let i = 0; i < stringCount; i++) this.offsets.push(buf.readUInt32LE(offsetsStart + 4 * i));
    this.cache = new Array<string | undefined>(stringCount);
  }

  get length(): number {
    return this.offsets.length;
  }

  get(index: number): string {
    if (index < 0 || index >= this.offsets.length) fail(`string index ${index} is outside the pool of ${this.offsets.length}`);
    const cached = this.cache[index];
    if (cached !== undefined) return cached;
    const s = this.utf8 ? this.readUtf8(this.dataStart + this.offsets[index]) : this.readUtf16(this.dataStart + this.offsets[index]);
    this.cache[index] = s;
    return s;
  }

  /** An optional string reference: 0xffffffff means none. */
  opt(index: number): string | null {
    return index === NO_INDEX ? null : this.get(index);
  }

  private need(p: number, n: number): void {
    if (p < this.dataStart || p + n > this.dataEnd) fail('string runs past the string pool');
  }

  // UTF-8 pool entry: UTF-16 length then UTF-8 byte length, each 1 byte or 2 with the high bit set.
  private readUtf8(p: number): string {
    const len8 = (q: number): [number, number] => {
      this.need(q, 1);
      const a = this.buf[q];
      if ((a & 0x80) === 0) return [a, q + 1];
      this.need(q, 2);
      return [((a & 0x7f) << 8) | this.buf[q + 1], q + 2];
    };
    const [, q1] = len8(p);
    const [byteLength, q2] = len8(q1);
    this.need(q2, byteLength);
    return this.buf.toString('utf8', q2, q2 + byteLength);
  }

  // UTF-16 pool entry: length in code units, 1 or 2 u16 with the high bit set, then little-endian code units.
  private readUtf16(p: number): string {
    this.need(p, 2);
    let len = this.buf.readUInt16LE(p);
    let q = p + 2;
    if (len & 0x8000) {
      this.need(p, 4);
      len = ((len & 0x7fff) << 16) | this.buf.readUInt16LE(p + 2);
      q = p + 4;
    }
    this.need(q, len * 2);
    return this.buf.toString('utf16le', q, q + len * 2);
  }
}

function readValue(buf: Buffer, p: number, strings: StringPool): AxmlValue {
  // Res_value: u16 size, u8 res0, u8 dataType, u32 data.
  const dataType = buf[p + 3];
  const data = buf.readUInt32LE(p + 4);
  switch (dataType) {
    case ResValueType.NULL:
      return { type: 'null' };
    case ResValueType.STRING:
      return { type: 'string', value: strings.get(data) };
    case ResValueType.INT_DEC:
    case ResValueType.INT_HEX:
      return { type: 'int', value: data | 0 };
    case ResValueType.INT_BOOLEAN:
      return { type: 'boolean', value: data !== 0 };
    case ResValueType.REFERENCE:
    case ResValueType.DYNAMIC_REFERENCE:
      return { type: 'reference', id: data };
    case ResValueType.FLOAT:
      return { type: 'float', value: buf.readFloatLE(p + 4) };
    default:
      return { type: 'other', dataType, data };
  }
}

/** Parses a binary XML document into an element tree. */
export function parseAxml(buf: Buffer, limits: AxmlLimits = defaultAxmlLimits): AxmlElement {
  if (buf.length < 8) fail('too short to be binary XML');
  if (buf.readUInt16LE(0) !== RES_XML_TYPE) {
    fail(buf.subarray(0, 5).toString('latin1') === '<?xml' ? 'is plain-text XML, not compiled: this is not a built APK' : 'is not Android binary XML');
  }
  const docHeaderSize = buf.readUInt16LE(2);
  const docSize = buf.readUInt32LE(4);
  if (docHeaderSize < 8 || docSize > buf.length || docSize < docHeaderSize) fail('document chunk size is invalid');

  let strings: StringPool | null = null;
  let resourceMap: number[] = [];
  const stack: AxmlElement[] = [];
  let root: AxmlElement | null = null;
  let elementCount = 0;

  let p = docHeaderSize;
  while (p < docSize) {
    if (p + 8 > docSize) fail('chunk header runs past the document');
    const type = buf.readUInt16LE(p);
    const headerSize = buf.readUInt16LE(p + 2);
    const size = buf.readUInt32LE(p + 4);
    if (headerSize < 8 || size < headerSize || p + size > docSize) fail(`chunk at offset ${p} has an invalid size`);
    const end = p + size;
    switch (type) {
      case RES_STRING_POOL_TYPE:
        if (strings) fail('has two string pools');
        strings = new StringPool(buf, p, end, limits);
        break;
      case RES_XML_RESOURCE_MAP_TYPE: {
        const n = (size - headerSize) >>> 2;
        resourceMap = [];
        for (let i = 0; i < n; i++) resourceMap.push(buf.readUInt32LE(p + headerSize + 4 * i));
        break;
      }
      case RES_XML_START_NAMESPACE_TYPE:
      case RES_XML_END_NAMESPACE_TYPE: {
        // Attributes carry their namespace URI themselves, so only the chunk's shape is checked.
        if (!strings) fail('namespace before the string pool');
        if (headerSize < 16 || p + headerSize + 8 > end) fail('namespace chunk is too short');
        strings.opt(buf.readUInt32LE(p + headerSize));
        strings.get(buf.readUInt32LE(p + headerSize + 4));
        break;
      }
      case RES_XML_START_ELEMENT_TYPE: {
        if (!strings) fail('element before the string pool');
        // ResXMLTree_node (16 bytes) then ResXMLTree_attrExt (20 bytes).
        if (headerSize < 16 || p + headerSize + 20 > end) fail('start element chunk is too short');
        const line = buf.readUInt32LE(p + 8);
        const ext = p + headerSize;
        const ns = strings.opt(buf.readUInt32LE(ext));
        const name = strings.get(buf.readUInt32LE(ext + 4));
        const attributeStart = buf.readUInt16LE(ext + 8);
        const attributeSize = buf.readUInt16LE(ext + 10);
        const attributeCount = buf.readUInt16LE(ext + 12);
        if (attributeCount > 0 && attributeSize < 20) fail(`element <${name}> has attributes smaller than 20 bytes`);
        if (ext + attributeStart + attributeCount * attributeSize > end) fail(`element <${name}> attributes run past the chunk`);
        const attributes: AxmlAttribute[] = [];
        for (let i = 0; i < attributeCount; i++) {
          const a = ext + attributeStart + i * attributeSize;
          const nameIndex = buf.readUInt32LE(a + 4);
          const rawValue = buf.readUInt32LE(a + 8);
          let value = readValue(buf, a + 12, strings);
          // A string attribute carries its text in rawValue; aapt keeps the two in step.
          if (value.type === 'other' && rawValue !== NO_INDEX) value = { type: 'string', value: strings.get(rawValue) };
          attributes.push({
            namespace: strings.opt(buf.readUInt32LE(a)),
            name: strings.get(nameIndex),
            resourceId: nameIndex < resourceMap.length ? resourceMap[nameIndex] : null,
            value,
          });
        }
        const element: AxmlElement = { name, namespace: ns, attributes, children: [], line };
        if (++elementCount > limits.maxElements) fail('has too many elements');
        if (stack.length >= limits.maxDepth) fail('nests elements too deeply');
        if (stack.length > 0) stack[stack.length - 1].children.push(element);
        else if (root) fail('has more than one root element');
        else root = element;
        stack.push(element);
        break;
      }
      case RES_XML_END_ELEMENT_TYPE: {
        if (!strings) fail('element before the string pool');
        if (headerSize < 16 || p + headerSize + 8 > end) fail('end element chunk is too short');
        const name = strings.get(buf.readUInt32LE(p + headerSize + 4));
        const open = stack.pop();
        if (!open || open.name !== name) fail(`end of <${name}> does not match the open element`);
        break;
      }
      case RES_XML_CDATA_TYPE:
        break;
      default:
        // Unknown chunks are skipped, as AOSP's ResXMLParser does.
        break;
    }
    p = end;
  }
  if (stack.length > 0) fail(`element <${stack[stack.length - 1].name}> is never closed`);
  if (!root) fail('has no root element');
  return root;
}
