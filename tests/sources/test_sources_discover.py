"""discover(): files, folders, globs, hub paths, and everything that is skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corpus_scan.documents import InputError
from corpus_scan.sources import FORMATS, discover
from corpus_scan.sources.discover import detect_format


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jsonl", ("jsonl", None)),
        ("a.JSONL.GZ", ("jsonl", "gzip")),
        ("a.ndjson.zst", ("jsonl", "zstd")),
        ("a.jsonl.zstd", ("jsonl", "zstd")),
        ("a.json", ("json", None)),
        ("a.json.gz", ("json", "gzip")),
        ("a.parquet", ("parquet", None)),
        ("a.csv", ("csv", None)),
        ("a.csv.gz", ("csv", "gzip")),
        ("a.txt", ("txt", None)),
        ("a.txt.gz", ("txt", "gzip")),
        ("a.warc", ("warc", None)),
        ("a.warc.gz", ("warc", "gzip")),
        ("a.wet", ("wet", None)),
        ("a.warc.wet.gz", ("wet", "gzip")),
        ("a.wet.gz", ("wet", "gzip")),
        ("a.tar", ("tar", None)),
        ("a.tar.gz", ("tar", "gzip")),
        ("a.tgz", ("tar", "gzip")),
        ("a.md", ("txt", None)),
        ("a.gz", None),
        (".jsonl", None),
    ],
)
def test_detect_format(name, expected):
    assert detect_format(name) == expected
    if expected:
        assert expected[0] in FORMATS


def _tree(root: Path) -> None:
    files = {
        "b/2.jsonl": b'{"text": "x"}\n',
        "b/1.parquet": b"PAR1",
        "a.csv": b"text\nx\n",
        "z.txt": b"hello",
        "notes.doc": b"# notes",
        "README.txt": b"about",
        "sub dir/ünïcode név.jsonl.gz": b"\x1f\x8b",
        "LICENSE": b"MIT",
        ".hidden.jsonl": b"{}",
        ".git/config.json": b"{}",
        "empty.jsonl": b"",
        "noext": b"data",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def test_folder_walk_sorted_with_skips(tmp_path):
    _tree(tmp_path)
    sources, skipped = discover([str(tmp_path)])
    rel = [os.path.relpath(s.path, tmp_path) for s in sources]
    assert rel == ["a.csv", "b/1.parquet", "b/2.jsonl", "sub dir/ünïcode név.jsonl.gz", "z.txt"]
    assert [s.format for s in sources] == ["csv", "parquet", "jsonl", "jsonl", "txt"]
    assert sources[3].compression == "gzip"
    for s in sources:
        assert os.path.isabs(s.path)
        assert s.size == os.path.getsize(s.path) and s.mtime == os.path.getmtime(s.path)
    reasons = {os.path.relpath(s.path, tmp_path): s.reason for s in skipped}
    assert reasons == {
        ".git": "hidden folder",
        ".hidden.jsonl": "hidden file",
        "LICENSE": "documentation file (README/LICENSE-like)",
        "README.txt": "documentation file (README/LICENSE-like)",
        "empty.jsonl": "empty file",
        "notes.doc": "unknown format (.doc)",
        "noext": "unknown format (no extension)",
    }


def test_special_files_are_skipped(tmp_path):
    (tmp_path / "data.jsonl").write_bytes(b'{"text": "x"}\n')
    os.mkfifo(tmp_path / "pipe.jsonl")
    sources, skipped = discover([str(tmp_path)])
    assert [os.path.basename(s.path) for s in sources] == ["data.jsonl"]
    assert [(os.path.basename(s.path), s.reason) for s in skipped] == [
        ("pipe.jsonl", "not a regular file")
    ]
    with pytest.raises(InputError, match="not a regular file"):
        discover([str(tmp_path / "pipe.jsonl")])


def test_symlink_loop_does_not_hang(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.jsonl").write_bytes(b'{"text": "x"}\n')
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    os.symlink(tmp_path / "d" / "x.jsonl", tmp_path / "d" / "y.jsonl")
    os.symlink(tmp_path / "missing", tmp_path / "d" / "broken.jsonl")
    sources, skipped = discover([str(tmp_path)])
    assert [os.path.basename(s.path) for s in sources] == ["x.jsonl"]
    reasons = {os.path.basename(s.path): s.reason for s in skipped}
    assert reasons["loop"].startswith("folder already visited")
    assert reasons["y.jsonl"].startswith("duplicate of")
    assert reasons["broken.jsonl"] == "broken symlink"


def test_explicit_files_and_errors(tmp_path):
    _tree(tmp_path)
    hidden = str(tmp_path / ".hidden.jsonl")
    sources, skipped = discover([hidden, str(tmp_path / "README.txt")])
    assert [s.format for s in sources] == ["jsonl", "txt"]  # named explicitly: read
    sources, skipped = discover([str(tmp_path / "empty.jsonl")])
    assert sources == [] and skipped[0].reason == "empty file"
    with pytest.raises(InputError, match="nope.jsonl"):
        discover([str(tmp_path / "nope.jsonl")])
    with pytest.raises(InputError, match=r"unknown format \(\.doc\)"):
        discover([str(tmp_path / "notes.doc")])
    with pytest.raises(InputError, match="no files match"):
        discover([str(tmp_path / "*.nothing")])


def test_globs(tmp_path):
    _tree(tmp_path)
    sources, skipped = discover([str(tmp_path / "b" / "*.jsonl"), str(tmp_path / "*.doc")])
    assert [os.path.basename(s.path) for s in sources] == ["2.jsonl"]
    assert [s.reason for s in skipped] == ["unknown format (.doc)"]
    sources, skipped = discover([str(tmp_path / "**" / "*.jsonl*")])
    assert sorted(os.path.basename(s.path) for s in sources) == ["2.jsonl", "ünïcode név.jsonl.gz"]
    # a folder and its own files listed by the same glob: each file read once, no noise
    sources, skipped = discover([str(tmp_path / "b" / "**")])
    assert sorted(os.path.basename(s.path) for s in sources) == ["1.parquet", "2.jsonl"]
    assert skipped == []


def test_overlapping_inputs_read_once(tmp_path):
    _tree(tmp_path)
    sources, _ = discover([str(tmp_path / "b"), str(tmp_path / "b" / "2.jsonl")])
    assert len(sources) == 2
    # a folder inside an earlier input (or the same folder twice) is read once and listed as
    # skipped; it used to be refused as "no file of a readable format in this folder"
    for again in ("b", "."):
        sources, skipped = discover([str(tmp_path), str(tmp_path / again)])
        assert len(sources) == len(discover([str(tmp_path)])[0])
        assert skipped[-1].reason == "folder already included by an earlier input"
    with pytest.raises(InputError, match="an empty input path"):
        discover([str(tmp_path), ""])  # "" used to scan the current folder
    (tmp_path / "b" / "dataset_infos.json").write_text('{"default": {}}')  # hub card data
    _, skipped = discover([str(tmp_path / "b")])
    assert any(s.path.endswith("dataset_infos.json") for s in skipped)


def test_hub_paths():
    sources, skipped = discover(["hf:org/name", "hf://datasets/org/name/data/*.parquet"])
    assert [(s.path, s.format) for s in sources] == [
        ("hf:org/name", "hf"),
        ("hf://datasets/org/name/data/*.parquet", "hf"),
    ]
    with pytest.raises(InputError):
        discover(["hf://models/org/name"])
    with pytest.raises(InputError):
        discover(["hf:"])


def test_a_named_folder_with_nothing_readable_is_an_error(tmp_path: Path) -> None:
    """`scan EMPTY_DIR` used to print `shards 0 of 0` and exit 0: a wrong path looked like a
    clean scan. Now it is one line, naming what was skipped; a folder whose only shard is
    empty (a real, if empty, shard set) still scans."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"empty: no file of a readable format in this folder$"):
        discover([str(empty)])
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.pdf").write_bytes(b"%PDF")
    with pytest.raises(InputError, match=r"1 skipped, first .*notes.pdf \(unknown format"):
        discover([str(docs)])
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "part-0.jsonl").write_text("", encoding="utf-8")
    sources, skipped = discover([str(shards)])
    assert sources == [] and [s.reason for s in skipped] == ["empty file"]


def test_a_missing_local_hf_folder_is_a_one_line_error(tmp_path: Path) -> None:
    """`hf:/no/such/folder` used to become a failed shard of an incomplete run (exit 1)."""
    with pytest.raises(InputError, match=r"nope: no such local dataset folder"):
        discover(["hf:" + str(tmp_path / "nope")])
    sources, _ = discover(["hf:" + str(tmp_path), "hf:org/name"])
    assert [s.format for s in sources] == ["hf", "hf"]


def test_a_local_hf_folder_is_stored_absolute_with_a_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hf:./folder` was stored as typed with no size or mtime: `filter` run from another
    folder could not find it, and a changed folder was taken as already scanned."""
    from corpus_scan.shards.plan import check_unchanged

    folder = tmp_path / "data" / "hfl"
    folder.mkdir(parents=True)
    (folder / "d.jsonl").write_text('{"text": "a"}\n')
    monkeypatch.chdir(tmp_path / "data")
    (source,), _ = discover(["hf:./hfl"])
    assert source.path == "hf:" + str(folder) and source.format == "hf"
    assert source.size == len('{"text": "a"}\n') and source.mtime is not None
    monkeypatch.chdir(tmp_path)
    check_unchanged(source)  # from another folder: found, unchanged
    with open(folder / "d.jsonl", "a") as fh:
        fh.write('{"text": "b"}\n')
    (again,), _ = discover(["hf:" + str(folder)])
    assert again.size != source.size  # a new scan of it is a new run (sources_sha256)
    with pytest.raises(InputError, match=r"hfl: changed since the scan"):
        check_unchanged(source)
