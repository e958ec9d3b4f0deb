"""A progress bar on stderr: documents, MB, docs/s, MB/s and shards done."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn


class ScanProgress:
    def __init__(self, n_shards: int, enabled: bool = True):
        self.docs = 0
        self.bytes = 0
        self.shards = 0
        self.n_shards = n_shards
        self.start = time.perf_counter()
        self._bar: Progress | None = None
        if enabled:
            self._bar = Progress(
                TextColumn("[bold]scan"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task("scan", total=n_shards, stats="")

    def __enter__(self) -> ScanProgress:
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar:
            self._update()
            self._bar.stop()

    def tick(self, docs: int, nbytes: int) -> None:
        self.docs += docs
        self.bytes += nbytes
        self._update()

    def shard_done(self) -> None:
        self.shards += 1
        self._update()

    def _update(self) -> None:
        if not self._bar:
            return
        secs = max(time.perf_counter() - self.start, 1e-9)
        stats = (
            f"{self.shards}/{self.n_shards} shards  {self.docs:,} docs  "
            f"{self.bytes / 1e6:,.1f} MB  {self.docs / secs:,.0f} docs/s  "
            f"{self.bytes / 1e6 / secs:,.1f} MB/s"
        )
        self._bar.update(self._task, completed=self.shards, stats=stats)
