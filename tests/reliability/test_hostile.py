"""Hostile input: markup and `javascript:` URLs in scanned documents never become markup in the
report; `sql` cannot modify the database without --write; a lexicon with a pathological
pattern is refused at once, with one line, before anything is read or written."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from corpus_fixtures import POSITIVE, tables, write_jsonl
from reliability_helpers import LEXICAL, cli, error_line, run, scan_args

from corpus_scan.analyze import report
from corpus_scan.detect.cascade import DetectorConfig
from corpus_scan.detect.lexicon import LexiconError
from corpus_scan.documents import InputError
from corpus_scan.run.scan import scan
from corpus_scan.store.query import sql

SCRIPT = "<script>alert('xss')</script>"
IMG = '<img src=x onerror="alert(2)">'
EVIL_NAME = "<img src=x onerror=alert(4)>.jsonl"  # a file name is shown in the report too


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    root = base / "corpus"
    root.mkdir()
    docs = [
        {"id": "<b>bold-id</b>", "url": "javascript:alert(3)", "text": f"{SCRIPT} {POSITIVE}"},
        {"id": "img", "url": 'http://ok.example/"><script>x</script>', "text": f"{POSITIVE} {IMG}"},
        {
            "id": "rtl",
            "url": "data:text/html,<script>alert(5)</script>",
            "text": f"\u202e{POSITIVE}",
        },
        {"id": "plain", "text": "nothing to see"},
    ]
    write_jsonl(root / EVIL_NAME, docs)
    db = base / "x.duckdb"
    assert scan([str(root)], db, detector=LEXICAL).status == "done"
    assert sql("SELECT count(*) FROM hits", db).rows == [(3,)]
    return db


def test_report_shows_hostile_text_as_text(hostile_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    report(hostile_db, out)
    html = (out / "index.html").read_text(encoding="utf-8")
    body = re.sub(r'<script type="text/javascript">/\*\*.*?</script>', "", html, flags=re.S)
    for raw in (SCRIPT, "<script>x</script>", "<script>alert(5)", IMG, "<img src=x", "<b>bold"):
        assert raw not in body, raw
    assert not re.search(r"""href\s*=\s*["']?\s*(javascript|data):""", body, re.I)
    assert "javascript:alert(3)" in body  # the URL is shown, as text
    assert not re.search(r"<script[^>]*\bsrc=", html)  # nothing loaded from the network
    assert "&lt;script&gt;alert(" in body  # shown, escaped
    assert "\u202e" not in html  # bidi overrides cannot flip what the reader sees
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "<script" not in md and "<img" not in md


def test_sql_cannot_modify_without_write(hostile_db: Path, tmp_path: Path) -> None:
    before = tables(hostile_db)
    for query in (
        "DELETE FROM candidates",
        "DROP TABLE shards",
        "UPDATE runs SET status = 'done'",
        "SELECT 1; DELETE FROM candidates",
        "CREATE TABLE evil AS SELECT 1",
        f"ATTACH '{hostile_db}' AS again; DELETE FROM again.candidates",
    ):
        with pytest.raises(InputError) as info:
            sql(query, hostile_db)
        assert "\n" not in str(info.value), query
    proc = run(cli("sql", "--db", str(hostile_db), "DELETE FROM candidates"))
    line = error_line(proc)
    assert proc.returncode == 2 and "read-only" in line and "--write" in line
    assert tables(hostile_db) == before
    assert sql("SELECT count(*) FROM candidates", hostile_db).rows == [(3,)]


PATHOLOGICAL = [
    ("(a+)+b", "nested unbounded repetition"),
    ("(x*y)*z", "nested unbounded repetition"),
    ("a{1,5000}", "repeat bound 5000"),
    ("(?=ab)ab", "lookaround"),
    ("(a)\\1", "backreference"),
    ("a*", "can match the empty string"),
    ("\\w+ing", "longer than 200 characters"),
    ("(unclosed", "invalid regex"),
    ("\\w{1,100}x\\w{1,99}", "hyperscan rejects"),  # valid and bounded, too big to compile
]


@pytest.mark.parametrize(("pattern", "message"), PATHOLOGICAL)
def test_pathological_lexicon_is_refused_before_scanning(
    tmp_path: Path, pattern: str, message: str
) -> None:
    lexicon = tmp_path / "lexicon"
    lexicon.mkdir()
    (lexicon / "ok.yaml").write_text("entries:\n  - {name: AI, kind: ai, patterns: ['AI']}\n")
    escaped = pattern.replace("'", "''")
    (lexicon / "evil.yaml").write_text(
        f"entries:\n  - name: evil\n    kind: resist\n    patterns: ['{escaped}']\n"
    )
    write_jsonl(tmp_path / "c.jsonl", [{"text": "a" * 10_000 + "b"}, {"text": POSITIVE}])
    db = tmp_path / "x.duckdb"
    t0 = time.monotonic()
    with pytest.raises(LexiconError) as info:
        scan([str(tmp_path / "c.jsonl")], db, detector=DetectorConfig(lexicon_dir=str(lexicon)))
    assert time.monotonic() - t0 < 10
    assert isinstance(info.value, InputError)  # the CLI prints it as one line
    assert message in str(info.value) and "evil" in str(info.value)
    assert "\n" not in str(info.value)
    assert not db.exists()  # refused before the database is created


def test_pathological_lexicon_on_the_command_line(tmp_path: Path) -> None:
    lexicon = tmp_path / "lexicon"
    lexicon.mkdir()
    (lexicon / "evil.yaml").write_text(
        "entries:\n  - name: evil\n    kind: ai\n    patterns: ['(a+)+b']\n"
    )
    write_jsonl(tmp_path / "c.jsonl", [{"text": POSITIVE}])
    db = tmp_path / "x.duckdb"
    proc = run(scan_args(tmp_path / "c.jsonl", db, "--lexicon-dir", str(lexicon)), timeout=60)
    line = error_line(proc)
    assert proc.returncode == 2
    assert "evil.yaml" in line and "nested unbounded repetition" in line
    assert not db.exists()
