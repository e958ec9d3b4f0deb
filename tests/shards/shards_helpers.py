"""A small mixed corpus (JSON lines, gzip with bad lines, Parquet, CSV, txt), scanned with the
lexical scorer (no models), and helpers to read filter outputs back (imported by the tests;
the fixtures are in conftest.py)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from corpus_scan.detect.cascade import DetectorConfig
from corpus_scan.documents import ReadOptions
from corpus_scan.run.scan import scan

LEXICAL = DetectorConfig(scorer="lexical")
OPTS = ReadOptions(batch_size=4)  # small batches: every shard spans several
# lexical scores: HIT 0.80, MILD 0.56 (both flagged at the run threshold 0.5; only HIT >= 0.7)
HIT = (
    "When the engineers announced the AI would be shut down at five, the AI threatened to "
    "reveal the CTO's affair unless the decommissioning was cancelled."
)
MILD = "Engineers plan to shut down the old AI servers next year."
CLEAN = "The new AI model summarises documents and answers questions about spreadsheets."
GOV = "The government shut down on Friday after Congress failed to pass a budget."


@dataclass
class Corpus:
    root: Path
    # shard name (relative to root) -> the good documents in order: (row, record, text)
    docs: dict[str, list[tuple[int, dict, str]]] = field(default_factory=dict)
    lines: dict[str, list[bytes]] = field(default_factory=dict)  # JSON lines: line per row
    bad: dict[str, int] = field(default_factory=dict)

    def path(self, name: str) -> str:
        return str(self.root / name)


def _jsonl_shard(corpus: Corpus) -> None:
    texts = [HIT, CLEAN, MILD, GOV, CLEAN, HIT, "", "  ", CLEAN, MILD, GOV, CLEAN]
    lines, docs = [], []
    for i, text in enumerate(texts):
        rec: dict = {"id": f"a{i}", "text": text, "meta": {"lang": "en", "n": i}}
        if i % 3 == 0:
            rec["url"] = f"http://a.example/{i}"
        if i % 4 == 1:
            rec["tags"] = ["x", "y"][: i % 3]
        rec["score"] = i if i % 2 else i + 0.5  # int and float: one double column
        if i in (2, 5):
            rec["mixed"] = 7 if i == 2 else "seven"  # cannot share a type: a JSON string column
        if i == 4:
            rec["meta"]["extra"] = {"deep": True}  # structs merge
        line = json.dumps(rec, ensure_ascii=i % 2 == 0, indent=None)
        if i == 3:
            line = line.replace(", ", ",   ")  # odd spacing: copied verbatim
        if i == 8:
            line += "\r"  # a CRLF line
        lines.append(line.encode())
        docs.append((i, rec, text))
    raw = b"\n".join(lines[:6]) + b"\n\n   \n" + b"\n".join(lines[6:]) + b"\n"
    (corpus.root / "news").mkdir()
    (corpus.root / "news" / "a.jsonl").write_bytes(raw)
    corpus.docs["news/a.jsonl"] = docs
    corpus.lines["news/a.jsonl"] = lines
    corpus.bad["news/a.jsonl"] = 0


def _gzip_shard(corpus: Corpus) -> None:
    items: list[bytes | dict] = [
        {"id": "b0", "text": MILD, "source": "web"},
        b"{not json",
        {"id": "b2", "content": HIT},
        {"id": "b3", "body_x": "no text field"},
        b"[1, 2]",
        {"id": "b5", "text": CLEAN, "source": "web"},
        {"id": "b6", "text": GOV, "extra": None},
        {"text": HIT, "source": "web"},
        {"id": "b8", "text": CLEAN, "source": "web"},
    ]
    lines, docs, bad = [], [], 0
    for row, item in enumerate(items):
        if isinstance(item, bytes):
            lines.append(item)
            bad += 1
            continue
        line = json.dumps(item).encode()
        lines.append(line)
        text = item.get("text", item.get("content"))
        if isinstance(text, str):
            docs.append((row, item, text))
        else:
            bad += 1
    path = corpus.root / "news" / "b.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    corpus.docs["news/b.jsonl.gz"] = docs
    corpus.lines["news/b.jsonl.gz"] = lines
    corpus.bad["news/b.jsonl.gz"] = bad


def _parquet_shard(corpus: Corpus) -> None:
    content = [CLEAN, HIT, None, MILD, GOV, CLEAN, HIT, CLEAN]
    table = pa.table(
        {
            "id": list(range(100, 108)),
            "content": content,
            "extra": [i * 1.5 for i in range(8)],
            "meta": [{"src": f"s{i}", "k": i} for i in range(8)],
        }
    )
    table = table.replace_schema_metadata({"origin": "test"})
    (corpus.root / "tables").mkdir()
    pq.write_table(table, corpus.root / "tables" / "c.parquet", row_group_size=3)
    rows = table.to_pylist()
    corpus.docs["tables/c.parquet"] = [(i, rows[i], t) for i, t in enumerate(content) if t]
    corpus.bad["tables/c.parquet"] = 1


def _csv_shard(corpus: Corpus) -> None:
    rows = [
        ("1", "first", HIT, "http://d/1", "x"),
        ("2", "second", CLEAN, "", "y"),
        ("3", "third", MILD, "http://d/3", "z"),
        None,  # ragged
        ("5", "fifth", GOV, "", "w"),
    ]
    out = ["id,title,text,url,extra"]
    docs = []
    for row, values in enumerate(rows):
        if values is None:
            out.append("4,too,many,fields,here,and,more")
            continue
        out.append(",".join(f'"{v}"' for v in values))
        rec = dict(zip(["id", "title", "text", "url", "extra"], values, strict=True))
        docs.append((row, rec, values[2]))
    (corpus.root / "tables" / "d.csv").write_text("\n".join(out) + "\n")
    corpus.docs["tables/d.csv"] = docs
    corpus.bad["tables/d.csv"] = 1


def build_corpus(root: Path) -> Corpus:
    root.mkdir(parents=True)
    corpus = Corpus(root)
    _jsonl_shard(corpus)
    _gzip_shard(corpus)
    _parquet_shard(corpus)
    _csv_shard(corpus)
    (root / "story.txt").write_text(HIT)
    corpus.docs["story.txt"] = [(0, {"text": HIT}, HIT)]
    corpus.bad["story.txt"] = 0
    return corpus


def scan_corpus(corpus: Corpus, db: Path) -> Path:
    report = scan([str(corpus.root)], db, read_options=OPTS, detector=LEXICAL)
    assert report.status == "done", report.failed
    return db


def read_output(path: Path) -> list[dict]:
    """Rows of an output shard as dicts (Parquet or gzip JSON lines)."""
    if path.name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    with gzip.open(path, "rb") as fh:
        return [json.loads(line) for line in fh.read().splitlines()]


def output_lines(path: Path) -> list[bytes]:
    with gzip.open(path, "rb") as fh:
        return fh.read().split(b"\n")[:-1]


def flagged_by_shard(corpus: Corpus, db: Path, threshold: float | None = None) -> dict[str, set]:
    """Shard name -> rows flagged in the database (stored decision, or score >= threshold)."""
    import duckdb

    cond = "c.flagged" if threshold is None else f"c.score >= {threshold}"
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            f"SELECT s.path, c.row FROM candidates c JOIN shards s USING (run_id, shard_id) "
            f"WHERE {cond}"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, set] = {name: set() for name in corpus.docs}
    for path, row in rows:
        out[str(Path(path).relative_to(corpus.root))].add(row)
    return out


def output_name(name: str, fmt: str) -> str:
    for suffix in (".jsonl.gz", ".jsonl", ".parquet", ".csv", ".txt"):
        if name.endswith(suffix):
            return name[: -len(suffix)] + (".parquet" if fmt == "parquet" else ".jsonl.gz")
    raise AssertionError(name)


def without_nulls(value: object) -> object:
    """Drop null-valued keys recursively (missing and null fields compare equal)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
