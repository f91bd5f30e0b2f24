/** /assets/app.css. */
export const clientStyle = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; }
header { display: flex; gap: 16px; align-items: center; padding: 8px 16px; background: #1d2b3a; color: #fff; flex-wrap: wrap; }
header a { color: #cde; text-decoration: none; } header a.current { color: #fff; font-weight: 600; border-bottom: 2px solid #fff; }
header .brand { font-weight: 700; color: #fff; } header nav { display: flex; gap: 12px; }
header .store, header .mode { font-size: 12px; color: #9ab; } header .store { margin-left: auto; }
main { padding: 12px 16px; min-width: 0; overflow-wrap: anywhere; }
.table-scroll { overflow-x: auto; max-width: 100%; } .sr { position: absolute; left: -9999px; } form.inline-form { display: inline; }
.tag { display: inline-block; background: #eef2f6; border-radius: 3px; padding: 0 4px; margin: 1px; font-size: 12px; }
.run-id { color: #777; } tr.noop { color: #888; } th a { color: inherit; text-decoration: none; } th[aria-sort] { background: #e4ebf2; }
details#columns fieldset { display: inline-flex; flex-wrap: wrap; gap: 4px 10px; border: 1px solid #ddd; margin: 4px; max-width: 100%; }
label.inline { flex-direction: row !important; align-items: center; gap: 4px; }
header .store { overflow: hidden; text-overflow: ellipsis; max-width: 40vw; white-space: nowrap; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border-bottom: 1px solid #e3e3e3; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.differs th:first-child::before { content: '≠ '; color: #d62728; font-weight: 700; } tr.differs { background: #fff6e5; }
td.best { font-weight: 700; background: #e5f5e5; }
.status { padding: 1px 6px; border-radius: 3px; font-size: 12px; color: #fff; background: #777; }
.status-ran, .status-succeeded { background: #2e8540; } .status-complete { background: #7fbf7f; } .status-failed { background: #d62728; }
.status-running { background: #1f77b4; } .status-blocked { background: #ff9f40; } .status-cancelled, .status-unfinished { background: #999; }
.graph { overflow: hidden; border: 1px solid #ddd; background: #fcfcfc; position: relative; max-width: 100%; }
.graph svg { display: block; cursor: grab; touch-action: none; } .graph-tools { font-size: 12px; color: #555; margin: 4px 0; } .graph-tools button { font-size: 12px; }
.graph .edge { fill: none; stroke: #999; stroke-width: 1.2; } .graph text { font-size: 11px; fill: #111; } .graph text.sub { font-size: 10px; }
.gantt { border: 1px solid #ddd; font-size: 11px; }
.gantt .g-row { display: flex; height: 18px; border-bottom: 1px solid #f3f3f3; white-space: nowrap; }
.gantt .g-name { box-sizing: border-box; flex: 0 0 240px; overflow: hidden; text-overflow: ellipsis; direction: rtl; text-align: left; padding: 1px 6px; border-right: 1px solid #ddd; color: #333; }
.gantt .g-track { position: relative; flex: 1 1 auto; margin-right: 40px; }
.gantt .g-axis { height: 20px; background: #f4f6f8; } .gantt .tick { position: absolute; top: 3px; transform: translateX(-50%); color: #555; }
.gantt .g-axis .tick:first-child { transform: none; }
.gantt .g-body { position: relative; } .gantt .g-overlay { position: absolute; left: 240px; right: 40px; top: 0; bottom: 0; pointer-events: none; }
.gantt .gridline, .gantt .now-line { position: absolute; top: 0; bottom: 0; width: 0; border-left: 1px dotted #ccc; }
.gantt .bar { position: absolute; top: 3px; height: 12px; border-radius: 2px; min-width: 2px; }
.gantt .now-line { border-left: 2px solid #d62728; z-index: 2; } .gantt .now-line span { position: absolute; top: -2px; left: 3px; white-space: nowrap; color: #d62728; font-weight: 600; }
.progress { display: inline-block; width: 80px; height: 8px; background: #eee; border-radius: 4px; overflow: hidden; vertical-align: middle; }
.progress span { display: block; height: 100%; background: #1f77b4; }
.log { background: #111; color: #ddd; padding: 8px; max-height: 60vh; overflow: auto; font: 12px/1.5 ui-monospace, monospace; }
.log-line { white-space: pre-wrap; overflow-wrap: anywhere; } .log-line[hidden] { display: none; } .log-time { color: #888; } .log-field .k { color: #8ab; }
.log-level { display: inline-block; min-width: 42px; font-weight: 600; } .level-info .log-level { color: #7fbf7f; } .level-warn .log-level { color: #ffb74d; }
.level-error .log-level, .level-fatal .log-level { color: #ff6b6b; } .level-debug .log-level, .level-trace .log-level { color: #888; }
.log pre.stack { margin: 2px 0 4px 24px; color: #f99; white-space: pre-wrap; font: inherit; } .log mark { background: #665c00; color: #fff; }
.log-tools { display: flex; gap: 12px; align-items: center; font-size: 12px; margin: 4px 0; }
.notice { padding: 8px 12px; background: #fff6e5; border: 1px solid #f0d9a8; margin: 8px 0; }
.error { color: #d62728; white-space: pre-wrap; }
form.filters { display: flex; gap: 8px; flex-wrap: wrap; align-items: end; margin: 8px 0; } form.filters label { display: flex; flex-direction: column; font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } .chart { border: 1px solid #eee; max-width: 100%; overflow: hidden; }
.chart-value { padding: 8px 16px; min-width: 200px; } .chart-title { font-weight: 600; text-align: center; margin-bottom: 6px; }
.value-row { display: flex; gap: 10px; align-items: baseline; } .big-number { font-size: 28px; font-variant-numeric: tabular-nums; } .value-label { color: #555; }
.threshold-legend { color: #d62728; font-size: 12px; padding: 0 8px 6px; }
.samples { display: flex; flex-wrap: wrap; gap: 8px; } .sample { border: 2px solid #ddd; padding: 4px; width: 120px; text-align: center; font-size: 12px; cursor: pointer; }
.sample.current { border-color: #1f77b4; box-shadow: 0 0 0 2px #9cc3e6; } .sample[data-label] { background: #eef7ee; } .sample[data-label=skip] { background: #f3f3f3; }
.sample.saved { opacity: 0.5; background: #e5f5e5; cursor: default; } .samples.locked .sample { opacity: 0.6; cursor: default; }
#token-form input[type=password] { font-family: monospace; }
.sample img { width: 84px; height: 84px; image-rendering: pixelated; display: block; margin: 0 auto; }
.pager a, .pager span { margin-right: 8px; }
`;
