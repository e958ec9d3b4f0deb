"""The report folder: a report is built beside it and moved in file by file, so a rerun never
loses human labels in `audit.csv` or a file the report did not write, and leaves no stale
table of an earlier report (one whose run had topics, say) beside the new `index.html`.

A marker file lists what the last report wrote; files not in it are the user's and are never
replaced without `overwrite`. A folder written before the marker existed is recognised by
its `summary.md` heading.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from corpus_scan.atomic import write_atomic
from corpus_scan.documents import InputError

MARKER = ".corpus-scan-report.json"
STAGING_PREFIX = ".report-tmp-"
_LEGACY_HEADING = "# corpus-scan report: run"


def human_labels(audit_csv: Path) -> int | None:
    """How many rows of an audit.csv have a human_label filled in; None when it cannot be read
    as one (another encoding or delimiter, as a spreadsheet may save it)."""
    try:
        with audit_csv.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if "human_label" not in (reader.fieldnames or []):
                return None
            return sum(1 for row in reader if (row.get("human_label") or "").strip())
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _marker(out: Path) -> dict:
    try:
        data = json.loads((out / MARKER).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _previous_report(out: Path) -> set[str] | None:
    """Names the last report wrote into `out`, or None when no report was written there."""
    names = _marker(out).get("files")
    if isinstance(names, list):
        return {str(n) for n in names if "/" not in str(n)}
    try:
        with (out / "summary.md").open(encoding="utf-8") as fh:
            legacy = fh.readline().startswith(_LEGACY_HEADING)
    except (OSError, UnicodeDecodeError):
        legacy = False
    return set() if legacy else None


def prepare(out_dir: str | Path, overwrite: bool) -> tuple[Path, Path]:
    """(the report folder, an empty staging folder beside it); refuses to lose labels."""
    if not str(out_dir).strip():
        raise InputError("--out is empty: name the report folder")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    audit = out / "audit.csv"
    if audit.exists() and not overwrite:
        labels = human_labels(audit)
        written = _marker(out).get("audit_sha256")
        # re-saved by a spreadsheet (another encoding or delimiter) counts as edited
        edited = _sha256(audit) != written if written else labels is None
        if labels or edited:
            what = (f"holds {labels} human label(s)" if labels
                    else "was changed since the report wrote it")  # fmt: skip
            raise InputError(
                f"{audit}: {what}; pass --overwrite to replace the report (its labels are "
                "lost) or choose another --out"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)  # `--out reports/my-corpus` on a fresh clone
        # inside `out`: the same filesystem, so every file moves in with one rename
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    except OSError as exc:
        raise InputError(f"{out}: cannot write the report folder ({exc.strerror})") from None
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
        # first claim both sets of names: a run stopped among the moves is then a report
        # folder that the next run replaces, not one holding files "no report wrote"
        _write_marker(out, sorted(ours | set(new)), None)
        for name in new:
            os.replace(staging / name, out / name)
        for name in sorted(ours - set(new)):
            (out / name).unlink(missing_ok=True)
        _write_marker(out, new, _sha256(out / "audit.csv"))
        return [out / n for n in new]
    except OSError as exc:
        raise InputError(f"{out}: cannot write the report ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_marker(out: Path, files: list[str], audit_sha256: str | None) -> None:
    data = {"files": files, "audit_sha256": audit_sha256}
    write_atomic(out / MARKER, json.dumps(data, indent=1).encode())
