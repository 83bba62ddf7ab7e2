import fs from 'node:fs';
import path from 'node:path';

let cached: string | undefined;

/** The folder Ward is installed in (holds package.json and migrations/), from dist/ or build/src/. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) || !fs.existsSync(path.join(dir, 'migrations'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find Ward's install folder above ${__dirname}`);
    dir = up;
  }
  cached = dir;
  return dir;
}
