// A data folder on a small tmpfs, to run the appliance out of disk. Mounted here when this process may
// mount (root); otherwise mounted inside a mount namespace of the daemon's own (`unshare --mount`),
// reached from here through /proc/PID/root and entered by wardctl with nsenter.
import fs from 'node:fs';
import path from 'node:path';
import { cliJs, nodeBin, tempDir, tool, wardctl } from '../support/ward';
import type { Wardctl } from './mixed-load';

export interface SmallDisk {
  how: 'mount' | 'unshare';
  /** The folder as the daemon sees it (its dataDir). */
  dir: string;
  /** What spawnDaemon runs the daemon under. */
  daemonPrefix: string[];
  /** The folder as this process reaches it while the daemon (pid) runs. */
  reach(pid: number): string;
  /** wardctl with the daemon's view of the files. */
  wardctl(pid: number): Wardctl;
  /**
   * The database as this process can open it for checks: the live file, or (unshare: SQLite resolves
   * /proc/PID/root to this namespace's /) the copy in a `wardctl backup` (SQLite's online backup).
   */
  database(pid: number, configFile: string, workDir: string): string;
  release(): void;
}

/** A tmpfs of `bytes`, or why none can be had here (the test is skipped with it). */
export function smallDisk(bytes: number, prefer: 'mount' | 'unshare' = 'mount'): SmallDisk | string {
  const dir = tempDir('ward-small-disk-');
  const mount = ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs'];
  if (prefer === 'mount' && tool('mount', [...mount, dir]).status === 0) {
    return {
      how: 'mount', dir, daemonPrefix: [],
      reach: () => dir,
      wardctl: () => (args) => wardctl(args),
      database: () => path.join(dir, 'ward.db'),
      release() {
        tool('umount', ['--lazy', dir]);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const probe = tool('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `mount ${mount.join(' ')} "$0"`, dir]);
  if (probe.status === 0) {
    const inside = (pid: number): Wardctl => (args) => tool('nsenter', ['--target', String(pid), '--mount', nodeBin, cliJs, ...args], { timeout: 120_000 });
    return {
      how: 'unshare', dir,
      // The daemon mounts the tmpfs in its own namespace, then execs node (same pid).
      daemonPrefix: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount ${mount.join(' ')} "$0" && exec "$@"`, dir],
      reach: (pid) => path.join(`/proc/${pid}/root`, dir),
      wardctl: inside,
      database(pid, configFile, workDir) {
        const archive = path.join(workDir, 'checked.tar.gz');
        const b = inside(pid)(['backup', '--out', archive, '--config', configFile]);
        if (b.status !== 0) throw new Error(`wardctl backup: ${b.stderr}`);
        const x = tool('tar', ['-xzf', archive, '-C', workDir, 'db/ward.db']);
        if (x.status !== 0) throw new Error(`tar: ${x.stderr}`);
        return path.join(workDir, 'db', 'ward.db');
      },
      release: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return `no size-limited tmpfs here: mount refused and unshare --mount refused (${probe.stderr.trim().split('\n')[0]})`;
}

/** Writes a filler file until the disk refuses more (ENOSPC); answers how many bytes it took. */
export function fillDisk(file: string): number {
  const fd = fs.openSync(file, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const chunk = Buffer.alloc(size, 0x5a);
      for (;;) {
        try {
          written += fs.writeSync(fd, chunk);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return written;
}
