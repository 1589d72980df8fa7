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

// The chart: weight, per-arm error ratio, e-values (log axis), markers for rollbacks
// and manual changes. History entries give the weight's steps and the evidence at each
// change; the samples this page took give everything in between.
function chart(svc, history) {
  const W = 900, L = 64, R = 16, PH = 120, GAP = 34, T = 14;
  const H = T + 3 * PH + 2 * GAP + 24;
  const g = svg('svg', {class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`,
                        'data-service': svc, role: 'img'});
  const samples = series[svc] || [];
  const hist = history.map(h => ({t: h.time_ms, weight: h.new_weight, old: h.old_weight,
                                  reason: h.reason, ev: parseEvidence(h.evidence)}));
  const times = hist.map(h => h.t).concat(samples.map(s => s.t));
  if (!times.length) return g;
  const t0 = Math.min(...times), t1 = Math.max(Math.max(...times), t0 + 10000);
  const x = t => L + (W - L - R) * (t - t0) / (t1 - t0);
  const panel = (i, title) => {
    const y0 = T + i * (PH + GAP);
    g.append(svg('rect', {x: L, y: y0, width: W - L - R, height: PH, fill: '#fbfbfd', stroke: '#d5d8e0'}));
    g.append(svg('text', {x: L, y: y0 - 3}, title));
    return y0;
  };
  const line = (pts, attrs) => {
    const p = pts.filter(q => q[1] !== null && Number.isFinite(q[1]));
    if (p.length) g.append(svg('polyline', Object.assign({fill: 'none', 'stroke-width': 2,
      points: p.map(q => q[0].toFixed(1) + ',' + q[1].toFixed(1)).join(' ')}, attrs)));
  };
  const yticks = (y0, ticks, ymap, label) => {
    for (const v of ticks) {
      const yy = ymap(v);
      g.append(svg('line', {x1: L - 4, x2: L, y1: yy, y2: yy, stroke: '#889'}));
      g.append(svg('text', {x: L - 6, y: yy + 4, 'text-anchor': 'end'}, label(v)));
    }
  };

  // 1. the weight: set (steps from the history, then samples) and measured share
  let y0 = panel(0, 'canary weight % (line: set, dots: measured share of new flows)');
  const yw = v => y0 + PH - PH * v / 100;
  yticks(y0, [0, 50, 100], yw, v => v + '%');
  const wpts = [];
  for (const h of hist) {
    if (wpts.length) wpts.push([x(h.t), wpts[wpts.length - 1][1]]);
    wpts.push([x(h.t), yw(h.weight)]);
  }
  for (const s of samples) if (!hist.length || s.t >= hist[hist.length - 1].t) wpts.push([x(s.t), yw(s.weight)]);
  line(wpts, {stroke: '#0b6bcb', class: 'weight'});
  for (const s of samples)
    if (s.share !== null && s.share !== undefined)
      g.append(svg('circle', {cx: x(s.t).toFixed(1), cy: yw(s.share).toFixed(1), r: 2, fill: '#7aa7d9', class: 'share'}));

  // 2. per-arm error rate of one signal: events / exposure since the rollout started
  const sig = errSignal(Object.keys(Object.assign({}, ...hist.map(h => h.ev),
                                                  ...samples.map(q => q.counts))));
  const epts = hist.filter(h => h.ev[sig]).map(h => ({t: h.t, c: h.ev[sig]}))
    .concat(samples.filter(q => q.counts[sig]).map(q => ({t: q.t, c: q.counts[sig]})))
    .sort((a, b) => a.t - b.t);
  const ratio = (c, arm) => (c.n[arm] > 0 ? c.x[arm] / c.n[arm] : null);
  const y1 = panel(1, `${sig || 'errors'}: events / exposure per arm since the start (blue: stable, orange: canary)`);
  const emax = Math.max(0.01, ...epts.flatMap(p => [ratio(p.c, 0), ratio(p.c, 1)].filter(v => v !== null))) * 1.1;
  const ye = v => y1 + PH - PH * v / emax;
  yticks(y1, [0, emax / 2, emax], ye, v => fmt(100 * v, 1) + '%');
  ['#0b6bcb', '#e8710a'].forEach((c, arm) =>
    line(epts.map(p => [x(p.t), ratio(p.c, arm) === null ? null : ye(ratio(p.c, arm))]),
         {stroke: c, class: 'err-' + (arm ? 'canary' : 'stable')}));

  // 3. each signal's e-value against its threshold, log axis
  const y2 = panel(2, 'e-value per signal (log axis; dashed: rollback threshold)');
  const thr = Object.assign({}, ...hist.map(h => Object.fromEntries(
    Object.entries(h.ev).map(([k, v]) => [k, v.thr]))), thresholds[svc] || {});
  const evs = hist.flatMap(h => Object.values(h.ev).map(v => v.e))
    .concat(samples.flatMap(s => Object.values(s.ev)));
  // From 0.01 to a decade above the largest e-value, but at most 6 decades above the
  // threshold: evidence far past it is drawn at the top.
  const top = Math.max(10, ...Object.values(thr));
  const lo = -2, hi = Math.min(Math.ceil(Math.log10(Math.max(top, ...evs.filter(Number.isFinite)) * 10)),
                               Math.ceil(Math.log10(top)) + 6);
  const yl = v => y2 + PH - PH * (Math.min(Math.log10(Math.max(v, 10 ** lo)), hi) - lo) / (hi - lo);
  const dec = [];
  for (let d = lo; d <= hi; d += Math.ceil((hi - lo) / 6)) dec.push(10 ** d);
  yticks(y2, dec, yl, v => (v >= 1e4 ? '1e' + Math.round(Math.log10(v)) : String(v)));
  const colors = ['#b00020', '#1a7f37', '#6f42c1', '#9a6700', '#0b6bcb', '#e8710a'];
  Object.keys(thr).sort().forEach((sig, i) => {
    const c = colors[i % colors.length];
    g.append(svg('line', {x1: L, x2: W - R, y1: yl(thr[sig]), y2: yl(thr[sig]), stroke: c,
                          'stroke-dasharray': '5 4', class: 'threshold', 'data-signal': sig,
                          'data-threshold': thr[sig]}));
    const pts = hist.filter(h => h.ev[sig]).map(h => [x(h.t), yl(h.ev[sig].e)])
      .concat(samples.filter(s => s.ev[sig] !== undefined).map(s => [x(s.t), yl(s.ev[sig])]));
    pts.sort((a, b) => a[0] - b[0]);
    line(pts, {stroke: c, class: 'evalue', 'data-signal': sig});
    g.append(svg('text', {x: W - R - 4, y: y2 + 12 + 12 * i, 'text-anchor': 'end', fill: c}, sig));
  });

  // markers: rollbacks, manual and external changes, promotions
  const yb = T + 3 * PH + 2 * GAP;
  for (const h of hist) {
    const kind = markerKind(h.reason);
    if (!kind) continue;
    const c = kind === 'rollback' ? '#b00020' : kind === 'manual' ? '#6f42c1' : '#1a7f37';
    const m = svg('g', {class: 'marker', 'data-kind': kind, 'data-reason': h.reason,
                        'data-weight': h.weight, 'data-old-weight': h.old});
    m.append(svg('line', {x1: x(h.t), x2: x(h.t), y1: T, y2: yb, stroke: c, 'stroke-width': 1.5}));
    m.append(svg('text', {x: x(h.t) + 3, y: yb + 14, fill: c}, `${h.reason} ${h.old}%→${h.weight}%`));
    g.append(m);
  }
  g.append(svg('text', {x: L, y: H - 2}, new Date(t0).toISOString().slice(11, 19) + ' UTC'));
  g.append(svg('text', {x: W - R, y: H - 2, 'text-anchor': 'end'}, new Date(t1).toISOString().slice(11, 19) + ' UTC'));
  return g;
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
