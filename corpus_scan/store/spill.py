"""Candidate rows of a shard that do not wait in memory for its commit.

A shard is committed whole, so its candidate and passage rows used to wait in the worker (and
then in the scanning process) until the shard was done: ~8 KB per candidate, 1 GB for a
shard of 90,000 candidates. Now a worker writes every `SPILL_ROWS` candidates (with their
passages) to a file of its own in the run's spill folder and forgets them; the ShardResult
lists the files, and the commit inserts them, one at a time, inside the shard's transaction.

The folder sits beside the database (which is where the user has room; /tmp may be memory)
and belongs to one scanning process: `.<db>.spill-<pid>-<n>/`. It is removed when the scan
ends (an error, Ctrl-C and SIGTERM included); one left by a scanning process that was
SIGKILLed is removed by the next scan into the same database. A file is written under a
temporary name and renamed, so a worker killed mid-write leaves no file that a result names;
files of a unit whose worker died are named by no result and go with the folder.
"""

from __future__ import annotations

import os
import pickle
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

SPILL_ROWS = 2048  # candidates per file: ~16 MB of rows held per worker at most


def make_spill_dir(db: str | Path) -> Path:
    """A fresh spill folder for this scanning process."""
    db = Path(db).resolve()
    folder = db.parent / f".{db.name}.spill-{os.getpid()}-{time.time_ns()}"
    folder.mkdir(mode=0o700)  # the files are pickles: only this user may put one there
    return folder


def remove_stale_spill_dirs(db: str | Path) -> None:
    """Spill folders of scanning processes that are gone (SIGKILLed). Called once the
    database's write lock is held: no other live scan of this database can own one then, even
    one on another machine sharing the folder, whose PID means nothing here."""
    db = Path(db).resolve()
    for old in db.parent.glob(f".{db.name}.spill-*"):
        pid = _pid_of(old)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            shutil.rmtree(old, ignore_errors=True)


def remove_spill_dir(folder: str | Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def write_spill(folder: str, shard_id: int, part: int, rows: dict[str, dict[str, list]]) -> str:
    """Write {"candidates": cols, "passages": cols} to a new file of `folder`; its path."""
    name = f"{shard_id}-{part}-{os.getpid()}-{time.time_ns()}.pkl"
    path = os.path.join(folder, name)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        pickle.dump(rows, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return path


def read_spills(paths: list[str]) -> Iterator[dict[str, dict[str, list]]]:
    """The row chunks of `paths`, one file in memory at a time."""
    for path in paths:
        with open(path, "rb") as fh:
            yield pickle.load(fh)  # noqa: S301 - our own worker wrote it, for this process


def delete_spills(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _pid_of(folder: Path) -> int | None:
    try:
        return int(folder.name.rsplit(".spill-", 1)[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
