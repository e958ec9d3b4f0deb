"""Running one benchmark row: a subprocess timed from spawn to exit, with the peak RSS of its
process tree polled beside it (`measure`), repeated in rounds (`run_rows`). Part of
`benchmarks/speed.py`."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
POLL_S = 0.1


@dataclass
class Row:
    key: str
    group: str
    label: str
    workers: int | None
    cmd: list[str] | str  # str: run through bash
    nbytes: int
    docs: int
    note: str = ""
    files: list[Path] = field(default_factory=list)  # the inputs, for printing the command
    walls: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    failed: str | None = None

    @property
    def wall(self) -> float:
        return min(self.walls) if self.walls else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.walls) if self.walls else float("nan")

    @property
    def mbps(self) -> float:
        return self.nbytes / 1e6 / self.wall if self.walls else float("nan")

    @property
    def peak_mb(self) -> float:
        return max(self.rss) / 2**20 if self.rss else float("nan")

    def summary(self) -> dict:
        """The last run's JSON line (peers, corpus-scan --json), if any."""
        for out in reversed(self.outputs):
            text = out.strip()
            start = text.find("{")
            if start >= 0:
                try:
                    return json.loads(text[start:])
                except json.JSONDecodeError:
                    pass
        return {}


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def measure(cmd: list[str] | str, log: Path, env: dict | None = None) -> tuple[float, int, str]:
    """Run `cmd`, return (wall seconds, peak tree RSS bytes, stdout); raises on failure."""
    args = ["bash", "-c", cmd] if isinstance(cmd, str) else cmd
    with open(log, "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=REPO)
        ps = psutil.Process(proc.pid)
        peak = [0]
        done = threading.Event()

        def poll_rss() -> None:  # beside the wait, so the wall time is exact, not 0.1 s steps
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss(ps))
                done.wait(POLL_S)

        poller = threading.Thread(target=poll_rss, daemon=True)
        poller.start()
        proc.wait()
        wall = time.perf_counter() - t0
        done.set()
        poller.join()
    stdout = log.read_text(errors="replace")
    if proc.returncode != 0:
        tail = log.with_suffix(".err").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"exit {proc.returncode}: {tail}")
    return wall, peak[0], stdout


def run_rows(rows: list[Row], repeat: int, tmp: Path) -> None:
    """Round k runs every row once, then round k + 1: drift in the machine's speed (shared
    cores, thermal) then hits every row alike instead of the rows that happened to run late,
    so the ratios between rows stay fair."""
    for k in range(repeat):
        for row in rows:
            if not row.failed:
                run_row(row, 1, tmp, first=k, repeat=repeat)


def run_row(row: Row, runs: int, tmp: Path, first: int = 0, repeat: int | None = None) -> None:
    repeat = repeat or runs
    for k in range(first, first + runs):
        cmd = row.cmd
        if isinstance(cmd, list):
            cmd = [c.replace("{db}", str(tmp / f"{row.key}-{k}.duckdb")) for c in cmd]
        env = {**os.environ, "RAY_TMPDIR": tempfile.mkdtemp(prefix="r", dir="/tmp")}
        try:
            wall, rss, out = measure(cmd, tmp / f"{row.key}-{k}.log", env)
        except RuntimeError as exc:
            row.failed = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else "failed"
            print(f"  {row.key}: FAILED {row.failed}", flush=True)
            return
        finally:
            shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
        row.walls.append(wall)
        row.rss.append(rss)
        row.outputs.append(out)
        for db in tmp.glob(f"{row.key}-{k}.duckdb*"):
            db.unlink()
        print(
            f"  {row.key:22s} run {k + 1}/{repeat}: {wall:7.2f} s"
            f"  {row.nbytes / 1e6 / wall:7.1f} MB/s"
            f"  peak RSS {rss / 2**20:7.0f} MB",
            flush=True,
        )

