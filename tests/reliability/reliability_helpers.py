"""Helpers for the reliability suite: corpora, CLI runs in subprocesses, fault injectors.

Imported by name (`from reliability_helpers import ...`), like `corpus_fixtures`.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from corpus_fixtures import NEGATIVE_AI, NEGATIVE_SHUTDOWN, POSITIVE, write_jsonl

from corpus_scan.detect.cascade import DetectorConfig

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
LEXICAL = DetectorConfig(scorer="lexical")
TINY_LEXICON = HERE / "lexicon"  # compiles in milliseconds: for tests that start many workers
TINY = DetectorConfig(scorer="lexical", lexicon_dir=str(TINY_LEXICON.resolve()))
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE), str(REPO / "tests")]),
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
_WORDS = (
    "river stone copper lantern meadow orbit velvet harbor quartz ember willow summit canyon "
    "falcon glacier prism thunder maple cobalt saffron"
).split()


def cli(*args: str) -> list[str]:
    """argv for `corpus-scan ARGS` run with this interpreter."""
    return [sys.executable, "-m", "corpus_scan.cli", *args]


def scan_args(inputs: str | Path, db: Path, *extra: str, tiny: bool = False) -> list[str]:
    """argv of a lexical `corpus-scan scan` (with the tiny lexicon when asked)."""
    lexicon = ["--lexicon-dir", str(TINY_LEXICON)] if tiny else []
    return cli(
        "scan",
        str(inputs),
        "--db",
        str(db),
        "--detector",
        "lexical",
        "--no-progress",
        *lexicon,
        *extra,
    )


def driver(argv: list[str]) -> list[str]:
    """The same command run through cli_driver.py (test-only faults, see that module)."""
    assert argv[1:3] == ["-m", "corpus_scan.cli"]
    return [argv[0], str(HERE / "cli_driver.py"), *argv[3:]]


def run(
    argv: list[str], timeout: float = 120, env: dict[str, str] | None = None, **kw
) -> subprocess.CompletedProcess:
    """Run argv to completion (text output captured); a hang fails the test, never the suite."""
    return subprocess.run(
        argv, env=env or ENV, capture_output=True, text=True, timeout=timeout, **kw
    )


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float  # peak resident memory of the child


def run_measured(argv: list[str], tmp: Path, timeout: float = 120) -> Measured:
    """Run argv, also measuring its wall time and peak RSS (os.wait4); killed on timeout."""
    out, err = tmp / "measured.out", tmp / "measured.err"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, env=ENV, stdout=fo, stderr=fe)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.monotonic() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    assert code != -signal.SIGKILL, f"killed after {timeout} s: {argv}"
    return Measured(
        code,
        out.read_text(),
        err.read_text(),
        seconds,
        usage.ru_maxrss / 1024,  # KB on Linux
    )


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The CLI's error message: exactly one line starting with 'error:', no traceback."""
    err = proc.stderr.strip()
    assert "Traceback" not in err and "╭" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-3000:]
    return lines[0]


def corpus(root: Path, n_shards: int, n_docs: int, *, gz: bool = True, noise: int = 0) -> Path:
    """Shards of JSON lines; every 4th document carries the narrative (lexical hits).
    `noise` random words per document make outputs incompressible enough to fill files."""
    root.mkdir(parents=True)
    rng = random.Random(n_shards * 1000 + n_docs)
    texts = [POSITIVE, NEGATIVE_SHUTDOWN, NEGATIVE_AI, "plain text " * 20]
    for k in range(n_shards):
        recs = []
        for i in range(n_docs):
            extra = " ".join(rng.choice(_WORDS) + str(rng.randrange(999)) for _ in range(noise))
            recs.append({"id": f"{k}-{i}", "text": f"{texts[i % 4]} ({i}) {extra}"})
        name = f"shard-{k:02d}.jsonl" + (".gz" if gz else "")
        write_jsonl(root / name, recs, gz=gz)
    return root


def drop_write_permission() -> list[str]:
    """argv prefix that makes a read-only folder (mode 0o500) really read-only for the child.

    Root ignores permission bits, so as root the child runs without CAP_DAC_OVERRIDE (removed
    from its bounding set by util-linux `setpriv`); skips when that is impossible."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permission bits cannot be enforced")
    prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"setpriv cannot drop capabilities here: {probe.stderr.decode()[:200]}")
    return prefix


def file_size_limit(max_bytes: int) -> Callable[[], None]:
    """preexec_fn: every file the child writes is capped at max_bytes (RLIMIT_FSIZE), and a
    write past it fails with EFBIG instead of killing the process: a real 'disk full'."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return limit


def session_pids(sid: int) -> list[int]:
    """Live processes of session `sid` (a child started with start_new_session=True and
    everything it spawned), zombies excluded."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state, ppid, pgrp, session
            pids.append(int(entry.name))
    return pids
