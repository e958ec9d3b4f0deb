"""The report folder: a report is built beside it and moved in file by file, so a rerun never
loses human labels in `audit.csv` or a file the report did not write, and leaves no stale
table of an earlier report (one whose run had topics, say) beside the new `index.html`.

A marker file lists what the last report wrote; files not in it are the user's and are never
replaced without `overwrite`. A folder written before the marker existed is recognised by
its `summary.md` heading.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path

from corpus_scan.atomic import write_atomic
from corpus_scan.documents import InputError

MARKER = ".corpus-scan-report.json"
_LEGACY_HEADING = "# corpus-scan report: run"


def human_labels(audit_csv: Path) -> int:
    """How many rows of an audit.csv have a human_label filled in (0 if there is none)."""
    try:
        with audit_csv.open(encoding="utf-8", newline="") as fh:
            return sum(1 for row in csv.DictReader(fh) if (row.get("human_label") or "").strip())
    except (OSError, UnicodeDecodeError, csv.Error):
        return 0


def _previous_report(out: Path) -> set[str] | None:
    """Names the last report wrote into `out`, or None when no report was written there."""
    try:
        names = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
        return {str(n) for n in names if "/" not in str(n)}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with (out / "summary.md").open(encoding="utf-8") as fh:
            legacy = fh.readline().startswith(_LEGACY_HEADING)
    except (OSError, UnicodeDecodeError):
        legacy = False
    return set() if legacy else None


def prepare(out_dir: str | Path, overwrite: bool) -> tuple[Path, Path]:
    """(the report folder, an empty staging folder beside it); refuses to lose labels."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)  # `--out reports/my-corpus` on a fresh clone
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.report-", dir=out.parent))
    except OSError as exc:
        raise InputError(f"{out}: cannot create the report folder ({exc.strerror})") from None
    labels = human_labels(out / "audit.csv")
    if labels and not overwrite:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(
            f"{out / 'audit.csv'}: holds {labels} human label(s); pass --overwrite to replace "
            "the report (the labels are lost) or choose another --out"
        )
    return out, staging


def install(staging: Path, out: Path, overwrite: bool) -> list[Path]:
    """Move the staged report into `out`; remove the earlier report's files it did not
    rewrite. Returns the installed paths."""
    try:
        new = sorted(p.name for p in staging.iterdir())
        previous = _previous_report(out)
        legacy = previous == set()
        ours = previous or set()
        clash = [n for n in new if (out / n).exists() and n not in ours and not legacy]
        if clash and not overwrite:
            shown = ", ".join(clash[:3]) + (f" and {len(clash) - 3} more" if len(clash) > 3 else "")
            raise InputError(
                f"{out}: holds {shown}, which no earlier report wrote there; pass --overwrite "
                "to replace them or choose another --out"
            )
        for name in new:
            os.replace(staging / name, out / name)
        for name in sorted(ours - set(new)):
            (out / name).unlink(missing_ok=True)
        write_atomic(out / MARKER, json.dumps({"files": new}, indent=1).encode())
        return [out / n for n in new]
    finally:
        shutil.rmtree(staging, ignore_errors=True)
