"""`python cli_driver.py ARGS` = `corpus-scan ARGS`, with test-only faults (no production hook).

The module-level code below runs before the scan starts, so every worker carries its patches:
a forked worker (the default) inherits them, and a spawned one (after a worker death, or with
torch loaded) re-imports this script as `__mp_main__`:

* CS_CRASH_MARKER=TEXT: a worker reading a JSON lines batch that holds a document containing
  TEXT dies on the spot (`os._exit(13)`: no cleanup, no result, like a segfault or the OOM
  killer). With CS_CRASH_TOKEN=PATH it dies only while PATH exists, and removes it first
  (a one-off crash); without it, every time.
* CS_UNIT_BYTES=N: shards larger than N bytes are split into work units by size alone (the
  default threshold is 64 MB, far above test corpora), so small corpora exercise split shards.
* CS_SPILL_ROWS=N: workers write candidate rows to spill files every N candidates
  (`store.spill`; the default is 2,048, far above test corpora).
* CS_PAUSE_FILE=PATH (the scanning process): after committing its first shard, with the
  database open for writing, the scan creates PATH.ready and waits while PATH exists.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import os
import time

import corpus_scan.run.scan as scan_module
import corpus_scan.run.shard as shard_module
import corpus_scan.sources as sources
import corpus_scan.store.db as db_module
from corpus_scan.run.units import plan_units

_MARKER = os.environ.get("CS_CRASH_MARKER")
_TOKEN = os.environ.get("CS_CRASH_TOKEN")
_UNIT_BYTES = os.environ.get("CS_UNIT_BYTES")
_PAUSE = os.environ.get("CS_PAUSE_FILE")
_SPILL_ROWS = os.environ.get("CS_SPILL_ROWS")


def _should_crash() -> bool:
    if mp.parent_process() is None:  # only worker processes die
        return False
    if not _TOKEN:
        return True
    try:
        os.unlink(_TOKEN)  # atomic: exactly one worker wins a token
    except FileNotFoundError:
        return False
    return True


def _crashing(reader):
    def read(source, opts, *args, **kwargs):
        for batch in reader(source, opts, *args, **kwargs):
            if any(_MARKER in t for t in batch.texts) and _should_crash():
                os._exit(13)
            yield batch

    return read


if _MARKER:
    sources.FORMATS["jsonl"] = _crashing(sources.FORMATS["jsonl"])
if _SPILL_ROWS:
    shard_module.SPILL_ROWS = int(_SPILL_ROWS)
if _UNIT_BYTES:
    scan_module.plan_units = functools.partial(plan_units, unit_bytes=int(_UNIT_BYTES),
                                             by_share=False)


def _pausing(commit):
    def commit_then_pause(self, run_id, results):
        commit(self, run_id, results)
        if os.path.exists(_PAUSE):
            open(_PAUSE + ".ready", "w").close()
            deadline = time.monotonic() + 120
            while os.path.exists(_PAUSE) and time.monotonic() < deadline:
                time.sleep(0.05)

    return commit_then_pause


if __name__ == "__main__":
    from corpus_scan.cli import main

    if _PAUSE:
        scan_module.GROUP_SHARDS = 1  # pause after every shard, not after a group of them
        db_module.Store.commit_shards = _pausing(db_module.Store.commit_shards)

    main()
