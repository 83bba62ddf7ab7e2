// Test support: a Ward configured in a temp folder, started in-process or as a real daemon process
// (node build/src/main.js), and wardctl run as a real process. Loopback and port 0 only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import YAML from 'yaml';
import pino from 'pino';
import { configFromObject, type WardConfig } from '../../src/config';
import { startWard, type RunningWard } from '../../src/main';

export const repoRoot = path.resolve(__dirname, '../../..');
export const buildRoot = path.join(repoRoot, 'build');
export const nodeBin = process.execPath;
export const mainJs = path.join(buildRoot, 'src', 'main.js');
export const cliJs = path.join(buildRoot, 'src', 'cli.js');

/** test/<domain>/fixtures for a compiled test file's __dirname (build/test/<domain>). */
export function fixturesDir(compiledDir: string): string {
  return path.join(repoRoot, path.relative(buildRoot, compiledDir), 'fixtures');
}

export function tempDir(prefix = 'ward-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export type ConfigDoc = Record<string, unknown>;

/**
 * Writes a config file into a fresh temp folder: ports 0 (free ports), hostname localhost, an
 * ECDSA root and RSA-2048 issuing CA (quick to create), everything under the folder.
 */
export function writeTestConfig(overrides: ConfigDoc = {}, dir = tempDir()): { dir: string; file: string; doc: ConfigDoc } {
  const doc: ConfigDoc = {
    hostname: 'localhost',
    organization: 'Test Hospital',
    dataDir: './var',
    http: { host: '127.0.0.1', port: 0 },
    https: { host: '127.0.0.1', port: 0 },
    pki: { dir: './certs', passphrase: { file: './certs/passphrase' }, rootKeyAlgorithm: 'ecdsa-p256', issuingKeyAlgorithm: 'rsa-2048' },
    logging: { level: 'info' },
    ...overrides,
  };
  const file = path.join(dir, 'appliance.config.yaml');
  fs.writeFileSync(file, YAML.stringify(doc));
  return { dir, file, doc };
}

export function loadTestConfig(file: string, doc: ConfigDoc): WardConfig {
  return configFromObject(structuredClone(doc), file);
}

/** Captures pino lines in memory (so tests can assert nothing secret was logged). */
export function memoryLog(level = 'info') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: pino({ level, redact: { paths: [], censor: '' } }, stream), lines };
}

export interface TestWard extends RunningWard {
  dir: string;
  file: string;
  httpUrl: string;
  httpsUrl: string;
  /** HTTPS agent trusting Ward's CA (optionally presenting a client certificate). */
  agent(client?: { key: string | Buffer; cert: string | Buffer }): https.Agent;
}

/** Starts Ward in this process on free loopback ports. Call stop() in t.teardown. */
export async function startTestWard(overrides: ConfigDoc = {}, opts: { logger?: pino.Logger; clock?: () => Date } = {}): Promise<TestWard> {
  const { dir, file, doc } = writeTestConfig(overrides);
  const cfg = loadTestConfig(file, doc);
  const ward = await startWard(cfg, opts.logger ?? pino({ level: 'silent' }), { clock: opts.clock });
  const httpUrl = `http://127.0.0.1:${ward.ports.httpPort}`;
  const httpsUrl = `https://127.0.0.1:${ward.ports.httpsPort}`;
  return Object.assign(ward, {
    dir, file, httpUrl, httpsUrl,
    agent: (client?: { key: string | Buffer; cert: string | Buffer }) =>
      new https.Agent({ ca: ward.ca.chainPem(), servername: 'localhost', keepAlive: false, ...(client ?? {}) }),
  });
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = any>(): T;
}

/** A real HTTP(S) request (node:http/https), returning status, headers and the raw body. */
export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string; agent?: https.Agent } = {},
): Promise<HttpAnswer> {
  const mod = url.startsWith('https:') ? https : require('node:http');
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent }, (res: any) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

export interface Daemon {
  proc: ChildProcess;
  httpPort: number;
  httpsPort: number;
  output(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The node options of the systemd unit's ExecStart (between the node binary and main.js): the benches
 * start Ward with them, so that they measure the daemon as the appliance runs it.
 */
export function unitNodeOptions(): string[] {
  const unit = fs.readFileSync(path.join(repoRoot, 'systemd', 'ward.service'), 'utf8');
  const words = /^ExecStart=(.*)$/m.exec(unit)?.[1]?.split(/\s+/) ?? [];
  return words.slice(1, words.findIndex((w) => w.endsWith('/main.js'))).filter((w) => w.startsWith('--'));
}

/**
 * Starts `node build/src/main.js --config FILE` and waits for its "ready" log line. `prefix`: a command
 * that execs the rest (e.g. `unshare -m ...`), so that the daemon keeps its pid. `nodeOptions`: node's
 * own flags (the benches pass unitNodeOptions()).
 */
export function spawnDaemon(file: string, env: NodeJS.ProcessEnv = {}, prefix: string[] = [], nodeOptions: string[] = []): Promise<Daemon> {
  return new Promise((resolve, reject) => {
    const argv = [...prefix, nodeBin, ...nodeOptions, mainJs, '--config', file];
    const proc = spawn(argv[0], argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let ready = false;
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready) return;
      for (const line of out.split('\n')) {
        if (!line.includes('"msg":"ready"')) continue;
        const j = JSON.parse(line);
        ready = true;
        resolve({
          proc, httpPort: j.httpPort, httpsPort: j.httpsPort, output: () => out,
          stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d) => (out += d.toString()));
    proc.once('exit', (code) => {
      if (!ready) reject(Object.assign(new Error(`daemon exited (${code}) before ready:\n${out}`), { code, output: out }));
    });
  });
}

/** Runs the daemon expecting it to exit (bad config, wrong passphrase...). */
export function runDaemonToExit(args: string[], env: NodeJS.ProcessEnv = {}, node = nodeBin) {
  const r = spawnSync(node, [mainJs, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs wardctl as a real process. */
export function wardctl(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  const r = spawnSync(nodeBin, [cliJs, ...args], { env: { ...process.env, ...(opts.env ?? {}) }, encoding: 'utf8', input: opts.input, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a system tool (openssl, scepclient, plistutil...) and returns its status and output. */
export function tool(cmd: string, args: string[], opts: { input?: string | Buffer; cwd?: string; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, { input: opts.input, cwd: opts.cwd, timeout: opts.timeout ?? 60_000 });
  return { status: r.status, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '', raw: r.stdout };
}

/**
 * The same, without blocking the event loop: use this (not tool/wardctl) when the peer talks to a
 * Ward started in this process (startTestWard), or the server cannot answer.
 */
export function toolAsync(cmd: string, args: string[], opts: { input?: string | Buffer; cwd?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<{ status: number | null; stdout: string; stderr: string; raw: Buffer }>((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ? { ...process.env, ...opts.env } : process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeout ?? 60_000);
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    p.on('error', reject);
    p.on('close', (status) => {
      clearTimeout(timer);
      const raw = Buffer.concat(out);
      resolve({ status, stdout: raw.toString(), stderr: Buffer.concat(err).toString(), raw });
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(opts.input ?? '');
  });
}

/** wardctl as a real process without blocking the event loop (for an in-process Ward). */
export function wardctlAsync(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}) {
  return toolAsync(nodeBin, [cliJs, ...args], { env: opts.env, input: opts.input, timeout: 120_000 });
}

/** Waits until cond() is truthy (polling), failing after timeoutMs: for conditions, not timing. */
export async function waitFor<T>(cond: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
