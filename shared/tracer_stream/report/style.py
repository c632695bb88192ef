"""The report's stylesheet, inlined into every HTML file (no external assets)."""

CSS = """
:root { --ok: #15803d; --ok-bg: #f0fdf4; --warn: #b45309; --warn-bg: #fffbeb;
        --bad: #b91c1c; --muted: #6b7280; --line: #e5e7eb; --accent: #2563eb; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827;
       margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
p.meta, .muted { color: var(--muted); }
p.meta { margin: 0; }
.box { border-radius: 8px; padding: 14px 18px; margin: 16px 0; border: 1px solid; }
.box.ok { background: var(--ok-bg); border-color: #86efac; }
.box.closed { background: var(--warn-bg); border-color: #fcd34d; }
.box .headline { font-size: 16px; font-weight: 600; margin-bottom: 8px; }
.box.ok .headline { color: var(--ok); }
.box.closed .headline { color: var(--warn); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td { white-space: nowrap; }
td:first-child, td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 11em; }
.scroll { overflow-x: auto; }
.bar { display: inline-block; width: 60px; height: 9px; background: #f3f4f6;
       border-radius: 2px; vertical-align: middle; margin-right: 6px; overflow: hidden; }
.bar > span { display: block; height: 100%; background: var(--accent); }
.bar.agree > span { background: var(--ok); }
.bar.low > span { background: var(--bad); }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px;
         background: #f3f4f6; }
.badge.ok { background: #dcfce7; color: var(--ok); }
.badge.warn { background: #fef3c7; color: var(--warn); }
.badge.bad { background: #fee2e2; color: var(--bad); }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr));
         gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card h3 { font-size: 13px; margin: 0 0 6px; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
.text { white-space: pre-wrap; word-break: break-word; background: #f9fafb;
        border-radius: 4px; padding: 6px 8px; margin: 4px 0; font-size: 13px; }
ul.alts { list-style: none; padding: 0; margin: 4px 0 0; }
ul.alts li { display: flex; gap: 6px; align-items: center; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""
