"""Making untrusted corpus text safe to show: in HTML, in plotly labels, in Markdown, in CSV.

Corpus text is hostile by nature (it is web text): `<script>`, tags, `javascript:` URLs,
control and bidi characters. Everything interpolated into the report goes through `esc`.
"""

from __future__ import annotations

import html
import re

# C0/C1 controls (except tab and newline), bidi overrides/isolates, zero-width joiners are kept.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def clean(value: object, limit: int | None = None) -> str:
    """Text without invisible/control characters (shown as <U+XXXX>), truncated with an
    ellipsis. Lone surrogates are replaced. Not yet escaped."""
    if value is None:
        return ""
    text = str(value).encode("utf-8", "replace").decode("utf-8", "replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # Windows and old Mac line ends
    text = _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
    if limit is not None and len(text) > limit:
        text = text[: max(0, limit - 1)].rstrip() + "…"
    return text


def esc(value: object, limit: int | None = None) -> str:
    """`clean`, then HTML-escaped (quotes too): safe in element text and attribute values,
    and shown as literal text by plotly (which decodes entities, never tags)."""
    return html.escape(clean(value, limit), quote=True)


def one_line(value: object, limit: int | None = None) -> str:
    return " ".join(clean(value, limit).split())


def safe_href(url: object) -> str | None:
    """An escaped href for plain http(s) URLs; None for anything else (javascript:, data:...)."""
    text = clean(url)
    return html.escape(text, quote=True) if _SAFE_URL.match(text) else None


def md_cell(value: object, limit: int | None = 120) -> str:
    """A Markdown table cell: one line, HTML-escaped (renderers pass raw HTML), pipes escaped."""
    return esc(one_line(value), limit).replace("|", "\\|")


def csv_text(value: object) -> object:
    """Defuse spreadsheet formulas in free-text CSV cells (a leading ' as OWASP advises)."""
    if isinstance(value, str) and value.startswith(_CSV_FORMULA):
        return "'" + value
    return value
