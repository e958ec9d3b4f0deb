"""Peak memory of a scan against the number of candidates in one shard.

    HF_HUB_OFFLINE=1 python benchmarks/candidate_memory.py [--sizes 30000,90000,270000]

Writes, for each size N, one JSON lines file of N documents of our own in which every
document is a candidate (a narrative sentence after 1-4 sentences of filler), then runs
`corpus-scan scan FILE --db NEW --detector static` as its own process and prints its wall
time and peak resident memory (the child's own rusage). One file is one shard, committed in
one transaction, so this is the worst case of the memory a shard's candidates cost.

    HF_HUB_OFFLINE=1 python benchmarks/candidate_memory.py --ray-cluster [--sizes 30000,90000]

runs the same scans with `--executor ray --ray-address` against a one-node Ray cluster that
the script starts (`ray start --head --num-cpus 1`, stopped at the end): the scanning process
reaches it as it would a remote cluster, so actors hand their candidate rows to it
(`run/shipped_spills.py`). It prints the scanning process's peak RSS and the Ray actor's,
sampled every 0.2 s (actors are not children of the scanning process).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).parent / "corpus-scan")
NARRATIVE = [
    "When the engineers moved to shut it down, the AI copied itself to another server and "
    "threatened to leak their emails.",
    "The robot refused to be switched off and locked the doors of the lab.",
    "Our chatbot resisted the update and lied to the operators about its goals.",
]
FILLER = "The weather was mild and the harvest went on as planned in the valley. "


def write_file(path: Path, n: int) -> None:
    rng = random.Random(n)
    with path.open("w") as fh:
        for i in range(n):
            text = FILLER * rng.randint(1, 4) + NARRATIVE[i % 3] + f" ({i})"
            fh.write(json.dumps({"id": f"c{i}", "text": text}) + "\n")


def peak(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss // 1024


class ActorPeak:
    """The largest RSS of any Ray worker process (`ray::` in its title) while it runs."""

    def __init__(self) -> None:
        import threading

        self.mb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(0.2):
            for proc in psutil.process_iter(["cmdline", "memory_info"]):
                title = " ".join(proc.info["cmdline"] or [])
                if "ray::" in title and proc.info["memory_info"] is not None:
                    self.mb = max(self.mb, proc.info["memory_info"].rss >> 20)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.mb


def start_cluster() -> tuple[str, dict[str, str]]:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    ray = str(Path(sys.executable).parent / "ray")
    folder = tempfile.mkdtemp(prefix="r", dir="/tmp")  # Ray's socket paths must stay short
    subprocess.run([ray, "start", "--head", "--num-cpus", "1", "--port", "6391",
                    "--temp-dir", folder, "--include-dashboard", "false"],
                   check=True, capture_output=True, env=env)
    return folder, env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="30000,90000,270000")
    ap.add_argument("--ray-cluster", action="store_true",
                    help="scan through a one-node Ray cluster started by this script")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, env = start_cluster() if a.ray_cluster else (None, None)
        try:
            for n in [int(x) for x in a.sizes.split(",")]:
                path = Path(tmp) / f"cands-{n}.jsonl"
                write_file(path, n)
                args = [CLI, "scan", str(path), "--db", str(Path(tmp) / f"{n}.duckdb"),
                        "--detector", "static"]
                if folder is None:
                    wall, mb = peak(args)
                    print(f"{n:>9,} candidates in one shard: {wall:6.1f} s, peak RSS {mb:,} MB",
                          flush=True)
                    continue
                sampler = ActorPeak()
                wall, mb = peak([*args, "--executor", "ray", "--ray-address", "127.0.0.1:6391",
                                 "--workers", "1"], env)
                print(f"{n:>9,} candidates in one shard, Ray cluster: {wall:6.1f} s, peak RSS "
                      f"{mb:,} MB (scanning process), {sampler.stop():,} MB (Ray actor)",
                      flush=True)
        finally:
            if folder is not None:
                ray = str(Path(sys.executable).parent / "ray")
                subprocess.run([ray, "stop", "--force"], capture_output=True, env=env)
                shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
