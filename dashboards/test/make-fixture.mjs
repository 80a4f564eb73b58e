#!/usr/bin/env node
// Builds a dashboard site without the C++ renderer, for developing the pages and their test:
//   node dashboards/test/make-fixture.mjs <out-dir>
// copies dashboards/site/ and the vendor files (vendor-files.txt) into <out-dir> and writes a synthetic data.js
// that follows the contract in dashboards/README.md. The data is deterministic (fixed seed) and covers:
//   - 2 machines: ci-runner-1 (30 commits, plus a second profile's run of the last commit) and ci-runner-2
//     (12 runs, the latest flagged noisy);
//   - bench_sys/BM_sys_eventfd_round_trip with an injected +15 % regression at commit #17 of ci-runner-1 (point 17),
//     its change point and its entry in regressions;
//   - bench_memory/BM_memory_read_u64/4096 with a -20 % improvement on ci-runner-2;
//   - a benchmark present only from run 10 on, whose name is an HTML injection attempt;
//   - a benchmark with a single point whose name holds & = ? and < (hash encoding and escaping);
//   - a branch name that is an HTML injection attempt, a dirty run and an incomplete run.
// Prints the site-test flags that match the data it wrote.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const dashboards = resolve(dirname(fileURLToPath(import.meta.url)), '..');

if (process.argv.length !== 3) {
  console.error('usage: node make-fixture.mjs <out-dir>');
  process.exit(2);
}
const out = resolve(process.argv[2]);

// --- deterministic randomness ----------------------------------------------------------------------------------
let seed = 0x5eed1234;
function random() {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function gaussian() {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
function hex40() {
  let s = '';
  for (let i = 0; i < 40; i++) s += Math.floor(random() * 16).toString(16);
  return s;
}

// --- commits and runs ------------------------------------------------------------------------------------------
const COMMITS = 30;
const REGRESSION_COMMIT = 17; // first commit of the slower level on ci-runner-1
const HOSTILE_BRANCH = 'feature/<img src=x onerror=alert(2)>';
const commits = [];
for (let i = 0; i < COMMITS; i++) {
  const date = new Date(Date.UTC(2026, 9, 20, 10, 0, 0) + i * 86400000);
  commits.push({ sha: hex40(), date: date.toISOString().replace('.000Z', '+00:00'), day: date });
}

const runs = [];
function addRun(machine, c, profile, extra) {
  const runDate = new Date(commits[c].day.getTime() + 3600000 * (profile === 'nightly' ? 14 : 1));
  runs.push(Object.assign({
    id: `${machine}/${commits[c].sha}/${profile}`, machine, profile, commit: commits[c].sha,
    branch: c === 12 ? HOSTILE_BRANCH : c % 7 === 3 ? `pr-${100 + c}` : 'main',
    commit_date: commits[c].date, run_date: runDate.toISOString().replace('.000Z', 'Z'),
    dirty: false, complete: true, noisy: false, noisy_reasons: [],
  }, extra || {}));
  return runs.length - 1;
}
const r1 = [];
for (let c = 0; c < COMMITS; c++) {
  r1.push(addRun('ci-runner-1', c, 'pr', c === 5 ? { dirty: true } : c === 8 ? { complete: false } : {}));
}
r1.push(addRun('ci-runner-1', COMMITS - 1, 'nightly'));
const r2 = [];
for (let c = COMMITS - 12; c < COMMITS; c++) {
  r2.push(addRun('ci-runner-2', c, 'pr', c === COMMITS - 1
    ? { noisy: true, noisy_reasons: ['load average 3.20 above 1.0', 'CPU frequency not pinned'] } : {}));
}

// --- benchmarks ------------------------------------------------------------------------------------------------
function point(run, median, noisy) {
  const spread = noisy ? 4 : 1;
  const q = Math.abs(gaussian()) * 0.003 * spread + 0.002;
  return {
    run, median: round(median), min: round(median * (1 - 0.01 * spread - random() * 0.01)),
    max: round(median * (1 + 0.02 * spread + random() * 0.03)), q1: round(median * (1 - q)), q3: round(median * (1 + q * 1.3)), n: 10,
  };
}
function round(v) {
  return Math.round(v * 1000) / 1000;
}
function series(runIndexes, base, level) {
  return runIndexes.map((r, i) => {
    const noisy = runs[r].noisy;
    return point(r, base * level(i) * (1 + gaussian() * 0.006 + (noisy ? 0.05 : 0)), noisy);
  });
}
function changePoint(points, at, kind, pValue) {
  const before = points.slice(Math.max(0, at - 5), at).map((p) => p.median);
  const after = points.slice(at, at + 5).map((p) => p.median);
  const med = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
  return {
    point: at, from_commit: runs[points[at - 1].run].commit, to_commit: runs[points[at].run].commit,
    ratio: round(med(after) / med(before)), p_value: pValue, confidence: round(1 - pValue), kind,
  };
}

const EVENTFD = 'bench_sys/BM_sys_eventfd_round_trip';
const MEMORY = 'bench_memory/BM_memory_read_u64/4096';
const HOSTILE = 'bench_x/BM_x<script>alert(1)</script>';
const SINGLE = 'bench_sys/BM_sys_odd_name?a=1&b=<b>#x';

const benchmarks = [];
{
  const points = series(r1, 812.5, (i) => (runs[r1[i]].commit_date >= commits[REGRESSION_COMMIT].date ? 1.15 : 1));
  benchmarks.push({ machine: 'ci-runner-1', name: EVENTFD, unit: 'ns', points, change_points: [changePoint(points, REGRESSION_COMMIT, 'regression', 0.002)] });
}
{
  // The incomplete run (commit 8) has no point for this benchmark.
  const runIdx = r1.filter((r) => runs[r].complete);
  benchmarks.push({ machine: 'ci-runner-1', name: MEMORY, unit: 'ns', points: series(runIdx, 3210, () => 1), change_points: [] });
}
benchmarks.push({ machine: 'ci-runner-1', name: HOSTILE, unit: 'ns', points: series(r1.slice(10), 1.45e6, () => 1), change_points: [] });
benchmarks.push({ machine: 'ci-runner-1', name: SINGLE, unit: 'ns', points: series(r1.slice(-1), 95.2, () => 1), change_points: [] });
benchmarks.push({ machine: 'ci-runner-2', name: EVENTFD, unit: 'ns', points: series(r2, 655, () => 1), change_points: [] });
{
  const points = series(r2, 2980, (i) => (i >= 6 ? 0.8 : 1));
  benchmarks.push({ machine: 'ci-runner-2', name: MEMORY, unit: 'ns', points, change_points: [changePoint(points, 6, 'improvement', 0.004)] });
}

const regressions = [];
for (const b of benchmarks) {
  for (const c of b.change_points) {
    if (c.kind !== 'regression') continue;
    regressions.push({ machine: b.machine, benchmark: b.name, from_commit: c.from_commit, to_commit: c.to_commit,
      ratio: c.ratio, p_value: c.p_value, confidence: c.confidence });
  }
}

const data = {
  schema_version: 1,
  generated: '2026-11-25T17:30:00Z',
  commit_url: 'https://github.com/example/cpp-vmm/commit/{commit}',
  machines: [
    { id: 'ci-runner-1', cpu: 'AMD EPYC 7B13', kernel: '6.1.0-18-amd64', runs: r1.length },
    { id: 'ci-runner-2', cpu: 'Intel Xeon Gold 6338', kernel: '6.1.0-18-amd64', runs: r2.length },
  ],
  runs,
  benchmarks,
  regressions,
};

// --- the site --------------------------------------------------------------------------------------------------
mkdirSync(out, { recursive: true });
cpSync(join(dashboards, 'site'), out, { recursive: true });
for (const line of readFileSync(join(dashboards, 'vendor-files.txt'), 'utf8').split('\n')) {
  const [src, dst] = line.trim().split(/\s+/);
  if (!src || src.startsWith('#')) continue;
  mkdirSync(dirname(join(out, dst)), { recursive: true });
  cpSync(join(dashboards, src), join(out, dst));
}
writeFileSync(join(out, 'data.js'), '// Synthetic fixture written by dashboards/test/make-fixture.mjs\nwindow.VMM_DATA = ' +
  JSON.stringify(data, null, 1) + ';\n');

const eventfdPoints = benchmarks[0].points.length;
console.log(`make-fixture: wrote ${out} (${runs.length} runs, ${benchmarks.length} benchmark series, ${regressions.length} regression)`);
console.log(`make-fixture: test with: node ${join(dashboards, 'test', 'site-test.mjs')} ${out} ` +
  `--expect-regression '${EVENTFD}' --machine ci-runner-1 --expect-points '${EVENTFD}=${eventfdPoints}'`);
