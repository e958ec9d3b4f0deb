"""Making hostile corpus text safe for HTML, Markdown and CSV."""

from __future__ import annotations

from corpus_scan.analyze.text import clean, csv_text, esc, md_cell, safe_href


def test_escaping_and_invisible_characters() -> None:
    assert esc("<script>alert('x')</script>") == (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    )
    assert clean("a\x00b\u202ec\ufeff") == "a<U+0000>b<U+202E>c<U+FEFF>"
    assert clean("tab\tand\nnewline") == "tab\tand\nnewline"
    assert clean("line one\r\nline two\rthree") == "line one\nline two\nthree"  # not <U+000D>
    assert clean("x" * 10, 5) == "xxxx…"
    assert clean("\ud800 lone surrogate").endswith("lone surrogate")
    assert clean(None) == ""


def test_only_plain_http_links() -> None:
    assert safe_href("https://example.com/a?b=1&c=2") == "https://example.com/a?b=1&amp;c=2"
    for bad in ("javascript:alert(1)", "data:text/html,x", "JaVaScRiPt:x", 'http://x" onx="1'):
        assert safe_href(bad) is None


def test_markdown_and_csv_cells() -> None:
    assert md_cell("a|b\n<i>c</i>") == "a\\|b &lt;i&gt;c&lt;/i&gt;"
    assert csv_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_text("-1") == "'-1" and csv_text(-1) == -1 and csv_text("ok") == "ok"
