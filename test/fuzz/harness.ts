// The fuzz loop: run every seed, then `count` deterministic mutants of them, through one parser (or
// one HTTP endpoint), timing each input. An outcome is either "parsed" or the domain's typed refusal
// (its error class and reason, or an HTTP status in the documented class); anything else (a
// TypeError or RangeError from deep inside, a 500, an answer of the wrong kind) is a failure: its
// input is saved under test-output/fuzz/ to become a regress-* seed once the bug is fixed.
//
// WARD_FUZZ_SCALE multiplies every count (a longer local run: WARD_FUZZ_SCALE=10); WARD_FUZZ_SEED
// draws other mutants (default "ward-fuzz-1", what CI runs).
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Test } from 'tap';
import { HttpError } from '../../src/http';
import { repoRoot } from '../support/ward';
import { mutant, type Weighted } from './mutate';
import type { Seed } from './corpus';

export const RUN_SEED = process.env.WARD_FUZZ_SEED ?? 'ward-fuzz-1';
export const SCALE = Number(process.env.WARD_FUZZ_SCALE ?? 1);
export const OUTPUT = path.join(repoRoot, 'test-output', 'fuzz');

/** Where an input ended: 'parsed', or a refusal label such as 'PlistError malformed' or 'HTTP 400 invalid_json'. */
export type Outcome = string;

export interface FuzzTarget {
  /** Name in the figures and in saved failures (scep-pkimessage, apple-checkin, http-scep-post...). */
  parser: string;
  seeds: readonly Seed[];
  /** Mutated inputs on top of the seeds (scaled by WARD_FUZZ_SCALE). */
  count: number;
  mutators: readonly Weighted[];
  /** Feeds one input; resolves with its outcome, throws (or rejects) on a failure. */
  run(input: Buffer, seed: Seed): Outcome | Promise<Outcome>;
  /** Bound on any one input, in ms (default 1000). */
  maxMs?: number;
  /** The untouched seeds (except regress-* ones) must parse: the corpus is what real clients send. */
  seedsParse?: boolean;
}

export interface FuzzFigures {
  parser: string;
  inputs: number;
  seeds: number;
  parsed: number;
  rejected: number;
  failures: number;
  /** The slowest input's time, measured again (best of three) so that a GC pause or a busy machine is not counted. */
  maxMs: number;
  slowestInput: number;
  /** The slowest time seen during the run itself, noise included. */
  maxMsSeen: number;
  seconds: number;
  outcomes: Record<string, number>;
}

export const PARSED = 'parsed';

/** What readBody does first on the HTTP path: 413 past limits.bodyBytes (1 MiB by default). */
export function withinBodyLimit(input: Buffer, limit = 1024 * 1024): Buffer {
  if (input.length > limit) throw new HttpError(413, 'payload_too_large', `request body is larger than ${limit} bytes`);
  return input;
}

/**
 * Wraps a parser call: 'parsed' when it returns, the typed refusal's label when `typed` recognises
 * the error, and the error itself (a failure) otherwise.
 */
export function parserRun<T>(call: (input: Buffer, seed: Seed) => T | Promise<T>, typed: (e: unknown) => string | undefined) {
  return async (input: Buffer, seed: Seed): Promise<Outcome> => {
    try {
      await call(input, seed);
      return PARSED;
    } catch (e) {
      const label = typed(e);
      if (label === undefined) throw e;
      return label;
    }
  };
}

/** A typed error's label: its class name and its reason code (or the start of its message). */
export function errorLabel(e: unknown, ...classes: (abstract new (...args: never[]) => Error)[]): string | undefined {
  if (!classes.some((c) => e instanceof c)) return undefined;
  const err = e as Error & { reason?: unknown; code?: unknown };
  if (typeof err.reason === 'string' && err.reason.length <= 40) return `${err.name} ${err.reason}`;
  return `${err.name} ${typeof err.code === 'string' ? `${err.code}: ` : ''}${err.message.slice(0, 40)}`;
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const frame = e.stack?.split('\n').find((l) => l.includes(' at ')) ?? '';
    return `${e.name}: ${e.message.slice(0, 200)} ${frame.trim()}`;
  }
  return String(e).slice(0, 200);
}

export async function fuzz(t: Test, target: FuzzTarget): Promise<FuzzFigures> {
  const count = Math.round(target.count * SCALE);
  const seedData = target.seeds.map((s) => s.data);
  const maxMs = target.maxMs ?? 1000;
  const outcomes = new Map<string, number>();
  const failures: string[] = [];
  const unparsedSeeds: string[] = [];
  let parsed = 0;
  let slowest: { ms: number; input: number; data: Buffer; seed: Seed }[] = [];
  const started = performance.now();
  const total = target.seeds.length + count;
  for (let i = 0; i < total; i++) {
    let input: Buffer;
    let seed: Seed;
    let applied: string[] = [];
    if (i < target.seeds.length) {
      seed = target.seeds[i]!;
      input = seed.data;
    } else {
      const m = mutant(target.parser, RUN_SEED, i, seedData, target.mutators);
      seed = target.seeds[m.seed]!;
      input = m.input;
      applied = m.applied;
    }
    const t0 = performance.now();
    let outcome: Outcome;
    try {
      outcome = await target.run(input, seed);
    } catch (e) {
      outcome = 'FAILURE';
      const file = path.join(OUTPUT, 'failures', `${target.parser}-${i}.bin`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, input);
      failures.push(`input ${i} (seed ${seed.name}, ${applied.join('+') || 'unmutated'}; saved ${path.relative(repoRoot, file)}): ${describe(e)}`);
    }
    const ms = performance.now() - t0;
    if (slowest.length < 5 || ms > slowest.at(-1)!.ms) {
      slowest = [...slowest, { ms, input: i, data: input, seed }].sort((a, b) => b.ms - a.ms).slice(0, 5);
    }
    if (outcome === PARSED) parsed++;
    else if (i < target.seeds.length && !seed.name.startsWith('regress-')) unparsedSeeds.push(`${seed.name}: ${outcome}`);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  // The five slowest inputs again, best of three each: what the parser needs, not what the machine did.
  let worst = { ms: 0, input: -1 };
  for (const s of slowest) {
    let best = Infinity;
    for (let k = 0; k < 3; k++) {
      const t0 = performance.now();
      await Promise.resolve(target.run(s.data, s.seed)).catch(() => undefined);
      best = Math.min(best, performance.now() - t0);
    }
    if (best > worst.ms) worst = { ms: best, input: s.input };
  }
  const figures: FuzzFigures = {
    parser: target.parser,
    inputs: total,
    seeds: target.seeds.length,
    parsed,
    rejected: total - parsed - failures.length,
    failures: failures.length,
    maxMs: Math.round(worst.ms * 10) / 10,
    slowestInput: worst.input,
    maxMsSeen: Math.round((slowest[0]?.ms ?? 0) * 10) / 10,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    outcomes: Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1]).slice(0, 12)),
  };
  fs.mkdirSync(OUTPUT, { recursive: true });
  fs.writeFileSync(path.join(OUTPUT, `${target.parser}.json`), JSON.stringify(figures, null, 2) + '\n');
  t.comment(`fuzz ${JSON.stringify(figures)}`);
  t.same(failures.slice(0, 10), [], `${target.parser}: every one of ${total} inputs parsed or was refused with the typed error (${failures.length} failures)`);
  if (target.seedsParse) t.same(unparsedSeeds, [], `${target.parser}: every seed of the corpus parses untouched`);
  t.ok(worst.ms < maxMs, `${target.parser}: slowest input (#${worst.input}) takes ${figures.maxMs} ms (${figures.maxMsSeen} ms seen in the run), bound ${maxMs} ms`);
  return figures;
}

export interface HttpAnswerLike {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A refusal in src/http's documented form: 4xx, JSON {error, reason}. Its label is 'HTTP status error'. */
export function jsonRefusal(a: HttpAnswerLike): Outcome {
  const type = String(a.headers['content-type'] ?? '');
  let body: { error?: unknown; reason?: unknown } = {};
  try {
    body = JSON.parse(a.body.toString('utf8'));
  } catch {
    // reported below
  }
  if (a.status < 400 || a.status >= 500 || !type.startsWith('application/json') || typeof body.error !== 'string' || typeof body.reason !== 'string') {
    throw new Error(`not a 4xx JSON refusal: HTTP ${a.status} ${type} ${a.body.toString('utf8').slice(0, 200)}`);
  }
  return `HTTP ${a.status} ${body.error}`;
}
