/*
 * cpp-vmm benchmark dashboard: the one script behind every page of the static site.
 *
 * Reads window.VMM_DATA (set by data.js; the contract is in dashboards/README.md of cpp-vmm), checks every field, and renders the page
 * named by <body data-page="...">: index, benchmark, regressions or compare. It deliberately does not fetch anything
 * (the site works from file:// with no network), does not use a framework or a build step, and never inserts a string
 * from the data as HTML: benchmark names, branches and commits come from result files that anyone who can open a pull
 * request can write, so every such string goes through textContent or createElement.
 *
 * For tests: <body data-ready="true" data-render-count="N"> once a page has rendered (N counts renders: the page
 * renders again on every change of the location hash), data-points / data-change-points on a chart's
 * container, and window.VMM_CHARTS, a list of { id, machine, name, points, changePoints, chart } for every chart.
 */
(function () {
  'use strict';

  const SCHEMA_VERSION = 1;
  /// The trend compares the latest median with the median of this many points before it.
  const TREND_WINDOW = 5;
  /// How many of the latest points an index-page sparkline shows.
  const SPARK_POINTS = 30;
  /// Changes smaller than this (as a fraction) are shown as neutral: below the noise of most benchmarks.
  const NEUTRAL_CHANGE = 0.02;
  /// Changes at least this large (as a fraction) are shown in a strong colour.
  const STRONG_CHANGE = 0.10;
  const COLOR_REGRESSION = '#c62828';
  const COLOR_IMPROVEMENT = '#2e7d32';
  const COLOR_MEDIAN = '#1f5fa8';

  window.VMM_CHARTS = [];

  // ---------------------------------------------------------------------------------------------------------------
  // DOM helpers: the only way this script creates content. Strings always become text nodes.

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function message(kind, ...children) {
    return el('div', { class: 'message message-' + kind, role: kind === 'error' ? 'alert' : 'status' }, ...children);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The location hash: "#machine=ci-runner-1&name=bench_sys/BM_x". Values are percent-encoded except for characters
  // that are harmless in a fragment and common in benchmark names, so hashes stay readable.

  function encodeHashValue(value) {
    return encodeURIComponent(value).replace(/%2F/g, '/').replace(/%3A/g, ':').replace(/%40/g, '@');
  }

  function parseHash() {
    const result = {};
    const hash = window.location.hash.replace(/^#/, '');
    for (const part of hash.split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const key = eq < 0 ? part : part.slice(0, eq);
      const raw = eq < 0 ? '' : part.slice(eq + 1);
      try {
        result[decodeURIComponent(key)] = decodeURIComponent(raw);
      } catch (_) {
        // A malformed escape: ignore that parameter rather than fail the page.
      }
    }
    return result;
  }

  function hashString(params) {
    return Object.entries(params)
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => encodeHashValue(k) + '=' + encodeHashValue(String(v)))
      .join('&');
  }

  function pageLink(page, params) {
    const hash = hashString(params);
    return page + (hash ? '#' + hash : '');
  }

  function setHash(params) {
    const hash = hashString(params);
    if (window.location.hash.replace(/^#/, '') !== hash) window.location.hash = hash;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Reading window.VMM_DATA. Nothing in it is trusted: every field is checked, and what cannot be used is dropped
  // and counted, so a partial or malformed file still renders what it can and says what it left out.

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const asArray = (v) => (Array.isArray(v) ? v : []);
  const asString = (v, fallback) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : fallback);
  const asNumber = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

  function loadData() {
    const raw = window.VMM_DATA;
    if (!isObject(raw)) {
      return { error: 'No benchmark data: data.js is missing or did not set window.VMM_DATA.' };
    }
    const warnings = [];
    if (raw.schema_version !== SCHEMA_VERSION) {
      warnings.push('data.js has schema_version ' + JSON.stringify(raw.schema_version === undefined ? null : raw.schema_version) +
        ', this page understands ' + SCHEMA_VERSION + '; some fields may be missing or misread.');
    }

    let commitUrl = null;
    if (typeof raw.commit_url === 'string' && /^https?:\/\/[^\s]+$/i.test(raw.commit_url) && raw.commit_url.includes('{commit}')) {
      commitUrl = raw.commit_url;
    } else if (raw.commit_url !== null && raw.commit_url !== undefined) {
      warnings.push('commit_url is not an http(s) URL containing {commit}; commits are shown without links.');
    }

    let droppedRuns = 0;
    const runs = asArray(raw.runs).map((r, index) => {
      if (!isObject(r)) {
        droppedRuns++;
        return null;
      }
      return {
        index,
        id: asString(r.id, 'run #' + index),
        machine: asString(r.machine, '(unknown machine)'),
        profile: asString(r.profile, ''),
        commit: asString(r.commit, ''),
        branch: asString(r.branch, ''),
        commit_date: asString(r.commit_date, ''),
        run_date: asString(r.run_date, ''),
        dirty: r.dirty === true,
        complete: r.complete !== false,
        noisy: r.noisy === true,
        noisy_reasons: asArray(r.noisy_reasons).map((x) => asString(x, JSON.stringify(x))),
      };
    });
    if (droppedRuns) warnings.push(droppedRuns + ' malformed run entries were ignored.');

    let droppedPoints = 0;
    let droppedBenchmarks = 0;
    const benchmarks = [];
    for (const b of asArray(raw.benchmarks)) {
      if (!isObject(b) || typeof b.name !== 'string' || typeof b.machine !== 'string') {
        droppedBenchmarks++;
        continue;
      }
      const remap = new Map(); // index in the file's points → index in ours
      const points = [];
      asArray(b.points).forEach((p, original) => {
        const run = isObject(p) && Number.isInteger(p.run) ? runs[p.run] : null;
        const median = isObject(p) ? asNumber(p.median) : null;
        if (!run || median === null) {
          droppedPoints++;
          return;
        }
        remap.set(original, points.length);
        points.push({
          run,
          median,
          min: asNumber(p.min),
          max: asNumber(p.max),
          q1: asNumber(p.q1),
          q3: asNumber(p.q3),
          n: Number.isInteger(p.n) ? p.n : null,
        });
      });
      const changePoints = asArray(b.change_points).filter(isObject).map((c) => ({
        point: Number.isInteger(c.point) && remap.has(c.point) ? remap.get(c.point) : null,
        from_commit: asString(c.from_commit, ''),
        to_commit: asString(c.to_commit, ''),
        ratio: asNumber(c.ratio),
        p_value: asNumber(c.p_value),
        confidence: asNumber(c.confidence),
        kind: c.kind === 'improvement' ? 'improvement' : c.kind === 'regression' ? 'regression' : 'change',
      }));
      benchmarks.push({ machine: b.machine, name: b.name, unit: asString(b.unit, ''), points, changePoints });
    }
    if (droppedBenchmarks) warnings.push(droppedBenchmarks + ' malformed benchmark entries were ignored.');
    if (droppedPoints) warnings.push(droppedPoints + ' points without a valid run or median were ignored.');

    const regressions = asArray(raw.regressions).filter(isObject).map((r) => ({
      machine: asString(r.machine, '(unknown machine)'),
      benchmark: asString(r.benchmark, '(unnamed benchmark)'),
      from_commit: asString(r.from_commit, ''),
      to_commit: asString(r.to_commit, ''),
      ratio: asNumber(r.ratio),
      p_value: asNumber(r.p_value),
      confidence: asNumber(r.confidence),
    }));

    // Machines: those listed, then any that only appear in runs or benchmarks (listed with what is known).
    const machines = [];
    const machineById = new Map();
    const addMachine = (m) => {
      if (!machineById.has(m.id)) {
        machineById.set(m.id, m);
        machines.push(m);
      }
    };
    for (const m of asArray(raw.machines)) {
      if (!isObject(m) || typeof m.id !== 'string') continue;
      addMachine({ id: m.id, cpu: asString(m.cpu, ''), kernel: asString(m.kernel, '') });
    }
    const extra = new Set();
    for (const r of runs) if (r && !machineById.has(r.machine)) extra.add(r.machine);
    for (const b of benchmarks) if (!machineById.has(b.machine)) extra.add(b.machine);
    for (const id of [...extra].sort()) addMachine({ id, cpu: '', kernel: '' });

    const runById = new Map();
    for (const r of runs) if (r && !runById.has(r.id)) runById.set(r.id, r);

    return {
      generated: asString(raw.generated, ''),
      commitUrl,
      machines,
      machineById,
      runs: runs.filter(Boolean),
      runById,
      benchmarks,
      regressions,
      warnings,
    };
  }

  function runsOf(data, machine) {
    return data.runs.filter((r) => r.machine === machine);
  }

  function benchmarksOf(data, machine) {
    return data.benchmarks.filter((b) => b.machine === machine).sort((a, b) => compareStrings(a.name, b.name));
  }

  function findBenchmark(data, machine, name) {
    return data.benchmarks.find((b) => b.machine === machine && b.name === name) || null;
  }

  /// The machine a page shows when the hash names none: the one whose last run is the most recent.
  function defaultMachine(data) {
    let best = null;
    let bestDate = '';
    for (const m of data.machines) {
      const runs = runsOf(data, m.id);
      const last = runs.length ? runs[runs.length - 1].run_date : '';
      if (best === null || last > bestDate) {
        best = m.id;
        bestDate = last;
      }
    }
    return best;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Formatting

  function compareStrings(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
  }

  const UNIT_TO_NS = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9 };
  const significant = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });

  function formatValue(value, unit) {
    if (value === null || value === undefined) return '—';
    const factor = UNIT_TO_NS[unit];
    if (factor === undefined) return significant.format(value) + (unit ? ' ' + unit : '');
    const ns = value * factor;
    const abs = Math.abs(ns);
    if (abs >= 1e9) return significant.format(ns / 1e9) + ' s';
    if (abs >= 1e6) return significant.format(ns / 1e6) + ' ms';
    if (abs >= 1e3) return significant.format(ns / 1e3) + ' µs';
    return significant.format(ns) + ' ns';
  }

  function formatChange(ratio) {
    if (ratio === null) return '—';
    const text = Math.abs((ratio - 1) * 100).toFixed(1);
    const sign = text === '0.0' ? '±' : ratio > 1 ? '+' : '−';
    return sign + text + ' %';
  }

  function formatPercent(fraction) {
    if (fraction === null) return '—';
    return (fraction * 100).toFixed(fraction >= 0.999 && fraction < 1 ? 2 : 1) + ' %';
  }

  function formatPValue(p) {
    if (p === null) return '—';
    return p < 0.0001 ? p.toExponential(1) : p.toPrecision(2);
  }

  /// Lower is better for every benchmark: a ratio above 1 is a regression.
  function changeClass(ratio) {
    if (ratio === null) return 'change-none';
    const delta = ratio - 1;
    if (Math.abs(delta) < NEUTRAL_CHANGE) return 'change-neutral';
    const strength = Math.abs(delta) >= STRONG_CHANGE ? '-strong' : '';
    return (delta > 0 ? 'change-worse' : 'change-better') + strength;
  }

  function formatDate(text) {
    if (!text) return '—';
    const date = new Date(text);
    if (Number.isNaN(date.getTime())) return text;
    return date.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  }

  function shortCommit(commit) {
    return commit ? commit.slice(0, 8) : '—';
  }

  function commitHref(data, commit) {
    if (!data.commitUrl || !/^[0-9a-fA-F]{4,64}$/.test(commit)) return null;
    return data.commitUrl.split('{commit}').join(commit);
  }

  function commitLink(data, commit) {
    const href = commitHref(data, commit);
    const attrs = { class: 'commit', title: commit || 'unknown commit' };
    if (!href) return el('span', attrs, shortCommit(commit));
    return el('a', Object.assign(attrs, { href, target: '_blank', rel: 'noopener noreferrer' }), shortCommit(commit));
  }

  /// q1–q3 when both are known, else min–max, as "± x %" of the median; with the range in the title.
  function spreadCell(point, unit) {
    if (!point) return el('span', {}, '—');
    const lo = point.q1 !== null && point.q3 !== null ? point.q1 : point.min;
    const hi = point.q1 !== null && point.q3 !== null ? point.q3 : point.max;
    if (lo === null || hi === null || point.median === 0) return el('span', {}, '—');
    const label = point.q1 !== null && point.q3 !== null ? 'q1–q3' : 'min–max';
    const half = ((hi - lo) / 2 / Math.abs(point.median)) * 100;
    return el('span', { title: label + ': ' + formatValue(lo, unit) + ' – ' + formatValue(hi, unit) + (point.n !== null ? ', n = ' + point.n : '') },
      '± ' + half.toFixed(1) + ' %');
  }

  function median(values) {
    if (!values.length) return null;
    const sorted = values.slice().sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  /// Latest median over the median of the TREND_WINDOW points before it; null with fewer than two points.
  function trendRatio(points) {
    if (points.length < 2) return null;
    const latest = points[points.length - 1].median;
    const before = median(points.slice(-1 - TREND_WINDOW, -1).map((p) => p.median));
    return before ? latest / before : null;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Shared page parts

  function machineSelect(data, selected, onChange, options) {
    const select = el('select', { id: 'machine-select', 'aria-label': 'Machine' });
    if (options && options.allLabel) select.appendChild(el('option', { value: '' }, options.allLabel));
    for (const m of data.machines) {
      const label = m.id + (m.cpu ? ' — ' + m.cpu : '');
      select.appendChild(el('option', { value: m.id }, label));
    }
    if (selected !== null && !data.machineById.has(selected) && !(options && options.allLabel && selected === '')) {
      select.appendChild(el('option', { value: selected }, selected + ' (unknown)'));
    }
    select.value = selected === null ? '' : selected;
    select.addEventListener('change', () => onChange(select.value));
    return el('label', { class: 'control' }, 'Machine ', select);
  }

  function machineInfo(data, machineId) {
    const m = data.machineById.get(machineId);
    if (!m) return null;
    const parts = [m.id];
    if (m.cpu) parts.push(m.cpu);
    if (m.kernel) parts.push('kernel ' + m.kernel);
    return el('p', { class: 'machine-info' }, parts.join(' · '));
  }

  function warningsBlock(data) {
    if (!data.warnings.length) return null;
    return message('warning', el('ul', {}, data.warnings.map((w) => el('li', {}, w))));
  }

  function runFlags(run) {
    const flags = [];
    if (run.noisy) flags.push(el('span', { class: 'flag flag-noisy', title: run.noisy_reasons.join('; ') || 'flagged noisy' }, 'noisy'));
    if (run.dirty) flags.push(el('span', { class: 'flag flag-dirty', title: 'built from a work tree with uncommitted changes' }, 'dirty'));
    if (!run.complete) flags.push(el('span', { class: 'flag flag-incomplete', title: 'not every benchmark finished' }, 'incomplete'));
    return flags;
  }

  /// A table whose columns sort on a click of their header. columns: { title, value(row), cell(row), numeric,
  /// class }. value() gives the sort key (number or string; null sorts last).
  function sortableTable(id, columns, rows, initial) {
    let sortIndex = initial ? initial.column : 0;
    let descending = initial ? initial.descending === true : false;
    const tbody = el('tbody');
    const headers = columns.map((c, i) =>
      el('th', { scope: 'col', class: (c.numeric ? 'num ' : '') + (c.class || ''), 'aria-sort': 'none' },
        el('button', { type: 'button', class: 'sort', onclick: () => {
          descending = sortIndex === i ? !descending : false;
          sortIndex = i;
          fill();
        } }, c.title)));
    const fill = () => {
      const col = columns[sortIndex];
      const sorted = rows.slice().sort((a, b) => {
        const va = col.value(a);
        const vb = col.value(b);
        if (va === null || va === undefined) return vb === null || vb === undefined ? 0 : 1;
        if (vb === null || vb === undefined) return -1;
        const order = typeof va === 'number' && typeof vb === 'number' ? va - vb : compareStrings(String(va), String(vb));
        return descending ? -order : order;
      });
      clear(tbody);
      for (const row of sorted) {
        tbody.appendChild(el('tr', {}, columns.map((c) => el('td', { class: (c.numeric ? 'num ' : '') + (c.class || '') }, c.cell(row)))));
      }
      headers.forEach((h, i) => h.setAttribute('aria-sort', i === sortIndex ? (descending ? 'descending' : 'ascending') : 'none'));
    };
    fill();
    return el('table', { id, class: 'data' }, el('thead', {}, el('tr', {}, headers)), tbody);
  }

  function sparkline(points, changePoints) {
    const width = 120;
    const height = 26;
    const pad = 2;
    const shown = points.slice(-SPARK_POINTS);
    const offset = points.length - shown.length;
    const root = svg('svg', { class: 'sparkline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
    const title = svg('title');
    title.textContent = 'Last ' + shown.length + ' medians';
    root.appendChild(title);
    if (!shown.length) return root;
    const values = shown.map((p) => p.median);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    const x = (i) => (shown.length === 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (shown.length - 1));
    const y = (v) => (hi === lo ? height / 2 : height - pad - ((v - lo) * (height - 2 * pad)) / (hi - lo));
    for (const c of changePoints) {
      if (c.point === null || c.point < offset) continue;
      const cx = x(c.point - offset);
      root.appendChild(svg('line', { x1: cx, x2: cx, y1: 0, y2: height, class: 'spark-change spark-' + c.kind }));
    }
    root.appendChild(svg('polyline', { points: values.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1)).join(' '), class: 'spark-line' }));
    root.appendChild(svg('circle', { cx: x(values.length - 1), cy: y(values[values.length - 1]), r: 2.2, class: 'spark-last' }));
    return root;
  }

  function header(active, data) {
    const regressionCount = data && !data.error ? data.regressions.length : null;
    const link = (page, label, name) => el('a', { href: page, class: active === name ? 'active' : null, 'aria-current': active === name ? 'page' : null }, label);
    return el('header', { class: 'site' },
      el('a', { href: 'index.html', class: 'brand' }, 'cpp-vmm benchmarks'),
      el('nav', {},
        link('index.html', 'Overview', 'index'),
        link('regressions.html', ['Regressions', regressionCount ? el('span', { class: 'badge' }, String(regressionCount)) : null], 'regressions'),
        link('compare.html', 'Compare runs', 'compare')));
  }

  function footer(data) {
    if (!data || data.error) return null;
    return el('footer', {}, 'Data generated ' + formatDate(data.generated) + ' · ' + data.runs.length + ' run' + (data.runs.length === 1 ? '' : 's') + ' on ' +
      data.machines.length + ' machine' + (data.machines.length === 1 ? '' : 's') + ' · lower is better for every benchmark');
  }

  // ---------------------------------------------------------------------------------------------------------------
  // index.html

  function renderIndex(data, main) {
    const params = parseHash();
    const machine = params.machine || defaultMachine(data);
    if (machine === null) {
      main.appendChild(message('info', 'No machines and no runs in this data set yet. Run the benchmarks and render the site again.'));
      return;
    }
    main.appendChild(el('div', { class: 'controls' }, machineSelect(data, machine, (m) => setHash({ machine: m }))));
    if (!data.machineById.has(machine)) {
      main.appendChild(message('error', 'Unknown machine "', machine, '": no runs or benchmarks recorded for it. Choose another machine above.'));
      return;
    }
    append(main, [machineInfo(data, machine)]);

    const runs = runsOf(data, machine);
    const benchmarks = benchmarksOf(data, machine);
    const latest = runs.length ? runs[runs.length - 1] : null;
    const changeCount = benchmarks.reduce((n, b) => n + b.changePoints.length, 0);
    const regressionCount = data.regressions.filter((r) => r.machine === machine).length;
    main.appendChild(el('p', { class: 'summary', id: 'summary' },
      runs.length + ' run' + (runs.length === 1 ? '' : 's') + ', ' + benchmarks.length + ' benchmark' + (benchmarks.length === 1 ? '' : 's') +
      ', ' + changeCount + ' change point' + (changeCount === 1 ? '' : 's') + '. ',
      latest ? ['Latest run: ', commitLink(data, latest.commit), latest.branch ? ' on ' + latest.branch : '', ', committed ' + formatDate(latest.commit_date) + ', run ' + formatDate(latest.run_date) + '. '] : 'No runs yet. ',
      el('a', { href: pageLink('regressions.html', { machine }) }, regressionCount + ' regression' + (regressionCount === 1 ? '' : 's')),
      ' · ',
      el('a', { href: latest && runs.length > 1 ? pageLink('compare.html', { a: runs[runs.length - 2].id, b: latest.id }) : 'compare.html' }, 'compare the latest two runs')));

    if (latest && latest.noisy) {
      const banner = message('warning', el('strong', {}, 'The latest run was flagged noisy'),
        latest.noisy_reasons.length ? ': ' + latest.noisy_reasons.join('; ') : '', '. Its numbers may not be reliable.');
      banner.id = 'noisy-banner';
      main.appendChild(banner);
    }
    if (latest && (latest.dirty || !latest.complete)) {
      main.appendChild(message('info', 'The latest run ' + (latest.dirty ? 'was built from uncommitted changes' : '') +
        (latest.dirty && !latest.complete ? ' and ' : '') + (!latest.complete ? 'is incomplete (not every benchmark finished)' : '') + '.'));
    }

    if (!benchmarks.length) {
      main.appendChild(message('info', 'No benchmarks recorded for machine "', machine, '".'));
      return;
    }

    const filter = el('input', { type: 'search', id: 'benchmark-filter', placeholder: 'Filter benchmarks', 'aria-label': 'Filter benchmarks' });
    main.appendChild(el('div', { class: 'controls' }, filter));

    const rows = benchmarks.map((b) => ({ b, latest: b.points.length ? b.points[b.points.length - 1] : null, trend: trendRatio(b.points) }));
    const table = sortableTable('benchmark-table', [
      { title: 'Benchmark', value: (r) => r.b.name, cell: (r) => el('a', { href: pageLink('benchmark.html', { machine, name: r.b.name }), class: 'bench-name' }, r.b.name) },
      { title: 'Latest', numeric: true, value: (r) => (r.latest ? r.latest.median * (UNIT_TO_NS[r.b.unit] || 1) : null), cell: (r) => (r.latest ? formatValue(r.latest.median, r.b.unit) : '—') },
      { title: 'Spread', numeric: true, value: (r) => (r.latest && r.latest.q3 !== null && r.latest.q1 !== null ? (r.latest.q3 - r.latest.q1) / r.latest.median : null), cell: (r) => spreadCell(r.latest, r.b.unit) },
      { title: 'Trend (vs. previous ' + TREND_WINDOW + ')', numeric: true, value: (r) => r.trend,
        cell: (r) => el('span', { class: 'change ' + changeClass(r.trend), title: r.trend === null ? 'needs at least two points' : 'latest median / median of the ' + TREND_WINDOW + ' points before it = ' + r.trend.toFixed(4) }, formatChange(r.trend)) },
      { title: 'History', value: (r) => r.b.points.length, cell: (r) => sparkline(r.b.points, r.b.changePoints), class: 'spark-cell' },
      { title: 'Change points', numeric: true, value: (r) => r.b.changePoints.length,
        cell: (r) => {
          const reg = r.b.changePoints.filter((c) => c.kind === 'regression').length;
          return el('span', { title: reg + ' regression(s), ' + (r.b.changePoints.length - reg) + ' other' }, String(r.b.changePoints.length), reg ? el('span', { class: 'flag flag-regression' }, reg + ' reg.') : null);
        } },
      { title: 'Points', numeric: true, value: (r) => r.b.points.length, cell: (r) => String(r.b.points.length) },
    ], rows);
    main.appendChild(el('div', { class: 'table-wrap' }, table));

    filter.addEventListener('input', () => {
      const needle = filter.value.toLowerCase();
      for (const tr of table.tBodies[0].rows) {
        tr.hidden = needle !== '' && !tr.cells[0].textContent.toLowerCase().includes(needle);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // benchmark.html

  let activeCharts = [];

  function disposeCharts() {
    for (const c of activeCharts) c.dispose();
    activeCharts = [];
    window.VMM_CHARTS = [];
  }

  function renderBenchmark(data, main) {
    const params = parseHash();
    const machine = params.machine || defaultMachine(data);
    const name = params.name || '';
    if (machine === null) {
      main.appendChild(message('info', 'No machines and no runs in this data set yet.'));
      return;
    }
    const benchmarks = data.machineById.has(machine) ? benchmarksOf(data, machine) : [];
    const benchSelect = el('select', { id: 'benchmark-select', 'aria-label': 'Benchmark' });
    if (!name || !benchmarks.some((b) => b.name === name)) benchSelect.appendChild(el('option', { value: '' }, name ? name + ' (not on this machine)' : '— choose a benchmark —'));
    for (const b of benchmarks) benchSelect.appendChild(el('option', { value: b.name }, b.name));
    benchSelect.value = benchmarks.some((b) => b.name === name) ? name : '';
    benchSelect.addEventListener('change', () => setHash({ machine, name: benchSelect.value }));
    main.appendChild(el('div', { class: 'controls' },
      machineSelect(data, machine, (m) => setHash({ machine: m, name })),
      el('label', { class: 'control' }, 'Benchmark ', benchSelect)));

    if (!data.machineById.has(machine)) {
      main.appendChild(message('error', 'Unknown machine "', machine, '". Choose another machine above.'));
      return;
    }
    append(main, [machineInfo(data, machine)]);
    if (!name) {
      main.appendChild(message('info', 'Choose a benchmark above, or go back to the ', el('a', { href: pageLink('index.html', { machine }) }, 'overview'), '.'));
      return;
    }
    const bench = findBenchmark(data, machine, name);
    main.appendChild(el('h1', { class: 'bench-title' }, name));
    if (!bench) {
      const elsewhere = data.benchmarks.filter((b) => b.name === name).map((b) => b.machine);
      main.appendChild(message('error', 'No benchmark "', name, '" on machine "', machine, '".',
        elsewhere.length ? [' It has results on: ', elsewhere.map((m, i) => [i ? ', ' : '', el('a', { href: pageLink('benchmark.html', { machine: m, name }) }, m)]), '.'] : ''));
      return;
    }

    const points = bench.points;
    const latest = points.length ? points[points.length - 1] : null;
    main.appendChild(el('p', { class: 'summary', id: 'summary' },
      points.length + ' point' + (points.length === 1 ? '' : 's') + ' in commit order · latest ' + (latest ? formatValue(latest.median, bench.unit) : '—') +
      ' · ' + bench.changePoints.length + ' change point' + (bench.changePoints.length === 1 ? '' : 's') + ' · unit ' + (bench.unit || '(none)') + ' · lower is better'));

    if (!points.length) {
      main.appendChild(message('info', 'This benchmark has no points with a valid run and median yet.'));
    } else if (typeof window.echarts === 'undefined') {
      main.appendChild(message('error', 'The chart library (vendor/echarts.min.js) did not load, so the history plot is missing. The tables below still list every point.'));
    } else {
      const container = el('div', { id: 'history-chart', class: 'chart', 'data-points': String(points.length), 'data-change-points': String(bench.changePoints.filter((c) => c.point !== null).length) });
      main.appendChild(container);
      main.appendChild(el('p', { class: 'legend-note' },
        'Line: median of the repetitions of each run; shaded band: q1–q3; whiskers: min–max. Vertical lines are change points (',
        el('span', { class: 'change-worse' }, 'red: regression'), ', ', el('span', { class: 'change-better' }, 'green: improvement'),
        '). Hollow grey points are runs flagged noisy. Drag the slider or use the mouse wheel to zoom', data.commitUrl ? '; click a point to open its commit.' : '.'));
      drawHistory(data, bench, container);
    }

    if (bench.changePoints.length) {
      main.appendChild(el('h2', {}, 'Change points'));
      main.appendChild(el('div', { class: 'table-wrap' }, sortableTable('change-table', [
        { title: 'Point', numeric: true, value: (c) => c.point, cell: (c) => (c.point === null ? '?' : '#' + (c.point + 1)) },
        { title: 'Kind', value: (c) => c.kind, cell: (c) => el('span', { class: c.kind === 'regression' ? 'change-worse' : c.kind === 'improvement' ? 'change-better' : '' }, c.kind) },
        { title: 'Commits', value: (c) => c.to_commit, cell: (c) => [commitLink(data, c.from_commit), ' .. ', commitLink(data, c.to_commit)] },
        { title: 'Change', numeric: true, value: (c) => c.ratio, cell: (c) => el('span', { class: 'change ' + changeClass(c.ratio) }, formatChange(c.ratio)) },
        { title: 'Confidence', numeric: true, value: (c) => c.confidence, cell: (c) => formatPercent(c.confidence) },
        { title: 'p-value', numeric: true, value: (c) => c.p_value, cell: (c) => formatPValue(c.p_value) },
      ], bench.changePoints, { column: 0, descending: true })));
    }

    if (points.length) {
      const indexed = points.map((p, i) => Object.assign({ i }, p));
      main.appendChild(el('details', { class: 'points' }, el('summary', {}, 'All ' + points.length + ' points'),
        el('div', { class: 'table-wrap' }, sortableTable('points-table', [
          { title: '#', numeric: true, value: (p) => p.i, cell: (p) => String(p.i + 1) },
          { title: 'Commit', value: (p) => p.run.commit, cell: (p) => commitLink(data, p.run.commit) },
          { title: 'Branch', value: (p) => p.run.branch, cell: (p) => p.run.branch || '—' },
          { title: 'Commit date', value: (p) => p.run.commit_date, cell: (p) => formatDate(p.run.commit_date) },
          { title: 'Median', numeric: true, value: (p) => p.median, cell: (p) => formatValue(p.median, bench.unit) },
          { title: 'Min', numeric: true, value: (p) => p.min, cell: (p) => formatValue(p.min, bench.unit) },
          { title: 'Max', numeric: true, value: (p) => p.max, cell: (p) => formatValue(p.max, bench.unit) },
          { title: 'n', numeric: true, value: (p) => p.n, cell: (p) => (p.n === null ? '—' : String(p.n)) },
          { title: 'Run', value: (p) => p.run.id, cell: (p) => [p.run.profile || '', ' ', runFlags(p.run)] },
        ], indexed, { column: 0, descending: true }))));
    }
  }

  function tooltipContent(data, bench, point, index) {
    const row = (label, value) => el('tr', {}, el('th', {}, label), el('td', {}, value));
    const spread = [];
    if (point.min !== null && point.max !== null) spread.push(row('min – max', formatValue(point.min, bench.unit) + ' – ' + formatValue(point.max, bench.unit)));
    if (point.q1 !== null && point.q3 !== null) spread.push(row('q1 – q3', formatValue(point.q1, bench.unit) + ' – ' + formatValue(point.q3, bench.unit)));
    const flags = [];
    if (point.run.noisy) flags.push('noisy' + (point.run.noisy_reasons.length ? ' (' + point.run.noisy_reasons.join('; ') + ')' : ''));
    if (point.run.dirty) flags.push('dirty');
    if (!point.run.complete) flags.push('incomplete');
    const change = bench.changePoints.find((c) => c.point === index);
    return el('div', { class: 'tip' },
      el('div', { class: 'tip-commit' }, shortCommit(point.run.commit), point.run.branch ? ' · ' + point.run.branch : ''),
      el('table', {},
        row('point', '#' + (index + 1) + ' of ' + bench.points.length),
        row('commit date', formatDate(point.run.commit_date)),
        row('median', formatValue(point.median, bench.unit)),
        spread,
        row('repetitions', point.n === null ? '—' : String(point.n)),
        point.run.profile ? row('profile', point.run.profile) : null,
        flags.length ? row('flags', flags.join(', ')) : null,
        change ? row('change point', change.kind + ' ' + formatChange(change.ratio)) : null),
      commitHref(data, point.run.commit) ? el('div', { class: 'tip-hint' }, 'click to open the commit') : null);
  }

  function drawHistory(data, bench, container) {
    const points = bench.points;
    const unit = bench.unit;
    const hasQuartiles = points.some((p) => p.q1 !== null && p.q3 !== null);
    const commits = points.map((p) => shortCommit(p.run.commit));
    const chart = window.echarts.init(container, null, { renderer: 'canvas' });
    activeCharts.push(chart);

    const markLines = bench.changePoints.filter((c) => c.point !== null).map((c) => ({
      xAxis: c.point - 0.5,
      lineStyle: { color: c.kind === 'regression' ? COLOR_REGRESSION : c.kind === 'improvement' ? COLOR_IMPROVEMENT : '#777', type: 'solid', width: 2 },
      label: { formatter: formatChange(c.ratio), color: c.kind === 'regression' ? COLOR_REGRESSION : c.kind === 'improvement' ? COLOR_IMPROVEMENT : '#555', fontWeight: 'bold' },
    }));

    const series = [];
    if (hasQuartiles) {
      series.push({
        name: 'q1', type: 'line', stack: 'band', symbol: 'none', silent: true, lineStyle: { opacity: 0 },
        data: points.map((p, i) => [i, p.q1 !== null && p.q3 !== null ? p.q1 : null]), connectNulls: false, z: 1,
      });
      series.push({
        name: 'q1–q3', type: 'line', stack: 'band', symbol: 'none', silent: true, lineStyle: { opacity: 0 },
        areaStyle: { color: COLOR_MEDIAN, opacity: 0.18 },
        data: points.map((p, i) => [i, p.q1 !== null && p.q3 !== null ? p.q3 - p.q1 : null]), connectNulls: false, z: 1,
      });
    }
    series.push({
      name: 'min–max', type: 'custom', silent: true, z: 2, clip: true,
      data: points.map((p, i) => [i, p.min !== null ? p.min : p.median, p.max !== null ? p.max : p.median]),
      encode: { x: 0, y: [1, 2] },
      renderItem: (params, api) => {
        const low = api.coord([api.value(0), api.value(1)]);
        const high = api.coord([api.value(0), api.value(2)]);
        const cap = Math.max(2, Math.min(6, api.size([1, 0])[0] * 0.25));
        const style = { stroke: '#7a8ca5', lineWidth: 1 };
        return {
          type: 'group',
          children: [
            { type: 'line', shape: { x1: low[0], y1: low[1], x2: high[0], y2: high[1] }, style },
            { type: 'line', shape: { x1: low[0] - cap, y1: low[1], x2: low[0] + cap, y2: low[1] }, style },
            { type: 'line', shape: { x1: high[0] - cap, y1: high[1], x2: high[0] + cap, y2: high[1] }, style },
          ],
        };
      },
    });
    series.push({
      name: 'median', type: 'line', z: 3, showSymbol: true, symbol: 'circle', symbolSize: 7,
      lineStyle: { color: COLOR_MEDIAN, width: 2 }, itemStyle: { color: COLOR_MEDIAN },
      emphasis: { scale: 1.6 },
      data: points.map((p, i) => ({
        value: [i, p.median],
        symbol: p.run.noisy ? 'emptyCircle' : undefined,
        itemStyle: p.run.noisy ? { color: '#999', borderColor: '#999', borderWidth: 2 } : undefined,
      })),
      markLine: markLines.length ? { symbol: 'none', silent: true, animation: false, data: markLines } : undefined,
    });
    const medianSeries = series.length - 1;

    chart.setOption({
      animation: false,
      grid: { left: 80, right: 30, top: 30, bottom: 95 },
      tooltip: {
        trigger: 'axis', className: 'vmm-tooltip', confine: true,
        axisPointer: { type: 'line', snap: true },
        formatter: (params) => {
          const list = Array.isArray(params) ? params : [params];
          const hit = list.find((p) => p.seriesIndex === medianSeries) || list[0];
          const index = hit ? Math.round(Array.isArray(hit.value) ? hit.value[0] : hit.dataIndex) : -1;
          return points[index] ? tooltipContent(data, bench, points[index], index) : '';
        },
      },
      xAxis: {
        type: 'value', min: -0.5, max: points.length - 0.5, minInterval: 1, name: 'commit (oldest → newest)', nameLocation: 'middle', nameGap: 44,
        axisLabel: {
          formatter: (v) => (Number.isInteger(v) && commits[v] !== undefined ? commits[v] : ''),
          rotate: 30, fontFamily: 'monospace', fontSize: 10,
        },
        splitLine: { show: false },
      },
      yAxis: {
        type: 'value', scale: true, name: 'time (lower is better)', nameLocation: 'middle', nameGap: 64,
        axisLine: { show: true, onZero: false },
        axisLabel: { formatter: (v) => formatValue(v, unit) },
      },
      dataZoom: [
        { type: 'inside', xAxisIndex: 0, filterMode: 'none', zoomOnMouseWheel: true, moveOnMouseMove: true },
        { type: 'slider', xAxisIndex: 0, filterMode: 'none', bottom: 8, height: 22,
          labelFormatter: (v) => (commits[Math.round(v)] !== undefined ? commits[Math.round(v)] : '') },
      ],
      toolbox: { right: 20, feature: { dataZoom: { yAxisIndex: 'none', title: { zoom: 'zoom to area', back: 'undo zoom' } }, restore: { title: 'reset' } } },
      series,
    });

    chart.on('click', (params) => {
      if (params.seriesIndex !== medianSeries) return;
      const point = points[params.dataIndex];
      const href = point ? commitHref(data, point.run.commit) : null;
      if (href) window.open(href, '_blank', 'noopener,noreferrer');
    });
    // With trigger 'axis', a click anywhere in a point's column also opens it: easier to hit than a 7 px symbol.
    chart.getZr().on('click', (event) => {
      if (event.target) return; // a symbol: handled above
      const [x] = chart.convertFromPixel({ seriesIndex: medianSeries }, [event.offsetX, event.offsetY]) || [];
      const index = Math.round(x);
      const point = points[index];
      const pixel = point ? chart.convertToPixel({ seriesIndex: medianSeries }, [index, point.median]) : null;
      // Only near the point itself, so that dragging or clicking the empty plot does not open tabs.
      if (!pixel || Math.hypot(pixel[0] - event.offsetX, pixel[1] - event.offsetY) > 12) return;
      const href = commitHref(data, point.run.commit);
      if (href) window.open(href, '_blank', 'noopener,noreferrer');
    });

    window.VMM_CHARTS.push({
      id: container.id, machine: bench.machine, name: bench.name, points: points.length,
      changePoints: markLines.length, medianSeries, chart,
      /// For tests: the page coordinates of point i's median, relative to the chart container.
      pixelOf: (i) => (points[i] ? chart.convertToPixel({ seriesIndex: medianSeries }, [i, points[i].median]) : null),
      commitOf: (i) => (points[i] ? points[i].run.commit : null),
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // regressions.html

  function renderRegressions(data, main) {
    const params = parseHash();
    const machine = params.machine || '';
    main.appendChild(el('div', { class: 'controls' }, machineSelect(data, machine, (m) => setHash({ machine: m }), { allLabel: 'All machines' })));
    if (machine && !data.machineById.has(machine)) {
      main.appendChild(message('error', 'Unknown machine "', machine, '": nothing recorded for it. Choose another machine above.'));
      return;
    }
    const shown = data.regressions.filter((r) => !machine || r.machine === machine);
    main.appendChild(el('p', { class: 'summary', id: 'summary' },
      shown.length + ' regression' + (shown.length === 1 ? '' : 's') + (machine ? ' on ' + machine : ' on all machines') +
      ', most recent first. A regression is a change point where the median got slower with confidence; the ratio is median after / median before.'));
    if (!shown.length) {
      main.appendChild(el('div', { class: 'message message-ok', id: 'no-regressions', role: 'status' },
        data.regressions.length ? 'No regressions detected on ' + machine + '.' : 'No regressions detected.'));
      return;
    }
    const dateOf = (r) => {
      const run = data.runs.find((x) => x.machine === r.machine && x.commit === r.to_commit);
      return run ? run.commit_date : '';
    };
    const rows = shown.map((r, order) => ({ r, order, date: dateOf(r) }));
    main.appendChild(el('div', { class: 'table-wrap' }, sortableTable('regression-table', [
      { title: '#', numeric: true, value: (x) => x.order, cell: (x) => String(x.order + 1) },
      { title: 'Committed', value: (x) => x.date || null, cell: (x) => formatDate(x.date) },
      { title: 'Machine', value: (x) => x.r.machine, cell: (x) => x.r.machine },
      { title: 'Benchmark', value: (x) => x.r.benchmark,
        cell: (x) => el('a', { class: 'bench-name', href: pageLink('benchmark.html', { machine: x.r.machine, name: x.r.benchmark }) }, x.r.benchmark) },
      { title: 'Commits', value: (x) => x.r.to_commit, cell: (x) => [commitLink(data, x.r.from_commit), ' .. ', commitLink(data, x.r.to_commit)] },
      { title: 'Change', numeric: true, value: (x) => x.r.ratio, cell: (x) => el('span', { class: 'change ' + changeClass(x.r.ratio) }, formatChange(x.r.ratio)) },
      { title: 'Confidence', numeric: true, value: (x) => x.r.confidence, cell: (x) => formatPercent(x.r.confidence) },
      { title: 'p-value', numeric: true, value: (x) => x.r.p_value, cell: (x) => formatPValue(x.r.p_value) },
    ], rows)));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // compare.html

  function runLabel(run) {
    return shortCommit(run.commit) + (run.branch ? ' · ' + run.branch : '') + (run.profile ? ' · ' + run.profile : '') +
      ' · ' + formatDate(run.run_date) + (run.noisy ? ' · noisy' : '') + (run.dirty ? ' · dirty' : '');
  }

  function runSelect(data, id, label, selected, onChange) {
    const select = el('select', { id, 'aria-label': label });
    if (!data.runById.has(selected)) select.appendChild(el('option', { value: '' }, '— choose a run —'));
    for (const m of data.machines) {
      const runs = runsOf(data, m.id);
      if (!runs.length) continue;
      const group = el('optgroup', { label: m.id });
      for (let i = runs.length - 1; i >= 0; i--) group.appendChild(el('option', { value: runs[i].id }, runLabel(runs[i])));
      select.appendChild(group);
    }
    select.value = data.runById.has(selected) ? selected : '';
    select.addEventListener('change', () => onChange(select.value));
    return el('label', { class: 'control' }, label + ' ', select);
  }

  /// Default pair: the two latest runs of the machine with the most recent run (older as A, newer as B).
  function defaultPair(data) {
    const machine = defaultMachine(data);
    const runs = machine === null ? [] : runsOf(data, machine);
    if (runs.length >= 2) return [runs[runs.length - 2].id, runs[runs.length - 1].id];
    if (runs.length === 1) return [runs[0].id, runs[0].id];
    return ['', ''];
  }

  function pointOf(data, run) {
    const result = new Map();
    for (const b of data.benchmarks) {
      if (b.machine !== run.machine) continue;
      const p = b.points.find((x) => x.run === run);
      if (p) result.set(b.name, { bench: b, point: p });
    }
    return result;
  }

  function renderCompare(data, main) {
    const params = parseHash();
    const [defA, defB] = defaultPair(data);
    const aId = params.a !== undefined ? params.a : defA;
    const bId = params.b !== undefined ? params.b : defB;
    if (!data.runs.length) {
      main.appendChild(message('info', 'No runs in this data set yet, so there is nothing to compare.'));
      return;
    }
    main.appendChild(el('div', { class: 'controls' },
      runSelect(data, 'run-a', 'Baseline A', aId, (v) => setHash({ a: v, b: bId })),
      runSelect(data, 'run-b', 'Candidate B', bId, (v) => setHash({ a: aId, b: v })),
      el('button', { type: 'button', id: 'swap', onclick: () => setHash({ a: bId, b: aId }) }, 'Swap A ⇄ B')));

    const a = data.runById.get(aId);
    const b = data.runById.get(bId);
    const missing = [];
    if (!a) missing.push(aId ? 'Run A "' + aId + '" is not in this data set.' : 'Choose run A.');
    if (!b) missing.push(bId ? 'Run B "' + bId + '" is not in this data set.' : 'Choose run B.');
    if (missing.length) {
      main.appendChild(message(aId || bId ? 'error' : 'info', missing.join(' ')));
      return;
    }

    const describe = (tag, run) => el('li', {}, el('strong', {}, tag + ': '), run.machine + ' · ', commitLink(data, run.commit),
      (run.branch ? ' · ' + run.branch : '') + (run.profile ? ' · profile ' + run.profile : '') + ' · committed ' + formatDate(run.commit_date) + ' · run ' + formatDate(run.run_date) + ' ', runFlags(run));
    main.appendChild(el('ul', { class: 'run-pair', id: 'summary' }, describe('A', a), describe('B', b)));
    if (a === b) main.appendChild(message('info', 'A and B are the same run: every ratio is 1.'));
    if (a.machine !== b.machine) main.appendChild(message('warning', 'A and B ran on different machines: the ratios include the difference in hardware, not only in code.'));
    if (a.noisy || b.noisy) main.appendChild(message('warning', 'Run ' + (a.noisy && b.noisy ? 'A and B were' : a.noisy ? 'A was' : 'B was') + ' flagged noisy: small differences may be noise.'));

    const inA = pointOf(data, a);
    const inB = pointOf(data, b);
    const both = [...inA.keys()].filter((n) => inB.has(n)).sort(compareStrings);
    const onlyA = [...inA.keys()].filter((n) => !inB.has(n)).sort(compareStrings);
    const onlyB = [...inB.keys()].filter((n) => !inA.has(n)).sort(compareStrings);

    if (!both.length) {
      main.appendChild(message('info', 'No benchmark has results in both runs.'));
    } else {
      const rows = both.map((name) => {
        const x = inA.get(name);
        const y = inB.get(name);
        const scaleA = UNIT_TO_NS[x.bench.unit] || 1;
        const scaleB = UNIT_TO_NS[y.bench.unit] || 1;
        const ratio = x.point.median !== 0 && (x.bench.unit === y.bench.unit || (UNIT_TO_NS[x.bench.unit] && UNIT_TO_NS[y.bench.unit]))
          ? (y.point.median * scaleB) / (x.point.median * scaleA) : null;
        return { name, x, y, ratio };
      });
      main.appendChild(el('h2', {}, both.length + ' benchmark' + (both.length === 1 ? '' : 's') + ' in both runs'));
      main.appendChild(el('div', { class: 'table-wrap' }, sortableTable('compare-table', [
        { title: 'Benchmark', value: (r) => r.name, cell: (r) => el('a', { class: 'bench-name', href: pageLink('benchmark.html', { machine: b.machine, name: r.name }) }, r.name) },
        { title: 'Median A', numeric: true, value: (r) => r.x.point.median, cell: (r) => formatValue(r.x.point.median, r.x.bench.unit) },
        { title: 'Median B', numeric: true, value: (r) => r.y.point.median, cell: (r) => formatValue(r.y.point.median, r.y.bench.unit) },
        { title: 'B / A', numeric: true, value: (r) => r.ratio,
          cell: (r) => el('span', { class: 'change ' + changeClass(r.ratio), title: r.ratio === null ? 'units differ' : 'B / A = ' + r.ratio.toFixed(4) }, formatChange(r.ratio)) },
        { title: 'Spread A', numeric: true, value: () => null, cell: (r) => spreadCell(r.x.point, r.x.bench.unit) },
        { title: 'Spread B', numeric: true, value: () => null, cell: (r) => spreadCell(r.y.point, r.y.bench.unit) },
        { title: 'n A / B', numeric: true, value: () => null, cell: (r) => (r.x.point.n === null ? '—' : r.x.point.n) + ' / ' + (r.y.point.n === null ? '—' : r.y.point.n) },
      ], rows, { column: 3, descending: true })));
    }

    const onlyList = (id, title, names, run) => {
      if (!names.length) return null;
      return el('section', { id, class: 'only' }, el('h2', {}, title + ' (' + names.length + ')'),
        el('ul', {}, names.map((n) => el('li', {}, el('a', { class: 'bench-name', href: pageLink('benchmark.html', { machine: run.machine, name: n }) }, n)))));
    };
    append(main, [onlyList('only-a', 'Only in A', onlyA, a), onlyList('only-b', 'Only in B', onlyB, b)]);
  }

  // ---------------------------------------------------------------------------------------------------------------

  let renderCount = 0;
  const PAGES = { index: renderIndex, benchmark: renderBenchmark, regressions: renderRegressions, compare: renderCompare };

  function render() {
    const page = document.body.getAttribute('data-page');
    document.body.removeAttribute('data-ready');
    disposeCharts();
    const root = clear(document.getElementById('app'));
    const data = loadData();
    root.appendChild(header(page, data));
    const main = el('main', {});
    root.appendChild(main);
    try {
      if (data.error) {
        main.appendChild(message('error', data.error));
      } else {
        const warnings = warningsBlock(data);
        if (warnings) main.appendChild(warnings);
        const fn = PAGES[page];
        if (fn) fn(data, main);
        else main.appendChild(message('error', 'Unknown page "' + page + '".'));
      }
    } catch (err) {
      // A bug or data this script did not foresee: say so on the page instead of leaving it blank, and still report
      // it to the console so that tests and developers see it.
      main.appendChild(message('error', 'This page failed to render: ' + (err && err.message ? err.message : String(err))));
      console.error(err);
    }
    const foot = footer(data);
    if (foot) root.appendChild(foot);
    renderCount++;
    document.body.setAttribute('data-render-count', String(renderCount));
    document.body.setAttribute('data-ready', 'true');
  }

  window.addEventListener('hashchange', render);
  window.addEventListener('resize', () => {
    for (const c of activeCharts) c.resize();
  });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', render);
  else render();
})();
