#!/usr/bin/env node
// Opens every page of the site against malformed and edge-case data.js files and checks that each page renders
// (says what is wrong or empty) instead of throwing:
//   node dashboards/test/malformed-test.mjs
// Page URLs of one file are visited by changing the hash, as a person following links would, so re-rendering on a
// hash change is covered too. VMM_SCREENSHOTS=<dir> saves a screenshot of each (for looking at the messages).
// Needs `npm ci` in dashboards/ and Chromium (/usr/bin/chromium or $VMM_CHROMIUM), like site-test.mjs. Builds its
// sites under a temporary directory from dashboards/site/ and the vendor files; prints
// "malformed-test: N checks passed" or names each failure and exits 1.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const dashboards = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WAIT_MS = 10_000;

const C1 = 'a'.repeat(40);
const C2 = 'b'.repeat(40);
const run = (i, extra) => Object.assign({ id: `m1/${i ? C2 : C1}/pr`, machine: 'm1', profile: 'pr', commit: i ? C2 : C1, branch: 'main',
  commit_date: '2026-11-20T10:00:00+00:00', run_date: '2026-11-20T11:00:00Z', dirty: false, complete: true, noisy: false, noisy_reasons: [] }, extra || {});

/// name → the text of data.js. Each must render every page without an exception or a console error.
const cases = {
  'not an object': 'window.VMM_DATA = 42;',
  'empty object': 'window.VMM_DATA = {};',
  'empty arrays': 'window.VMM_DATA = ' + JSON.stringify({ schema_version: 1, generated: '', commit_url: null, machines: [], runs: [], benchmarks: [], regressions: [] }),
  'future schema, wrong types': 'window.VMM_DATA = ' + JSON.stringify({ schema_version: 99, generated: 5, commit_url: 'javascript:alert(1)//{commit}',
    machines: 'x', runs: { a: 1 }, benchmarks: null, regressions: 7 }),
  'machine without runs': 'window.VMM_DATA = ' + JSON.stringify({ schema_version: 1, machines: [{ id: 'm1' }], runs: [], benchmarks: [], regressions: [] }),
  'one run, one point, unknown machine in benchmarks': 'window.VMM_DATA = ' + JSON.stringify({
    schema_version: 1, commit_url: 'https://example.invalid/{commit}', machines: [{ id: 'm1', cpu: 'c', kernel: 'k', runs: 1 }],
    runs: [run(0, { noisy: true, noisy_reasons: [null, 3] })],
    benchmarks: [
      { machine: 'm1', name: 'one', unit: 'ns', points: [{ run: 0, median: 5 }], change_points: [{ point: 0, kind: 'regression' }] },
      { machine: 'ghost', name: 'elsewhere', unit: 'furlongs', points: [{ run: 0, median: 1e12, min: 'x', max: null, n: 1.5 }] },
      { machine: 'm1', name: 'empty', points: [] },
      { name: 'no machine' }, null, 'str',
    ],
    regressions: [{ machine: 'ghost', benchmark: 'elsewhere' }, null],
  }),
  'bad points and change points': 'window.VMM_DATA = ' + JSON.stringify({
    schema_version: 1, commit_url: null, machines: [{ id: 'm1' }], runs: [run(0), null, run(1, { dirty: true, complete: false })],
    benchmarks: [{ machine: 'm1', name: 'b', unit: 's', points: [{ run: 0, median: 1, q1: 0.9, q3: 1.1 }, { run: 1, median: 2 }, { run: 9, median: 3 },
      { run: 2, median: 'NaN' }, { run: 2, median: 0, min: 0, max: 0 }, { run: 2, median: 2 }],
    change_points: [{ point: 99, kind: 'improvement', ratio: 0.5 }, { point: 1, kind: 'other', ratio: null }, 'x'] }],
    regressions: [],
  }),
};

/// Page URLs to open for every case, with hashes that name things that may not exist.
const pages = [
  'index.html', 'index.html#machine=nope', 'index.html#machine=m1', 'index.html#%E0%A4%A',
  'benchmark.html', 'benchmark.html#machine=m1', 'benchmark.html#machine=m1&name=one', 'benchmark.html#machine=m1&name=b',
  'benchmark.html#machine=m1&name=empty', 'benchmark.html#machine=ghost&name=elsewhere', 'benchmark.html#machine=m1&name=missing',
  'regressions.html', 'regressions.html#machine=nope', 'regressions.html#machine=m1',
  'compare.html', `compare.html#a=m1/${C1}/pr&b=m1/${C2}/pr`, 'compare.html#a=nope&b=', `compare.html#a=m1/${C1}/pr&b=m1/${C1}/pr`,
];

const root = mkdtempSync(join(tmpdir(), 'vmm-malformed-'));
const results = [];
let browser;
try {
  browser = await chromium.launch({ executablePath: process.env.VMM_CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const context = await browser.newContext();
  await context.route(/^(https?|wss?|ftp):/i, (route) => route.abort());
  const page = await context.newPage();
  let problems = [];
  page.on('console', (msg) => msg.type() === 'error' && problems.push('console error: ' + msg.text()));
  page.on('pageerror', (err) => problems.push('uncaught exception: ' + err.message));
  page.on('requestfailed', (req) => problems.push('request failed: ' + req.url()));
  page.on('dialog', (d) => {
    problems.push('dialog: ' + d.message());
    d.dismiss().catch(() => {});
  });
  let n = 0;
  for (const [name, text] of Object.entries(cases)) {
    const site = join(root, String(n++));
    cpSync(join(dashboards, 'site'), site, { recursive: true });
    for (const line of readFileSync(join(dashboards, 'vendor-files.txt'), 'utf8').split('\n')) {
      const [src, dst] = line.trim().split(/\s+/);
      if (!src || src.startsWith('#')) continue;
      mkdirSync(dirname(join(site, dst)), { recursive: true });
      cpSync(join(dashboards, src), join(site, dst));
    }
    writeFileSync(join(site, 'data.js'), text + '\n');
    let loaded = null; // the page file now open for this case: hashes after the first re-render it in place
    for (const url of pages) {
      problems = [];
      let shown = '';
      const [file, hash] = url.split('#');
      try {
        if (file === loaded) {
          const before = await page.evaluate(() => Number(document.body.getAttribute('data-render-count')));
          await page.evaluate((h) => {
            window.location.hash = h;
          }, hash || '');
          await page.waitForFunction((b) => Number(document.body.getAttribute('data-render-count')) > b, before, { timeout: WAIT_MS });
        } else {
          await page.goto('about:blank'); // so that the next case's data.js is loaded even for the same file name
          await page.goto(pathToFileURL(join(site, file)).href + (hash ? '#' + hash : ''), { timeout: WAIT_MS });
          loaded = file;
        }
        await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
        shown = await page.evaluate(() => document.querySelector('main').textContent.trim());
      } catch (err) {
        problems.push('did not render: ' + err.message.split('\n')[0]);
      }
      const label = `${name}: ${url}`;
      if (process.env.VMM_SCREENSHOTS) await page.screenshot({ path: join(process.env.VMM_SCREENSHOTS, `${n - 1}-${pages.indexOf(url)}.png`), fullPage: true });
      results.push({ label, ok: problems.length === 0 && shown !== '', detail: problems.length ? problems.join('; ') : 'empty page' });
    }
  }
} catch (err) {
  results.push({ label: 'the test itself ran to the end', ok: false, detail: err.stack });
} finally {
  if (browser) await browser.close().catch(() => {});
  rmSync(root, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.ok);
for (const f of failed) console.log(`FAIL ${f.label}\n      ${f.detail}`);
console.log(failed.length ? `malformed-test: ${failed.length} of ${results.length} checks failed` : `malformed-test: ${results.length} checks passed`);
process.exit(failed.length ? 1 : 0);
