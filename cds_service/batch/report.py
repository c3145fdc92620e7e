"""report.html: one self-contained page (inline CSS, SVG and script; nothing loaded from anywhere).

Charts: status by procedure family, the most frequent documentation gaps, findings by month and status.
A table of the exceptions (filter by status, family, text) whose rows link to their evidence below.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from .billing import STATUSES

COLOURS = {
    "wrong-code": "#b3261e", "missing-modifier": "#c05800", "extra-line": "#8e3a9d", "not-billed": "#1f5fa8",
    "documentation-gap": "#8a6d00", "match": "#2e7d32",
}

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1rem 1.5rem;color:#1b1b1b}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.cards div{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem}
.cards b{display:block;font-size:1.3rem}.charts{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}
.chart{border:1px solid #ddd;border-radius:6px;padding:.5rem}.legend span{margin-right:1rem;white-space:nowrap}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.3rem .4rem;text-align:left;
vertical-align:top}th{background:#f3f3f3;position:sticky;top:0}.status{font-weight:600}
.filters{display:flex;gap:1rem;flex-wrap:wrap;margin:.5rem 0}.num{text-align:right}
details{border:1px solid #ddd;border-radius:6px;margin:.5rem 0;padding:.4rem .8rem}
details:target{outline:3px solid #1f5fa8}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5rem}code{font-size:.95em}
"""

_SCRIPT = """
const rows=[...document.querySelectorAll('#exceptions tbody tr')];
const st=document.getElementById('f-status'),fa=document.getElementById('f-family');
const tx=document.getElementById('f-text');
const shown=document.getElementById('shown');
function apply(){const s=st.value,f=fa.value,t=tx.value.toLowerCase();let n=0;
for(const r of rows){const ok=(!s||r.dataset.status===s)&&(!f||r.dataset.family===f)&&
(!t||r.textContent.toLowerCase().includes(t));r.hidden=!ok;if(ok)n++;}shown.textContent=n;}
for(const el of [st,fa,tx])el.addEventListener('input',apply);apply();
function openTarget(){const d=document.getElementById(location.hash.slice(1));if(d&&d.tagName==='DETAILS')d.open=true;}
addEventListener('hashchange',openTarget);openTarget();
"""


def _legend(statuses: list[str]) -> str:
    return '<p class="legend">' + "".join(
        f'<span><i style="background:{COLOURS[s]}"></i>{escape(s)}</span>' for s in statuses) + "</p>"


def stacked_bars(title: str, groups: dict[str, dict[str, int]], label_width: int = 160) -> str:
    """Horizontal stacked bars, one per group, segments by status."""
    if not groups:
        return f'<div class="chart"><h3>{escape(title)}</h3><p>No findings.</p></div>'
    width, bar_h, gap = 560, 22, 8
    peak = max(sum(c.values()) for c in groups.values()) or 1
    height = len(groups) * (bar_h + gap) + 10
    parts = [f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%">']
    for i, (name, counts) in enumerate(groups.items()):
        y = 5 + i * (bar_h + gap)
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(name[:24])}</text>')
        x = label_width
        for status in STATUSES:
            n = counts.get(status, 0)
            if not n:
                continue
            w = (width - label_width - 50) * n / peak
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" fill="{COLOURS[status]}">'
                         f'<title>{escape(name)}: {escape(status)} {n}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 15}" font-size="12">{sum(counts.values())}</text>')
    parts.append("</svg>")
    present = [s for s in STATUSES if any(c.get(s) for c in groups.values())]
    return f'<div class="chart"><h3>{escape(title)}</h3>{"".join(parts)}{_legend(present)}</div>'


def columns(title: str, months: dict[str, dict[str, int]]) -> str:
    """Stacked columns by month (exceptions by status, and matches)."""
    if not months:
        return f'<div class="chart"><h3>{escape(title)}</h3><p>No dated findings.</p></div>'
    items = list(months.items())[-36:]  # the last three years at most
    width, height, base = 1100, 240, 200
    peak = max(sum(c.values()) for _, c in items) or 1
    step = (width - 60) / len(items)
    parts = [f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%">',
             f'<line x1="40" y1="{base}" x2="{width}" y2="{base}" stroke="#999"/>',
             f'<text x="0" y="15" font-size="11">{peak}</text>']
    for i, (month, counts) in enumerate(items):
        x = 45 + i * step
        y = base
        for status in STATUSES:
            n = counts.get(status, 0)
            if not n:
                continue
            h = (base - 20) * n / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 4, 2):.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[status]}"><title>{escape(month)}: {escape(status)} {n}</title></rect>')
        if len(items) <= 12 or i % max(1, len(items) // 12) == 0:
            parts.append(f'<text x="{x:.1f}" y="{base + 15}" font-size="10">{escape(month)}</text>')
    parts.append("</svg>")
    present = [s for s in STATUSES if any(c.get(s) for _, c in items)]
    return (f'<div class="chart" style="grid-column:1/3"><h3>{escape(title)}</h3>{"".join(parts)}'
            f'{_legend(present)}</div>')


def _lines(lines: list[dict]) -> str:
    return ", ".join("-".join([line["code"], *line.get("modifiers", [])]) + (f" ×{line['units']}"
                     if line.get("units", 1) != 1 else "") for line in lines) or "—"


_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")


def _plain(markdown: str) -> str:
    """The card's Markdown as plain text for a <pre> block (the escapes of resource text removed)."""
    return _MARKDOWN_ESCAPE.sub(r"\1", markdown)


def _money(value: float | None) -> str:
    return "" if value is None else f"${value:,.2f}"


def write_report(path: Path, summary: dict, exceptions: list[dict], with_money: bool) -> None:
    inputs = summary["inputs"]
    cards = [("patients", summary["patients"]), ("encounters", summary["encounters"]),
             ("coded subjects", summary["findings"]), ("exceptions", summary["exceptions"]),
             ("input lines", inputs["lines"]), ("malformed lines", inputs["errors"])]
    if with_money:
        cards.append(("money at stake", _money(summary["moneyAtStake"]["total"])))
    gaps = dict(list(summary["byGap"].items())[:10])
    gap_groups = {gap: {"documentation-gap": n} for gap, n in gaps.items()}
    families = sorted({r["family"] or "(unknown)" for r in exceptions})
    body = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        f"<title>Procedure coding audit</title><style>{_CSS}</style></head><body>",
        "<h1>Procedure coding audit</h1>",
        '<div class="cards">' + "".join(f"<div>{escape(k)}<b>{escape(str(v))}</b></div>" for k, v in cards) + "</div>",
        "<h2>Charts</h2><div class=charts>",
        stacked_bars("Status by procedure family", summary["byFamily"]),
        stacked_bars("Most frequent documentation gaps", gap_groups),
        columns("Findings by month of service", summary["byMonth"]),
        "</div>",
        f"<h2>Exceptions (<span id=shown>{len(exceptions)}</span> shown of {summary['exceptions']}"
        + ("; worklist.csv has them all" if summary["exceptions"] > len(exceptions) else "") + ")</h2>",
        '<div class="filters"><label>Status <select id="f-status"><option value="">all</option>'
        + "".join(f"<option>{escape(s)}</option>" for s in STATUSES if s != "match") + "</select></label>"
        '<label>Family <select id="f-family"><option value="">all</option>'
        + "".join(f"<option>{escape(f)}</option>" for f in families) + "</select></label>"
        '<label>Search <input id="f-text" type="search" placeholder="patient, code, gap…"></label></div>',
        '<table id="exceptions"><thead><tr><th>value</th><th>status</th><th>date</th><th>patient</th>'
        "<th>subject</th><th>suggested</th><th>billed</th><th>gaps</th><th>evidence</th></tr></thead><tbody>",
    ]
    for i, record in enumerate(exceptions):
        body.append(
            f'<tr data-status="{escape(record["status"])}" data-family="{escape(record["family"] or "(unknown)")}">'
            f'<td class=num>{_money(record["value"])}</td>'
            f'<td class=status style="color:{COLOURS[record["status"]]}">{escape(record["status"])}</td>'
            f'<td>{escape(record["date"] or "")}</td><td>{escape(record["patient"])}</td>'
            f'<td>{escape(record["subject"])}</td><td>{escape(_lines(record["suggested"]))}</td>'
            f'<td>{escape(_lines(record["billed"]))}</td><td>{escape(", ".join(record["gaps"]))}</td>'
            f'<td><a href="#ev-{i}">evidence</a></td></tr>')
    body.append("</tbody></table><h2>Evidence</h2>")
    for i, record in enumerate(exceptions):
        evidence = record["evidence"]
        resources = "".join(f"<li><code>{escape(k)}</code> at <code>{escape(v)}</code></li>"
                            for k, v in evidence.get("resources", {}).items())
        body.append(
            f'<details id="ev-{i}"><summary>{escape(record["subject"])} ({escape(record["encounter"] or "")}): '
            f'{escape(record["status"])}: {escape(evidence.get("summary", ""))}</summary>'
            f'<p>Rule <code>{escape(record["rule"] or "-")}</code>; suggested {escape(_lines(record["suggested"]))}; '
            f'billed {escape(_lines(record["billed"]))} (from {escape(record["billedFrom"])}); '
            f'problems: {escape(", ".join(record["problems"]) or "none")}.</p>'
            + (f"<ul>{resources}</ul>" if resources else "")
            + (f'<pre>{escape(_plain(evidence["detail"]))}</pre>' if evidence.get("detail") else "")
            + "</details>")
    body.append(f"<script>{_SCRIPT}</script></body></html>\n")
    path.write_text("\n".join(body), encoding="utf-8")
