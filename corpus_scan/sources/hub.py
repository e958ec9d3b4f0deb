"""Hugging Face datasets, streamed (`datasets.load_dataset(..., streaming=True)`).

Accepted paths (kept verbatim as `Source.path`; config and split come from ReadOptions):

* `hf:ORG/NAME` (optionally `@REVISION`), or `hf:` + a local dataset folder
  → `load_dataset("ORG/NAME", opts.hf_config, split=opts.hf_split, streaming=True)`;
* `hf://datasets/ORG/NAME[@REV]` → the same, for the repository;
* `hf://datasets/ORG/NAME[@REV]/some/dir` (no file extension) → the repository with
  `data_dir="some/dir"`;
* `hf://datasets/ORG/NAME[@REV]/path/*.parquet` → the packaged builder for the extension
  (parquet / arrow / json / csv / text) with `data_files={split: uri}`.

Records follow the same text/id/url rules as JSON lines (`records.make_extractor`); the text
column must be among the dataset's columns (checked on the first batch, before anything is
yielded). `n_bytes` is the number of characters of text (the hub gives no byte counts).
Network access, caches and offline mode are the caller's environment (HF_HOME,
HF_DATASETS_CACHE, HF_HUB_OFFLINE); this module never downloads anything by itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus_scan.documents import DocBatch, InputError, ReadOptions, ShardReadError, Source
from corpus_scan.sources.batches import BatchBuilder
from corpus_scan.sources.records import column_list, make_extractor

_URI = re.compile(r"hf://datasets/(?P<repo>[^/@]+/[^/@]+)(?:@(?P<rev>[^/]+))?(?:/(?P<rest>.*))?$")
_BUILDERS = (
    ((".parquet",), "parquet", {}),
    ((".arrow",), "arrow", {}),  # `datasets`' own files (Arrow IPC streams)
    (
        (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".jsonl.zst", ".json.zst"),
        "json",
        {},
    ),
    ((".csv", ".csv.gz"), "csv", {}),
    ((".txt", ".txt.gz"), "text", {"sample_by": "document"}),  # one document per file, as locally
)


@dataclass(frozen=True)
class HubSpec:
    """Arguments for `datasets.load_dataset` (everything but `streaming=True`)."""

    path: str
    name: str | None = None
    split: str = "train"
    data_files: dict[str, str] | None = None
    data_dir: str | None = None
    revision: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"split": self.split, **self.extra}
        for key in ("data_files", "data_dir", "revision"):
            if getattr(self, key) is not None:
                kw[key] = getattr(self, key)
        return kw


def is_hub_path(path: str) -> bool:
    return path.startswith("hf:")


def resolve_hf(path: str, opts: ReadOptions) -> HubSpec:
    """Map an `hf:` / `hf://datasets/` path to load_dataset arguments (pure; raises InputError)."""
    split = opts.hf_split
    if path.startswith("hf://"):
        m = _URI.match(path)
        if not m:
            raise InputError(f"{path}: expected hf://datasets/ORG/NAME[/files]")
        repo, rev, rest = m.group("repo"), m.group("rev"), (m.group("rest") or "").strip("/")
        if not rest:
            return HubSpec(repo, opts.hf_config, split, revision=rev)
        lower = rest.lower()
        for exts, builder, extra in _BUILDERS:
            if lower.endswith(exts):
                return HubSpec(builder, None, split, data_files={split: path}, extra=dict(extra))
        if "." in rest.rsplit("/", 1)[-1] and not any(c in rest for c in "*?["):
            raise InputError(
                f"{path}: unsupported hub file type (use parquet, arrow, jsonl, csv or txt)"
            )
        return HubSpec(repo, opts.hf_config, split, data_dir=rest, revision=rev)
    name = path[3:]
    if not name:
        raise InputError(f"{path}: expected hf:ORG/NAME")
    if Path(name).is_file():  # `hf:./train.parquet`: one local file, through its builder
        for exts, builder, extra in _BUILDERS:
            if name.lower().endswith(exts):
                return HubSpec(builder, None, split, data_files={split: name}, extra=dict(extra))
        raise InputError(f"{path}: unsupported file type for hf: (use parquet, arrow, jsonl, "
                         "csv or txt, or scan the file without hf:)")
    rev = None
    if "@" in name and not name.startswith(("/", ".")):
        name, rev = name.split("@", 1)
    return HubSpec(name, opts.hf_config, split, revision=rev)


def _text_column(columns: list[str], opts: ReadOptions) -> str | None:
    for f in opts.text_fields:
        if f in columns or f.split(".", 1)[0] in columns:
            return f
    return None


def _hint(spec: HubSpec) -> str:
    """For a local folder, the way to a per-record account: datasets reads JSON in blocks,
    so one malformed line, or a field that is text in one record and a number or null in
    another, fails the whole source without naming the line."""
    if not Path(spec.path).exists():
        return ""
    return ("; datasets cannot skip a malformed record or a field whose type changes between "
            f"records: scan {spec.path} without hf: to have each bad record counted with its "
            "line")


def read_hf(source: Source, opts: ReadOptions, *, keep: bool = False) -> Iterator[DocBatch]:
    """Stream a hub (or local) dataset split in batches of `opts.batch_size` rows.

    `keep=True` yields RecordBatch objects keeping each document's row as a dict.
    """
    return read_spec(source.path, resolve_hf(source.path, opts), opts, keep=keep)


def read_spec(
    path: str, spec: HubSpec, opts: ReadOptions, *, keep: bool = False
) -> Iterator[DocBatch]:
    """Load `spec` with streaming=True and read it; `path` names the source in ids/messages."""
    import datasets  # heavy import, only when a hub source is actually read

    try:
        ds = datasets.load_dataset(spec.path, spec.name, streaming=True, **spec.kwargs())
    except Exception as e:  # noqa: BLE001 - datasets raises many types for "cannot open"
        msg = " ".join(str(e).split())[:300]
        raise ShardReadError(f"{path}: cannot open dataset ({type(e).__name__}: {msg})") from None

    extract = make_extractor(opts)
    builder = BatchBuilder(opts.batch_size, keep=keep)
    row = 0
    checked = False
    try:
        for cols in ds.iter(batch_size=builder.size):
            names = list(cols)
            if not checked:
                if _text_column(names, opts) is None:
                    raise ShardReadError(
                        f"{path}: no text column (tried {', '.join(opts.text_fields)}; "
                        f"columns: {column_list(names)})"
                    )
                checked = True
            n = len(cols[names[0]]) if names else 0
            chars = 0
            for i in range(n):
                record = {k: cols[k][i] for k in names}
                got = extract(record)
                if type(got) is str:
                    builder.add_bad(row, None, got)
                else:
                    text, rid, url = got
                    builder.add(row, rid or f"{path}:{row}", text, url, record if keep else None)
                    chars += len(text)
                row += 1
            yield builder.take(chars)
    except ShardReadError:
        raise
    except Exception as e:  # noqa: BLE001 - streaming can fail with network/parse errors
        if builder.count():
            yield builder.take(0)
        msg = " ".join(str(e).split())[:300]
        # datasets parses in blocks and cannot skip a bad record (a malformed JSON line fails
        # the stream), so say how far it got, not a row that would look like the bad one
        read = f"after {row:,} rows were read" if row else "before any row was read"
        raise ShardReadError(
            f"{path}: stream failed {read} ({type(e).__name__}: {msg}){_hint(spec)}") from None
