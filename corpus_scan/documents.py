"""The typed hand-offs between stages: what readers yield and what the detector returns.

Readers know nothing of detection; the detector knows nothing of files. Both only agree on
these small containers, which keep parallel lists (not one object per document) because the
hot path handles hundreds of thousands of documents per second.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class InputError(Exception):
    """A user-facing, one-line problem with an input (missing file, unknown format, bad option)."""


class ShardReadError(Exception):
    """A shard's stream broke (truncated gzip/zstd, unreadable file) after some records were read.

    Readers raise it after yielding every batch they could read, so counts stay exact; the
    message names the file and, where known, the line or byte offset.
    """


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that could not be turned into a document; counted, never silently dropped."""

    row: int  # 0-based record index in the shard (bad records take a row number too)
    line: int | None  # 1-based line number for line-oriented formats, else None
    reason: str  # short, names the field or the parse problem
    skipped: bool = False  # True: a record that is not a document by design (e.g. a WARC image)


@dataclass(slots=True)
class DocBatch:
    """Up to `batch_size` consecutive good records of one shard, as parallel lists."""

    rows: list[int] = field(default_factory=list)  # 0-based record index in the shard
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    urls: list[str | None] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)  # bad records met while filling this batch
    n_bytes: int = 0  # uncompressed input bytes consumed by this batch (drives MB/s figures)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True, slots=True)
class Source:
    """One input shard: a local file or a hub dataset split."""

    path: str  # as stored in shards.path: absolute local path, or the hf:// URI
    format: str  # jsonl | json | parquet | csv | txt | warc | wet | hf
    compression: str | None = None  # gzip | zstd | None
    size: int | None = None  # bytes on disk
    mtime: float | None = None  # seconds since epoch, for change detection by `filter`


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input the scan did not read, and why (listed in the summary and the database)."""

    path: str
    reason: str


DEFAULT_TEXT_FIELDS = (
    "text", "content", "contents", "articleBody", "body", "document", "raw_content"
)  # raw_content: RedPajama-V2
DEFAULT_URL_FIELDS = ("url", "source_url", "metadata.url", "WARC-Target-URI", "title_url")


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to turn records into documents. The first text field present in a record wins."""

    text_fields: tuple[str, ...] = DEFAULT_TEXT_FIELDS
    id_field: str = "id"
    url_fields: tuple[str, ...] = DEFAULT_URL_FIELDS
    batch_size: int = 2048
    hf_config: str | None = None
    hf_split: str = "train"

    def __post_init__(self) -> None:
        # "text,body" from Python means what it means on the command line, not t, e, x, t
        for name in ("text_fields", "url_fields"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = value.split(",")
            object.__setattr__(self, name, tuple(f.strip() for f in value if f and f.strip()))
        if not self.text_fields:
            raise InputError("--text-field is empty: name at least one field")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, not {self.batch_size}")

    @property
    def id_fields(self) -> tuple[str, ...]:
        """`id_field` split on commas: the first present with a non-empty value wins."""
        return tuple(f.strip() for f in self.id_field.split(",") if f.strip()) or ("id",)
