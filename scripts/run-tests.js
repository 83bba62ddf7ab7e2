#!/usr/bin/env node
// Runs the compiled tap tests (build/test/**/*.test.js), two at a time on this 2-core appliance,
// and ends with the plain line CI reads: "N passed, N failed".
// Usage: node scripts/run-tests.js [substring ...]   (filters test files by path)
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const testRoot = path.join(root, 'build', 'test');
const jobs = Number(process.env.WARD_TEST_JOBS || 2);
const fileTimeoutMs = Number(process.env.WARD_TEST_TIMEOUT_MS || 10 * 60 * 1000);
const filters = process.argv.slice(2);

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return findTests(p);
    return e.name.endsWith('.test.js') ? [p] : [];
  });
}

const files = findTests(testRoot)
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];

function runOne(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      cwd: root,
      env: { ...process.env, TAP_COLORS: '0', TAP_TIMEOUT: process.env.TAP_TIMEOUT || '300' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      out += `\n# runner: killed after ${fileTimeoutMs} ms\n`;
      child.kill('SIGKILL');
    }, fileTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // tap's closing comment: "# { total: 3, pass: 2, fail: 1, skip: 0 }"
      const summary = [...out.matchAll(/^# \{ total: (\d+)(.*)\}$/gm)].pop();
      const count = (key) => {
        const m = summary && summary[2].match(new RegExp(`${key}: (\\d+)`));
        return m ? Number(m[1]) : 0;
      };
      let p = count('pass');
      let f = count('fail');
      const s = count('skip') + count('todo');
      if (!summary || code !== 0) f = Math.max(f, 1);
      if (!summary) p = 0;
      passed += p;
      failed += f;
      skipped += s;
      const rel = path.relative(testRoot, file);
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`${f ? 'FAIL' : 'ok  '} ${rel}  ${p} passed, ${f} failed  ${secs}s`);
      if (f) failures.push({ rel, out, code, signal });
      resolve();
    });
  });
}

async function main() {
  if (files.length === 0) {
    console.log('no test files found under build/test (did the build run?)');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const queue = files.slice();
  await Promise.all(
    Array.from({ length: Math.min(jobs, queue.length) }, async () => {
      while (queue.length) await runOne(queue.shift());
    }),
  );
  for (const f of failures) {
    console.log(`\n===== ${f.rel} (exit ${f.code}${f.signal ? ', ' + f.signal : ''}) =====`);
    console.log(f.out.split('\n').slice(-200).join('\n'));
  }
  console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed ? 1 : 0);
}
main();
