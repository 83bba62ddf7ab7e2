// Figures the fault tests report: request latencies (never asserted against a wall-clock bar) and a
// process's resident memory.
import fs from 'node:fs';
import type https from 'node:https';
import { request } from '../support/ward';

/** `n` requests one after the other: their statuses and times (ms). */
export async function latencies(url: string, n: number, agent?: https.Agent): Promise<{ statuses: number[]; ms: number[] }> {
  const statuses: number[] = [];
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = process.hrtime.bigint();
    statuses.push((await request(url, { agent })).status);
    ms.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return { statuses, ms };
}

export function percentiles(ms: number[]): { p50: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 10) / 10;
  return { p50: at(0.5), p99: at(0.99), max: at(1) };
}

/** VmRSS of a process, in MiB (/proc/PID/status). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Math.round(Number(m[1]) / 102.4) / 10;
}
