"""Expand command-line inputs (files, folders, globs, hub paths) into shards to read.

Rules:

* An explicitly named file that is missing or of unknown format, or a glob matching nothing,
  raises `InputError` (a one-line message): the user asked for it, so silence would be wrong.
* Folders are walked recursively in sorted order. Everything met inside that is not read is
  returned as `Skipped(path, reason)`, never dropped silently: unknown extensions, hidden
  files/folders, README/LICENSE-like files, empty files, broken symlinks, special files,
  and the metadata files of a `datasets.save_to_disk` folder (its `.arrow` files are read).
  Symlinked folders are followed once: real paths already visited are skipped, so symlink
  loops cannot hang the walk; a file reached twice is listed once.
* Glob matches are treated like folder contents (a stray README matched by `data/*` is
  skipped, not fatal). `**` recurses.
* `hf:` / `hf://datasets/...` paths pass through as format "hf" (resolved when read).
* Explicitly named files of any name (even hidden) are read if their format is known.
* An explicitly named folder holding no file of a known format raises `InputError`, like a
  glob that matches nothing.
"""

from __future__ import annotations

import glob
import os
import stat
from pathlib import Path

from corpus_scan.documents import InputError, ReadOptions, Skipped, Source

# compressed variants of the line- and file-oriented formats (decoded in `streams`)
_CODECS = ((".gz", "gzip"), (".zst", "zstd"), (".zstd", "zstd"), (".bz2", "bzip2"), (".xz", "xz"))
# (suffix, format, compression), longest suffix first wins; matched on the lower-cased name.
_SUFFIXES: tuple[tuple[str, str, str | None], ...] = tuple(
    sorted(
        [
            *[
                (f"{ext}{cext}", fmt, comp)
                for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"))
                for cext, comp in (("", None), *_CODECS)
            ],
            (".parquet", "parquet", None),
            (".arrow", "arrow", None),  # `datasets` files (IPC stream) and IPC files
            (".feather", "arrow", None),
            (".ipc", "arrow", None),
            (".csv", "csv", None),
            *[(f".csv{cext}", "csv", comp) for cext, comp in _CODECS],
            (".txt", "txt", None),
            *[(f".txt{cext}", "txt", comp) for cext, comp in _CODECS],
            (".md", "txt", None),  # Markdown pages (blog and research-post mirrors) are text
            (".md.gz", "txt", "gzip"),
            (".warc", "warc", None),
            (".warc.gz", "warc", "gzip"),
            (".wet", "wet", None),
            (".wet.gz", "wet", "gzip"),
            (".warc.wet", "wet", None),
            (".warc.wet.gz", "wet", "gzip"),
            (".tar", "tar", None),
            (".tar.gz", "tar", "gzip"),
            (".tgz", "tar", "gzip"),
            (".tar.zst", "tar", "zstd"),
            (".tar.bz2", "tar", "bzip2"),
            (".tbz2", "tar", "bzip2"),
            (".tar.xz", "tar", "xz"),
            (".txz", "tar", "xz"),
        ],
        key=lambda s: -len(s[0]),
    )
)
# Documentation that sits next to data; matched on the name before its first dot. Kept to
# names that are never corpus documents ("history.txt" could be, so it is not listed).
_DOC_STEMS = frozenset(
    {
        "readme", "license", "licence", "copying", "notice", "authors", "contributors",
        "changelog", "citation", "manifest", "contributing",
    }
)  # fmt: skip
# What `datasets.save_to_disk` writes beside its `.arrow` files: metadata, not documents
# (`dataset_dict.json` sits one folder up, beside the split folders).
_DATASETS_META = frozenset({"state.json", "dataset_info.json"})
_DATASETS_META_REASON = "datasets metadata file (beside its .arrow data)"
# never documents wherever they lie: a DatasetDict's index, a hub repository's legacy card data
_HUB_META = frozenset({"dataset_dict.json", "dataset_infos.json"})
_GLOB_CHARS = frozenset("*?[")
_COMPRESSED = frozenset({".gz", ".zst", ".zstd", ".bz2", ".xz", ".lz4", ".zip"})


def detect_format(name: str) -> tuple[str, str | None] | None:
    """(format, compression) for a file name, or None when the extension is unknown."""
    lower = name.lower()
    for suffix, fmt, comp in _SUFFIXES:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return fmt, comp
    return None


def format_suffix(name: str) -> str | None:
    """The extension `detect_format` recognised in `name`, as spelled there ('.JSONL.gz')."""
    lower = name.lower()
    for suffix, _, _ in _SUFFIXES:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return name[-len(suffix) :]
    return None


def _suffix_label(name: str) -> str:
    """'.xyz' (or '.xyz.gz' for compressed files) for messages; 'no extension' if none."""
    suffixes = Path(name).suffixes
    if not suffixes:
        return "no extension"
    if len(suffixes) > 1 and suffixes[-1].lower() in _COMPRESSED:
        return "".join(suffixes[-2:])
    return suffixes[-1]


class _Walker:
    def __init__(self) -> None:
        self.sources: list[Source] = []
        self.skipped: list[Skipped] = []
        self.seen_files: dict[str, str] = {}  # real path -> first path it was listed under
        self.seen_dirs: dict[str, str] = {}  # real path -> first path it was walked as
        self.known = 0  # files of a known format met (read, empty or a duplicate)

    def add_file(self, path: str, st: os.stat_result, explicit: bool) -> None:
        name = os.path.basename(path)
        if not explicit:
            if name.startswith("."):
                self.skipped.append(Skipped(path, "hidden file"))
                return
            if name.split(".", 1)[0].lower() in _DOC_STEMS:
                self.skipped.append(Skipped(path, "documentation file (README/LICENSE-like)"))
                return
        found = detect_format(name)
        if found is None:
            if explicit:
                raise InputError(f"{path}: unknown format ({_suffix_label(name)})")
            self.skipped.append(Skipped(path, f"unknown format ({_suffix_label(name)})"))
            return
        self.known += 1
        real = os.path.realpath(path)
        first = self.seen_files.get(real)
        if first is not None:
            # The very same path met twice (e.g. `data/**` lists a folder and its files) is
            # simply read once; another name for the same file is reported.
            if first != path:
                self.skipped.append(Skipped(path, f"duplicate of {first}"))
            return
        self.seen_files[real] = path
        if st.st_size == 0:
            self.skipped.append(Skipped(path, "empty file"))
            return
        fmt, comp = found
        self.sources.append(Source(path, fmt, comp, st.st_size, st.st_mtime))

    def walk_dir(self, path: str) -> None:
        real = os.path.realpath(path)
        first = self.seen_dirs.get(real)
        if first is not None:
            # a symlink loop or a second name for a folder: walked once only
            if first != path:
                self.skipped.append(Skipped(path, f"folder already visited (as {first})"))
            return
        self.seen_dirs[real] = path
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            self.skipped.append(Skipped(path, f"cannot list folder ({e.strerror or e})"))
            return
        arrow_here = any(e.name.lower().endswith(".arrow") for e in entries)
        for entry in entries:
            if entry.name in _HUB_META or (arrow_here and entry.name in _DATASETS_META):
                self.skipped.append(Skipped(entry.path, _DATASETS_META_REASON))
                continue
            self.visit(entry.path, explicit=False)

    def visit(self, path: str, explicit: bool) -> None:
        try:
            st = os.stat(path)  # follows symlinks
        except OSError as e:
            if explicit:
                raise InputError(f"{path}: {e.strerror or 'cannot stat'}") from None
            is_link = os.path.islink(path)
            why = "broken symlink" if is_link else f"cannot stat ({e.strerror or e})"
            self.skipped.append(Skipped(path, why))
            return
        name = os.path.basename(path)
        if stat.S_ISDIR(st.st_mode):
            if not explicit and name.startswith("."):
                self.skipped.append(Skipped(path, "hidden folder"))
                return
            self.walk_dir(path)
        elif stat.S_ISREG(st.st_mode):
            self.add_file(path, st, explicit)
        elif explicit:
            raise InputError(f"{path}: not a regular file or folder")
        else:
            self.skipped.append(Skipped(path, "not a regular file"))


def _saved_to_disk(folder: str) -> bool:
    """A `Dataset.save_to_disk` (state.json beside .arrow files) or `DatasetDict` folder."""
    root = Path(folder)
    if (root / "dataset_dict.json").is_file():
        return True
    return (root / "state.json").is_file() and any(root.glob("*.arrow"))


def local_fingerprint(folder: str) -> tuple[int, float]:
    """(total bytes, latest mtime) of the files under a local dataset folder (or of a file)."""
    if os.path.isfile(folder):
        st = os.stat(folder)
        return st.st_size, st.st_mtime
    size, mtime = 0, os.stat(folder).st_mtime
    for root, _dirs, files in os.walk(folder):
        mtime = max(mtime, os.stat(root).st_mtime)  # a file removed changes its folder's mtime
        for name in files:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            size += st.st_size
            mtime = max(mtime, st.st_mtime)
    return size, mtime


def changed(source: Source) -> tuple[int, float] | None:
    """(size, mtime) now of a local source (a file, or an `hf:` folder) whose size or mtime
    differ from those it was discovered with, else None (also for a hub dataset); OSError
    when it is gone."""
    if source.size is None:  # a hub dataset: nothing local to compare
        return None
    path = source.path.removeprefix("hf:") if source.format == "hf" else source.path
    size, mtime = local_fingerprint(path)
    if size != source.size or (source.mtime is not None and mtime != source.mtime):
        return size, mtime
    return None


def discover(inputs: list[str]) -> tuple[list[Source], list[Skipped]]:
    """Expand `inputs` into readable shards plus what was skipped and why (see module doc)."""
    walker = _Walker()
    hub_seen: set[str] = set()
    for raw in inputs:
        if not raw.strip():  # "" would mean the current folder: a typo, not a corpus
            raise InputError(f"{raw!r}: an empty input path (name a file, folder or glob)")
        if raw.startswith("hf:"):
            from corpus_scan.sources.hub import resolve_hf

            resolve_hf(raw, ReadOptions())  # InputError now for a malformed hub path
            local = raw[3:] if not raw.startswith("hf://") else ""
            if local.startswith(("/", "./", "../")) and not os.path.exists(local):
                raise InputError(f"{raw}: no such local dataset folder")
            if local and _saved_to_disk(local):
                raise InputError(f"{raw}: a `datasets.save_to_disk` folder, which `datasets` "
                                 f"streams only through load_from_disk: scan it as a folder "
                                 f"(`corpus-scan scan {local}` reads its .arrow files)")
            if local.startswith(("/", "./", "../")):
                # a local folder: stored absolute (a scan, a resume or `filter` may run from
                # another folder) with a fingerprint of its files, so a changed folder is a new
                # run and `filter` refuses it like a changed file
                path = "hf:" + os.path.abspath(local)
                source = Source(path, "hf", None, *local_fingerprint(local))
            else:
                path, source = raw, Source(raw, "hf")
            if path not in hub_seen:
                hub_seen.add(path)
                walker.sources.append(source)
            continue
        expanded = os.path.expanduser(raw)
        if _GLOB_CHARS & set(expanded) and not os.path.lexists(expanded):
            matches = sorted(glob.glob(expanded, recursive=True))
            if not matches:
                raise InputError(f"{raw}: no files match this pattern")
            for match in matches:
                walker.visit(os.path.abspath(match), explicit=False)
            continue
        first = walker.seen_dirs.get(os.path.realpath(expanded))
        if first is not None:  # `scan corpus corpus/part`: read once, as part of `corpus`
            walker.skipped.append(Skipped(raw, "folder already included by an earlier input"))
            continue
        known, n_skipped = walker.known, len(walker.skipped)
        walker.visit(os.path.abspath(expanded), explicit=True)
        if walker.known == known and os.path.isdir(expanded):
            # a folder with nothing to read is a wrong path far more often than an empty shard set
            new = walker.skipped[n_skipped:]
            why = (f"; {len(new)} skipped, first {new[0].path} ({new[0].reason})" if new else "")
            raise InputError(f"{raw}: no file of a readable format in this folder{why}")
    return walker.sources, walker.skipped
