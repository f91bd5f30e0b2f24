/**
 * The browser side: small vanilla JavaScript served as /assets/app.js. Each
 * part starts only when its element is on the page. Data comes from
 * `<script type="application/json">` blocks; text reaches the DOM through
 * textContent only, never innerHTML of store strings.
 */
export const clientScript = String.raw`(function () {
'use strict';
function data(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }
var colours = { ran: '#2e8540', complete: '#7fbf7f', failed: '#d62728', blocked: '#ff9f40', cancelled: '#999999', running: '#1f77b4', pending: '#dddddd', model: '#6a3d9a', run: '#1f77b4', data: '#b15928', file: '#8c6d31', evaluation: '#2e8540' };
var SVG = 'http://www.w3.org/2000/svg';
function el(name, attrs, parent) { var e = document.createElementNS(SVG, name); for (var k in attrs) e.setAttribute(k, attrs[k]); if (parent) parent.appendChild(e); return e; }

function drawGraph(container, graph) {
  container.textContent = '';
  if (!graph || graph.nodes.length === 0) { container.textContent = 'no graph recorded for this run'; return; }
  var g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 12, ranksep: 40, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(function () { return {}; });
  graph.nodes.forEach(function (n) { g.setNode(n.id, { width: Math.min(260, 16 + 7 * n.label.length), height: n.sub ? 40 : 26 }); });
  graph.edges.forEach(function (e) { if (g.hasNode(e[0]) && g.hasNode(e[1])) g.setEdge(e[0], e[1]); });
  dagre.layout(g);
  var size = g.graph();
  var svg = el('svg', { width: size.width, height: size.height, viewBox: '0 0 ' + size.width + ' ' + size.height, role: 'img' }, container);
  g.edges().forEach(function (e) {
    var pts = g.edge(e).points; var d = 'M' + pts.map(function (p) { return p.x + ',' + p.y; }).join('L');
    el('path', { d: d, 'class': 'edge' }, svg);
  });
  graph.nodes.forEach(function (n) {
    var p = g.node(n.id); if (!p) return;
    var a = n.href ? el('a', { href: n.href }, svg) : svg;
    var grp = el('g', { 'class': 'node', 'data-id': n.id, 'data-status': n.status || '' }, a);
    el('rect', { x: p.x - p.width / 2, y: p.y - p.height / 2, width: p.width, height: p.height, rx: 4, fill: colours[n.status] || '#eeeeee' }, grp);
    var t = el('text', { x: p.x, y: p.y + (n.sub ? -4 : 4), 'text-anchor': 'middle' }, grp); t.textContent = n.label;
    if (n.sub) { var s = el('text', { x: p.x, y: p.y + 12, 'text-anchor': 'middle', 'class': 'sub' }, grp); s.textContent = n.sub; }
    var title = el('title', {}, grp); title.textContent = n.title || n.id;
  });
}

function graphs() {
  document.querySelectorAll('[data-graph]').forEach(function (c) {
    var started = performance.now();
    drawGraph(c, data(c.getAttribute('data-graph')));
    c.setAttribute('data-drawn-ms', String(Math.round(performance.now() - started)));
  });
}

function charts() {
  var specs = data('chart-data'); var host = document.getElementById('charts');
  if (!specs || !host) return;
  var palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
  specs.forEach(function (spec) {
    var box = document.createElement('div'); box.className = 'chart'; host.appendChild(box);
    var series = [{ label: spec.xLabel || 'step' }].concat(spec.series.map(function (s, i) { return { label: s.label, stroke: palette[i % palette.length], width: 2, spanGaps: true }; }));
    new uPlot({ title: spec.title, width: Math.min(640, host.clientWidth || 640), height: 240, series: series, scales: { x: { time: !!spec.time } } },
      [spec.x].concat(spec.series.map(function (s) { return s.values; })), box);
  });
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
  var at = 0;
  function show() { cards.forEach(function (c, i) { c.classList.toggle('current', i === at); }); if (cards[at]) cards[at].scrollIntoView({ block: 'nearest' }); }
  function mark(value) {
    var card = cards[at]; if (!card) return;
    card.setAttribute('data-label', value);
    card.querySelector('.given').textContent = value === 'skip' ? 'skipped' : 'labelled ' + value;
    at = Math.min(at + 1, cards.length - 1); show(); count();
  }
  function labelled() { return cards.filter(function (c) { return /^[0-9]$/.test(c.getAttribute('data-label') || ''); }); }
  function count() { document.getElementById('label-count').textContent = String(labelled().length); }
  document.addEventListener('keydown', function (e) {
    if (e.target && (e.target.tagName === 'INPUT' || e.target.tagName === 'TEXTAREA')) return;
    if (/^[0-9]$/.test(e.key)) { mark(e.key); e.preventDefault(); }
    else if (e.key === 's' || e.key === ' ') { mark('skip'); e.preventDefault(); }
    else if (e.key === 'Backspace' || e.key === 'ArrowLeft') { at = Math.max(0, at - 1); show(); e.preventDefault(); }
    else if (e.key === 'ArrowRight') { at = Math.min(cards.length - 1, at + 1); show(); e.preventDefault(); }
  });
  cards.forEach(function (c, i) { c.addEventListener('click', function () { at = i; show(); }); });
  save.addEventListener('click', function () {
    var samples = labelled().map(function (c) { return { requestId: c.getAttribute('data-request-id'), label: Number(c.getAttribute('data-label')) }; });
    var out = document.getElementById('save-result');
    fetch(save.getAttribute('data-action'), { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: save.getAttribute('data-model'), samples: samples }) })
      .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); })
      .then(function (res) { out.textContent = res.status === 200 ? 'saved ' + res.body.count + ' labelled sample(s) as data increment ' + res.body.batchId : 'refused (' + res.status + '): ' + res.body.error; out.setAttribute('data-status', String(res.status)); });
  });
  show(); count();
}

graphs(); charts(); live(); labelling();
})();
`;
