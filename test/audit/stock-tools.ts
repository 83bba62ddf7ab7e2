// An auditor's checks of a bundle with stock tools only: unpack with tar, then run the commands
// exactly as VERIFY.txt writes them (openssl cms -verify, the Python 3 root script), with bash.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function unpackBundle(bundle: Buffer, parent = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(parent, 'ward-bundle-'));
  fs.writeFileSync(path.join(dir, 'bundle.tar'), bundle);
  const r = spawnSync('tar', ['-xf', 'bundle.tar'], { cwd: dir });
  if (r.status !== 0) throw new Error(`tar -xf failed: ${r.stderr}`);
  return dir;
}

export function stockToolChecks(bundle: Buffer, parent?: string) {
  const dir = unpackBundle(bundle, parent);
  const text = fs.readFileSync(path.join(dir, 'VERIFY.txt'), 'utf8');
  const cmsLine = text.split('\n').find((l) => l.startsWith('openssl cms -verify'))!;
  const script = /^python3 - <<'EOF'\n[\s\S]*?\nEOF$/m.exec(text)![0];
  const cms = spawnSync('bash', ['-c', cmsLine], { cwd: dir, encoding: 'utf8' });
  const py = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8' });
  const fp = spawnSync('bash', ['-c', 'openssl x509 -in chain.pem -noout -subject -fingerprint -sha256'], { cwd: dir, encoding: 'utf8' });
  return { dir, cms, py, fp, text };
}
