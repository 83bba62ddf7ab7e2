// Device-side plists written by hand from Apple's reference (apple/device-management mdm/checkin and
// mdm/commands) and the shape real devices send (keys sorted, tab-indented, data wrapped). Values
// that differ per device are {{Name}} placeholders.
import fs from 'node:fs';
import path from 'node:path';

export const fixtureDir = path.resolve(__dirname, '../../../test/apple/fixtures');

const cache = new Map<string, string>();

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Fills a fixture's placeholders; Buffers become base64 wrapped like a device wraps <data>. */
export function fixture(name: string, vars: Record<string, string | Buffer | boolean> = {}): Buffer {
  let text = cache.get(name);
  if (text === undefined) {
    text = fs.readFileSync(path.join(fixtureDir, `${name}.plist`), 'utf8');
    cache.set(name, text);
  }
  const filled = text.replace(/\{\{([A-Za-z]+)\}\}/g, (_m, key: string) => {
    const v = vars[key];
    if (v === undefined) throw new Error(`fixture ${name}: no value for {{${key}}}`);
    if (Buffer.isBuffer(v)) return (v.toString('base64').match(/.{1,68}/g) ?? ['']).join('\n\t');
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    return escapeXml(v);
  });
  return Buffer.from(filled, 'utf8');
}
