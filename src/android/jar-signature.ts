// v1 (JAR) APK signatures, the fallback for APKs without an APK Signing Block: META-INF/<name>.RSA|.EC|.DSA
// holds a PKCS#7 SignedData (RFC 2315 section 9) over META-INF/<name>.SF, which digests MANIFEST.MF,
// which digests every entry (JAR File Specification, "Signed JAR File"; Android's rules from apksig's
// V1SchemeVerifier: every entry outside the signature files must be covered).
import crypto from 'node:crypto';
import { Tag, bytes, children, content, expect, oid, readTlv } from './der';
import { ApkFormatError, readZipEntry, type ZipDirectory, type ZipLimits } from './zip';

export interface JarSigner {
  /** Base name of the signature files, e.g. "CERT" for META-INF/CERT.SF + META-INF/CERT.RSA. */
  name: string;
  /** DER certificates: the one that signed first, then the rest of the PKCS#7 certificate set. */
  certificates: Buffer[];
  /** Schemes the .SF says the APK was also signed with (X-Android-APK-Signed), e.g. [2, 3]. */
  androidApkSigned: number[];
}

export interface JarLimits extends ZipLimits {
  /** Total uncompressed bytes hashed while checking MANIFEST.MF digests. */
  maxTotalBytes: number;
}

function fail(message: string): never {
  throw new ApkFormatError('bad-signature', `v1 signature: ${message}`);
}

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const DIGEST_OIDS = new Map<string, string>([
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.4', 'sha224'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);
// Digest names in MANIFEST.MF / .SF attribute names ("SHA-256-Digest"), strongest first.
const JAR_DIGESTS: [string, string][] = [
  ['SHA-512', 'sha512'],
  ['SHA-384', 'sha384'],
  ['SHA-256', 'sha256'],
  ['SHA1', 'sha1'],
  ['SHA-1', 'sha1'],
];

/** Signature block files, the .SF files and the manifest are what v1 signing adds; everything else is covered. */
export function isJarSignatureFile(name: string): boolean {
  if (!name.startsWith('META-INF/') || name.indexOf('/', 9) !== -1) return false;
  const base = name.slice(9).toUpperCase();
  return base === 'MANIFEST.MF' || base.startsWith('SIG-') || /\.(SF|RSA|DSA|EC)$/.test(base);
}

interface ManifestSection {
  attributes: Map<string, string>;
  /** Exact bytes of the section including its terminating blank line, for per-section digests. */
  raw: Buffer;
}

/** Parses a JAR manifest (MANIFEST.MF or .SF): a main section and named sections, lines continued by a leading space. */
function parseManifest(buf: Buffer, what: string): { main: ManifestSection; sections: Map<string, ManifestSection> } {
  const all: ManifestSection[] = [];
  let attrs = new Map<string, string>();
  let sectionStart = 0;
  let lastKey: string | null = null;
  let hasLines = false;
  let p = 0;
  const close = (end: number) => {
    all.push({ attributes: attrs, raw: buf.subarray(sectionStart, end) });
    attrs = new Map();
    lastKey = null;
    hasLines = false;
  };
  while (p < buf.length) {
    let e = p;
    while (e < buf.length && buf[e] !== 0x0a && buf[e] !== 0x0d) e++;
    const line = buf.toString('utf8', p, e);
    // A line ends at CR LF, LF or CR.
    let next = e;
    if (next < buf.length && buf[next] === 0x0d) next++;
    if (next < buf.length && buf[next] === 0x0a && (next === e || buf[next - 1] === 0x0d)) next++;
    if (line.length === 0) {
      if (hasLines || all.length === 0) close(next);
      sectionStart = next;
    } else if (line.startsWith(' ')) {
      if (lastKey === null) fail(`${what}: continuation line without an attribute`);
      attrs.set(lastKey, attrs.get(lastKey) + line.slice(1));
      hasLines = true;
    } else {
      const colon = line.indexOf(': ');
      if (colon <= 0) fail(`${what}: malformed line "${line.slice(0, 40)}"`);
      lastKey = line.slice(0, colon);
      attrs.set(lastKey, line.slice(colon + 2));
      hasLines = true;
    }
    p = next;
  }
  if (hasLines || all.length === 0) close(buf.length);
  const [main, ...rest] = all;
  const sections = new Map<string, ManifestSection>();
  for (const s of rest) {
    const name = s.attributes.get('Name');
    if (name === undefined) fail(`${what}: section without a Name attribute`);
    if (sections.has(name)) fail(`${what}: two sections name ${name}`);
    sections.set(name, s);
  }
  return { main, sections };
}

/** Finds "<DIGEST><suffix>" in a section: the strongest digest present and its expected value. */
function digestAttribute(section: ManifestSection, suffix: string): { hash: string; expected: Buffer } | null {
  for (const [jarName, hash] of JAR_DIGESTS) {
    const v = section.attributes.get(`${jarName}${suffix}`);
    if (v !== undefined) return { hash, expected: Buffer.from(v, 'base64') };
  }
  return null;
}

function certificateIssuerAndSerial(cert: Buffer): { issuer: Buffer; serial: Buffer } {
  const outer = expect(readTlv(cert, 0), Tag.SEQUENCE, 'certificate');
  const tbs = expect(children(cert, outer)[0], Tag.SEQUENCE, 'tbsCertificate');
  const f = children(cert, tbs);
  const i = f[0]?.tag === Tag.CONTEXT_0 ? 1 : 0;
  return { serial: content(cert, expect(f[i], Tag.INTEGER, 'serial number')), issuer: bytes(cert, expect(f[i + 2], Tag.SEQUENCE, 'issuer')) };
}

/** Verifies a PKCS#7 SignedData over sfBytes and returns its certificates, signer first. */
function verifySignatureBlock(block: Buffer, sfBytes: Buffer, what: string): Buffer[] {
  const ci = expect(readTlv(block, 0), Tag.SEQUENCE, `${what}: ContentInfo`);
  if (ci.end !== block.length) fail(`${what}: trailing bytes after the PKCS#7 structure`);
  const [ctype, wrapped] = children(block, ci);
  if (oid(block, expect(ctype, Tag.OID, `${what}: content type`)) !== OID_SIGNED_DATA) fail(`${what}: not a PKCS#7 SignedData`);
  const sd = expect(children(block, expect(wrapped, Tag.CONTEXT_0, `${what}: [0] content`))[0], Tag.SEQUENCE, `${what}: SignedData`);
  const fields = children(block, sd);
  let i = 3; // version, digestAlgorithms, contentInfo
  const certificates: Buffer[] = [];
  if (fields[i]?.tag === Tag.CONTEXT_0) {
    for (const c of children(block, fields[i])) if (c.tag === Tag.SEQUENCE) certificates.push(Buffer.from(bytes(block, c)));
    i++;
  }
  if (fields[i]?.tag === Tag.CONTEXT_1) i++;
  const signerInfos = children(block, expect(fields[i], Tag.SET, `${what}: signerInfos`));
  if (signerInfos.length === 0) fail(`${what}: no SignerInfo`);
  if (certificates.length === 0) fail(`${what}: no certificates`);

  // Android accepts the block when a SignerInfo verifies (apksig V1SchemeVerifier); use the first one.
  const si = children(block, expect(signerInfos[0], Tag.SEQUENCE, `${what}: SignerInfo`));
  const sid = expect(si[1], Tag.SEQUENCE, `${what}: issuerAndSerialNumber`);
  const [sidIssuer, sidSerial] = children(block, sid);
  const issuer = bytes(block, expect(sidIssuer, Tag.SEQUENCE, `${what}: issuer`));
  const serial = content(block, expect(sidSerial, Tag.INTEGER, `${what}: serial`));
  const signerIndex = certificates.findIndex((c) => {
    const x = certificateIssuerAndSerial(c);
    return x.issuer.equals(issuer) && x.serial.equals(serial);
  });
  if (signerIndex < 0) fail(`${what}: the signer's certificate is not in the block`);

  const digestAlg = oid(block, expect(children(block, expect(si[2], Tag.SEQUENCE, `${what}: digestAlgorithm`))[0], Tag.OID, 'OID'));
  const hash = DIGEST_OIDS.get(digestAlg);
  if (!hash) fail(`${what}: unsupported digest algorithm ${digestAlg}`);
  let k = 3;
  let signedBytes: Buffer = sfBytes;
  if (si[k]?.tag === Tag.CONTEXT_0) {
    // RFC 2315 9.3: with authenticated attributes the signature covers their DER as a SET OF, and the
    // message-digest attribute carries the digest of the content.
    const attrs = si[k];
    let messageDigest: Buffer | null = null;
    for (const a of children(block, attrs)) {
      const [type, values] = children(block, expect(a, Tag.SEQUENCE, `${what}: attribute`));
      if (oid(block, expect(type, Tag.OID, 'OID')) === OID_MESSAGE_DIGEST) {
        messageDigest = content(block, expect(children(block, expect(values, Tag.SET, 'values'))[0], Tag.OCTET_STRING, 'messageDigest'));
      }
    }
    if (!messageDigest || !crypto.createHash(hash).update(sfBytes).digest().equals(messageDigest)) {
      fail(`${what}: message digest does not match the .SF file`);
    }
    signedBytes = Buffer.from(bytes(block, attrs));
    signedBytes[0] = Tag.SET;
    k++;
  }
  k++; // digestEncryptionAlgorithm: the key type comes from the certificate
  const signature = content(block, expect(si[k], Tag.OCTET_STRING, `${what}: encryptedDigest`));
  let ok = false;
  try {
    ok = crypto.verify(hash, signedBytes, new crypto.X509Certificate(certificates[signerIndex]).publicKey, signature);
  } catch {
    ok = false;
  }
  if (!ok) fail(`${what}: signature over the .SF file does not verify`);
  return [certificates[signerIndex], ...certificates.filter((_, j) => j !== signerIndex)];
}

function digestOf(hash: string, data: Buffer): Buffer {
  return crypto.createHash(hash).update(data).digest();
}

/**
 * Verifies the APK's v1 signature(s) end to end. Returns [] when the APK carries no v1 signature files.
 */
export function verifyJarSignature(buf: Buffer, zip: ZipDirectory, limits: JarLimits): JarSigner[] {
  const blocks = zip.entries.filter((e) => isJarSignatureFile(e.name) && /\.(RSA|DSA|EC)$/i.test(e.name));
  if (blocks.length === 0) return [];
  const mfEntry = zip.byName.get('META-INF/MANIFEST.MF');
  if (!mfEntry) fail('META-INF/MANIFEST.MF is missing');
  const mfBytes = readZipEntry(buf, mfEntry, limits);
  const mf = parseManifest(mfBytes, 'MANIFEST.MF');

  // MANIFEST.MF must cover every entry and every digest must match: read each entry once.
  let total = 0;
  for (const entry of zip.entries) {
    if (entry.name.endsWith('/') || isJarSignatureFile(entry.name)) continue;
    const section = mf.sections.get(entry.name);
    const d = section && digestAttribute(section, '-Digest');
    if (!d) fail(`entry ${entry.name} is not covered by MANIFEST.MF`);
    total += entry.uncompressedSize;
    if (total > limits.maxTotalBytes) fail(`APK contents exceed ${limits.maxTotalBytes} bytes while checking digests`);
    if (!digestOf(d.hash, readZipEntry(buf, entry, limits)).equals(d.expected)) fail(`entry ${entry.name} does not match its MANIFEST.MF digest`);
  }
  for (const name of mf.sections.keys()) {
    if (!zip.byName.has(name)) fail(`MANIFEST.MF names ${name}, which is not in the APK`);
  }

  return blocks.map((blockEntry) => {
    const name = blockEntry.name.slice(9, blockEntry.name.lastIndexOf('.'));
    const sfEntry = zip.byName.get(`META-INF/${name}.SF`);
    if (!sfEntry) fail(`${blockEntry.name} has no matching META-INF/${name}.SF`);
    const sfBytes = readZipEntry(buf, sfEntry, limits);
    const certificates = verifySignatureBlock(readZipEntry(buf, blockEntry, limits), sfBytes, blockEntry.name);
    const sf = parseManifest(sfBytes, `${name}.SF`);

    // Either the whole manifest digest matches, or every .SF section matches its MANIFEST.MF section.
    const whole = digestAttribute(sf.main, '-Digest-Manifest');
    if (!whole || !digestOf(whole.hash, mfBytes).equals(whole.expected)) {
      for (const entryName of mf.sections.keys()) {
        if (!sf.sections.has(entryName)) fail(`${name}.SF does not cover ${entryName}`);
      }
      for (const [entryName, section] of sf.sections) {
        const d = digestAttribute(section, '-Digest');
        const mfSection = mf.sections.get(entryName);
        if (!d || !mfSection || !digestOf(d.hash, mfSection.raw).equals(d.expected)) {
          fail(`${name}.SF digest of the MANIFEST.MF section for ${entryName} does not match`);
        }
      }
    }
    const signed = sf.main.attributes.get('X-Android-APK-Signed') ?? '';
    const androidApkSigned = signed
      .split(',')
      .map((s) => Number.parseInt(s.trim(), 10))
      .filter((n) => Number.isInteger(n));
    return { name, certificates, androidApkSigned };
  });
}

