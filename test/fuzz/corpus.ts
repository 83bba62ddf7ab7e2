// The seed corpus (test/fuzz/corpus/<parser>/): what make-corpus.ts captured from real clients and
// fixtures, plus regress-* files, inputs that once found a bug and stay as seeds for good.
import fs from 'node:fs';
import path from 'node:path';

export const CORPUS_ROOT = path.resolve(__dirname, '../../../test/fuzz/corpus');

/** Values the seeds carry that a test swaps for live ones (a device's UDID, a valid enrollment token). */
export const FIXED = {
  udid: '00008120-001A2B3C4D5E6F70',
  commandUuid: '8E1F6C2A-3B4D-4E5F-9A0B-1C2D3E4F5A6B',
  androidToken: 'ward-fuzz-enrollment-token',
  passphrase: 'fuzz-passphrase',
};

export interface Seed {
  name: string;
  data: Buffer;
}

/** The seeds of one parser, sorted by name; `match` filters the file names. */
export function seeds(parser: string, match: RegExp = /./): Seed[] {
  const dir = path.join(CORPUS_ROOT, parser);
  return fs
    .readdirSync(dir)
    .filter((f) => match.test(f))
    .sort()
    .map((name) => ({ name, data: fs.readFileSync(path.join(dir, name)) }));
}

export function corpusFile(parser: string, name: string): Buffer {
  return fs.readFileSync(path.join(CORPUS_ROOT, parser, name));
}
