// The DLNest dashboard: tasks, devices, a task's output and curves, runs compared.
// Every string from the server (descriptions, output, metric names) reaches the page as text
// nodes or attribute values, never as markup: el() below is the only way elements are made.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2b6cb0', '#c05621', '#2f855a', '#9b2c2c', '#6b46c1', '#b7791f', '#285e61', '#97266d'];
const HISTORY_PAGE = 50;
const OUTPUT_KEEP = 256 * 1024;
const MAX_POINTS = 1500;

// ---- DOM and HTTP helpers ----

function el(tag, attrs, ...children) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG_NS, tag.slice(4))
                                   : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.setAttribute('class', v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

async function api(path, params, method) {
  const query = new URLSearchParams(params || {});
  const init = { method: method || 'GET', credentials: 'same-origin', cache: 'no-store' };
  let url = path;
  if (init.method === 'GET') {
    if ([...query].length) url += '?' + query;
  } else {
    init.body = query;
  }
  const res = await fetch(url, init);
  let body;
  try {
    body = await res.json();
  } catch (e) {
    throw new Error(path + ': HTTP ' + res.status);
  }
  if (body.status !== 'success') throw new Error(body.error || path + ': HTTP ' + res.status);
  return body;
}

function banner(message) {
  const b = document.getElementById('banner');
  b.textContent = message || '';
  b.hidden = !message;
}

function age(seconds) {
  if (!seconds) return '';
  const s = Math.max(0, Date.now() / 1000 - seconds);
  if (s < 90) return Math.round(s) + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  if (s < 172800) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
}

function duration(seconds) {
  if (seconds === undefined || seconds === null || !isFinite(seconds)) return '–';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  return (h ? h + ':' + String(m).padStart(2, '0') : m) + ':' + String(s % 60).padStart(2, '0');
}

function num(v, digits) {
  if (typeof v !== 'number' || !isFinite(v)) return '–';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toFixed(digits || 4);
}

function bar(fraction, label) {
  const f = Math.max(0, Math.min(1, fraction || 0));
  const fill = el('div');
  fill.style.width = (f * 100).toFixed(1) + '%';
  return el('div', { class: 'bar', title: label }, fill, el('span', {}, label));
}

function badge(status) {
  return el('span', { class: 'badge s-' + String(status).replace(/[^A-Za-z]/g, '') }, status);
}

function isActive(t) {
  return t.status === 'Pending' || t.status === 'Building' || t.status === 'Running';
}

function projectName(dir) {
  const parts = String(dir || '').split('/').filter(Boolean);
  return parts.slice(-2).join('/') || '(unknown project)';
}

// ---- Views and their polling ----

let view = { stop() {} };

function show(newView) {
  view.stop();
  view = newView;
}

/// Calls `tick` now and every `ms` until stopped; a failed tick shows its error in the banner.
function poller(tick, ms) {
  let timer = null, stopped = false;
  const run = async () => {
    try {
      await tick();
      banner('');
    } catch (e) {
      banner(String(e.message || e));
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return { stop() { stopped = true; clearTimeout(timer); } };
}

function mount(...nodes) {
  const main = document.getElementById('view');
  main.replaceChildren(...nodes);
  return main;
}

// ---- Task list and devices ----

async function deleteTask(id) {
  if (!confirm('Delete task ' + id + '?')) return;
  await api('/del_task', { task_ID: id }, 'POST').catch((e) => banner(e.message));
}

async function continueTask(t) {
  if (!confirm('Continue ' + t.package_dir + ' from its latest checkpoint?')) return;
  const r = await api('/continue_train', { record_path: t.package_dir }, 'POST')
      .catch((e) => banner(e.message));
  if (r) location.hash = '#/task/' + encodeURIComponent(r.task_ID);
}

function progressCell(t, progress) {
  const p = progress[t.ID];
  if (!p) return t.status === 'Running' ? el('span', { class: 'muted' }, 'running') : '';
  if (p.stage === 'build') {
    return bar(typeof p.fraction === 'number' ? p.fraction : 0, 'build' + (p.phase ? ' · ' + p.phase : ''));
  }
  const steps = p.steps_per_epoch || 0;
  const epochs = p.epochs || 0;
  let fraction = 0, label = p.stage || '';
  if (epochs > 0) {
    fraction = ((p.epoch || 0) + (steps ? (p.step || 0) / steps : 0)) / epochs;
    label = 'epoch ' + ((p.epoch || 0) + 1) + '/' + epochs;
  }
  if (p.eta_run_s !== undefined && p.eta_run_s !== null) label += ' · ETA ' + duration(p.eta_run_s);
  return bar(fraction, label);
}

function taskRow(t, progress) {
  const link = el('a', { href: '#/task/' + encodeURIComponent(t.ID) }, t.ID);
  const actions = el('td');
  if (isActive(t)) {
    actions.append(el('button', { class: 'del', onclick: () => deleteTask(t.ID) }, 'Delete'));
  } else if (t.type === 'Train' && t.package_dir) {
    actions.append(el('button', { class: 'cont', onclick: () => continueTask(t) }, 'Continue'));
  }
  const devices = (t.devices || []).map((d) => (d === -1 ? 'CPU' : 'GPU ' + d)).join(', ');
  return el('tr', { 'data-task': t.ID },
    el('td', {}, link), el('td', {}, t.type), el('td', {}, badge(t.status)),
    el('td', {}, progressCell(t, progress)), el('td', {}, devices || (t.CPU ? 'CPU' : '')),
    el('td', { title: new Date((t.submit_time || 0) * 1000).toLocaleString() }, age(t.submit_time)),
    el('td', { class: 'desc', title: t.description || t.error || '' }, t.description || t.error || ''),
    actions);
}

function taskTable(tasks, progress, id) {
  const head = el('tr', {}, ['ID', 'type', 'status', 'progress', 'devices', 'age', 'description', '']
      .map((h) => el('th', {}, h)));
  return el('table', { id }, el('thead', {}, head),
            el('tbody', {}, tasks.map((t) => taskRow(t, progress))));
}

function deviceCard(d) {
  const gpu = d.type === 'GPU';
  const card = el('div', { class: 'device', 'data-device': d.ID },
    el('strong', {}, gpu ? 'GPU ' + d.ID : 'CPU'), ' ', el('span', { class: 'muted' }, d.name || ''),
    el('div', {}, (d.num_tasks || 0) + ' task(s)' + (d.is_break ? ' · broken: ' + (d.error || '') : '')));
  if (gpu && d.total_memory > 0) {
    const used = d.total_memory - d.free_memory;
    card.append(bar(used / d.total_memory, 'memory ' + used + ' / ' + d.total_memory + ' MB'));
  }
  if (gpu && typeof d.gpu_util === 'number') card.append(bar(d.gpu_util / 100, 'utilisation ' + d.gpu_util + ' %'));
  return card;
}

function overview() {
  let historyLimit = HISTORY_PAGE;
  const devices = el('div', { class: 'devices', id: 'devices' });
  const active = el('div', { id: 'active' });
  const ended = el('div', { id: 'ended' });
  const more = el('button', { onclick: () => { historyLimit += HISTORY_PAGE; refresh(); } }, 'Older tasks');
  mount(el('h2', {}, 'Devices'), devices, el('h2', {}, 'Tasks'), active,
        el('h2', {}, 'Ended tasks'), ended, el('p', {}, more));
  async function refresh() {
    const [info, devs, history] = await Promise.all([
      api('/get_task_info'), api('/get_devices_info'),
      api('/get_task_history', { limit: historyLimit })]);
    const progress = {};  // building and running tasks carry their progress.json
    for (const t of info.info) if (t.progress) progress[t.ID] = t.progress;
    devices.replaceChildren(...devs.info.map(deviceCard));
    active.replaceChildren(info.info.length ? taskTable(info.info, progress, 'active-tasks')
                                            : el('p', { class: 'muted' }, 'No pending or running task.'));
    const old = history.info.slice().reverse();
    ended.replaceChildren(old.length ? taskTable(old, {}, 'ended-tasks')
                                     : el('p', { class: 'muted' }, 'No ended task.'));
    more.hidden = history.info.length < historyLimit;
  }
  return poller(refresh, 2000);
}

// ---- Charts (SVG) ----

function thin(points) {
  if (points.length <= MAX_POINTS) return points;
  const stride = points.length / MAX_POINTS;
  const out = [];
  for (let i = 0; i < MAX_POINTS; ++i) out.push(points[Math.floor(i * stride)]);
  out.push(points[points.length - 1]);
  return out;
}

function ticks(lo, hi, n) {
  const out = [];
  for (let i = 0; i <= n; ++i) out.push(lo + ((hi - lo) * i) / n);
  return out;
}

/// A chart of `series` ([{name, color, points: [[x, y], ...], dots}]) with axes and a legend.
function chart(title, series) {
  const W = 600, H = 220, L = 56, R = 8, T = 8, B = 24;
  const all = series.flatMap((s) => s.points);
  const svg = el('svg:svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img' });
  const box = el('div', { class: 'chart', 'data-metric': title }, el('h3', {}, title), svg);
  if (!all.length) {
    svg.append(el('svg:text', { x: L, y: H / 2 }, 'no points yet'));
    return box;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  svg.append(el('svg:line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }),
             el('svg:line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
  for (const y of ticks(y0, y1, 4)) {
    svg.append(el('svg:text', { x: 2, y: sy(y) + 3 }, num(y, 3)));
  }
  for (const x of ticks(x0, x1, 4)) {
    svg.append(el('svg:text', { x: sx(x) - 8, y: H - 8 }, String(Math.round(x))));
  }
  for (const s of series) {
    const pts = thin(s.points).map((p) => sx(p[0]).toFixed(1) + ',' + sy(p[1]).toFixed(1));
    svg.append(el('svg:polyline', { points: pts.join(' '), stroke: s.color, 'data-points': s.points.length }));
    if (s.dots) {
      for (const p of thin(s.points)) svg.append(el('svg:circle', { cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: s.color }));
    }
  }
  box.append(el('div', { class: 'legend' }, series.map((s) => {
    const swatch = el('span', {}, '■ ' + s.name + ' (' + s.points.length + ')');
    swatch.style.color = s.color;
    return swatch;
  })));
  return box;
}

// ---- Metrics of one task, fetched incrementally ----

/// Appends the records of metrics.jsonl that are new since the last call; returns whether any came.
async function pullMetrics(id, m) {
  let grew = false;
  for (let round = 0; round < 8; ++round) {
    const r = await api('/get_task_metrics', { task_ID: id, offset: m.offset });
    for (const rec of r.records) {
      const into = rec.kind === 'epoch' ? m.epoch : m.step;
      for (const [name, v] of Object.entries(rec.values)) {
        if (typeof v !== 'number') continue;
        if (!into.has(name)) into.set(name, []);
        into.get(name).push([rec.step !== null ? rec.step : rec.epoch, v]);
      }
    }
    grew = grew || r.records.length > 0;
    m.offset = r.next_offset;
    if (r.next_offset >= r.size || r.next_offset === r.offset) break;
  }
  return grew;
}

function newMetrics() {
  return { offset: 0, step: new Map(), epoch: new Map() };
}

function metricNames(m) {
  return [...new Set([...m.step.keys(), ...m.epoch.keys()])].sort();
}

// ---- One task ----

function facts(t) {
  const rows = [['status', badge(t.status)], ['type', t.type], ['description', t.description],
    ['package', t.package_dir], ['project', t.project_dir], ['devices', (t.devices || []).join(', ')],
    ['submitted', t.submit_time ? new Date(t.submit_time * 1000).toLocaleString() : ''],
    ['started', t.start_time ? new Date(t.start_time * 1000).toLocaleString() : ''],
    ['ended', t.end_time ? new Date(t.end_time * 1000).toLocaleString() : ''],
    ['exit code', t.exit_code], ['restarts', t.restarts], ['error', t.error]];
  return el('dl', { class: 'facts' }, rows.filter((r) => r[1] !== '' && r[1] !== null && r[1] !== undefined)
      .map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function progressFacts(p) {
  if (!p) return el('p', { class: 'muted' }, 'No progress reported.');
  const rows = [['stage', p.stage], ['epoch', (typeof p.epoch === 'number' ? p.epoch + 1 : '?') + ' / ' + (p.epochs || '?')],
    ['step', (p.step || 0) + ' / ' + (p.steps_per_epoch || '?')], ['it/s', num(p.it_per_s, 2)],
    ['ETA epoch', duration(p.eta_epoch_s)], ['ETA run', duration(p.eta_run_s)]];
  for (const [k, v] of Object.entries(p.scalars || {})) rows.push([k, num(v)]);
  const epochs = p.epochs || 0, steps = p.steps_per_epoch || 0;
  const fraction = epochs ? ((p.epoch || 0) + (steps ? (p.step || 0) / steps : 0)) / epochs : 0;
  return el('div', { id: 'progress' }, bar(fraction, (fraction * 100).toFixed(1) + ' %'),
            el('dl', { class: 'facts' }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])));
}

function taskCharts(m) {
  return metricNames(m).map((name) => {
    const series = [];
    if (m.step.has(name)) series.push({ name: 'step', color: COLORS[0], points: m.step.get(name) });
    if (m.epoch.has(name)) series.push({ name: 'epoch', color: COLORS[1], points: m.epoch.get(name), dots: true });
    return chart(name, series);
  });
}

/// Polls a task's output (from its latest lines on) into `pre`.
function outputFollower(id, pre, path) {
  let offset = null;
  return async () => {
    const params = { task_ID: id };
    if (offset !== null) params.offset = offset;
    const r = await api(path, params);
    offset = r.next_offset;
    if (!r.text) return;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(r.text);
    if (pre.textContent.length > OUTPUT_KEEP) pre.textContent = pre.textContent.slice(-OUTPUT_KEEP / 2);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };
}

function analyzerControls(id) {
  const input = el('input', { id: 'exp-command', placeholder: 'script name', size: 30 });
  const run = el('button', { onclick: () => api('/run_exp', { task_ID: id, command: input.value }, 'POST')
      .then(() => { input.value = ''; }, (e) => banner(e.message)) }, 'Run');
  return el('div', { class: 'controls' }, input, run);
}

function taskView(id) {
  const head = el('div', { id: 'task-facts' });
  const progress = el('div');
  const charts = el('div', { class: 'grid', id: 'charts' });
  const pre = el('pre', { class: 'output', id: 'output' });
  const extra = el('div');
  mount(el('h2', {}, 'Task ', id), head, el('h2', {}, 'Progress'), progress,
        el('h2', {}, 'Metrics'), charts, extra, el('h2', {}, 'Output'), pre);
  const m = newMetrics();
  let follow = null, ended = false;
  return poller(async () => {
    const t = (await api('/get_task', { task_ID: id })).info;
    if (!follow) {
      const analyze = t.type === 'Analyze';
      follow = outputFollower(id, pre, analyze ? '/get_analyze_output' : '/get_task_output');
      if (analyze) extra.replaceChildren(el('h2', {}, 'Analyzer'), analyzerControls(id));
    }
    const actions = isActive(t) ? el('button', { class: 'del', onclick: () => deleteTask(id) }, 'Delete') : '';
    head.replaceChildren(facts(t), actions);
    if (ended) return;
    ended = !isActive(t);
    const [p] = await Promise.all([api('/get_task_progress', { task_ID: id }), follow()]);
    progress.replaceChildren(progressFacts(p.progress));
    if (await pullMetrics(id, m) || !charts.childElementCount) {
      charts.replaceChildren(...(metricNames(m).length ? taskCharts(m)
                                 : [el('p', { class: 'muted' }, 'No metrics yet.')]));
    }
  }, 1000);
}

// ---- Runs of a project compared ----

function compareView(params) {
  const projectSelect = el('select', { id: 'project' });
  const metricSelect = el('select', { id: 'metric' });
  const kindSelect = el('select', { id: 'kind' }, new Option('step records', 'step'), new Option('epoch records', 'epoch'));
  const runs = el('div', { class: 'runs', id: 'runs' });
  const plot = el('div', { id: 'compare-chart' });
  mount(el('div', { class: 'controls' }, 'project ', projectSelect, 'metric ', metricSelect, kindSelect),
        runs, plot);
  const metrics = new Map();
  let tasks = [], shown = '';
  const draw = () => {
    const kind = kindSelect.value, name = metricSelect.value;
    const series = [];
    runs.querySelectorAll('input:checked').forEach((box) => {
      const m = metrics.get(box.value);
      const pts = m && m[kind].get(name);
      if (pts) series.push({ name: box.value, color: COLORS[series.length % COLORS.length], points: pts, dots: kind === 'epoch' });
    });
    plot.replaceChildren(chart(name || '(no metric)', series));
  };
  const fillRuns = () => {
    const project = projectSelect.value;
    const mine = tasks.filter((t) => t.project_dir === project && t.type === 'Train');
    runs.replaceChildren(...mine.map((t, i) => el('label', {},
      el('input', { type: 'checkbox', value: t.ID, checked: i < COLORS.length, onchange: draw }),
      ' ', t.ID, ' ', badge(t.status), ' ', el('span', { class: 'muted' }, t.description || ''))));
  };
  projectSelect.addEventListener('change', () => { fillRuns(); draw(); });
  metricSelect.addEventListener('change', draw);
  kindSelect.addEventListener('change', draw);
  return poller(async () => {
    const [info, history] = await Promise.all([api('/get_task_info'), api('/get_task_history', { limit: 500 })]);
    tasks = history.info.concat(info.info);
    const projects = [...new Set(tasks.filter((t) => t.type === 'Train').map((t) => t.project_dir))];
    const key = projects.join('\n');
    if (key !== shown) {
      const keep = projectSelect.value || params.get('project');
      projectSelect.replaceChildren(...projects.map((p) => new Option(projectName(p), p)));
      if (projects.includes(keep)) projectSelect.value = keep;
      shown = key;
      fillRuns();
    }
    const checked = [...runs.querySelectorAll('input:checked')].map((b) => b.value);
    for (const id of checked) {
      if (!metrics.has(id)) metrics.set(id, newMetrics());
      await pullMetrics(id, metrics.get(id));
    }
    const names = [...new Set(checked.flatMap((id) => metricNames(metrics.get(id))))].sort();
    if (names.join('\n') !== [...metricSelect.options].map((o) => o.value).join('\n')) {
      const keep = metricSelect.value;
      metricSelect.replaceChildren(...names.map((n) => new Option(n, n)));
      if (names.includes(keep)) metricSelect.value = keep;
    }
    draw();
  }, 3000);
}

// ---- Routing ----

function route() {
  const hash = location.hash || '#/';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  if (path.startsWith('/task/')) show(taskView(decodeURIComponent(path.slice(6))));
  else if (path === '/compare') show(compareView(params));
  else show(overview());
}

async function serverInfo() {
  const info = await api('/get_server_info').catch(() => null);
  if (info) document.getElementById('server-info').textContent = 'DLNest ' + info.version + ' · ' + info.state_dir;
}

window.addEventListener('hashchange', route);
route();
serverInfo();
