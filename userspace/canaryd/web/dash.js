// dash.js: canaryd's dashboard. Reads the JSON API of the listener that served it
// (GET /api/v1/services, /api/v1/rollouts, /api/v1/rollouts/SVC/history), redraws
// every poll interval, and draws each rollout's chart as inline SVG. Actions need the
// API token, which stays in this tab (sessionStorage, never a cookie) and goes out
// only as "Authorization: Bearer" to this same origin.
'use strict';

const SVGNS = 'http://www.w3.org/2000/svg';
const TOKEN_KEY = 'canaryd-token';
const series = {}; // service -> [{t, weight, share, ev: {signal: e}, counts: {signal: {x, n}}}]
let thresholds = {}; // service -> {signal: threshold}
let tcpChanges = false;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

function fmt(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (typeof x !== 'number') return String(x);
  if (x !== 0 && (Math.abs(x) >= 1e4 || Math.abs(x) < 1e-2)) return x.toExponential(2);
  return String(Number(x.toFixed(digits === undefined ? 2 : digits)));
}

async function getJSON(path) {
  const r = await fetch(path, {cache: 'no-store', credentials: 'omit'});
  if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
  return r.json();
}

// The history's evidence text (rollout_evidence() in userspace/lib/logic/rollout.c):
// "http_5xx E=3.2/100 (canary 4/300, stable 2/2900), ...; srm ..." ->
// {http_5xx: {e, thr, x: [stable, canary], n: [stable, canary]}}
function parseEvidence(text) {
  const out = {};
  const re = /([a-z0-9_]+) E=([^/ ]+)\/([0-9.e+]+) \(canary (\d+)\/(\d+), stable (\d+)\/(\d+)\)/g;
  const part = String(text || '').split(';')[0];
  let m;
  while ((m = re.exec(part)) !== null)
    out[m[1]] = {e: Number(m[2]), thr: Number(m[3]), x: [Number(m[6]), Number(m[4])],
                 n: [Number(m[7]), Number(m[5])]};
  return out;
}

// The signal whose counts the error panel draws: errored flows if the plan tests them.
function errSignal(names) {
  for (const k of ['errored_flows', 'http_5xx', 'resets']) if (names.includes(k)) return k;
  return names.sort()[0];
}

// The entries of the last rollout: from the last "start" on.
function lastRollout(history) {
  let i = history.length - 1;
  while (i > 0 && history[i].reason !== 'start') i--;
  return history.slice(Math.max(i, 0));
}

// One sample of a rollout, as this page saw it: set weight, measured share of new
// flows (the service's, over the last poll), each signal's e-value and counts.
function record(svc, r, share) {
  const s = series[svc] || (series[svc] = []);
  const ev = {}, counts = {};
  thresholds[svc] = thresholds[svc] || {};
  for (const e of r.evidence || []) {
    ev[e.signal] = e.e_value;
    counts[e.signal] = {x: [e.stable.events, e.canary.events], n: [e.stable.exposure, e.canary.exposure]};
    thresholds[svc][e.signal] = e.threshold;
  }
  const last = s[s.length - 1];
  const now = Date.now();
  if (last && now - last.t < 200) return;
  s.push({t: now, weight: r.canary_weight, share, ev, counts});
  if (s.length > 3600) s.shift();
}

function markerKind(reason) {
  if (reason === 'auto-rollback' || reason === 'abort') return 'rollback';
  if (reason === 'manual' || reason === 'external') return 'manual';
  if (reason === 'promote') return 'promote';
  return null;
}

// A chart's frame and helpers: c.x maps a time to pixels; panel(i) draws panel i's
// frame and returns its top; line() and yticks() draw into it.
function chartFrame(svc, hist, samples) {
  const c = {W: 900, L: 64, R: 16, PH: 120, GAP: 34, T: 14, hist, samples};
  c.H = c.T + 3 * c.PH + 2 * c.GAP + 24;
  c.g = svg('svg', {class: 'chart', width: c.W, height: c.H, viewBox: `0 0 ${c.W} ${c.H}`,
                    'data-service': svc, role: 'img'});
  const times = hist.map(h => h.t).concat(samples.map(q => q.t));
  c.t0 = Math.min(...times);
  c.t1 = Math.max(Math.max(...times), c.t0 + 10000);
  c.x = t => c.L + (c.W - c.L - c.R) * (t - c.t0) / (c.t1 - c.t0);
  c.panel = (i, title) => {
    const y0 = c.T + i * (c.PH + c.GAP);
    c.g.append(svg('rect', {x: c.L, y: y0, width: c.W - c.L - c.R, height: c.PH, fill: '#fbfbfd', stroke: '#d5d8e0'}));
    c.g.append(svg('text', {x: c.L, y: y0 - 3}, title));
    return y0;
  };
  c.line = (pts, attrs) => {
    const p = pts.filter(q => q[1] !== null && Number.isFinite(q[1]));
    if (p.length) c.g.append(svg('polyline', Object.assign({fill: 'none', 'stroke-width': 2,
      points: p.map(q => q[0].toFixed(1) + ',' + q[1].toFixed(1)).join(' ')}, attrs)));
  };
  c.yticks = (ticks, ymap, label) => {
    for (const v of ticks) {
      const yy = ymap(v);
      c.g.append(svg('line', {x1: c.L - 4, x2: c.L, y1: yy, y2: yy, stroke: '#889'}));
      c.g.append(svg('text', {x: c.L - 6, y: yy + 4, 'text-anchor': 'end'}, label(v)));
    }
  };
  return c;
}

// 1. the weight: set (steps from the history, then samples) and measured share
function weightPanel(c) {
  const y0 = c.panel(0, 'canary weight % (line: set, dots: measured share of new flows)');
  const yw = v => y0 + c.PH - c.PH * v / 100;
  const wpts = [], hist = c.hist;
  c.yticks([0, 50, 100], yw, v => v + '%');
  for (const h of hist) {
    if (wpts.length) wpts.push([c.x(h.t), wpts[wpts.length - 1][1]]);
    wpts.push([c.x(h.t), yw(h.weight)]);
  }
  for (const q of c.samples)
    if (!hist.length || q.t >= hist[hist.length - 1].t) wpts.push([c.x(q.t), yw(q.weight)]);
  c.line(wpts, {stroke: '#0b6bcb', class: 'weight'});
  for (const q of c.samples)
    if (q.share !== null && q.share !== undefined)
      c.g.append(svg('circle', {cx: c.x(q.t).toFixed(1), cy: yw(q.share).toFixed(1), r: 2,
                                fill: '#7aa7d9', class: 'share'}));
}

// 2. per-arm error rate of one signal: events / exposure since the rollout started
function errorPanel(c) {
  const sig = errSignal(Object.keys(Object.assign({}, ...c.hist.map(h => h.ev),
                                                  ...c.samples.map(q => q.counts))));
  const epts = c.hist.filter(h => h.ev[sig]).map(h => ({t: h.t, k: h.ev[sig]}))
    .concat(c.samples.filter(q => q.counts[sig]).map(q => ({t: q.t, k: q.counts[sig]})))
    .sort((a, b) => a.t - b.t);
  const ratio = (k, arm) => (k.n[arm] > 0 ? k.x[arm] / k.n[arm] : null);
  const y1 = c.panel(1, `${sig || 'errors'}: events / exposure per arm since the start (blue: stable, orange: canary)`);
  const emax = Math.max(0.01, ...epts.flatMap(p => [ratio(p.k, 0), ratio(p.k, 1)].filter(v => v !== null))) * 1.1;
  const ye = v => y1 + c.PH - c.PH * v / emax;
  c.yticks([0, emax / 2, emax], ye, v => fmt(100 * v, 1) + '%');
  ['#0b6bcb', '#e8710a'].forEach((color, arm) =>
    c.line(epts.map(p => [c.x(p.t), ratio(p.k, arm) === null ? null : ye(ratio(p.k, arm))]),
           {stroke: color, class: 'err-' + (arm ? 'canary' : 'stable')}));
}

// 3. each signal's e-value against its threshold, log axis: from 0.01 to a decade above
// the largest e-value, but at most 6 decades above the threshold (evidence far past it
// is drawn at the top).
function evidencePanel(c, svc) {
  const y2 = c.panel(2, 'e-value per signal (log axis; dashed: rollback threshold)');
  const thr = Object.assign({}, ...c.hist.map(h => Object.fromEntries(
    Object.entries(h.ev).map(([k, v]) => [k, v.thr]))), thresholds[svc] || {});
  const evs = c.hist.flatMap(h => Object.values(h.ev).map(v => v.e))
    .concat(c.samples.flatMap(q => Object.values(q.ev)));
  const top = Math.max(10, ...Object.values(thr));
  const lo = -2, hi = Math.min(Math.ceil(Math.log10(Math.max(top, ...evs.filter(Number.isFinite)) * 10)),
                               Math.ceil(Math.log10(top)) + 6);
  const yl = v => y2 + c.PH - c.PH * (Math.min(Math.log10(Math.max(v, 10 ** lo)), hi) - lo) / (hi - lo);
  const dec = [];
  for (let d = lo; d <= hi; d += Math.ceil((hi - lo) / 6)) dec.push(10 ** d);
  c.yticks(dec, yl, v => (v >= 1e4 ? '1e' + Math.round(Math.log10(v)) : String(v)));
  const colors = ['#b00020', '#1a7f37', '#6f42c1', '#9a6700', '#0b6bcb', '#e8710a'];
  Object.keys(thr).sort().forEach((sig, i) => {
    const color = colors[i % colors.length];
    c.g.append(svg('line', {x1: c.L, x2: c.W - c.R, y1: yl(thr[sig]), y2: yl(thr[sig]), stroke: color,
                            'stroke-dasharray': '5 4', class: 'threshold', 'data-signal': sig,
                            'data-threshold': thr[sig]}));
    const pts = c.hist.filter(h => h.ev[sig]).map(h => [c.x(h.t), yl(h.ev[sig].e)])
      .concat(c.samples.filter(q => q.ev[sig] !== undefined).map(q => [c.x(q.t), yl(q.ev[sig])]));
    pts.sort((a, b) => a[0] - b[0]);
    c.line(pts, {stroke: color, class: 'evalue', 'data-signal': sig});
    c.g.append(svg('text', {x: c.L + 6, y: y2 + c.PH - 6 - 12 * i, fill: color}, sig));
  });
}

// Markers across the panels: rollbacks, manual and external changes, promotions.
function markers(c) {
  const yb = c.T + 3 * c.PH + 2 * c.GAP;
  for (const h of c.hist) {
    const kind = markerKind(h.reason);
    if (!kind) continue;
    const color = kind === 'rollback' ? '#b00020' : kind === 'manual' ? '#6f42c1' : '#1a7f37';
    const m = svg('g', {class: 'marker', 'data-kind': kind, 'data-reason': h.reason,
                        'data-weight': h.weight, 'data-old-weight': h.old});
    const x = c.x(h.t), left = x > c.W - 200;
    m.append(svg('line', {x1: x, x2: x, y1: c.T, y2: yb, stroke: color, 'stroke-width': 1.5}));
    m.append(svg('text', {x: left ? x - 3 : x + 3, y: yb + 14, fill: color, 'text-anchor': left ? 'end' : 'start'},
                 `${h.reason} ${h.old}%→${h.weight}%`));
    c.g.append(m);
  }
  c.g.append(svg('text', {x: c.L, y: c.H - 2}, new Date(c.t0).toISOString().slice(11, 19) + ' UTC'));
  c.g.append(svg('text', {x: c.W - c.R, y: c.H - 2, 'text-anchor': 'end'},
                 new Date(c.t1).toISOString().slice(11, 19) + ' UTC'));
}

// The chart: weight, per-arm error rate, e-values (log axis), markers. History entries
// give the weight's steps and the evidence at each change; the samples this page took
// give everything in between.
function chart(svc, history) {
  const samples = series[svc] || [];
  const hist = history.map(h => ({t: h.time_ms, weight: h.new_weight, old: h.old_weight,
                                  reason: h.reason, ev: parseEvidence(h.evidence)}));
  if (!hist.length && !samples.length) return svg('svg', {class: 'chart', 'data-service': svc});
  const c = chartFrame(svc, hist, samples);
  weightPanel(c);
  errorPanel(c);
  evidencePanel(c, svc);
  markers(c);
  return c.g;
}

function armsTable(svc, rollout) {
  const t = el('table', {class: 'arms'});
  t.append(el('tr', {}, el('th', {}, 'arm'), el('th', {}, 'backends'), el('th', {}, 'weight %'),
                el('th', {}, 'flows'), el('th', {}, 'flows/s'), el('th', {}, 'requests/s'),
                el('th', {}, 'errored flows/s'), el('th', {}, '5xx/s'), el('th', {}, 'errored (rollout)')));
  for (const arm of ['stable', 'canary']) {
    const a = svc.arms[arm] || {}, r = a.rates || {};
    const ra = rollout && rollout.arms && rollout.arms[arm];
    t.append(el('tr', {'data-arm': arm}, el('td', {}, arm), el('td', {}, a.backends),
      el('td', {'data-field': 'weight'}, fmt(a.weight)), el('td', {}, a.flows),
      el('td', {}, fmt(r.flows_per_s, 1)), el('td', {}, fmt(r.requests_per_s, 1)),
      el('td', {}, fmt(r.errored_flows_per_s, 1)), el('td', {}, fmt(r.http_5xx_per_s, 1)),
      el('td', {}, ra ? `${ra.errored_flows}/${ra.flows}` : '–')));
  }
  return t;
}

function evidenceTable(r) {
  const t = el('table', {class: 'evidence'});
  t.append(el('tr', {}, el('th', {}, 'signal'), el('th', {}, 'e-value'), el('th', {}, 'threshold'),
                el('th', {}, 'canary events/exposure'), el('th', {}, 'stable events/exposure'), el('th', {}, 'verdict')));
  for (const e of r.evidence || [])
    t.append(el('tr', {'data-signal': e.signal}, el('td', {}, e.signal),
      el('td', {'data-field': 'e_value', class: e.e_value >= e.threshold ? 'over' : ''}, fmt(e.e_value, 3)),
      el('td', {'data-field': 'threshold'}, fmt(e.threshold)),
      el('td', {}, `${e.canary.events}/${e.canary.exposure}`),
      el('td', {}, `${e.stable.events}/${e.stable.exposure}`), el('td', {}, e.verdict)));
  return t;
}

async function act(svc, cmd) {
  const msg = document.getElementById('actionmsg');
  if (!confirm(`${cmd} the rollout of ${svc}?`)) return;
  try {
    const r = await fetch(`/api/v1/rollouts/${encodeURIComponent(svc)}/${cmd}`, {
      method: 'POST', cache: 'no-store', credentials: 'omit', body: '{}',
      headers: {'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token()}});
    const j = await r.json().catch(() => ({}));
    msg.textContent = r.ok ? `${svc}: ${cmd}: now ${j.phase}` : `${svc}: ${cmd} refused (HTTP ${r.status}): ${j.error || ''}`;
    if (r.status === 401) forgetToken();
  } catch (e) {
    msg.textContent = `${svc}: ${cmd} failed: ${e.message}`;
  }
  refresh();
}

function actions(svc) {
  const d = el('div', {class: 'actions'});
  for (const cmd of ['pause', 'resume', 'abort', 'promote']) {
    const b = el('button', {type: 'button', 'data-action': cmd}, cmd);
    b.addEventListener('click', () => act(svc, cmd));
    d.append(b);
  }
  return d;
}

function card(svc, r, history) {
  const s = el('section', {class: 'svc', 'data-service': svc.name});
  s.append(el('h2', {}, svc.name, ' ', el('small', {}, `${svc.vip} ${svc.protocol}`)));
  const f = el('div', {class: 'facts'});
  f.append(el('span', {}, 'set ', el('b', {'data-field': 'canary_weight'}, fmt(svc.canary_weight)), '%'));
  f.append(el('span', {}, 'measured ', el('b', {'data-field': 'measured_share'}, fmt(svc.measured_share, 1)), '%'));
  if (r) {
    f.append(el('span', {}, 'phase ', el('b', {'data-field': 'phase', class: 'phase-' + r.phase}, r.phase)));
    f.append(el('span', {}, 'step ', el('b', {'data-field': 'step'}, `${r.step}/${r.steps}`),
                r.step_weight !== undefined ? ` (${fmt(r.step_weight)}%)` : ''));
    if (r.hold_s !== undefined)
      f.append(el('span', {}, 'hold ', el('b', {'data-field': 'hold'}, `${fmt(r.hold_accrued_s, 1)}/${fmt(r.hold_s, 1)}s`)));
    if (r.paused_for) f.append(el('span', {}, 'paused for ', el('b', {}, r.paused_for)));
  } else {
    f.append(el('span', {}, 'no rollout'));
  }
  s.append(f);
  if (r && r.reason) s.append(el('p', {class: 'reason', 'data-field': 'reason'}, r.reason));
  s.append(armsTable(svc, r));
  if (r) {
    if (token() && tcpChanges) s.append(actions(svc.name));
    s.append(evidenceTable(r));
    s.append(chart(svc.name, history));
  }
  return s;
}

async function refresh() {
  const status = document.getElementById('status');
  try {
    const [svcs, rollouts] = await Promise.all([getJSON('/api/v1/services'), getJSON('/api/v1/rollouts')]);
    tcpChanges = svcs.tcp_changes;
    document.getElementById('tokenbox').hidden = !tcpChanges;
    const byName = Object.fromEntries(rollouts.map(r => [r.service, r]));
    const hist = {};
    await Promise.all(rollouts.map(async r => {
      hist[r.service] = lastRollout(await getJSON(`/api/v1/rollouts/${encodeURIComponent(r.service)}/history`));
      const svc = svcs.services.find(q => q.name === r.service);
      record(r.service, r, svc ? svc.measured_share : null);
    }));
    const main = document.getElementById('services');
    main.replaceChildren(...svcs.services.map(s => card(s, byName[s.name], hist[s.name] || [])));
    status.className = '';
    status.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC, ` +
      `${svcs.services.length} services, ${rollouts.length} rollouts` + (token() ? ', token set' : ', read-only');
    setTimeout(refresh, 1000 * Math.max(1, svcs.poll_interval_s || 1));
  } catch (e) {
    status.className = 'err';
    status.textContent = 'cannot read canaryd: ' + e.message;
    setTimeout(refresh, 3000);
  }
}

function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById('token-forget').hidden = true;
}

document.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('tokenbox');
  box.addEventListener('submit', ev => {
    ev.preventDefault();
    const v = document.getElementById('token').value.trim();
    if (v) sessionStorage.setItem(TOKEN_KEY, v);
    document.getElementById('token').value = '';
    document.getElementById('token-forget').hidden = !v;
  });
  document.getElementById('token-forget').addEventListener('click', forgetToken);
  document.getElementById('token-forget').hidden = !token();
  refresh();
});
