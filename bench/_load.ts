// What the benches share on the measuring side: their output (one JSON object a line on stdout,
// progress on stderr), the server's CPU time and memory from /proc, latency percentiles, HTTPS
// requests on a chosen agent, the minimal koa app they compare Ward with, and Ward's daemon started
// as the appliance starts it.
// (The leading underscore keeps bench/index.ts from running it as a bench of its own.)
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { spawnDaemon, unitNodeOptions, type Daemon } from '../test/support/ward';

export function benchOutput(bench: string) {
  return {
    emit: (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`),
    log: (s: string) => process.stderr.write(`bench/${bench}: ${s}\n`),
  };
}

export const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

/** CPU time (user + system, ms) a process has used so far, from /proc (clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident memory now (VmRSS) and its peak so far (VmHWM), in bytes, from /proc/PID/status. */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

export const MiB = (bytes: number) => round(bytes / 1048576);

/** p50, p99 and max of latencies in milliseconds (nearest rank). */
export function latencySummary(ms: ArrayLike<number>): { count: number; p50Ms: number; p99Ms: number; maxMs: number } {
  const sorted = Float64Array.from(ms).sort();
  const at = (p: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))], 2) : NaN);
  return { count: sorted.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.length ? round(sorted[sorted.length - 1], 2) : NaN };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The request went over a kept-alive connection (false: a new TLS connection was made for it). */
  reused: boolean;
  ms: number;
}

/**
 * One HTTPS request on `agent`. A kept-alive socket the server closed just as it was reused fails
 * with ECONNRESET; like any HTTP client, the request is then sent once more.
 */
export async function httpsCall(url: string, agent: https.Agent, opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Answer> {
  try {
    return await httpsOnce(url, agent, opts);
  } catch (e) {
    if ((e as { reused?: boolean }).reused) return httpsOnce(url, agent, opts);
    throw e;
  }
}

function httpsOnce(url: string, agent: https.Agent, opts: { method?: string; headers?: Record<string, string>; body?: Buffer }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const headers = { ...(opts.headers ?? {}), ...(opts.body ? { 'Content-Length': String(opts.body.length) } : {}) };
    const req = https.request(url, { method: opts.method ?? 'GET', agent, servername: 'localhost', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reused: req.reusedSocket, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      res.on('error', reject);
    });
    req.on('error', (e) => reject(Object.assign(e, { reused: req.reusedSocket })));
    req.end(opts.body);
  });
}

/**
 * Starts the minimal koa app (bench/_koa-baseline.ts) on Ward's TLS setup (`tlsFile`, from
 * writeBaselineTls), answering `body` as `contentType`: what Ward's endpoint answers in the simplest case.
 */
export function startKoaBaseline(tlsFile: string, contentType: string, body: string): Promise<{ proc: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const bodyFile = `${tlsFile}.body`;
    fs.writeFileSync(bodyFile, body);
    const proc = spawn(process.execPath, [path.join(__dirname, '_koa-baseline.js'), tlsFile, contentType, bodyFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    proc.stdout!.on('data', (d: Buffer) => {
      const m = /port (\d+)/.exec(d.toString());
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.once('exit', (code) => reject(new Error(`baseline exited ${code}`)));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A check's details from Ward's /healthz on the plain-HTTP listener (name: 'android', 'jobs'...). */
export function healthDetails(httpPort: number, check: string): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    http.get(`http://127.0.0.1:${httpPort}/healthz`, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve((JSON.parse(Buffer.concat(chunks).toString()) as { checks: Record<string, { details?: Record<string, any> }> }).checks[check]?.details ?? {}));
    }).on('error', reject);
  });
}

/** Ward's daemon with the node options of the systemd unit's ExecStart, so a bench measures it as the appliance runs it. */
export function spawnBenchDaemon(file: string, env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  return spawnDaemon(file, env, [], unitNodeOptions());
}
