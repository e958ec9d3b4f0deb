"""Files that appear whole or not at all: temporary name, fsync, rename.

A file is written to `.<name>.tmp-<pid>` beside its final name (hidden, so a scan of the
folder skips it), fsynced and renamed over the final name, so a reader never sees half a file:
the filtered shards (`shards.writer`) and the on-disk caches (compiled lexicons, the static
model, the int8 MiniLM) use it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

_TMP = re.compile(r"^\..+\.tmp-\d+$")


def is_temporary(name: str) -> bool:
    """True for the name of a temporary file written by this module."""
    return bool(_TMP.match(name))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> tuple[int, str]:
    """(size, sha256 hex) of a file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(4 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


class AtomicFile:
    """A temporary path that becomes `final` on commit()."""

    def __init__(self, final: Path) -> None:
        final.parent.mkdir(parents=True, exist_ok=True)
        self.final = final
        self.tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")

    def commit(self, sync_dir: bool = False) -> tuple[int, str]:
        """fsync, hash, rename into place; returns (size, sha256) of the final file.
        The folder is fsynced too only when asked (see the module doc)."""
        try:
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            size, sha = file_sha256(self.tmp)
            os.replace(self.tmp, self.final)
        except BaseException:
            self.abort()  # a failed commit (disk full, I/O error) leaves no temporary file
            raise
        if sync_dir:
            fsync_dir(self.final.parent)
        return size, sha

    def abort(self) -> None:
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass


def write_atomic(path: Path, data: bytes) -> None:
    """Write a small file (the manifest) atomically."""
    target = AtomicFile(path)
    try:
        with open(target.tmp, "wb") as fh:
            fh.write(data)
        target.commit(sync_dir=True)
    except BaseException:
        target.abort()
        raise


def build_once(out: Path, files: tuple[str, ...], build: Callable[[Path], object]) -> Path:
    """`out` with all of `files` in it, calling `build(out)` first when one is missing.

    Concurrent callers (the workers of a first scan, two scans at once) wait on a file lock
    instead of building the same files at once; `build` writes each file atomically and its
    last file marks the folder complete.
    """
    import fcntl

    def complete() -> bool:
        return all((out / name).exists() for name in files)

    if complete():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not complete():
            build(out)
    return out
