"""One-document-per-file text, tar archives, and the decoding policy."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from corpus_scan.documents import ReadOptions
from corpus_scan.sources.plaintext import decode_text


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("héllo wörld".encode(), ("héllo wörld", None)),
        (b"\xef\xbb\xbfbom text", ("bom text", None)),
        ("utf16 text".encode("utf-16"), ("utf16 text", None)),
        ("caf\u00e9 \u2019quoted\u2019".encode("cp1252"), ("caf\u00e9 \u2019quoted\u2019", None)),
        (b"undefined in cp1252: \x81", ("undefined in cp1252: \x81", None)),  # latin-1 fallback
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff", (None, "binary content (not text)")),
        (b"nul \x00 but valid utf-8", ("nul \x00 but valid utf-8", None)),
    ],
)
def test_decode_policy(data, expected):
    assert decode_text(data) == expected


def test_txt_one_document_per_file(h, write):
    path = write("news/story one.txt", "Headline\n\nBody with ünïcode.".encode())
    res = h.collect(h.source_for(path))
    assert res.texts == ["Headline\n\nBody with ünïcode."]
    assert res.ids == [f"{path}:0"]
    assert res.rows == [0]
    assert res.n_bytes == path.stat().st_size


def test_txt_gzip_binary_and_blank(h, write):
    raw = b"compressed text"
    res = h.collect(h.source_for(write("a.txt.gz", gzip.compress(raw))))
    assert res.texts == ["compressed text"] and res.n_bytes == len(raw)
    res = h.collect(h.source_for(write("img.txt", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")))
    assert [(b.row, b.reason) for b in res.bad] == [(0, "binary content (not text)")]
    res = h.collect(h.source_for(write("blank.txt", b"  \n\n ")))
    assert res.texts == ["  \n\n "] and res.bad == []  # whitespace-only: still a document


def test_txt_too_large(h, write, monkeypatch):
    import corpus_scan.sources.plaintext as plaintext

    monkeypatch.setattr(plaintext, "MAX_DOC_BYTES", 10)
    res = h.collect(h.source_for(write("big.txt", b"x" * 100)))
    assert res.texts == [] and "too large" in res.bad[0].reason


def _tar(members: dict[str, bytes | None], gz: bool) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize(("name", "gz"), [("a.tar", False), ("a.tar.gz", True), ("a.tgz", True)])
def test_tar_members_are_documents(h, write, name, gz):
    members = {
        "docs/": None,
        "docs/1.txt": b"first doc",
        "docs/2.html.corrected.txt": "second d\u00f6c".encode(),
        "docs/empty.txt": b"",
        "docs/pic.png": b"\x89PNG\r\n\x1a\n\x00\x00",
        "docs/data.jsonl": b'{"text": "kept as text"}\n',
    }
    packed = _tar(members, gz)
    path = write(name, packed)
    res = h.collect(h.source_for(path), ReadOptions(batch_size=2))
    assert res.error is None
    assert res.ids == [
        "docs/1.txt",
        "docs/2.html.corrected.txt",
        "docs/empty.txt",
        "docs/data.jsonl",
    ]
    assert res.texts == ["first doc", "second d\u00f6c", "", '{"text": "kept as text"}\n']
    assert res.rows == [0, 1, 2, 4]  # an empty member is an (empty) document
    assert [(b.row, b.reason) for b in res.bad] == [(3, "binary content (not text)")]
    uncompressed = gzip.decompress(packed) if gz else packed
    assert res.n_bytes == len(uncompressed)
    assert all(len(b) + len(b.bad) <= 2 for b in res.batches)


def test_tar_truncated(h, write):
    members = {f"m{i}.txt": (b"member %d " % i) * 200 for i in range(200)}
    packed = _tar(members, gz=True)
    res = h.collect(h.source_for(write("t.tar.gz", packed[: len(packed) // 2])))
    assert res.error is not None and "t.tar.gz" in str(res.error)
    assert 0 < len(res.texts) < 200
    assert res.ids == [f"m{i}.txt" for i in range(len(res.texts))]
