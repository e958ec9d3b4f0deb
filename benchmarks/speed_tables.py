"""The printed tables of `benchmarks/speed.py`: per-row results, ratios against the ceiling
and the peers, the issue's goals, and the machine they were measured on."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import psutil
from speed_runner import Row

# Goals of the "Corpus-scale speed" issue (2 workers, this kind of 2-core machine).
GOALS = {
    "lexical_vs_rg": 1.3,
    "full_vs_rg": 0.5,
    "full_vs_dt_re": 10.0,
    "full_vs_dt_hs": 1.5,
    "rss_mb": 2000,
}


def machine() -> dict:
    cpu = "?"
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "?":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                fl = line.split(":", 1)[1].split()
                # VNNI decides int8 MiniLM's speed (~1.45x faster on 2 cores)
                flags = " ".join(f for f in ("avx2", "avx512f", "avx512bw", "avx512_vnni",
                                             "avx_vnni") if f in fl)
    except OSError:
        pass
    mem = psutil.virtual_memory().total / 2**30
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {
        "cpu": cpu,
        "simd": flags or "none of avx2/avx512",
        "nproc": nproc,
        "mem_gib": round(mem, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("corpus-scan", "torch", "hyperscan", "isal", "orjson", "duckdb", "datatrove"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    rg = subprocess.run(["rg", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return ", ".join(out) + f", {rg}"


def result_note(row: Row) -> str:
    s = row.summary()
    if row.failed:
        return f"FAILED: {row.failed}"
    if row.key == "rg":
        out = row.outputs[-1].strip() if row.outputs else ""
        return f"{out} lines with a term" if out.isdigit() else ""
    if row.group == "corpus-scan" and s:
        secs = s.get("seconds") or 0
        inner = f"; {row.nbytes / 1e6 / secs:.1f} MB/s inside scan()" if secs else ""
        return f"{s.get('n_candidates')} candidates, {s.get('n_flagged')} flagged{inner}" + (
            f" ({row.note})" if row.note else ""
        )
    kept = s.get("kept")
    note = f"{kept} kept" if kept is not None else ""
    if row.note:
        note = f"{note}; {row.note}" if note else row.note
    return note


def fmt(x: float, digits: int = 1) -> str:
    return "—" if x != x else f"{x:,.{digits}f}"


def table(rows: list[Row], repeat: int) -> str:
    head = (
        f"| stage | workers | wall s (min / median of {repeat}) | MB/s | docs/s | peak RSS MB "
        "(tree) | result |\n|---|---:|---:|---:|---:|---:|---|\n"
    )
    lines = []
    for r in rows:
        label = r.label.replace("|", "\\|")
        lines.append(
            f"| {r.group}: {label} | {r.workers or ''} | {fmt(r.wall, 2)} / {fmt(r.median, 2)} | "
            f"{fmt(r.mbps)} | {fmt(r.docs / r.wall if r.walls else float('nan'), 0)} | "
            f"{fmt(r.peak_mb, 0)} | {result_note(r)} |"
        )
    return head + "\n".join(lines) + "\n"


def ratios(rows: list[Row]) -> str:
    by = {r.key: r for r in rows if r.walls}
    rg = by.get("rg")
    out = [
        "| corpus-scan row | workers | MB/s | ÷ rg ceiling | ÷ datatrove+re "
        "| ÷ datatrove+hyperscan |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key in (
        "cs_lexical1",
        "cs_lexical2",
        "cs_static1",
        "cs_static2",
        "cs_cascade1",
        "cs_cascade2",
        "cs_cascade2_ray",
    ):
        r = by.get(key)
        if not r:
            continue
        w = r.workers
        cells = []
        for ref in (rg, by.get(f"dt_re{w}"), by.get(f"dt_hs{w}")):
            cells.append(f"{r.mbps / ref.mbps:.2f}x" if ref else "—")
        out.append(f"| {r.label} | {w} | {r.mbps:.1f} | " + " | ".join(cells) + " |")
    lines = ["\n".join(out), ""]
    goals = []
    lex2, full2 = by.get("cs_lexical2"), by.get("cs_cascade2")
    dre2, dhs2 = by.get("dt_re2"), by.get("dt_hs2")

    def check(name: str, value: float, goal: float, higher: bool = True) -> None:
        ok = value >= goal if higher else value < goal
        goals.append(
            f"- {name}: {value:.2f} (goal {'≥' if higher else '<'} {goal}) "
            f"{'**met**' if ok else '**NOT met**'}"
        )

    if lex2 and rg:
        check("lexicon stage, 2 workers ÷ rg", lex2.mbps / rg.mbps, GOALS["lexical_vs_rg"])
    if full2 and rg:
        check("full cascade, 2 workers ÷ rg", full2.mbps / rg.mbps, GOALS["full_vs_rg"])
    if full2 and dre2:
        check(
            "full cascade ÷ datatrove+re (2 workers)",
            full2.mbps / dre2.mbps,
            GOALS["full_vs_dt_re"],
        )
    if full2 and dhs2:
        check(
            "full cascade ÷ datatrove+hyperscan (2 workers)",
            full2.mbps / dhs2.mbps,
            GOALS["full_vs_dt_hs"],
        )
    if full2:
        check("full cascade, 2 workers, peak RSS MB", full2.peak_mb, GOALS["rss_mb"], higher=False)
    if goals:
        lines += ["Goals:", *goals, ""]
    return "\n".join(lines)

