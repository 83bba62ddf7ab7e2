// The release tarball as `make dist` builds it (scripts/make-dist.sh), from this build's compiled
// code: what the install tests put on a scratch machine.
import fs from 'node:fs';
import path from 'node:path';
import { buildRoot, repoRoot, tool } from '../support/ward';

export const version = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version as string;
export const releaseTop = `ward-${version}-linux-${process.arch}`;

/** Builds `<dir>/ward-VERSION-linux-ARCH.tar.gz` (+ .sha256); throws with make-dist's stderr if it fails. */
export function buildRelease(dir: string): string {
  const tarball = path.join(dir, `${releaseTop}.tar.gz`);
  const dist = tool('bash', [path.join(repoRoot, 'scripts', 'make-dist.sh'), '--compiled', path.join(buildRoot, 'src'), '--out', tarball, '--fast'], { timeout: 300_000 });
  if (dist.status !== 0) throw new Error(`make-dist failed (${dist.status}): ${dist.stderr}`);
  return tarball;
}

/** KEY value lines printed by the scenario scripts (offline-install.sh, systemd-boot.sh). */
export function keyLines(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z_]+) ?(.*)$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}
