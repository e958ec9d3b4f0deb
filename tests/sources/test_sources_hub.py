"""Hub sources: path resolution (pure) and the streaming reader on local data, offline.

The reader runs in a subprocess so HF_HOME / HF_DATASETS_CACHE / HF_HUB_OFFLINE apply from
the start (`datasets` reads them at import) without touching other tests' environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus_scan.documents import InputError, ReadOptions
from corpus_scan.sources.hub import HubSpec, resolve_hf

OPTS = ReadOptions(hf_config="en", hf_split="validation")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("hf:org/name", HubSpec("org/name", "en", "validation")),
        ("hf:org/name@v1.0", HubSpec("org/name", "en", "validation", revision="v1.0")),
        ("hf:/abs/local/folder", HubSpec("/abs/local/folder", "en", "validation")),
        ("hf://datasets/org/name", HubSpec("org/name", "en", "validation")),
        ("hf://datasets/org/name@main/", HubSpec("org/name", "en", "validation", revision="main")),
        (
            "hf://datasets/org/name/data/en",
            HubSpec("org/name", "en", "validation", data_dir="data/en"),
        ),
        (
            "hf://datasets/org/name/data/*.parquet",
            HubSpec(
                "parquet",
                None,
                "validation",
                data_files={"validation": "hf://datasets/org/name/data/*.parquet"},
            ),
        ),
        (
            "hf://datasets/org/name@rev/x/part-0.jsonl.gz",
            HubSpec(
                "json",
                None,
                "validation",
                data_files={"validation": "hf://datasets/org/name@rev/x/part-0.jsonl.gz"},
            ),
        ),
        (
            "hf://datasets/org/name/train/data-0000*-of-00004.arrow",
            HubSpec(
                "arrow",
                None,
                "validation",
                data_files={
                    "validation": "hf://datasets/org/name/train/data-0000*-of-00004.arrow"
                },
            ),
        ),
        (
            "hf://datasets/org/name/a.csv",
            HubSpec(
                "csv", None, "validation", data_files={"validation": "hf://datasets/org/name/a.csv"}
            ),
        ),
        (
            "hf://datasets/org/name/docs/*.txt",
            HubSpec(
                "text",
                None,
                "validation",
                data_files={"validation": "hf://datasets/org/name/docs/*.txt"},
                extra={"sample_by": "document"},
            ),
        ),
    ],
)
def test_resolve(path, expected):
    assert resolve_hf(path, OPTS) == expected


@pytest.mark.parametrize(
    "path", ["hf:", "hf://models/org/name", "hf://datasets/justname", "hf://datasets/o/n/f.xlsx"]
)
def test_resolve_rejects(path):
    with pytest.raises(InputError):
        resolve_hf(path, OPTS)


def test_kwargs():
    spec = resolve_hf("hf://datasets/o/n/d/*.parquet", ReadOptions())
    assert spec.kwargs() == {
        "split": "train",
        "data_files": {"train": "hf://datasets/o/n/d/*.parquet"},
    }


_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from corpus_scan.documents import InputError, ReadOptions, ShardReadError, Source
    from corpus_scan.sources import read_source
    from corpus_scan.sources.hub import HubSpec, read_spec

    def run(batches):
        out = {"batches": [], "error": None}
        try:
            for b in batches:
                bad = [[x.row, x.reason] for x in b.bad]
                out["batches"].append({"rows": b.rows, "ids": b.ids, "texts": b.texts,
                                       "urls": b.urls, "bad": bad, "n_bytes": b.n_bytes})
        except (ShardReadError, InputError) as e:
            out["error"] = str(e)
        return out

    folder, parquet_glob, no_text, bad_json, arrow_glob = sys.argv[1:6]
    opts = ReadOptions(batch_size=2)
    results = {
        "folder": run(read_source(Source("hf:" + folder, "hf"), opts)),
        "data_files": run(read_spec("local-parquet", HubSpec(
            "parquet", None, "train", data_files={"train": parquet_glob}), opts)),
        "arrow_files": run(read_spec("local-arrow", HubSpec(
            "arrow", None, "train", data_files={"train": arrow_glob}), opts)),
        "no_text": run(read_source(Source("hf:" + no_text, "hf"), opts)),
        "missing": run(read_source(Source("hf:" + folder + "/nope", "hf"), opts)),
        "bad_json": run(read_source(Source("hf:" + bad_json, "hf"), opts)),
        "one_file": run(read_source(Source("hf:" + parquet_glob.replace("*", "part-0"), "hf"),
                                    opts)),
        "bad_config": run(read_source(Source("hf:" + folder, "hf"),
                                      ReadOptions(batch_size=2, hf_config="nonsense"))),
    }
    print("RESULT" + json.dumps(results))
    """
)


def test_reader_on_local_data_offline(tmp_path):
    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    records = [
        {"id": "a", "text": "first", "metadata": {"url": "http://a"}},
        {"id": None, "text": None, "metadata": None},
        {"id": "c", "text": "third", "metadata": {"url": None}},
        {"id": "d", "text": "  ", "metadata": None},
        {"id": "e", "text": "fifth", "metadata": None},
    ]
    with open(folder / "data" / "train-00000.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    pq.write_table(pa.table({"content": ["p0", "p1", None]}), pq_dir / "part-0.parquet")
    with pa.OSFile(str(pq_dir / "data-00000-of-00001.arrow"), "wb") as sink:  # as `datasets`
        table = pa.table({"text": ["a0", "a1", "a2"], "id": ["x", "y", "z"]})
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
    no_text = tmp_path / "notext"
    no_text.mkdir()
    (no_text / "train.jsonl").write_text('{"a": 1}\n')
    bad_json = tmp_path / "badjson"
    bad_json.mkdir()
    (bad_json / "train.jsonl").write_text('{"text": "a"}\n{"text": "b\n{"text": "c"}\n')

    env = dict(os.environ)
    env.update(
        HF_HOME=str(tmp_path / "hf_home"),
        HF_DATASETS_CACHE=str(tmp_path / "hf_cache"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
    )
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(folder), str(pq_dir / "*.parquet"), str(no_text),
         str(bad_json), str(pq_dir / "*.arrow")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    results = json.loads(line[len("RESULT") :])

    folder_res = results["folder"]
    assert folder_res["error"] is None
    batches = folder_res["batches"]
    assert all(len(b["texts"]) + len(b["bad"]) <= 2 for b in batches)
    flat = lambda key: [x for b in batches for x in b[key]]  # noqa: E731
    assert flat("texts") == ["first", "third", "  ", "fifth"]  # blank text: a document
    assert flat("rows") == [0, 2, 3, 4]
    assert flat("ids") == ["a", "c", "d", "e"]
    assert flat("urls") == ["http://a", None, None, None]  # dotted metadata.url
    assert flat("bad") == [[1, "field 'text' is null"]]

    arrow = results["arrow_files"]
    assert arrow["error"] is None
    assert [x for b in arrow["batches"] for x in b["ids"]] == ["x", "y", "z"]
    assert [x for b in arrow["batches"] for x in b["texts"]] == ["a0", "a1", "a2"]

    df = results["data_files"]
    assert df["error"] is None
    texts = [t for b in df["batches"] for t in b["texts"]]
    assert texts == ["p0", "p1"]
    assert [x for b in df["batches"] for x in b["ids"]] == ["local-parquet:0", "local-parquet:1"]

    assert results["no_text"]["batches"] == []
    assert "no text column" in results["no_text"]["error"]
    assert "columns: a" in results["no_text"]["error"]

    assert results["missing"]["batches"] == []
    assert "cannot open dataset" in results["missing"]["error"]
    # datasets cannot skip a malformed JSON line: the shard fails, and the message says how far
    # the stream got instead of naming a row that looks like the bad one
    err = results["bad_json"]["error"]
    assert "stream failed before any row was read" in err or "rows were read" in err, err
    # a local folder: the message says how to get each bad record counted with its line
    assert "without hf: to have each bad record counted with its line" in err, err
    assert "without hf:" not in results["missing"]["error"]  # not a folder on this machine
    # `hf:FILE` reads one local file through its builder (it used to fail to open)
    assert results["one_file"]["error"] is None
    assert [t for b in results["one_file"]["batches"] for t in b["texts"]] == ["p0", "p1"]
    # a dataset that cannot be opened gets no hint about skipping malformed records
    assert "cannot open dataset" in results["bad_config"]["error"]
    assert "without hf:" not in results["bad_config"]["error"]
