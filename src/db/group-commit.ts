// Group commit: write units queued while the event loop reads other requests share one
// transaction, so a burst of check-ins pays for one fsync (synchronous=FULL) instead of one each.
// Each unit's promise settles only after COMMIT: a device is answered only once its change and
// the change's audit event are durable.
import type { WardDb } from './index';
import { storageTrouble } from './trouble';

interface Unit {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitOptions {
  /** A batch is committed at once when it reaches this many units. */
  maxBatch?: number;
  /** How long a batch waits for more units; 0 commits on the next turn of the event loop. */
  windowMs?: number;
}

export class GroupCommit {
  private queue: Unit[] = [];
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private readonly maxBatch: number;
  private readonly windowMs: number;

  constructor(
    private readonly db: WardDb,
    opts: GroupCommitOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 256;
    this.windowMs = opts.windowMs ?? 0;
  }

  /** Runs fn in a write transaction shared with other queued units; settles after COMMIT. */
  commit<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.timer) this.timer = this.windowMs > 0 ? setTimeout(() => this.flush(), this.windowMs) : setImmediate(() => this.flush());
    });
  }

  /** Commits what is queued now. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    this.timer = undefined;
    const units = this.queue;
    this.queue = [];
    if (units.length === 0) return;
    const results: unknown[] = new Array(units.length);
    try {
      this.db.write(() => {
        for (let i = 0; i < units.length; i++) results[i] = units[i].fn();
      });
    } catch (e) {
      // A locked database or a full disk fails every unit alike: retrying each alone would only wait
      // (or fail) once per unit.
      if (storageTrouble(e)) {
        for (const u of units) u.reject(e);
        return;
      }
      // One unit failed and the whole batch rolled back: run each alone so only the failing one fails.
      for (const u of units) {
        try {
          u.resolve(this.db.write(u.fn));
        } catch (e) {
          u.reject(e);
        }
      }
      return;
    }
    for (let i = 0; i < units.length; i++) units[i].resolve(results[i]);
  }
}
