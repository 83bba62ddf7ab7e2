// The compliance sync and the policy-publish pass over a seeded fleet, in this process: how long
// each takes and the longest the event loop was blocked meanwhile (the longest gap between ticks
// of a 1 ms timer), i.e. how long a check-in or NAC request could wait behind it.
// BENCH_SYNC_APPLE / BENCH_SYNC_ANDROID devices (default 10,000 each), seeded through the services.
// Run: node build/bench/_compliance-sync.js (the leading underscore keeps bench/index.ts from running it).
import fs from 'node:fs';
import { BenchFleet, keyPool, openBenchStore, writeBenchConfig } from './_seed';

const APPLE = Number(process.env.BENCH_SYNC_APPLE ?? 10_000);
const ANDROID = Number(process.env.BENCH_SYNC_ANDROID ?? 10_000);

async function measure<T>(name: string, run: () => T | Promise<T>): Promise<void> {
  // The longest gap between ticks of a 1 ms timer: how long the loop answered nothing.
  let last = performance.now();
  let longest = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  const result = await run();
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 20));
  clearInterval(tick);
  console.log(JSON.stringify({ name, devices: APPLE + ANDROID, seconds: Math.round(ms) / 1000, longestBlockMs: Math.round(longest), result }));
}

async function main(): Promise<void> {
  const { dir, file, doc } = writeBenchConfig({ apple: { apns: { enabled: false }, mdm: { initialCommands: [] } } });
  try {
    const fleet = new BenchFleet(openBenchStore(file, doc));
    await fleet.addApple(0, APPLE, keyPool('rsa'));
    fleet.addAndroid(0, ANDROID, keyPool('ec'));
    fleet.policy.createFromTemplate('phone', 'hipaa-clinician-corporate-phone', { actor: { type: 'system', id: 'bench' }, source: null, requestId: null });
    fleet.policy.assign('phone', 'default', '', { actor: { type: 'system', id: 'bench' }, source: null, requestId: null });
    await measure('compliance.sync.first', () => fleet.compliance.sync());
    await measure('compliance.sync.steady', () => fleet.compliance.sync());
    fleet.policy.addPublisher({ platforms: ['ios', 'ipados', 'macos', 'android'], onPolicyChanged: () => undefined });
    await measure('policy.publish.first', () => fleet.policy.publishPending());
    await measure('policy.publish.steady', () => fleet.policy.publishPending());
    await fleet.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
