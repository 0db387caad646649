// Baton's console: a page per hash route, each drawn from the /v1 API
// with the API key the user signed in with (kept in session storage, sent
// as the bearer header). No framework, no build step; charts by uPlot.
'use strict';

const KEY = 'baton.apiKey';
const COLORS = ['#0969da', '#cf222e', '#1a7f37', '#bf8700', '#8250df', '#57606a', '#e16f24', '#116329'];

// el builds an element; text children are text nodes, never HTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

class APIError extends Error {
  constructor(status, message, problems) {
    super(message);
    this.status = status;
    this.problems = problems || [];
  }
}

// api calls the orchestrator with the signed-in key.
async function api(path, opts = {}, key = sessionStorage.getItem(KEY)) {
  const headers = Object.assign({ Authorization: 'Bearer ' + key }, opts.headers || {});
  const res = await fetch(path, Object.assign({}, opts, { headers, credentials: 'omit', cache: 'no-store' }));
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!res.ok) {
    throw new APIError(res.status, (body && body.error) || text || res.statusText, body && body.problems);
  }
  return { body, text, headers: res.headers };
}
const get = async (path) => (await api(path)).body;

// Formatting: one rule per kind of figure, shared by tables and charts.
const fmt = {
  int: (v) => String(v),
  ms: (v, inv) => (v === null || v === undefined) ? (inv > 0 ? 'failed' : '–') : v.toFixed(1) + ' ms',
  pct: (v) => (v === null || v === undefined) ? '–' : (100 * v).toFixed(1) + '%',
  usd: (v) => (v === null || v === undefined) ? '–' : '$' + v.toFixed(8),
  num: (v) => (v === null || v === undefined) ? '–' : Math.abs(v) >= 1 || v === 0 ? (Math.round(v * 100) / 100).toString() : v.toPrecision(2),
  time: (s) => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z',
  bytes: (v) => (v === null || v === undefined) ? 'not recorded' : v < 1024 ? v + ' bytes' : (v / 1024).toFixed(1) + ' KiB (' + v + ' bytes)',
  resources: (r) => r ? r.cpuMilli + 'm, ' + Math.round(r.memoryBytes / 1048576) + ' MiB' : 'none',
};

// csvLink offers rows as a CSV download (a Blob URL: nothing leaves the page).
function csvLink(name, header, rows) {
  const quote = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  const csv = [header, ...rows].map((r) => r.map(quote).join(',')).join('\n') + '\n';
  const a = el('a', { download: name + '.csv', class: 'csv' }, 'Download CSV');
  a.href = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
  return a;
}

// dataTable is a chart's data for screen readers and copying.
function dataTable(caption, header, rows) {
  return el('details', {},
    el('summary', {}, 'Data as a table'),
    el('table', { class: 'data' },
      el('caption', { class: 'visually-hidden' }, caption),
      el('thead', {}, el('tr', {}, header.map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => el(i ? 'td' : 'th', i ? { class: 'num' } : { scope: 'row' }, c)))))));
}

// chart draws a time series with uPlot, with its table and CSV. xs are
// seconds; each series {label, values, format, dash}; lines are constant
// series drawn dashed (a target).
function chart(id, title, xs, series, opts = {}) {
  const fig = el('figure', { class: 'chart', id, 'aria-label': title });
  const plot = el('div', { class: 'plot' });
  fig.append(el('figcaption', {}, title), plot);
  const rows = xs.map((x, i) => [fmt.time(x), ...series.map((s) => (s.format || fmt.num)(s.values[i], opts.counts ? opts.counts[i] : 0))]);
  const header = ['Bucket start (UTC)', ...series.map((s) => s.label)];
  fig.append(el('div', { class: 'tools' }, csvLink(id, header, xs.map((x, i) => [new Date(x * 1000).toISOString(), ...series.map((s) => s.values[i])])),
    el('span', { class: 'muted' }, xs.length + ' buckets')));
  fig.append(dataTable(title, header, rows));
  const draw = () => {
    const width = Math.max(320, Math.min(1100, (plot.clientWidth || 800)));
    const u = new uPlot({
      width, height: opts.height || 220,
      scales: { x: { time: true }, y: opts.yRange ? { range: opts.yRange } : {} },
      series: [{}, ...series.map((s, i) => ({
        label: s.label, stroke: s.color || COLORS[i % COLORS.length], width: s.dash ? 1.5 : 2,
        // Points where the line would be too sparse to see.
        dash: s.dash ? [6, 4] : undefined, spanGaps: !!s.dash, points: { show: !s.dash && s.values.filter((v) => v !== null && v !== undefined).length < 60, size: 6 },
        fill: s.fill, value: (u, v) => (v === null || v === undefined) ? '–' : (s.format || fmt.num)(v, 1),
      }))],
      axes: [{}, { size: 70, values: (u, vs) => vs.map((v) => (opts.axis || fmt.num)(v)) }],
      hooks: { draw: [() => { fig.dataset.drawn = 'true'; markFirstChart(); }] },
    }, [xs, ...series.map((s) => s.values.map((v) => (v === null || v === undefined || !isFinite(v)) ? null : v))], plot);
    fig.uplot = u;
  };
  requestAnimationFrame(draw);
  return fig;
}

// markFirstChart keeps when the page's first chart was drawn
// (milliseconds since the page loaded), for the console's figures.
function markFirstChart() {
  if (document.body.dataset.firstChartMs === undefined) document.body.dataset.firstChartMs = String(performance.now());
}

// spark is a small chart without axes, for the workflows table.
function spark(id, label, xs, values) {
  const fig = el('figure', { class: 'spark', id, 'aria-label': label + ' over 24 h' });
  requestAnimationFrame(() => {
    new uPlot({
      width: 110, height: 30, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: false } }, axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: COLORS[0], width: 1.5, points: { show: values.filter((v) => v !== null && v !== undefined).length < 12, size: 4 } }],
      hooks: { draw: [() => { fig.dataset.drawn = 'true'; markFirstChart(); }] },
    }, [xs, values.map((v) => (v === null || v === undefined || !isFinite(v)) ? null : v)], fig);
  });
  return fig;
}

const main = () => document.getElementById('main');
function show(...nodes) { main().replaceChildren(...nodes); }
function failure(err) {
  if (err instanceof APIError && err.status === 401) {
    sessionStorage.removeItem(KEY);
    location.hash = '#/signin?expired=1';
    return;
  }
  show(el('h1', {}, 'Something went wrong'), el('p', { class: 'error', role: 'alert' }, err.message));
}
// lastDay is the window a page shows, fixed when the page is drawn so
// that its report and its series cover the same time (the page says it in
// body[data-since] and body[data-until]).
function lastDay() {
  const until = new Date(Math.floor(Date.now() / 1000) * 1000);
  const iso = (d) => d.toISOString().replace('.000Z', 'Z');
  const w = { since: iso(new Date(until.getTime() - 86400000)), until: iso(until) };
  document.body.dataset.since = w.since;
  document.body.dataset.until = w.until;
  return 'since=' + enc(w.since) + '&until=' + enc(w.until);
}
const xsOf = (series) => series.buckets.map((b) => Date.parse(b.start) / 1000);
const enc = encodeURIComponent;

// Pages.

function signInPage(params) {
  const input = el('input', { type: 'password', id: 'key', name: 'key', autocomplete: 'off', required: true, 'aria-describedby': 'signin-message' });
  const message = el('p', { id: 'signin-message', role: 'alert' });
  if (params.get('expired')) { message.textContent = 'Your key stopped working (rotated or revoked): sign in again.'; message.className = 'error'; }
  const form = el('form', { class: 'signin', id: 'signin' },
    el('label', { for: 'key' }, 'API key'), input, el('button', { type: 'submit', class: 'primary' }, 'Sign in'), message,
    el('p', { class: 'muted' }, 'The key stays in this tab’s session storage and is sent only to this server, in the Authorization header.'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    message.className = ''; message.textContent = 'Checking…';
    try {
      let role = 'tenant';
      try { await api('/v1/workflows', {}, key); } catch (e) {
        if (e.status !== 403) throw e;
        await api('/v1/tenants', {}, key);
        role = 'admin';
      }
      sessionStorage.setItem(KEY, key);
      sessionStorage.setItem(KEY + '.role', role);
      location.hash = role === 'admin' ? '#/cluster' : '#/workflows';
    } catch (e) {
      message.className = 'error';
      message.textContent = e.status === 401 ? 'That key is not valid: it is wrong, or it was rotated or revoked.' : 'Sign-in failed: ' + e.message;
    }
  });
  show(el('h1', {}, 'Sign in'), form);
  input.focus();
}

async function workflowsPage() {
  const span = lastDay();
  const [list, report] = await Promise.all([get('/v1/workflows'), get('/v1/reports?' + span)]);
  const names = [...new Set([...(list.workflows || list || []).map((w) => w.name), ...report.workflows.map((w) => w.name)])].sort();
  const figures = Object.fromEntries(report.workflows.map((w) => [w.name, w.figures]));
  const series = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await get('/v1/reports/series?workflow=' + enc(n) + '&' + span + '&step=1h')])));
  const rows = names.map((name) => {
    const f = figures[name] || {}, s = series[name], xs = xsOf(s), q = f.qos;
    const cell = (field, value, text) => el('td', { class: 'num', dataset: { field, value: value === null || value === undefined ? '' : String(value) } }, text);
    const b = s.buckets;
    return el('tr', { dataset: { workflow: name } },
      el('th', { scope: 'row' }, el('a', { href: '#/workflow/' + enc(name) }, name)),
      cell('invocations', f.invocations, fmt.int(f.invocations || 0)),
      el('td', {}, q ? 'p' + q.percentile + ' ≤ ' + q.targetMs + ' ms' : 'none'),
      cell('achievedMs', q ? q.achievedMs : null, q ? fmt.ms(q.achievedMs, f.invocations) : '–'),
      cell('violationRate', q ? q.violationRate : null, q ? fmt.pct(q.violationRate) : '–'),
      cell('costPerInvocation', f.cost ? f.cost.perInvocation : null, f.cost ? fmt.usd(f.cost.perInvocation) : '–'),
      cell('coldStartRate', f.coldStartRate, fmt.pct(f.coldStartRate)),
      el('td', {}, spark('spark-qos-' + name, 'latency at the QoS percentile', xs, b.map((x) => x.qosMs !== null && x.qosMs !== undefined ? x.qosMs : (x.latencyMs ? x.latencyMs.p95 : null)))),
      el('td', {}, spark('spark-violations-' + name, 'violation rate', xs, b.map((x) => x.violationRate))),
      el('td', {}, spark('spark-cost-' + name, 'cost per invocation', xs, b.map((x) => x.cost.perInvocation))),
      el('td', {}, spark('spark-cold-' + name, 'cold-start rate', xs, b.map((x) => x.coldStartRate))));
  });
  const sparkData = names.map((name) => {
    const s = series[name];
    const header = ['Bucket start (UTC)', 'invocations', 'latency at QoS percentile (ms)', 'violation rate', 'cost per invocation ($)', 'cold-start rate'];
    const data = s.buckets.map((b) => [b.start, b.invocations, b.qosMs, b.violationRate, b.cost.perInvocation, b.coldStartRate]);
    return el('div', { class: 'spark-data' }, el('h2', {}, name + ', last 24 h by hour'),
      csvLink('series-' + name, header, data), dataTable(name + ' by hour', header, data.map((r) => [r[0], r[1], fmt.ms(r[2], r[1]), fmt.pct(r[3]), fmt.usd(r[4]), fmt.pct(r[5])])));
  });
  show(el('h1', {}, 'Workflows'),
    el('p', { class: 'muted' }, 'Figures over the last 24 hours; the small charts show each hour.'),
    names.length ? el('table', { id: 'workflows' },
      el('thead', {}, el('tr', {}, ['Workflow', 'Invocations', 'QoS target', 'At the QoS percentile', 'Violation rate', 'Cost / invocation', 'Cold-start rate', 'QoS (24 h)', 'Violations (24 h)', 'Cost / inv. (24 h)', 'Cold starts (24 h)'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows)) : el('p', {}, 'No workflows yet: ', el('a', { href: '#/deploy' }, 'deploy one'), '.'),
    ...sparkData);
}

async function workflowPage(name) {
  const span = lastDay();
  const [summary, report, series, invs, changes] = await Promise.all([
    get('/v1/workflows/' + enc(name)).catch((e) => { if (e.status === 404) return null; throw e; }),
    get('/v1/reports?' + span + '&workflow=' + enc(name)),
    get('/v1/reports/series?workflow=' + enc(name) + '&' + span + '&step=5m'),
    get('/v1/invocations?limit=20&workflow=' + enc(name)),
    get('/v1/workflows/' + enc(name) + '/configurations').catch((e) => { if (e.status === 503) return { error: e.message }; throw e; }),
  ]);
  const wr = report.workflows.find((w) => w.name === name) || {};
  const f = wr.figures || { stages: [] };
  const xs = xsOf(series), b = series.buckets, counts = b.map((x) => x.invocations);
  const q = series.qos;
  const lat = [
    { label: 'p50', values: b.map((x) => x.latencyMs ? x.latencyMs.p50 : null), format: fmt.ms },
    { label: 'p99', values: b.map((x) => x.latencyMs ? x.latencyMs.p99 : null), format: fmt.ms },
  ];
  if (q) {
    lat.unshift({ label: 'p' + q.percentile, values: b.map((x) => x.qosMs), format: fmt.ms });
    lat.push({ label: 'target', values: b.map(() => q.targetMs), format: fmt.ms, dash: true, color: '#57606a' });
  }
  const functions = series.functions;
  const parts = [
    el('h1', {}, name),
    el('p', { class: 'muted' }, summary ? 'Revision ' + summary.revision + ', deployed ' + summary.deployed + '. ' : 'Not deployed now; history only. ',
      'Last 24 hours in 5-minute buckets; ', el('a', { href: '#/deploy' }, 'deploy'), ' a new revision.'),
    el('table', { id: 'summary' }, el('tbody', {},
      el('tr', {}, el('th', { scope: 'row' }, 'Invocations'), el('td', { class: 'num', dataset: { field: 'invocations', value: f.invocations || 0 } }, fmt.int(f.invocations || 0))),
      el('tr', {}, el('th', { scope: 'row' }, 'QoS'), el('td', {}, q ? 'p' + q.percentile + ' ≤ ' + q.targetMs + ' ms: ' + (f.qos ? fmt.ms(f.qos.achievedMs, f.invocations) + (f.qos.met ? ', met' : ', missed') : '–') : 'none')),
      el('tr', {}, el('th', { scope: 'row' }, 'Violation rate'), el('td', { class: 'num', dataset: { field: 'violationRate', value: f.qos ? f.qos.violationRate : '' } }, f.qos ? fmt.pct(f.qos.violationRate) : '–')),
      el('tr', {}, el('th', { scope: 'row' }, 'Cost per invocation'), el('td', { class: 'num', dataset: { field: 'costPerInvocation', value: f.cost ? f.cost.perInvocation : '' } }, f.cost ? fmt.usd(f.cost.perInvocation) : '–')),
      el('tr', {}, el('th', { scope: 'row' }, 'Cold-start rate'), el('td', { class: 'num', dataset: { field: 'coldStartRate', value: f.coldStartRate } }, fmt.pct(f.coldStartRate))))),
    el('h2', {}, 'Latency'),
    chart('chart-latency', 'Latency: ' + (q ? 'p' + q.percentile + ' against the target, ' : '') + 'p50 and p99 (ms)', xs, lat, { counts, axis: (v) => v + ' ms' }),
    el('h2', {}, 'QoS violations'),
    chart('chart-violations', 'Violation rate: invocations that failed or took longer than the target', xs,
      [{ label: 'violation rate', values: b.map((x) => x.violationRate), format: fmt.pct }], { counts, axis: fmt.pct, yRange: [0, 1] }),
    el('h2', {}, 'Cost per invocation'),
    chart('chart-cost', 'Cost per invocation, execution and idle ($)', xs, [
      { label: 'execution', values: b.map((x) => x.cost.executionPerInvocation), format: fmt.usd },
      { label: 'idle', values: b.map((x) => x.cost.idlePerInvocation), format: fmt.usd },
      { label: 'total', values: b.map((x) => x.cost.perInvocation), format: fmt.usd },
    ], { counts, axis: (v) => '$' + v.toPrecision(2) }),
    el('h2', {}, 'Cold starts'),
    chart('chart-cold', 'Cold-start rate: stage runs that waited for a new sandbox', xs,
      [{ label: 'cold-start rate', values: b.map((x) => x.coldStartRate), format: fmt.pct }], { counts, axis: fmt.pct, yRange: [0, 1] }),
    el('h2', {}, 'Warm pool'),
    chart('chart-pool', 'Ready sandboxes per function (mean over each bucket)', xs,
      functions.map((fn) => ({ label: fn, values: b.map((x) => (x.warmPool && x.warmPool[fn]) || 0) })), { counts }),
    el('h2', {}, 'Stages'),
    stageBreakdown(f),
    el('h2', {}, 'Configuration'),
    configurationTable(wr.configuration || []),
    el('h2', {}, 'Configuration history'),
    configurationHistory(changes),
    el('h2', {}, 'Latest invocations'),
    invocationsTable(invs.invocations || []),
  ];
  show(...parts);
}

// stageBreakdown is each stage's mean queueing, p50 execution and the
// tail to p95 as a stacked bar, with the figures as a table.
function stageBreakdown(f) {
  const stages = f.stages || [];
  if (!stages.length) return el('p', { class: 'muted' }, 'No stage ran in the window.');
  const longest = Math.max(...stages.map((s) => s.queuedMeanMs + s.execP95Ms), 1);
  const seg = (cls, ms, label) => { const d = el('div', { class: 'seg ' + cls, title: label + ': ' + ms.toFixed(1) + ' ms' }); d.style.width = (100 * ms / longest) + '%'; return d; };
  const header = ['Stage', 'Function', 'Runs', 'Queued mean (ms)', 'Exec p50 (ms)', 'Exec p95 (ms)', 'Cold-start rate', 'Cost / invocation ($)'];
  const rows = stages.map((s) => [s.stage, s.function, s.runs, s.queuedMeanMs.toFixed(1), s.execP50Ms.toFixed(1), s.execP95Ms.toFixed(1), fmt.pct(s.coldRate), fmt.usd(s.costPerInvocation)]);
  const fig = el('figure', { class: 'chart', id: 'chart-stages', 'aria-label': 'Per-stage breakdown' },
    el('figcaption', {}, 'Per stage: queueing (mean), execution p50, and the tail to p95'),
    el('div', { class: 'legend' }, el('span', {}, el('i', { class: 'seg queued' }), 'queued'), el('span', {}, el('i', { class: 'seg exec' }), 'exec p50'), el('span', {}, el('i', { class: 'seg tail' }), 'to p95')),
    el('div', { class: 'bars' }, stages.map((s) => el('div', { class: 'bar-row' }, el('span', {}, s.stage),
      el('div', { class: 'bar', role: 'img', 'aria-label': s.stage + ': queued ' + s.queuedMeanMs.toFixed(1) + ' ms, exec p50 ' + s.execP50Ms.toFixed(1) + ' ms, p95 ' + s.execP95Ms.toFixed(1) + ' ms' },
        seg('queued', s.queuedMeanMs, 'queued'), seg('exec', s.execP50Ms, 'exec p50'), seg('tail', Math.max(0, s.execP95Ms - s.execP50Ms), 'to p95'))))),
    el('div', { class: 'tools' }, csvLink('stages', header, stages.map((s) => [s.stage, s.function, s.runs, s.queuedMeanMs, s.execP50Ms, s.execP95Ms, s.coldRate, s.costPerInvocation]))),
    dataTable('Per-stage breakdown', header, rows));
  fig.dataset.drawn = 'true';
  return fig;
}

function configurationTable(config) {
  if (!config.length) return el('p', { class: 'muted' }, 'Not deployed now.');
  return el('table', { id: 'configuration' },
    el('thead', {}, el('tr', {}, ['Function', 'CPU', 'Memory', 'Chosen by', 'Why'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, config.map((c) => el('tr', {}, el('th', { scope: 'row' }, c.function), el('td', { class: 'num' }, c.cpuMilli + 'm'),
      el('td', { class: 'num' }, Math.round(c.memoryBytes / 1048576) + ' MiB'), el('td', {}, c.chosenBy), el('td', {}, c.detail)))));
}

// configurationHistory is each change of the workflow's configuration,
// newest first: the settled ones (deploys, tunings, choices by hand) in
// one table, the tuner's explorations and validation runs in another,
// each with its invocations in a window before and after it.
function configurationHistory(h) {
  if (h.error) return el('p', { class: 'error' }, h.error);
  if (h.history === 'off') return el('p', { class: 'muted' }, h.message);
  const settled = h.changes.filter((c) => c.kind !== 'explore' && c.kind !== 'validate');
  const trials = h.changes.filter((c) => c.kind === 'explore' || c.kind === 'validate');
  const p = 'p' + h.percentile;
  const header = ['When (UTC)', 'Kind', 'Why', 'Resources (before → after)', 'Invocations before → after', p + ' before → after', 'p50 before → after', 'Execution cost / invocation before → after'];
  // side is one window's figure, its API number in data-value (field is
  // before or after and the window's key with its first letter raised).
  const side = (c, w, field, text) => {
    const key = field.replace(/^(before|after)(.)/, (m, s, first) => first.toLowerCase());
    return el('span', { dataset: { field, value: w ? (w[key] ?? '') : '' } }, w ? text(w) : '–');
  };
  const ms = (w) => w.invocations ? fmt.ms(w.percentileMs, w.invocations) : '–';
  const resources = (c) => {
    const changed = c.functions.filter((f) => f.changed);
    return changed.length ? changed.map((f) => f.function + ': ' + fmt.resources(f.before) + ' → ' + fmt.resources(f.after)).join('; ') : 'unchanged';
  };
  const table = (id, caption, list) => el('table', { id, class: 'changes' },
    el('caption', { class: 'visually-hidden' }, caption),
    el('thead', {}, el('tr', {}, header.map((x) => el('th', { scope: 'col' }, x)))),
    el('tbody', {}, list.map((c) => el('tr', { dataset: { change: c.id } },
      el('th', { scope: 'row' }, c.at.replace('T', ' ').slice(0, 19)),
      el('td', { dataset: { field: 'kind' } }, c.kind),
      el('td', {}, (c.policy ? c.policy + ': ' : '') + (c.reason || '')),
      el('td', {}, resources(c)),
      el('td', { class: 'num' }, side(c, c.before, 'beforeInvocations', (w) => fmt.int(w.invocations)), ' → ', side(c, c.after, 'afterInvocations', (w) => fmt.int(w.invocations))),
      el('td', { class: 'num' }, side(c, c.before, 'beforePercentileMs', ms), ' → ', side(c, c.after, 'afterPercentileMs', ms)),
      el('td', { class: 'num' }, side(c, c.before, 'beforeP50Ms', (w) => w.invocations ? fmt.ms(w.p50Ms, w.invocations) : '–'), ' → ', side(c, c.after, 'afterP50Ms', (w) => w.invocations ? fmt.ms(w.p50Ms, w.invocations) : '–')),
      el('td', { class: 'num' }, side(c, c.before, 'beforeExecutionCostPerInvocation', (w) => fmt.usd(w.executionCostPerInvocation)), ' → ', side(c, c.after, 'afterExecutionCostPerInvocation', (w) => fmt.usd(w.executionCostPerInvocation)))))));
  const csvRows = h.changes.map((c) => [c.at, c.kind, c.policy || '', c.reason || '', resources(c),
    c.before ? c.before.invocations : '', c.after.invocations, c.before ? c.before.percentileMs : '', c.after.percentileMs,
    c.before ? c.before.p50Ms : '', c.after.p50Ms, c.before ? c.before.executionCostPerInvocation : '', c.after.executionCostPerInvocation]);
  return el('section', { id: 'configuration-changes' },
    el('p', { class: 'muted' }, 'Each change compares the invocations in up to ' + (h.windowSeconds / 60) + ' minutes before it (of the configuration it replaced; for a tuning, of the one that ran before the tuner started exploring) with those after it, up to the next change.'),
    settled.length ? table('configuration-history', 'Configuration changes', settled) : el('p', { class: 'muted' }, 'No change recorded.'),
    trials.length ? el('details', {}, el('summary', {}, trials.length + ' configurations the tuner tried (explorations and validation runs)'),
      table('configuration-trials', 'Configurations the tuner tried', trials)) : null,
    el('div', { class: 'tools' }, csvLink('configuration-history-' + h.workflow, ['at', 'kind', 'policy', 'reason', 'resources', 'invocations before', 'invocations after',
      p + ' before (ms)', p + ' after (ms)', 'p50 before (ms)', 'p50 after (ms)', 'execution cost per invocation before ($)', 'execution cost per invocation after ($)'], csvRows)));
}

function invocationsTable(invs) {
  if (!invs.length) return el('p', { class: 'muted' }, 'None yet.');
  return el('table', { id: 'invocations' },
    el('thead', {}, el('tr', {}, ['Invocation', 'Started', 'Status', 'Latency', 'Cold starts'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, invs.map((i) => el('tr', {}, el('th', { scope: 'row' }, el('a', { href: '#/invocation/' + enc(i.id) }, i.id)),
      el('td', {}, i.start), el('td', { class: i.status === 'failed' ? 'error' : '' }, i.status), el('td', { class: 'num' }, fmt.ms(i.latencyMs, 1)), el('td', { class: 'num' }, i.coldStarts)))));
}

async function invocationPage(id) {
  const inv = await get('/v1/invocations/' + enc(id));
  const t0 = Date.parse(inv.start), total = Math.max(inv.latencyMs || 0, ...inv.stages.map((s) => Date.parse(s.end) - t0), 1);
  const seg = (cls, ms, label) => { const d = el('div', { class: 'seg ' + cls, title: label + ': ' + ms.toFixed(1) + ' ms' }); d.style.width = (100 * Math.max(0, ms) / total) + '%'; return d; };
  const coldMs = (s) => s.coldStart ? s.coldStart.total / 1e6 : 0;
  const pullMs = (s) => s.coldStart ? s.coldStart.pull / 1e6 : 0;
  const header = ['Stage', 'Function', 'Start (ms)', 'Queued (ms)', 'of which pull (ms)', 'of which cold start (ms)', 'Execution (ms)', 'Calls (fan-out)', 'Attempts', 'Cold', 'Error'];
  const rows = inv.stages.map((s) => [s.stage, s.function, (Date.parse(s.start) - t0).toFixed(1), s.queuedMs.toFixed(1), pullMs(s).toFixed(1), coldMs(s).toFixed(1), s.execMs.toFixed(1), s.calls, s.attempts, s.cold ? 'yes' : 'no', s.error || '']);
  const fig = el('figure', { class: 'chart', id: 'chart-timeline', 'aria-label': 'Timeline of the stages' },
    el('figcaption', {}, 'Timeline: each stage from the invocation’s start, queued (the cold start in red) then executing'),
    el('div', { class: 'legend' }, el('span', {}, el('i', { class: 'seg queued' }), 'queued'), el('span', {}, el('i', { class: 'seg cold' }), 'cold start (incl. pull)'), el('span', {}, el('i', { class: 'seg exec' }), 'execution')),
    el('div', { class: 'bars' }, inv.stages.map((s) => {
      const queuedOnly = Math.max(0, s.queuedMs - coldMs(s));
      return el('div', { class: 'bar-row' }, el('span', {}, s.stage + (s.calls > 1 ? ' ×' + s.calls : '')),
        el('div', { class: 'bar', role: 'img', 'aria-label': s.stage + ': starts at ' + (Date.parse(s.start) - t0).toFixed(1) + ' ms, queued ' + s.queuedMs.toFixed(1) + ' ms, executes ' + s.execMs.toFixed(1) + ' ms' },
          seg('gap', Date.parse(s.start) - t0, 'before'), seg('queued', queuedOnly, 'queued'), seg('cold', Math.min(coldMs(s), s.queuedMs), 'cold start'), seg('exec', s.execMs, 'execution')));
    })),
    el('div', { class: 'tools' }, csvLink('invocation-' + inv.id, header, rows)),
    dataTable('Stages of ' + inv.id, header, rows));
  fig.dataset.drawn = 'true';
  show(el('h1', {}, 'Invocation ' + inv.id),
    el('table', { id: 'invocation' }, el('tbody', {},
      el('tr', {}, el('th', { scope: 'row' }, 'Workflow'), el('td', {}, el('a', { href: '#/workflow/' + enc(inv.workflow) }, inv.workflow), ' (revision ' + inv.revision + ')')),
      el('tr', {}, el('th', { scope: 'row' }, 'Status'), el('td', { class: inv.status === 'failed' ? 'error' : 'okay', dataset: { field: 'status' } }, inv.status)),
      el('tr', {}, el('th', { scope: 'row' }, 'Latency'), el('td', { dataset: { field: 'latencyMs', value: inv.latencyMs } }, fmt.ms(inv.latencyMs, 1))),
      el('tr', {}, el('th', { scope: 'row' }, 'Cold starts'), el('td', {}, inv.coldStarts)),
      el('tr', {}, el('th', { scope: 'row' }, 'Cost'), el('td', {}, fmt.usd(inv.cost))),
      el('tr', {}, el('th', { scope: 'row' }, 'Input size'), el('td', { dataset: { field: 'inputBytes', value: inv.inputBytes ?? '' } }, fmt.bytes(inv.inputBytes))),
      el('tr', {}, el('th', { scope: 'row' }, 'Output size'), el('td', { dataset: { field: 'outputBytes', value: inv.outputBytes ?? '' } }, fmt.bytes(inv.outputBytes))),
      inv.error ? el('tr', {}, el('th', { scope: 'row' }, 'Error'), el('td', { class: 'error' }, (inv.failedStage ? inv.failedStage + ': ' : '') + inv.error)) : null)),
    fig);
}

function deployPage() {
  const source = el('textarea', { id: 'yaml', spellcheck: 'false', 'aria-label': 'Workflow YAML', placeholder: 'apiVersion: baton.dev/v1\nkind: Workflow\n…' });
  const file = el('input', { type: 'file', id: 'yaml-file', accept: '.yaml,.yml,text/yaml' });
  const result = el('div', { id: 'deploy-result', role: 'status' });
  file.addEventListener('change', async () => { if (file.files[0]) source.value = await file.files[0].text(); });
  const deploy = async () => {
    result.replaceChildren(el('p', {}, 'Deploying…'));
    const filename = (file.files[0] && file.files[0].name) || 'console.yaml';
    try {
      const { body } = await api('/v1/workflows?filename=' + enc(filename), { method: 'POST', body: source.value, headers: { 'Content-Type': 'application/yaml' } });
      result.replaceChildren(el('p', { class: 'okay', id: 'deployed' }, 'Deployed ', el('a', { href: '#/workflow/' + enc(body.name) }, body.name), ', revision ' + body.revision + '.'),
        invokeForm(body.name));
    } catch (e) {
      if (!(e instanceof APIError) || !e.problems.length) { result.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message)); return; }
      const byLine = {};
      for (const p of e.problems) (byLine[p.line || 0] = byLine[p.line || 0] || []).push(p);
      // As workflow.Problem.Error() writes it, so as `baton validate` prints it.
      const text = (p) => {
        let at = (p.file || '') + (p.line ? ':' + p.line + (p.col ? ':' + p.col : '') : '');
        if (at) at += ': ';
        return at + (p.field ? p.field + ': ' : '') + p.message;
      };
      result.replaceChildren(
        el('p', { class: 'error', role: 'alert' }, e.message),
        el('ul', { id: 'problems' }, e.problems.map((p) => el('li', { class: 'error', dataset: { line: p.line || 0, col: p.col || 0 } }, text(p)))),
        el('ol', { class: 'source', id: 'source' }, source.value.split('\n').map((line, i) => el('li', { class: byLine[i + 1] ? 'bad' : '', dataset: { line: i + 1 } },
          line || ' ', (byLine[i + 1] || []).map((p) => el('span', { class: 'problem' }, '↑ column ' + p.col + ': ' + p.message))))));
    }
  };
  show(el('h1', {}, 'Deploy a workflow'),
    el('p', { class: 'muted' }, 'Paste a workflow’s YAML or choose a file. Problems are shown at their line and column, as `baton validate` prints them.'),
    el('p', {}, el('label', { for: 'yaml-file' }, 'File: '), file), source,
    el('p', {}, el('button', { type: 'button', class: 'primary', id: 'deploy', onclick: deploy }, 'Deploy')), result);
}

function invokeForm(name) {
  const input = el('textarea', { id: 'invoke-input', 'aria-label': 'Input (JSON)' }, '{}');
  input.style.minHeight = '5rem';
  const out = el('div', { id: 'invoke-result', role: 'status' });
  const invoke = async () => {
    out.replaceChildren(el('p', {}, 'Invoking…'));
    try {
      const { text, headers } = await api('/v1/workflows/' + enc(name) + '/invoke', { method: 'POST', body: input.value, headers: { 'Content-Type': 'application/json' } });
      const id = headers.get('Baton-Invocation-Id');
      out.replaceChildren(el('p', { class: 'okay' }, 'Invocation ', el('a', { href: '#/invocation/' + enc(id), id: 'invocation-link' }, id), ' succeeded. Output:'), el('pre', { id: 'invoke-output' }, text));
    } catch (e) {
      out.replaceChildren(el('p', { class: 'error', role: 'alert' }, e.message));
    }
  };
  return el('section', {}, el('h2', {}, 'Invoke ' + name), input, el('p', {}, el('button', { type: 'button', id: 'invoke', onclick: invoke }, 'Invoke')), out);
}

async function clusterPage() {
  const [tenants, workers] = await Promise.all([get('/v1/tenants'), get('/v1/workers')]);
  show(el('h1', {}, 'Cluster'),
    el('p', { class: 'muted' }, 'The admin key sees the cluster; sign in with a tenant’s key for its workflows. Dashboards over /metrics: grafana/baton.json.'),
    el('h2', {}, 'Tenants'),
    el('table', { id: 'tenants' }, el('thead', {}, el('tr', {}, ['Tenant', 'Created', 'Keys'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, (tenants.tenants || []).map((t) => el('tr', {}, el('th', { scope: 'row' }, t.name), el('td', {}, t.created), el('td', { class: 'num' }, t.keys))))),
    el('h2', {}, 'Workers'),
    el('table', { id: 'workers' }, el('thead', {}, el('tr', {}, ['Worker', 'State', 'Runtime', 'CPU reserved / capacity (m)', 'Memory reserved / capacity (MiB)', 'Sandboxes'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, (workers.workers || []).map((w) => el('tr', {}, el('th', { scope: 'row' }, w.id), el('td', {}, w.state), el('td', {}, w.runtime),
        el('td', { class: 'num' }, w.reservedCpuMilli + ' / ' + w.cpuMilli), el('td', { class: 'num' }, Math.round(w.reservedMemoryBytes / 1048576) + ' / ' + Math.round(w.memoryBytes / 1048576)), el('td', { class: 'num' }, w.sandboxes))))));
}

// route draws the page the hash names.
async function route() {
  const [path, query] = (location.hash.slice(1) || '/workflows').split('?');
  const params = new URLSearchParams(query || '');
  const key = sessionStorage.getItem(KEY), role = sessionStorage.getItem(KEY + '.role');
  document.getElementById('nav').hidden = !key;
  document.getElementById('who').textContent = key ? (role === 'admin' ? 'signed in with the admin key' : 'signed in with a tenant key') : '';
  if (!key || path === '/signin') { signInPage(params); return; }
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  document.body.dataset.page = parts[0] || 'workflows';
  delete document.body.dataset.ready;
  try {
    switch (parts[0]) {
      case 'workflow': await workflowPage(parts[1]); break;
      case 'invocation': await invocationPage(parts[1]); break;
      case 'deploy': deployPage(); break;
      case 'cluster': await clusterPage(); break;
      default: if (role === 'admin') await clusterPage(); else await workflowsPage();
    }
  } catch (e) { failure(e); }
  document.body.dataset.ready = parts[0] || 'workflows';
}

document.getElementById('signout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(KEY + '.role');
  location.hash = '#/signin';
});
window.addEventListener('hashchange', route);
route();
