// Fuzz: reading an uploaded APK the way Android will (src/android): the ZIP directory and entries,
// the binary AndroidManifest.xml, the v3/v2 signing block and the v1 JAR signature, then the DPC
// checks. Whole APKs, and manifests on their own and re-packed into a ZIP so that mutations reach
// the binary XML reader past the archive checks. Every refusal is an ApkFormatError. APKs come in
// through `wardctl android dpc import` / `app import` only (no network route takes one), so this
// part has no HTTP share. Seeds: aapt-built, apksigner-signed APKs (corpus/apk, corpus/axml).
import t from 'tap';
import { ApkFormatError, checkDpc, parseAxml, readApk, readManifest } from '../../src/android';
import { writeZip } from '../android/zip-writer';
import { seeds } from './corpus';
import { errorLabel, fuzz, parserRun } from './harness';
import { BYTE_MUTATORS, leField, weighted, type Mutator } from './mutate';

t.setTimeout(600_000);

const apkTyped = (e: unknown) => errorLabel(e, ApkFormatError);
const SIGNATURES = [0x04034b50, 0x02014b50, 0x06054b50].map((n) => Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24]));
// AXML chunk types (ResourceTypes.h): string pool, resource map, start/end namespace and element.
const CHUNKS = [0x0001, 0x0003, 0x0180, 0x0100, 0x0101, 0x0102, 0x0103].map((n) => Buffer.from([n & 0xff, n >> 8]));

/** Mutates the manifest of an APK and stores it again in a fresh ZIP (the signatures no longer match: read first, refused after). */
function manifestInZip(inner: readonly Mutator[]): Mutator {
  return {
    name: 'manifest-in-zip',
    apply: (_input, rng) => {
      const entries = [...manifests.values()];
      const manifest = rng.pick(entries);
      const mutated = rng.pick(inner).apply(manifest, rng, entries) ?? manifest;
      return writeZip([
        { name: 'AndroidManifest.xml', data: mutated, method: rng.chance(0.5) ? 8 : 0 },
        { name: 'res/xml/device_admin.xml', data: Buffer.from('<device-admin/>') },
      ]);
    },
  };
}
const manifests = new Map(seeds('axml').map((s) => [s.name, s.data]));
const AXML = [...weighted(3, leField(CHUNKS)), ...weighted(1, ...BYTE_MUTATORS)];

t.test('whole APKs: ZIP, manifest, signatures, DPC checks', async (t) => {
  await fuzz(t, {
    parser: 'apk',
    seeds: seeds('apk'),
    count: 8_000,
    mutators: [...weighted(4, leField(SIGNATURES)), ...weighted(3, manifestInZip([leField(CHUNKS), leField(CHUNKS), ...BYTE_MUTATORS])), ...weighted(1, ...BYTE_MUTATORS)],
    seedsParse: true,
    run: parserRun((input) => checkDpc(readApk(input), '.AdminReceiver'), apkTyped),
  });
});

t.test('binary AndroidManifest.xml', async (t) => {
  await fuzz(t, {
    parser: 'axml',
    seeds: seeds('axml'),
    count: 10_000,
    mutators: AXML,
    seedsParse: true,
    run: parserRun((input) => readManifest(parseAxml(input)), apkTyped),
  });
});
