#!/usr/bin/env node
// Real-browser test of a rendered dashboard site (from `vmm-bench render` or test/make-fixture.mjs).
//
//   node dashboards/test/site-test.mjs <site-dir> [--expect-regression <benchmark>]... [--expect-points <benchmark>=<N>]...
//        [--machine <id>] [--screenshots <dir>] [--max-benchmark-pages <N>]
//
// Opens every page of the site from file:// in headless Chromium (/usr/bin/chromium, or $VMM_CHROMIUM) driven by
// playwright-core, with every http(s) request refused, and checks:
//   - no page logs a console error, throws, fails a request, opens a dialog or asks for the network;
//   - no element that data could have injected (script, img, iframe, object) appears in the rendered content, and
//     every benchmark name appears verbatim as text (so it was escaped, not parsed as HTML);
//   - the overview lists every benchmark of every machine and shows the noisy banner exactly when the machine's
//     latest run is noisy;
//   - each benchmark page plots one point per entry of its points array and marks each change point
//     (--expect-points NAME=N also pins N); hovering a point shows a tooltip with its short commit, clicking it opens
//     the commit URL in a new tab when commit_url is set, and the mouse wheel zooms;
//   - the regressions page lists every regression (and --expect-regression NAME among them), per machine too, or
//     says that there are none; its benchmark links open;
//   - the compare page, by default and for the two latest runs, lists exactly the benchmarks present in both runs.
// Expectations come from the site's own data.js and the command-line flags only, so the same test runs against the
// fixture and against a real rendered site. --machine restricts --expect-points to one machine (default: every
// machine that has the benchmark). Exits 0 after printing "site-test: N checks passed", else 1 after naming each
// failed check.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const TIME_LIMIT_MS = 90_000; // the whole run; it takes a few seconds on the fixture
const WAIT_MS = 10_000; // one page render, one tooltip, one popup

// --- command line ----------------------------------------------------------------------------------------------
function usage(problem) {
  if (problem) console.error('site-test: ' + problem);
  console.error('usage: node site-test.mjs <site-dir> [--expect-regression <benchmark>]... [--expect-points <benchmark>=<N>]...\n' +
    '                    [--machine <id>] [--screenshots <dir>] [--max-benchmark-pages <N>]');
  process.exit(2);
}

const options = { site: null, expectRegressions: [], expectPoints: [], machine: null, screenshots: null, maxBenchmarkPages: 60 };
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => (i + 1 < args.length ? args[++i] : usage(arg + ' needs a value'));
    if (arg === '--expect-regression') options.expectRegressions.push(value());
    else if (arg === '--expect-points') {
      const spec = value();
      const eq = spec.lastIndexOf('=');
      const count = Number(spec.slice(eq + 1));
      if (eq <= 0 || !Number.isInteger(count) || count < 0) usage('--expect-points wants <benchmark>=<N>, got ' + JSON.stringify(spec));
      options.expectPoints.push({ name: spec.slice(0, eq), count });
    } else if (arg === '--machine') options.machine = value();
    else if (arg === '--screenshots') options.screenshots = resolve(value());
    else if (arg === '--max-benchmark-pages') options.maxBenchmarkPages = Number(value());
    else if (arg === '-h' || arg === '--help') usage();
    else if (arg.startsWith('--')) usage('unknown option ' + arg);
    else if (options.site === null) options.site = resolve(arg);
    else usage('more than one site directory');
  }
  if (options.site === null) usage('no site directory');
  if (!Number.isInteger(options.maxBenchmarkPages) || options.maxBenchmarkPages < 1) usage('--max-benchmark-pages wants a positive integer');
}
for (const page of ['index.html', 'benchmark.html', 'regressions.html', 'compare.html', 'data.js']) {
  if (!existsSync(join(options.site, page))) {
    console.error(`site-test: ${join(options.site, page)} is missing: is ${options.site} a rendered site directory?`);
    process.exit(1);
  }
}
const chromiumPath = process.env.VMM_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(chromiumPath) || !statSync(chromiumPath).isFile()) {
  console.error(`site-test: no Chromium at ${chromiumPath} (install Debian's chromium package, or set VMM_CHROMIUM)`);
  process.exit(1);
}
if (options.screenshots) mkdirSync(options.screenshots, { recursive: true });

// --- checks ----------------------------------------------------------------------------------------------------
const results = [];
function check(name, ok, detail) {
  results.push({ name, ok: Boolean(ok), detail: ok ? '' : detail || '' });
  return Boolean(ok);
}

const siteUrl = (page, params) => {
  const hash = Object.entries(params || {}).map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v)).join('&');
  return pathToFileURL(join(options.site, page)).href + (hash ? '#' + hash : '');
};
const short = (commit) => String(commit).slice(0, 8);

let browser;
const watchdog = setTimeout(() => {
  console.error(`site-test: gave up after ${TIME_LIMIT_MS / 1000} s`);
  process.exit(1);
}, TIME_LIMIT_MS);

try {
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'], headless: true });
  const context = await browser.newContext({ viewport: { width: 1300, height: 900 } });
  // The site must not touch the network. The only http(s) URL a test action may open is a commit page, answered
  // here with a stub so that no request leaves the machine.
  const allowedUrls = new Set();
  const networkAttempts = [];
  await context.route(/^(https?|wss?|ftp):/i, (route) => {
    const url = route.request().url();
    if (allowedUrls.has(url)) return route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>commit</title>' });
    networkAttempts.push(url);
    return route.abort();
  });

  /// One tab for every page: a page that differs from the last only in its hash re-renders in place (as it does
  /// for a person following a link), which keeps the test fast on a site with many benchmarks.
  const tab = { page: null, problems: [], networkBefore: 0 };

  /// Opens url in the tab and waits for it to render. tab.problems collects every console error, uncaught
  /// exception, failed request and dialog from then on, until the next open().
  async function open(url) {
    if (tab.page === null) {
      const page = await context.newPage();
      page.on('console', (msg) => {
        if (msg.type() === 'error') tab.problems.push('console error: ' + msg.text());
      });
      page.on('pageerror', (err) => tab.problems.push('uncaught exception: ' + (err && err.message ? err.message : String(err))));
      page.on('requestfailed', (req) => tab.problems.push('request failed: ' + req.url() + ' (' + (req.failure() ? req.failure().errorText : '?') + ')'));
      page.on('dialog', (dialog) => {
        tab.problems.push('dialog opened (injected script?): ' + dialog.message());
        dialog.dismiss().catch(() => {});
      });
      tab.page = page;
    }
    const { page } = tab;
    tab.problems = [];
    tab.networkBefore = networkAttempts.length;
    const current = page.url();
    try {
      if (current.split('#')[0] === url.split('#')[0] && current !== url) {
        const before = await renderCount(page);
        await page.goto(url, { timeout: WAIT_MS });
        await waitRender(page, before);
      } else {
        await page.goto(url, { waitUntil: 'load', timeout: WAIT_MS });
        if (current === url) await page.reload({ waitUntil: 'load', timeout: WAIT_MS });
        await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
      }
    } catch (err) {
      tab.problems.push('did not render: ' + err.message.split('\n')[0]);
    }
    return tab;
  }

  /// The checks every page gets.
  let shot = 0;
  async function finish(label) {
    const { page, problems } = tab;
    const injected = await page.evaluate(() => document.querySelectorAll('#app script, #app img, #app iframe, #app object, #app embed').length).catch(() => -1);
    check(`${label}: nothing injected into the page`, injected === 0, `${injected} script/img/iframe/object elements inside #app`);
    const pageErrors = await page.evaluate(() => [...document.querySelectorAll('.message-error')].map((e) => e.textContent)).catch(() => []);
    check(`${label}: no error message shown`, pageErrors.length === 0, pageErrors.join(' | '));
    const network = networkAttempts.slice(tab.networkBefore);
    check(`${label}: no network requests`, network.length === 0, network.join(', '));
    if (options.screenshots) {
      const file = join(options.screenshots, String(++shot).padStart(2, '0') + '-' + label.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80) + '.png');
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    }
    check(`${label}: no console errors, exceptions, failed requests or dialogs`, problems.length === 0, problems.join('\n      '));
  }

  async function waitRender(page, previous) {
    await page.waitForFunction((n) => Number(document.body.getAttribute('data-render-count')) > n && document.body.getAttribute('data-ready') === 'true',
      previous, { timeout: WAIT_MS });
  }
  const renderCount = (page) => page.evaluate(() => Number(document.body.getAttribute('data-render-count')));
  const texts = (page, selector) => page.$$eval(selector, (nodes) => nodes.map((n) => n.textContent));

  // --- the data the site was rendered from ------------------------------------------------------------------
  const first = await open(siteUrl('index.html'));
  const data = await first.page.evaluate(() => (window.VMM_DATA ? JSON.parse(JSON.stringify(window.VMM_DATA)) : null));
  if (!check('data.js sets window.VMM_DATA', data && typeof data === 'object', 'window.VMM_DATA is ' + JSON.stringify(data))) throw new Error('no data');
  check('data.js: schema_version is 1', data.schema_version === 1, 'schema_version ' + JSON.stringify(data.schema_version));
  const runs = Array.isArray(data.runs) ? data.runs : [];
  const benchmarks = Array.isArray(data.benchmarks) ? data.benchmarks : [];
  const regressions = Array.isArray(data.regressions) ? data.regressions : [];
  const machineIds = [...new Set([...(Array.isArray(data.machines) ? data.machines.map((m) => m.id) : []), ...runs.map((r) => r.machine), ...benchmarks.map((b) => b.machine)])];
  const commitUrl = typeof data.commit_url === 'string' ? data.commit_url : null;

  // --- index.html ----------------------------------------------------------------------------------------------
  check('index: renders a table or a message', await first.page.$('#benchmark-table, .message') !== null, 'neither #benchmark-table nor a message');
  await finish('index (default machine)');

  for (const machine of machineIds) {
    const label = `index #machine=${machine}`;
    const tab = await open(siteUrl('index.html', { machine }));
    const mine = benchmarks.filter((b) => b.machine === machine);
    const names = await texts(tab.page, '#benchmark-table tbody tr a.bench-name');
    check(`${label}: one row per benchmark`, names.length === mine.length, `${names.length} rows, data has ${mine.length} benchmarks`);
    const missing = mine.filter((b) => !names.includes(b.name)).map((b) => JSON.stringify(b.name));
    check(`${label}: every benchmark name shown verbatim`, missing.length === 0, 'missing or altered: ' + missing.join(', '));
    const machineRuns = runs.filter((r) => r.machine === machine);
    const latestNoisy = machineRuns.length > 0 && machineRuns[machineRuns.length - 1].noisy === true;
    const banner = (await tab.page.$('#noisy-banner')) !== null;
    check(`${label}: noisy banner ${latestNoisy ? 'shown' : 'absent'}`, banner === latestNoisy, `banner ${banner ? 'shown' : 'absent'}, latest run noisy: ${latestNoisy}`);
    const summary = (await texts(tab.page, '#summary')).join('');
    check(`${label}: summary counts runs and benchmarks`, summary.includes(`${machineRuns.length} run`) && summary.includes(`${mine.length} benchmark`), JSON.stringify(summary));
    if (mine.length > 1) {
      // Sorting by a column and filtering must not break the page.
      await tab.page.click('#benchmark-table thead th:nth-child(4) button');
      await tab.page.fill('#benchmark-filter', mine[0].name.slice(0, 4));
      const shown = await tab.page.$$eval('#benchmark-table tbody tr', (rows) => rows.filter((r) => !r.hidden).length);
      check(`${label}: filter keeps matching rows`, shown >= 1, 'no row left after filtering on a prefix of a benchmark name');
    }
    await finish(label);
  }

  // --- benchmark.html ------------------------------------------------------------------------------------------
  for (const spec of options.expectPoints) {
    const found = benchmarks.filter((b) => b.name === spec.name && (options.machine === null || b.machine === options.machine));
    check(`--expect-points ${spec.name}: benchmark exists${options.machine ? ' on ' + options.machine : ''}`, found.length > 0, 'not in data.js');
  }
  for (const name of options.expectRegressions) {
    check(`--expect-regression ${name}: benchmark exists`, benchmarks.some((b) => b.name === name), 'not in data.js');
  }
  const named = new Set([...options.expectPoints.map((s) => s.name), ...options.expectRegressions]);
  const pages = benchmarks.filter((b) => named.has(b.name));
  for (const b of benchmarks) {
    if (pages.length >= options.maxBenchmarkPages) break;
    if (!pages.includes(b)) pages.push(b);
  }
  if (pages.length < benchmarks.length) console.log(`site-test: visiting ${pages.length} of ${benchmarks.length} benchmark pages (--max-benchmark-pages)`);
  // Interactions on the named benchmarks, else on the one with the most points.
  const interactive = new Set(pages.filter((b) => named.has(b.name)));
  if (!interactive.size && pages.length) interactive.add(pages.reduce((best, b) => ((b.points || []).length > (best.points || []).length ? b : best)));

  for (const b of pages) {
    const label = `benchmark ${b.machine} ${b.name}`;
    const points = Array.isArray(b.points) ? b.points : [];
    const changes = Array.isArray(b.change_points) ? b.change_points : [];
    const tab = await open(siteUrl('benchmark.html', { machine: b.machine, name: b.name }));
    const { page } = tab;
    const title = (await texts(page, 'h1.bench-title')).join('');
    check(`${label}: title is the name verbatim`, title === b.name, JSON.stringify(title));
    if (points.length === 0) {
      check(`${label}: says it has no points`, (await page.$('.message')) !== null, 'no message for an empty benchmark');
      await finish(label);
      continue;
    }
    const shown = await page.evaluate(() => {
      const c = document.querySelector('#history-chart');
      const chart = (window.VMM_CHARTS || [])[0];
      return c ? { points: Number(c.getAttribute('data-points')), changes: Number(c.getAttribute('data-change-points')), chartPoints: chart ? chart.points : -1 } : null;
    });
    if (check(`${label}: history chart present`, shown !== null, 'no #history-chart')) {
      check(`${label}: plots ${points.length} points`, shown.points === points.length && shown.chartPoints === points.length,
        `data-points ${shown.points}, chart ${shown.chartPoints}`);
      for (const spec of options.expectPoints) {
        if (spec.name === b.name && (options.machine === null || options.machine === b.machine)) {
          check(`${label}: --expect-points ${spec.count}`, shown.points === spec.count, `plots ${shown.points} points`);
        }
      }
      check(`${label}: marks ${changes.length} change points`, shown.changes === changes.length, `${shown.changes} marked`);
      if (changes.length) {
        const rows = await page.$$eval('#change-table tbody tr', (r) => r.length);
        check(`${label}: change point table`, rows === changes.length, `${rows} rows`);
      }
    }
    if (shown !== null && interactive.has(b)) {
      const box = await page.locator('#history-chart').boundingBox();
      const last = points.length - 1;
      const commit = (runs[points[last].run] || {}).commit || '';
      const at = async (i) => {
        const p = await page.evaluate((index) => window.VMM_CHARTS[0].pixelOf(index), i);
        return { x: box.x + p[0], y: box.y + p[1] };
      };
      // Hover: the tooltip names the point's commit.
      const target = await at(last);
      await page.mouse.move(target.x - 30, target.y);
      await page.mouse.move(target.x, target.y, { steps: 3 });
      let tip = '';
      try {
        await page.waitForFunction((s) => [...document.querySelectorAll('.vmm-tooltip')].some((t) => t.offsetParent !== null && t.textContent.includes(s)),
          short(commit), { timeout: WAIT_MS });
        tip = short(commit);
      } catch (_) {
        tip = (await texts(page, '.vmm-tooltip')).join(' | ');
      }
      check(`${label}: hovering the latest point shows a tooltip with commit ${short(commit)}`, tip === short(commit), 'tooltip: ' + JSON.stringify(tip));
      // Click: opens the commit in a new tab when commit_url is set, else nothing.
      const expected = commitUrl && /^[0-9a-fA-F]{4,64}$/.test(commit) ? commitUrl.split('{commit}').join(commit) : null;
      if (expected) allowedUrls.add(expected);
      const opened = [];
      const onPage = (p) => opened.push(p);
      context.on('page', onPage);
      await page.mouse.click(target.x, target.y);
      const deadline = Date.now() + (expected ? WAIT_MS : 1000);
      while (Date.now() < deadline && (expected ? opened.length === 0 : true)) await page.waitForTimeout(100);
      context.off('page', onPage);
      if (expected) {
        let url = null;
        if (opened.length) {
          await opened[0].waitForURL((u) => /^https?:/.test(u.href), { timeout: WAIT_MS }).catch(() => {});
          url = opened[0].url();
        }
        check(`${label}: clicking the latest point opens its commit`, opened.length === 1 && url === expected, `${opened.length} tabs opened, first at ${url}, expected ${expected}`);
      } else {
        check(`${label}: clicking a point opens nothing without commit_url`, opened.length === 0, `${opened.length} tabs opened`);
      }
      for (const p of opened) await p.close();
      // Zoom with the mouse wheel over the plot.
      if (points.length >= 3) {
        const middle = await at(Math.floor(points.length / 2));
        await page.mouse.move(middle.x, box.y + box.height / 3);
        await page.mouse.wheel(0, -400);
        let zoom = null;
        try {
          await page.waitForFunction(() => {
            const z = window.VMM_CHARTS[0].chart.getOption().dataZoom[0];
            return z.end - z.start < 100;
          }, null, { timeout: WAIT_MS });
          zoom = await page.evaluate(() => window.VMM_CHARTS[0].chart.getOption().dataZoom[0]);
        } catch (_) {
          zoom = await page.evaluate(() => window.VMM_CHARTS[0].chart.getOption().dataZoom[0]).catch(() => null);
        }
        check(`${label}: mouse wheel zooms`, zoom && zoom.end - zoom.start < 100, 'zoom window ' + (zoom ? `${zoom.start}..${zoom.end} %` : 'unknown'));
      }
    }
    await finish(label);
  }

  // --- regressions.html ----------------------------------------------------------------------------------------
  {
    const label = 'regressions';
    const tab = await open(siteUrl('regressions.html'));
    const names = await texts(tab.page, '#regression-table tbody tr a.bench-name');
    if (regressions.length === 0) {
      check(`${label}: says no regressions were detected`, (await tab.page.$('#no-regressions')) !== null, 'no #no-regressions message');
    } else {
      check(`${label}: one row per regression`, names.length === regressions.length, `${names.length} rows, data has ${regressions.length}`);
      const missing = regressions.filter((r) => !names.includes(r.benchmark)).map((r) => JSON.stringify(r.benchmark));
      check(`${label}: every benchmark name shown verbatim`, missing.length === 0, 'missing or altered: ' + missing.join(', '));
    }
    for (const name of options.expectRegressions) {
      check(`${label}: lists the expected regression of ${name}`, names.includes(name), `listed: ${JSON.stringify(names)}`);
    }
    if (names.length) {
      // Follow the first benchmark link: it must open that benchmark's page.
      const before = names[0];
      await Promise.all([tab.page.waitForEvent('load', { timeout: WAIT_MS }), tab.page.click('#regression-table tbody tr:first-child a.bench-name')]);
      await tab.page.waitForSelector('body[data-ready="true"]', { timeout: WAIT_MS });
      const title = (await texts(tab.page, 'h1.bench-title')).join('');
      check(`${label}: the first benchmark link opens its page`, title === before, `opened ${JSON.stringify(title)}`);
    }
    await finish(label);
  }
  for (const machine of machineIds) {
    const label = `regressions #machine=${machine}`;
    const tab = await open(siteUrl('regressions.html', { machine }));
    const expected = regressions.filter((r) => r.machine === machine).length;
    const rows = await tab.page.$$eval('#regression-table tbody tr', (r) => r.length);
    if (expected === 0) check(`${label}: says none were detected`, (await tab.page.$('#no-regressions')) !== null, `${rows} rows and no message`);
    else check(`${label}: ${expected} rows`, rows === expected, `${rows} rows`);
    await finish(label);
  }

  // --- compare.html --------------------------------------------------------------------------------------------
  {
    const tab = await open(siteUrl('compare.html'));
    check('compare (default): renders a table or a message', (await tab.page.$('#compare-table, .message')) !== null, 'neither a table nor a message');
    await finish('compare (default)');
  }
  if (runs.length >= 2) {
    // The two latest runs: the last two runs (in data.js order) of the machine whose latest run is the newest.
    let machine = null;
    let newest = '';
    for (const id of machineIds) {
      const mine = runs.filter((r) => r.machine === id);
      if (mine.length >= 2 && (machine === null || String(mine[mine.length - 1].run_date) > newest)) {
        machine = id;
        newest = String(mine[mine.length - 1].run_date);
      }
    }
    if (machine !== null) {
      const mine = runs.filter((r) => r.machine === machine);
      const [a, b] = [mine[mine.length - 2], mine[mine.length - 1]];
      const indexOf = (run) => runs.indexOf(run);
      const namesIn = (run) => new Set(benchmarks.filter((x) => x.machine === run.machine && (x.points || []).some((p) => p.run === indexOf(run))).map((x) => x.name));
      const inA = namesIn(a);
      const inB = namesIn(b);
      const both = [...inA].filter((n) => inB.has(n));
      const label = `compare ${short(a.commit)}/${a.profile} vs ${short(b.commit)}/${b.profile} on ${machine}`;
      const tab = await open(siteUrl('compare.html', { a: a.id, b: b.id }));
      const names = await texts(tab.page, '#compare-table tbody tr a.bench-name');
      check(`${label}: one row per benchmark in both runs`, names.length === both.length && both.every((n) => names.includes(n)),
        `rows ${JSON.stringify(names)}, expected ${JSON.stringify(both)}`);
      const onlyA = (await texts(tab.page, '#only-a li')).length;
      const onlyB = (await texts(tab.page, '#only-b li')).length;
      check(`${label}: lists benchmarks only in one run`, onlyA === [...inA].filter((n) => !inB.has(n)).length && onlyB === [...inB].filter((n) => !inA.has(n)).length,
        `only in A ${onlyA}, only in B ${onlyB}`);
      // Choosing another run in the dropdown re-renders the comparison.
      const other = runs.find((r) => r !== a && r !== b);
      if (other) {
        const before = await renderCount(tab.page);
        await tab.page.selectOption('#run-a', other.id);
        try {
          await waitRender(tab.page, before);
          const summary = (await texts(tab.page, '#summary')).join('');
          check(`${label}: choosing run A in the dropdown re-renders`, summary.includes(short(other.commit)), JSON.stringify(summary));
        } catch (err) {
          check(`${label}: choosing run A in the dropdown re-renders`, false, err.message.split('\n')[0]);
        }
      }
      await finish(label);
    }
  }
} catch (err) {
  check('the test itself ran to the end', false, err && err.stack ? err.stack : String(err));
} finally {
  if (browser) await browser.close().catch(() => {});
  clearTimeout(watchdog);
}

const failed = results.filter((r) => !r.ok);
for (const f of failed) console.log(`FAIL ${f.name}${f.detail ? '\n      ' + f.detail : ''}`);
if (failed.length) {
  console.log(`site-test: ${failed.length} of ${results.length} checks failed`);
  process.exit(1);
}
console.log(`site-test: ${results.length} checks passed`);
