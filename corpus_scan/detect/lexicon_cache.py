"""On-disk caches of the lexicon: compiled hyperscan databases and parsed lexicons.

Compiling the databases takes ~0.4 s each and parsing the YAML ~60 ms, paid by every process
start; the cached forms load in under a millisecond. A cache is best effort: any failure to
read or write one only means compiling or parsing again.
"""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

import hyperscan

from corpus_scan.atomic import write_atomic


class DbCache:
    """A compiled database on disk, keyed by everything that shapes it (patterns, flags,
    hyperscan version, CPU). Any failure to read or write the cache only means compiling."""

    def __init__(self, exprs: list[bytes], flags: list[int], ids: list[int]) -> None:
        key = hashlib.sha256()
        for x, f, pid in zip(exprs, flags, ids, strict=True):
            key.update(x + b"\0" + f"{f}:{pid}".encode() + b"\n")
        key.update(f"{getattr(hyperscan, '__version__', '?')}|{_cpu_signature()}".encode())
        from corpus_scan.local_models import cache_dir

        self.path = cache_dir() / "hyperscan" / f"{key.hexdigest()[:32]}.hsdb"

    def load(self) -> hyperscan.Database | None:
        try:
            db = hyperscan.loadb(self.path.read_bytes(), hyperscan.HS_MODE_BLOCK)
            db.scratch = hyperscan.Scratch(db)  # as after compile(): scan() works without one
        except (OSError, hyperscan.error):
            return None
        return db

    def store(self, db: hyperscan.Database) -> None:
        write_cache(self.path, hyperscan.dumpb(db))


def write_cache(path: Path, data: bytes) -> None:
    """Best effort (a cache): written atomically, and a failure only means no cache."""
    try:
        write_atomic(path, data)
    except OSError:
        pass


def parsed_cache_path(texts: list[tuple[str, str]], parser: Path) -> Path:
    """Where a parsed lexicon is cached: keyed by the files and by the source of the module
    that parses them (`parser`), so a change in the parser never reads a stale pickle."""
    from corpus_scan.local_models import cache_dir

    key = hashlib.sha256(parser.read_bytes())
    for name, text in texts:
        key.update(f"\0{name}\0{text}".encode())
    return cache_dir() / "lexicons" / f"{key.hexdigest()[:32]}.pickle"


def _cpu_signature() -> str:
    """Serialized databases are built for the compiling CPU's instruction set."""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    return platform.machine() + hashlib.sha256(flags.encode()).hexdigest()[:16]
