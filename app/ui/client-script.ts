/**
 * The browser side: small vanilla JavaScript served as /assets/app.js. Each
 * part starts only when its element is on the page. Data comes from
 * `<script type="application/json">` blocks; text reaches the DOM through
 * textContent only, never innerHTML of store strings.
 */
export const clientScript = String.raw`(function () {
'use strict';
function data(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }
var colours = { ran: '#2e8540', complete: '#7fbf7f', failed: '#d62728', blocked: '#ff9f40', cancelled: '#999999', running: '#1f77b4', pending: '#dddddd', model: '#6a3d9a', run: '#1f77b4', data: '#b15928', file: '#8c6d31', evaluation: '#2e8540', labelled: '#e7ba52' };
var SVG = 'http://www.w3.org/2000/svg';
function el(name, attrs, parent) { var e = document.createElementNS(SVG, name); for (var k in attrs) e.setAttribute(k, attrs[k]); if (parent) parent.appendChild(e); return e; }

var maxChars = 44;
// Shortened in the middle: task ids differ at their end (parameters, hash), so the end stays.
function fitText(text) { return text.length > maxChars ? text.slice(0, 26) + '\u2026' + text.slice(text.length - (maxChars - 27)) : text; }

// Pan (drag) and zoom (wheel, buttons) by moving the SVG's viewBox; "fit" shows the whole graph again.
function panZoom(svg, start, full, tools) {
  var view = start.slice();
  function apply() { svg.setAttribute('viewBox', view.join(' ')); }
  function zoom(factor, cx, cy) {
    var w = view[2] * factor, h = view[3] * factor;
    if (w > full[2] * 4 + 200 || w < 20) return;
    view = [cx - (cx - view[0]) * factor, cy - (cy - view[1]) * factor, w, h]; apply();
  }
  function point(e) { var r = svg.getBoundingClientRect(); return [view[0] + (e.clientX - r.left) / r.width * view[2], view[1] + (e.clientY - r.top) / r.height * view[3]]; }
  svg.addEventListener('wheel', function (e) { e.preventDefault(); var p = point(e); zoom(e.deltaY > 0 ? 1.2 : 1 / 1.2, p[0], p[1]); }, { passive: false });
  var drag = null;
  svg.addEventListener('pointerdown', function (e) { if (e.target.closest && e.target.closest('a')) return; drag = { x: e.clientX, y: e.clientY, v: view.slice() }; svg.setPointerCapture(e.pointerId); });
  svg.addEventListener('pointermove', function (e) {
    if (!drag) return; var r = svg.getBoundingClientRect();
    view = [drag.v[0] - (e.clientX - drag.x) / r.width * view[2], drag.v[1] - (e.clientY - drag.y) / r.height * view[3], view[2], view[3]]; apply();
  });
  svg.addEventListener('pointerup', function () { drag = null; });
  function button(label, fn) { var b = document.createElement('button'); b.type = 'button'; b.textContent = label; b.addEventListener('click', fn); tools.appendChild(b); return b; }
  button('+', function () { zoom(1 / 1.5, view[0] + view[2] / 2, view[1] + view[3] / 2); }).className = 'zoom-in';
  button('\u2212', function () { zoom(1.5, view[0] + view[2] / 2, view[1] + view[3] / 2); }).className = 'zoom-out';
  button('fit', function () { view = full.slice(); apply(); }).className = 'zoom-fit';
  var hint = document.createElement('span'); hint.textContent = ' drag to pan, wheel to zoom'; tools.appendChild(hint);
}

function drawGraph(container, graph) {
  container.textContent = '';
  var old = container.previousElementSibling; if (old && old.className === 'graph-tools') old.remove();
  if (!graph || graph.nodes.length === 0) { container.textContent = 'no graph recorded for this run'; return; }
  var g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: graph.direction || 'LR', nodesep: 14, ranksep: 36, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(function () { return {}; });
  graph.nodes.forEach(function (n) {
    var chars = Math.max(fitText(n.label).length, n.sub ? Math.min(maxChars, n.sub.length) * 0.9 : 0);
    g.setNode(n.id, { width: 18 + 6.8 * chars, height: n.sub ? 40 : 26 });
  });
  graph.edges.forEach(function (e) { if (g.hasNode(e[0]) && g.hasNode(e[1])) g.setEdge(e[0], e[1]); });
  dagre.layout(g);
  var size = g.graph();
  var available = Math.max(200, container.clientWidth || 800);
  var scale = Math.min(1, available / size.width);
  var height = Math.max(80, Math.min(size.height * scale, window.innerHeight * 0.7));
  var svg = el('svg', { width: Math.min(size.width, available), height: height, viewBox: '0 0 ' + size.width + ' ' + (height / scale), role: 'img', 'data-direction': graph.direction || 'LR' }, container);
  g.edges().forEach(function (e) {
    var pts = g.edge(e).points; var d = 'M' + pts.map(function (p) { return p.x + ',' + p.y; }).join('L');
    el('path', { d: d, 'class': 'edge', 'marker-end': 'url(#arrow)' }, svg);
  });
  var defs = el('defs', {}, svg); var marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' }, defs);
  el('path', { d: 'M0,0L10,5L0,10z', fill: '#999' }, marker);
  graph.nodes.forEach(function (n) {
    var p = g.node(n.id); if (!p) return;
    var a = n.href ? el('a', { href: n.href }, svg) : svg;
    var grp = el('g', { 'class': 'node', 'data-id': n.id, 'data-status': n.status || '' }, a);
    el('rect', { x: p.x - p.width / 2, y: p.y - p.height / 2, width: p.width, height: p.height, rx: 4, fill: colours[n.status] || '#eeeeee' }, grp);
    var t = el('text', { x: p.x, y: p.y + (n.sub ? -4 : 4), 'text-anchor': 'middle' }, grp); t.textContent = fitText(n.label);
    if (n.sub) { var s = el('text', { x: p.x, y: p.y + 12, 'text-anchor': 'middle', 'class': 'sub' }, grp); s.textContent = fitText(n.sub); }
    var title = el('title', {}, grp); title.textContent = (n.title || n.id) + (n.sub ? '\n' + n.sub : '');
  });
  var tools = document.createElement('div'); tools.className = 'graph-tools'; container.parentNode.insertBefore(tools, container);
  panZoom(svg, [0, 0, size.width, height / scale], [0, 0, size.width, size.height], tools);
}

function graphs() {
  document.querySelectorAll('[data-graph]').forEach(function (c) {
    var started = performance.now();
    drawGraph(c, data(c.getAttribute('data-graph')));
    c.setAttribute('data-drawn-ms', String(Math.round(performance.now() - started)));
  });
}

function valueBox(host, spec) {
  var box = document.createElement('div'); box.className = 'chart chart-value'; box.setAttribute('data-kind', 'value'); host.appendChild(box);
  var h = document.createElement('div'); h.className = 'chart-title'; h.textContent = spec.title; box.appendChild(h);
  spec.series.forEach(function (s) {
    var row = document.createElement('div'); row.className = 'value-row';
    var v = document.createElement('span'); v.className = 'big-number'; var n = s.values[0];
    v.textContent = n === null || n === undefined ? '-' : String(Number(Number(n).toPrecision(6)));
    var l = document.createElement('span'); l.className = 'value-label'; l.textContent = s.label;
    row.appendChild(v); row.appendChild(l); box.appendChild(row);
  });
}

function drawChart(host, spec, palette) {
  if (spec.kind === 'value') { valueBox(host, spec); return; }
  var box = document.createElement('div'); box.className = 'chart'; box.setAttribute('data-kind', spec.kind || 'line'); host.appendChild(box);
  var n = spec.series.length; var bars = spec.kind === 'bars';
  var series = [{ label: spec.xLabel || 'step', value: spec.categories ? function (u, v) { return v === null || v === undefined ? '' : (spec.categories[v] || String(v)); } : undefined }].concat(spec.series.map(function (s, i) {
    var c = palette[i % palette.length];
    var one = { label: s.label, stroke: c, width: bars ? 1 : 2, spanGaps: true };
    if (bars) { one.fill = c + '99'; // Nested bars: each later series narrower, in front, so reference and current read side by side per class.
      one.paths = uPlot.paths.bars({ size: [Math.max(0.2, 0.8 - 0.35 * i), 80] }); one.points = { show: false }; }
    if (spec.stepped) one.paths = uPlot.paths.stepped({ align: 1 });
    return one;
  }));
  var xAxis = { label: spec.xLabel };
  if (spec.xInteger) { xAxis.incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000]; }
  if (spec.categories) { xAxis.values = function (u, ticks) { return ticks.map(function (t) { return Number.isInteger(t) ? (spec.categories[t] !== undefined ? spec.categories[t] : '') : ''; }); }; xAxis.splits = function () { return spec.categories.map(function (_, i) { return i; }); }; }
  var yAxis = { label: spec.yLabel || '' };
  if (spec.yInteger) { yAxis.incrs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000]; }
  if (spec.yLog) yAxis.values = function (u, ticks) { return ticks.map(function (t) { return t === null || t === undefined ? '' : Number(t).toExponential(0); }); };
  var scales = { x: { time: !!spec.time }, y: spec.yLog ? { distr: 3, log: 10 } : {} };
  if (bars) scales.x.range = function (u, min, max) { return [min - 0.6, max + 0.6]; };
  var thresholds = spec.thresholds || [];
  var hooks = thresholds.length === 0 ? {} : { draw: [function (u) {
    var ctx = u.ctx; ctx.save(); ctx.strokeStyle = '#d62728'; ctx.setLineDash([6, 4]); ctx.lineWidth = 1.5; ctx.fillStyle = '#d62728'; ctx.font = '11px sans-serif';
    thresholds.forEach(function (t) {
      var y = Math.round(u.valToPos(t.value, 'y', true)); if (!isFinite(y)) return;
      ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
      ctx.fillText(t.label, u.bbox.left + 4, y - 3);
    });
    ctx.restore();
  }] };
  if (spec.yLog && thresholds.length) scales.y.range = function (u, min, max) { var lo = Math.min(min, Math.min.apply(null, thresholds.map(function (t) { return t.value; }))); return uPlot.rangeLog(lo, Math.max(max, 1), 10, true); };
  new uPlot({ title: spec.title, width: Math.min(640, host.clientWidth || 640), height: 260, series: series, scales: scales, axes: [xAxis, yAxis], hooks: hooks, legend: { live: false } },
    [spec.x].concat(spec.series.map(function (s) { return s.values; })), box);
  if (thresholds.length) {
    var legend = document.createElement('div'); legend.className = 'threshold-legend';
    legend.textContent = thresholds.map(function (t) { return '- - ' + t.label; }).join('   '); box.appendChild(legend);
  }
}

function charts() {
  var specs = data('chart-data'); var host = document.getElementById('charts');
  if (!specs || !host) return;
  var palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
  specs.forEach(function (spec) { drawChart(host, spec, palette); });
}

function live() {
  var root = document.getElementById('live'); if (!root || !root.getAttribute('data-events')) return;
  var source = new EventSource(root.getAttribute('data-events'));
  function refresh() {
    return fetch(location.pathname + location.search, { credentials: 'same-origin' }).then(function (r) { return r.text(); }).then(function (text) {
      var doc = new DOMParser().parseFromString(text, 'text/html');
      var fresh = doc.getElementById('live'); if (fresh) { root.innerHTML = fresh.innerHTML; root.setAttribute('data-status', fresh.getAttribute('data-status') || ''); }
      var dag = doc.getElementById('dag-data'); var old = document.getElementById('dag-data');
      if (dag && old) { old.textContent = dag.textContent; graphs(); }
      document.body.setAttribute('data-updates', String(Number(document.body.getAttribute('data-updates') || '0') + 1));
    });
  }
  source.addEventListener('update', function () { refresh(); });
  source.addEventListener('end', function () { source.close(); refresh().then(function () { document.body.setAttribute('data-live', 'ended'); }); });
  source.onerror = function () { source.close(); };
}

function labelling() {
  var cards = Array.prototype.slice.call(document.querySelectorAll('.sample'));
  var save = document.getElementById('save-labels'); if (cards.length === 0 || !save) return;
  var at = 0; var history = [];
  function open() { return cards.filter(function (c) { return !c.classList.contains('saved'); }); }
  function show() { cards.forEach(function (c, i) { c.classList.toggle('current', i === at); }); if (cards[at]) cards[at].scrollIntoView({ block: 'nearest' }); }
  function next(from) { for (var i = from; i < cards.length; i++) if (!cards[i].classList.contains('saved')) return i; return Math.min(from, cards.length - 1); }
  function mark(value) {
    var card = cards[at]; if (!card || card.classList.contains('saved')) return;
    history.push({ index: at, before: card.getAttribute('data-label') });
    card.setAttribute('data-label', value);
    card.querySelector('.given').textContent = value === 'skip' ? 'skipped' : 'labelled ' + value;
    at = next(at + 1); show(); count();
  }
  function undo() {
    var last = history.pop(); if (!last) return;
    var card = cards[last.index];
    if (last.before === null) { card.removeAttribute('data-label'); card.querySelector('.given').textContent = ''; }
    else { card.setAttribute('data-label', last.before); card.querySelector('.given').textContent = last.before === 'skip' ? 'skipped' : 'labelled ' + last.before; }
    at = last.index; show(); count();
  }
  function labelled() { return open().filter(function (c) { return /^[0-9]$/.test(c.getAttribute('data-label') || ''); }); }
  function count() { document.getElementById('label-count').textContent = String(labelled().length); }
  document.addEventListener('keydown', function (e) {
    if (e.target && (e.target.tagName === 'INPUT' || e.target.tagName === 'TEXTAREA')) return;
    if ((e.key === 'z' && (e.ctrlKey || e.metaKey)) || e.key === 'u') { undo(); e.preventDefault(); }
    else if (/^[0-9]$/.test(e.key)) { mark(e.key); e.preventDefault(); }
    else if (e.key === 's' || e.key === ' ') { mark('skip'); e.preventDefault(); }
    else if (e.key === 'Backspace' || e.key === 'ArrowLeft') { at = Math.max(0, at - 1); show(); e.preventDefault(); }
    else if (e.key === 'ArrowRight') { at = Math.min(cards.length - 1, at + 1); show(); e.preventDefault(); }
  });
  cards.forEach(function (c, i) { c.addEventListener('click', function () { at = i; show(); }); });
  var undoButton = document.getElementById('undo-label'); if (undoButton) undoButton.addEventListener('click', undo);
  save.addEventListener('click', function () {
    var chosen = labelled();
    var samples = chosen.map(function (c) { return { requestId: c.getAttribute('data-request-id'), label: Number(c.getAttribute('data-label')) }; });
    var out = document.getElementById('save-result');
    fetch(save.getAttribute('data-action'), { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: save.getAttribute('data-model'), samples: samples }) })
      .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
      .then(function (res) {
        out.textContent = res.status === 200 ? 'saved ' + res.body.count + ' labelled sample(s) as data increment ' + res.body.batchId : 'refused (' + res.status + '): ' + res.body.error;
        out.setAttribute('data-status', String(res.status));
        if (res.status !== 200) return;
        // Saved samples leave the queue: marked, no longer labelled again or sent again.
        chosen.forEach(function (c) { c.classList.add('saved'); c.querySelector('.given').textContent = 'saved as ' + c.getAttribute('data-label'); });
        history = []; at = next(0); show(); count();
      });
  });
  show(); count();
}

function logs() {
  var box = document.getElementById('task-log'); var level = document.getElementById('log-level'); var search = document.getElementById('log-search');
  if (!box || !level || !search) return;
  var order = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
  var lines = Array.prototype.slice.call(box.querySelectorAll('.log-line'));
  function apply() {
    var min = order.indexOf(level.value); var q = search.value.toLowerCase(); var shown = 0;
    lines.forEach(function (l) {
      var ok = order.indexOf(l.getAttribute('data-level')) >= min && (q === '' || l.textContent.toLowerCase().indexOf(q) >= 0);
      l.hidden = !ok; if (ok) shown++;
    });
    document.getElementById('log-shown').textContent = shown + ' of ' + lines.length + ' line(s)';
  }
  level.addEventListener('change', apply); search.addEventListener('input', apply);
}

graphs(); charts(); live(); labelling(); logs();
})();
`;
