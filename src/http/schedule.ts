// Scheduled jobs (node-cron): CRL re-issue, signed audit tree heads, expiry warnings... Each run is
// logged, and the last outcome of every job is visible in /healthz details.
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { Health } from './health';

interface JobState {
  expression: string;
  lastRunAt?: string;
  lastDurationMs?: number;
  lastOutcome?: 'ok' | 'failed';
  lastError?: string;
  lastResult?: unknown;
  runs: number;
}

export class Schedule {
  private readonly jobs = new Map<string, { state: JobState; fn: () => unknown; task?: ScheduledTask }>();

  constructor(
    private readonly log: Logger,
    health: Health,
  ) {
    health.register('jobs', () => {
      const details = Object.fromEntries([...this.jobs].map(([n, j]) => [n, j.state]));
      return { ok: [...this.jobs.values()].every((j) => j.state.lastOutcome !== 'failed'), details };
    });
  }

  /** Registers a job; it runs on `expression` (cron syntax) once start() is called. */
  add(name: string, expression: string, fn: () => unknown): void {
    if (!cron.validate(expression)) throw new Error(`schedule ${name}: bad cron expression ${expression}`);
    this.jobs.set(name, { state: { expression, runs: 0 }, fn });
  }

  start(): void {
    for (const [name, job] of this.jobs) {
      job.task = cron.schedule(job.state.expression, () => this.runNow(name), { name, noOverlap: true });
    }
  }

  /** Runs a job at once (also what the schedule calls); never throws. */
  async runNow(name: string): Promise<unknown> {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`no scheduled job ${name}`);
    const started = Date.now();
    job.state.lastRunAt = new Date(started).toISOString();
    job.state.runs++;
    try {
      const result = await job.fn();
      job.state.lastOutcome = 'ok';
      job.state.lastError = undefined;
      job.state.lastResult = result;
      this.log.info({ job: name, ms: Date.now() - started, result }, 'scheduled job ran');
      return result;
    } catch (e) {
      job.state.lastOutcome = 'failed';
      job.state.lastError = (e as Error).message;
      this.log.error({ job: name, err: e }, 'scheduled job failed');
      return undefined;
    } finally {
      job.state.lastDurationMs = Date.now() - started;
    }
  }

  async stop(): Promise<void> {
    for (const job of this.jobs.values()) await job.task?.destroy();
  }
}
