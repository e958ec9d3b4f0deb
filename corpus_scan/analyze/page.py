"""The self-contained index.html: plotly inlined once in <head>, every value escaped."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from plotly.offline import get_plotlyjs

from corpus_scan.analyze.sections import Section
from corpus_scan.analyze.text import esc, safe_href

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;
max-width:1200px;padding:0 1.5em 3em;color:#222;line-height:1.45}
h1{margin-top:1em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ddd;padding:.25em .55em;vertical-align:top}
th{background:#f4f4f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.headline{background:#f0f6ff;border-left:5px solid #4c78a8;padding:.8em 1.2em;font-size:1.1em}
.warn{background:#fff4e5;border-left:5px solid #f0a020;padding:.6em 1em}
.note{color:#555;font-size:.9em}.ex{white-space:pre-wrap;word-break:break-word;max-width:70em}
details pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em}
nav a{margin-right:1em}
"""


def fmt(value: Any) -> str:
    """A number as shown in the page (CSV files keep full precision)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def cell(column: str, value: Any, limit: int = 200) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="n">{esc(fmt(value))}</td>'
    if column == "url" and value:
        href = safe_href(value)
        text = esc(value, 80)
        if href:
            return f'<td><a href="{href}" rel="noopener noreferrer nofollow">{text}</a></td>'
        return f"<td>{text}</td>"
    if column == "text":
        return f'<td class="ex">{esc(value, limit)}</td>'
    return f"<td>{esc(fmt(value), limit)}</td>"


def table(
    section: Section, columns: Sequence[str] | None = None, *, limit: int = 50, text: int = 400
) -> str:
    cols = list(columns or section.columns)
    idx = [section.columns.index(c) for c in cols]
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = []
    for row in section.rows[:limit]:
        body.append("<tr>" + "".join(cell(cols[j], row[i], text) for j, i in enumerate(idx)))
    more = ""
    if len(section.rows) > limit:
        more = (
            f'<p class="note">First {limit} of {len(section.rows):,} rows; all of them are in '
            f"{esc(section.name)}.csv.</p>"
        )
    if not section.rows:
        return '<p class="note">(no rows)</p>'
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def sql_block(section: Section) -> str:
    if not section.sql:
        return f'<p class="note">{esc(section.derived_note or section.note)}</p>'
    derived = f"<p class='note'>{esc(section.derived_note)}</p>" if section.derived_note else ""
    return (
        f"<details><summary>SQL for {esc(section.name)}.csv</summary>"
        f"<pre>{esc(section.sql)}</pre>{derived}</details>"
    )


def block(section: Section, columns: Sequence[str] | None = None, **kw: Any) -> str:
    note = f'<p class="note">{esc(section.note)}</p>' if section.note else ""
    return f"<h3>{esc(section.title)}</h3>{note}{table(section, columns, **kw)}{sql_block(section)}"


def page(title: str, nav: list[tuple[str, str]], body: list[str]) -> str:
    links = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in nav)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>'
        f"</head><body><h1>{esc(title)}</h1><nav>{links}</nav>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def section(anchor: str, title: str, parts: list[str]) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>' + "\n".join(parts) + "</section>"
