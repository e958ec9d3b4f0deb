"""summary.md: every table of the report with the SQL that produced it.

Layout, per table: `## Title` `(name.csv)`, a Markdown table (first rows), then the SQL in a
```sql block and a line naming the columns that are computed in Python (intervals).
Floats are written with 6 significant digits.
"""

from __future__ import annotations

import math
from typing import Any

from corpus_scan.analyze.sections import Section
from corpus_scan.analyze.text import md_cell

MD_ROWS = 30


def md_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.6g}"  # a rate of 0 documents
    if isinstance(value, int):
        return str(value)
    return md_cell(value)


def md_table(section: Section, limit: int = MD_ROWS) -> str:
    if not section.rows:
        return "(no rows)\n"
    lines = [
        "| " + " | ".join(md_cell(c) for c in section.columns) + " |",
        "|" + "---|" * len(section.columns),
    ]
    for row in section.rows[:limit]:
        lines.append("| " + " | ".join(md_value(v) for v in row) + " |")
    if len(section.rows) > limit:
        lines.append("")
        lines.append(f"First {limit} of {len(section.rows)} rows; all in `{section.name}.csv`.")
    return "\n".join(lines) + "\n"


def md_section(section: Section, *, show_rows: bool = True) -> str:
    out = [f"## {section.title} (`{section.name}.csv`)", ""]
    if section.note:
        out += [section.note, ""]
    if show_rows:
        out += [md_table(section)]
    else:
        out += [f"Rows: {len(section.rows)} (text; see `{section.name}.csv` and index.html).", ""]
    if section.sql:
        out += ["```sql", section.sql, "```", ""]
    if section.derived_note:
        out += [f"Computed: {section.derived_note}", ""]
    return "\n".join(out)


def summary(header: list[str], sections: list[tuple[Section, bool]]) -> str:
    """`sections`: (section, show_rows) in report order."""
    parts = ["\n".join(header), ""]
    parts += [md_section(s, show_rows=show) for s, show in sections]
    return "\n".join(parts)
