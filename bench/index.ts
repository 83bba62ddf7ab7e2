// `npm run bench`: runs every bench/<domain>.ts (compiled to build/bench/) one after another, each
// in its own process on the pinned runtime. Each prints one JSON object a line:
// {"name", "value", "unit", "baseline": {"name", "value"}, "ratio", ...}; this runner passes them through.
// Usage: npm run bench [-- scep apple ...]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const only = process.argv.slice(2);
const benches = fs
  .readdirSync(__dirname)
  .filter((f) => f.endsWith('.js') && f !== 'index.js' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .filter((n) => only.length === 0 || only.includes(n))
  .sort();

let failed = 0;
for (const name of benches) {
  const r = spawnSync(process.execPath, [path.join(__dirname, `${name}.js`)], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(JSON.stringify({ name: `${name}.bench`, error: `exited with ${r.status ?? r.signal}` }) + '\n');
  }
}
process.exit(failed ? 1 : 0);
