"""The rows of `benchmarks/speed.py`: the exact command of every stage (ceilings, datatrove
peers, corpus-scan), and how those commands are printed (repo-relative, shards as one brace
word)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from speed_runner import REPO, Row

PY = sys.executable
CLI = str(Path(PY).parent / "corpus-scan")
PEERS = str(REPO / "benchmarks" / "peers.py")


def rel(path: str | Path) -> str:
    """Repo-relative spelling of a path, for the printed commands."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


def brace(files: list[Path]) -> str:
    """The files as one bash word when they are shard-00..shard-NN of one folder, else quoted."""
    import re

    names = [re.fullmatch(r"shard-(\d+)(\..+)", f.name) for f in files]
    same_dir = len({f.parent for f in files}) == 1
    if files and same_dir and all(names) and len({m.group(2) for m in names}) == 1:
        nums = [int(m.group(1)) for m in names]
        width = len(names[0].group(1))
        if nums == list(range(nums[0], nums[0] + len(nums))) and len(nums) > 1:
            return (
                f"{shlex.quote(str(files[0].parent))}/shard-{{{nums[0]:0{width}d}.."
                f"{nums[-1]:0{width}d}}}{names[0].group(2)}"
            )
    return " ".join(shlex.quote(str(f)) for f in files)


def show(cmd: list[str] | str, files: list[Path] | None = None) -> str:
    """A command as it can be pasted into bash at the repository root."""
    if isinstance(cmd, list):
        parts = list(cmd)
        text = shlex.join(parts)
        if files:
            text = text.replace(shlex.join([str(f) for f in files]), brace(files))
        text = text.replace(shlex.quote(CLI), "corpus-scan", 1).replace(shlex.quote(PY), "python")
    else:
        text = cmd
    return text.replace(str(REPO) + "/", "")


def files_arg(files: list[Path]) -> list[str]:
    return [str(f) for f in files]


def scan_cmd(files: list[Path], workers: int, *extra: str) -> list[str]:
    """argv of a timed `corpus-scan scan` of `files` into a fresh database ({db})."""
    return [CLI, "scan", *files_arg(files), "--db", "{db}", *extra, "--workers", str(workers),
            "--no-progress", "--json"]  # fmt: skip


def head_bytes(files: list[Path], docs_per_file: int) -> tuple[int, int]:
    """Uncompressed bytes and count of the first `docs_per_file` lines of every file."""
    import isal.igzip

    nbytes = docs = 0
    for f in files:
        with isal.igzip.open(f, "rb") as fh:
            for k, line in enumerate(fh):
                if k >= docs_per_file:
                    break
                nbytes += len(line)
                docs += 1
    return nbytes, docs


def flat_terms_file(tmp: Path) -> Path:
    from lexical_throughput import flat_terms

    from corpus_scan.detect.lexicon import load_lexicon

    terms = flat_terms(load_lexicon())
    path = tmp / "terms.txt"
    path.write_text("\n".join(terms) + "\n")
    return path


def cli_has_executor() -> bool:
    help_text = subprocess.run(
        [CLI, "scan", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return "--executor" in help_text


def build_rows(args, files: list[Path], parquet: list[Path], nbytes: int, docs: int, tmp: Path):
    rows: list[Row] = []
    terms = flat_terms_file(args.data)  # kept next to the corpus: the command stays runnable
    fa = files_arg(files)
    rg_cmd = f"zcat {brace(files)} | rg -c -i -F -f {shlex.quote(str(terms))}"
    rows.append(Row("rg", "ceiling", "zcat | rg -c -i -F -f TERMS", 1, rg_cmd, nbytes, docs))
    rows.append(
        Row(
            "parse",
            "ceiling",
            "isal + orjson, parse only",
            1,
            [PY, PEERS, "parse", *fa],
            nbytes,
            docs,
        )
    )
    for w in (1, 2):
        rows.append(
            Row(
                f"prefilter{w}",
                "ceiling",
                "isal + orjson + Prefilter (hyperscan), no scan loop",
                w,
                [PY, PEERS, "prefilter", "--procs", str(w), *fa],
                nbytes,
                docs,
            )
        )
    if not args.no_datatrove:
        per_file = max(1, int(args.re_sample_mb * 1e6 / nbytes * docs / len(files)))
        if per_file * len(files) >= docs:
            re_bytes, re_docs, limit = nbytes, docs, []
        else:
            re_bytes, re_docs = head_bytes(files, per_file)
            limit = ["--limit", str(per_file)]
        note_re = "" if not limit else f"sample: first {per_file:,} docs of each shard"
        for w in (1, 2):
            rows.append(
                Row(
                    f"dt_re{w}",
                    "peer",
                    "datatrove + lexicon filter (Python re)",
                    w,
                    [PY, PEERS, "datatrove", "--filter", "re", "--workers", str(w), *limit, *fa],
                    re_bytes,
                    re_docs,
                    note_re,
                )
            )
        for w in (1, 2):
            rows.append(
                Row(
                    f"dt_hs{w}",
                    "peer",
                    "datatrove + lexicon filter (hyperscan)",
                    w,
                    [PY, PEERS, "datatrove", "--filter", "hyperscan", "--workers", str(w), *fa],
                    nbytes,
                    docs,
                )
            )
    for det, name in (
        ("lexical", "lexicon stage (--detector lexical)"),
        ("static", "static tier only (--detector static)"),
        ("cascade", "full cascade (default)"),
    ):
        for w in (1, 2):
            extra = ["--detector", det] if det != "cascade" else []
            rows.append(
                Row(
                    f"cs_{det}{w}",
                    "corpus-scan",
                    name,
                    w,
                    scan_cmd(files, w, *extra),
                    nbytes,
                    docs,
                )
            )
    if parquet and not args.no_parquet:
        rows.append(
            Row(
                "cs_lexical2_parquet",
                "corpus-scan",
                "lexicon stage, same docs as zstd Parquet",
                2,
                scan_cmd(parquet, 2, "--detector", "lexical"),
                nbytes,
                docs,
                "MB/s of the JSONL bytes",
                files=parquet,
            )
        )
    for r in rows:
        if not r.files and isinstance(r.cmd, list):
            r.files = files
    if cli_has_executor():
        rows.append(
            Row(
                "cs_cascade2_ray",
                "corpus-scan",
                "full cascade, --executor ray",
                2,
                scan_cmd(files, 2, "--executor", "ray"),
                nbytes,
                docs,
                files=files,
            )
        )
    return rows

