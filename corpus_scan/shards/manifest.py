"""The output folder's bookkeeping: who may write there, what is done, the final manifest.

Files (besides the shards):

* `manifest.json`: written last, atomically, once every shard is in place; its presence
  means the folder is complete. Format: see `build_manifest`.
* `.filter-state.jsonl` (hidden): the progress log of an unfinished job. Line 1 is the job
  (db, run, mode, threshold, flag rule and a digest of the flagged rows, format, upsample,
  version, a digest of the inputs' paths/sizes/mtimes); then one line per finished shard,
  appended after its rename (not fsynced: a lost line only means that shard is redone).
  It is removed once the manifest is written.

Rules for `--out` (`prepare_output`):

* missing or empty (temporary files aside): a new job;
* holds the state log of the same job and no manifest: resume. A logged shard whose file
  still has the logged size and sha256 is kept; everything else is redone (shards are
  replaced by rename, so nothing is duplicated; a logged shard with nothing to write has no
  file and is kept as logged). Leftover temporary files are removed;
* otherwise, without `overwrite`: refused (InputError, one line);
* with `overwrite`: the files an earlier job recorded (its manifest or state log) and
  leftover temporary files are deleted, then a new job starts. Files corpus-scan did not
  write are never deleted (shards with the same names are replaced).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus_scan.atomic import file_sha256, is_temporary, write_atomic
from corpus_scan.documents import InputError

MANIFEST = "manifest.json"
STATE = ".filter-state.jsonl"


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class JobLog:
    """Append-only progress log of one filter job (see module doc)."""

    def __init__(self, out: Path, job: dict[str, Any], done: dict[str, dict]) -> None:
        self.path = out / STATE
        self.done = done  # output name -> shard entry, reusable as is
        lines = [json.dumps({"job": job}), *(json.dumps(e) for e in done.values())]
        write_atomic(self.path, ("\n".join(lines) + "\n").encode())

    def append(self, entry: dict[str, Any]) -> None:
        with open(self.path, "ab") as fh:
            fh.write(json.dumps(entry).encode() + b"\n")

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


def _read_state(out: Path) -> tuple[dict | None, list[dict]]:
    """(job, shard entries) from a state log; a torn last line is ignored."""
    path = out / STATE
    if not path.exists():
        return None, []
    job, entries = None, []
    for line in path.read_text(errors="replace").splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict) and "job" in item and job is None:
            job = item["job"]
        elif isinstance(item, dict) and "output" in item:
            entries.append(item)
    return job, entries


def _recorded_outputs(out: Path) -> list[str]:
    names = [e["output"] for e in _read_state(out)[1]]
    try:
        manifest = json.loads((out / MANIFEST).read_text())
        names += [s["output"] for s in manifest.get("shards", [])]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    return names


def _remove_temporaries(out: Path) -> None:
    for folder, _, files in os.walk(out):
        for name in files:
            if is_temporary(name):
                (Path(folder) / name).unlink(missing_ok=True)


def _inside(out: Path, name: str) -> Path | None:
    """out/name when name is a plain relative path inside `out` (from a file we wrote)."""
    path = (out / name).resolve()
    return path if path.is_relative_to(out.resolve()) and path != out.resolve() else None


def prepare_output(out: Path, job: dict[str, Any], overwrite: bool) -> JobLog:
    """Apply the folder rules of the module doc; returns the job's log (with reusable shards)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    if all(is_temporary(p.name) for p in out.iterdir()):  # empty, or a crash's leftovers only
        _remove_temporaries(out)
        return JobLog(out, job, {})
    if overwrite:
        for name in _recorded_outputs(out):
            path = _inside(out, name)
            if path is not None and path.is_file():
                path.unlink()
        (out / MANIFEST).unlink(missing_ok=True)
        (out / STATE).unlink(missing_ok=True)
        _remove_temporaries(out)
        return JobLog(out, job, {})
    if (out / MANIFEST).exists():
        raise InputError(
            f"{out}: holds a finished filter output ({MANIFEST}); pass --overwrite to replace it"
        )
    old_job, entries = _read_state(out)
    if old_job is None:
        raise InputError(f"{out}: output folder is not empty; pass --overwrite or use another")
    if old_job != job:
        raise InputError(
            f"{out}: holds an unfinished filter job with other settings or inputs; "
            "pass --overwrite to replace it"
        )
    _remove_temporaries(out)
    done: dict[str, dict] = {}
    for entry in entries:
        if entry.get("sha256") is None and entry.get("written") == 0:  # nothing to write: no file
            done[entry["output"]] = entry
            continue
        path = _inside(out, entry["output"])
        if path is None or not path.is_file():
            continue
        if file_sha256(path) == (entry.get("output_bytes"), entry.get("sha256")):
            done[entry["output"]] = entry
    return JobLog(out, job, done)


def build_manifest(
    *,
    job: dict[str, Any],
    threshold: float,
    input_root: str | None,
    entries: list[dict[str, Any]],
    created_at: str,
    seconds: float,
) -> dict[str, Any]:
    """The manifest document (written as manifest.json)."""
    keys = ("input_docs", "flagged", "written", "dropped", "duplicated")
    totals: dict[str, Any] = {"shards": len(entries),
                              "files": sum(e["sha256"] is not None for e in entries)}
    for key in (*keys, "bad_records", "skipped_records", "output_bytes"):
        totals[key] = sum(int(e[key]) for e in entries)
    return {
        "corpus_scan_version": job["version"],
        "created_at": created_at,
        "seconds": round(seconds, 3),
        "db": job["db"],
        "run_id": job["run_id"],
        "mode": job["mode"],
        "threshold": threshold,
        "flag_rule": job["flag_rule"],
        "format": job["format"],
        "upsample_accepting": job["upsample_accepting"],
        "input_root": input_root,
        "bad_records_passed_through": False,
        "accounting": "written = input_docs - dropped + duplicated (per shard and in total)",
        "totals": totals,
        "shards": entries,
    }


def write_manifest(out: Path, manifest: dict[str, Any]) -> Path:
    path = out / MANIFEST
    write_atomic(path, (json.dumps(manifest, indent=2) + "\n").encode())
    return path
