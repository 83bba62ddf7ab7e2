// Command long poll: with no Google push on the hospital LAN, an agent's GET /commands is held open until
// a command is queued for that device or the hold time passes. One waiter per device (a newer poll
// supersedes an older, probably dead, one) and a hard cap on waiters keep memory bounded.

export type WaitOutcome = 'woken' | 'timeout' | 'superseded' | 'aborted' | 'full';

interface Waiter {
  settle(outcome: WaitOutcome): void;
}

export class CommandWaiters {
  private readonly waiters = new Map<string, Waiter>();
  private peak = 0;

  constructor(private readonly maxWaiters: number) {}

  /** Polls being held right now. */
  get size(): number {
    return this.waiters.size;
  }

  /** Most polls held at once since start. */
  get peakSize(): number {
    return this.peak;
  }

  /**
   * Waits until wake(deviceId), holdMs, or an abort (client gone, shutdown). Resolves at once with
   * 'full' when the cap is reached, so the caller can answer "retry later" instead of queueing memory.
   */
  wait(deviceId: string, holdMs: number, signals: AbortSignal[] = []): Promise<WaitOutcome> {
    const previous = this.waiters.get(deviceId);
    if (!previous && this.waiters.size >= this.maxWaiters) return Promise.resolve('full');
    if (signals.some((s) => s.aborted)) return Promise.resolve('aborted');
    previous?.settle('superseded');
    return new Promise<WaitOutcome>((resolve) => {
      let done = false;
      const onAbort = () => waiter.settle('aborted');
      const timer = setTimeout(() => waiter.settle('timeout'), holdMs);
      const waiter: Waiter = {
        settle: (outcome) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          for (const s of signals) s.removeEventListener('abort', onAbort);
          if (this.waiters.get(deviceId) === waiter) this.waiters.delete(deviceId);
          resolve(outcome);
        },
      };
      for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(deviceId, waiter);
      if (this.waiters.size > this.peak) this.peak = this.waiters.size;
    });
  }

  /** Wakes the device's held poll, if any. Returns whether one was held. */
  wake(deviceId: string): boolean {
    const w = this.waiters.get(deviceId);
    if (!w) return false;
    w.settle('woken');
    return true;
  }

  /** Ends every held poll (shutdown). */
  abortAll(): void {
    for (const w of [...this.waiters.values()]) w.settle('aborted');
  }
}
