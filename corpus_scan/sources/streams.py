"""Decompressed byte streams for every reader: big chunks, exact byte counts, loud failures.

We drive the decompressors ourselves (ISA-L's zlib-compatible `decompressobj`, zstandard's
`decompressobj`, the standard library's bz2 and lzma decompressors for `.bz2` and `.xz`)
instead of using `igzip.open` / `stream_reader` / `bz2.open` because:

* a truncated zstd stream read through `stream_reader` ends silently, as if the file were
  complete; and `igzip.open().read(n)` drops everything it decoded in a call that then fails.
  Feeding compressed pieces ourselves lets readers keep every byte decoded before the break
  and then report the break (`StreamError`).
* output per step is bounded (gzip: `max_length`; zstd: small input pieces), so memory stays
  flat whatever the file size.

A file named as uncompressed is read as is (its first bytes may be anything, and its lines
must stay lines); a file named `.gz`/`.zst`/`.bz2`/`.xz` is decoded by its magic bytes (so a
`.gz` that is really zstd still works), and one without a known magic is a `StreamError`, not
garbage records. Concatenated streams (pbzip2, `xz` of several blocks) are read to the end.
"""

from __future__ import annotations

import bz2
import io
import lzma
from collections.abc import Callable, Iterator
from typing import BinaryIO

import zstandard
from isal import isal_zlib

from corpus_scan.documents import ShardReadError

CHUNK = 4 << 20  # decompressed bytes per chunk: big enough to amortise per-chunk Python work
_IN_CHUNK = 1 << 20  # compressed bytes read per step
_ZSTD_IN = 256 << 10  # zstd has no output cap per call, so feed it small pieces
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BZ2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_HEAD = len(_XZ_MAGIC)  # bytes read to tell the codecs apart


class StreamError(Exception):
    """The compressed stream is truncated or corrupt; everything before it was delivered."""


def sniff_compression(head: bytes, declared: str | None) -> str | None:
    """Pick the codec of a file declared compressed by its magic bytes (None: plain file)."""
    if declared is None:
        return None
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if head.startswith(_BZ2_MAGIC):
        return "bzip2"
    if head.startswith(_XZ_MAGIC):
        return "xz"
    if head:
        raise StreamError(f"not {declared} data (file does not start with the {declared} magic)")
    return None


def iter_chunks(fh: BinaryIO, declared: str | None = None) -> Iterator[bytes]:
    """Yield the decompressed content of `fh` in chunks of roughly `CHUNK` bytes."""
    head = fh.read(_HEAD)
    codec = sniff_compression(head, declared)
    if codec == "gzip":
        yield from _gzip_chunks(fh, head)
    elif codec == "zstd":
        yield from _zstd_chunks(fh, head)
    elif codec == "bzip2":
        yield from _stdlib_chunks(fh, head, bz2.BZ2Decompressor, "bzip2", _BZ2_MAGIC)
    elif codec == "xz":
        yield from _stdlib_chunks(fh, head, lzma.LZMADecompressor, "xz", _XZ_MAGIC)
    else:
        if head:
            rest = fh.read(CHUNK - len(head))
            yield head + rest
        while chunk := fh.read(CHUNK):
            yield chunk


class _Joined:
    """Decoded pieces handed out joined, once they reach `CHUNK` bytes (and at the end)."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, piece: bytes) -> bytes | None:
        if piece:
            self.parts.append(piece)
            self.size += len(piece)
            if self.size >= CHUNK:
                return self.take()
        return None

    def take(self) -> bytes | None:
        """Everything held (None if nothing): before an error is raised, and at the end."""
        if not self.parts:
            return None
        joined = b"".join(self.parts)
        self.parts, self.size = [], 0
        return joined


def _gzip_chunks(fh: BinaryIO, head: bytes) -> Iterator[bytes]:
    # wbits=31: gzip wrapper, so the CRC32 and size trailer of every member are verified.
    d = isal_zlib.decompressobj(wbits=31)
    member_has_input = True
    out = _Joined()
    data = head
    while True:
        if not data:
            data = fh.read(_IN_CHUNK)
            if not data:
                break
        if not member_has_input:
            # A previous member ended; what follows must be another member (concatenated gzip,
            # e.g. one per WARC record) or NUL padding, which some writers append.
            if not data.startswith(_GZIP_MAGIC[: len(data)]):
                while data:
                    if data.strip(b"\0"):
                        if (rest := out.take()) is not None:
                            yield rest
                        raise StreamError("trailing garbage after the last gzip member")
                    data = fh.read(_IN_CHUNK)
                break
            d = isal_zlib.decompressobj(wbits=31)
            member_has_input = True
        try:
            piece = d.decompress(data, CHUNK)
        except isal_zlib.error as e:
            if (rest := out.take()) is not None:
                yield rest
            raise StreamError(f"corrupt gzip data ({e})") from None
        data = d.unconsumed_tail
        if (chunk := out.add(piece)) is not None:
            yield chunk
        if d.eof:
            data = d.unused_data + data
            member_has_input = False
    if (rest := out.take()) is not None:
        yield rest
    if member_has_input and not d.eof:
        raise StreamError("truncated gzip stream (unexpected end of file)")


def _zstd_chunks(fh: BinaryIO, head: bytes) -> Iterator[bytes]:
    dctx = zstandard.ZstdDecompressor()
    # read_across_frames=False: `.eof` then means "this frame is complete", which is what lets
    # us tell a clean end of file from a truncated one; later frames get a fresh object.
    d = dctx.decompressobj(read_across_frames=False)
    in_frame = True
    out = _Joined()
    data = head
    while True:
        if not data:
            data = fh.read(_ZSTD_IN)
            if not data:
                break
        if not in_frame:
            d = dctx.decompressobj(read_across_frames=False)
            in_frame = True
        piece_in, data = data[:_ZSTD_IN], data[_ZSTD_IN:]
        try:
            piece = d.decompress(piece_in)
        except zstandard.ZstdError as e:
            if (rest := out.take()) is not None:
                yield rest
            raise StreamError(f"corrupt zstd data ({e})") from None
        if (chunk := out.add(piece)) is not None:
            yield chunk
        if d.eof:
            data = d.unused_data + data
            in_frame = False
    if (rest := out.take()) is not None:
        yield rest
    if in_frame and not d.eof:
        raise StreamError("truncated zstd stream (unexpected end of file)")


def _stdlib_chunks(
    fh: BinaryIO, head: bytes, make: Callable[[], object], name: str, magic: bytes
) -> Iterator[bytes]:
    """bz2/lzma decompressors: output capped per call (`max_length`), streams that follow
    one another decoded in turn, a stream cut short or corrupt reported after its data."""
    d = make()
    out = _Joined()
    data = head
    while True:
        if d.eof:  # type: ignore[attr-defined]
            pending = d.unused_data + data  # type: ignore[attr-defined]
            while not (pending := pending.lstrip(b"\0")):  # NUL padding (xz pads streams)
                pending = fh.read(_IN_CHUNK)
                if not pending:
                    if (rest := out.take()) is not None:
                        yield rest
                    return
            if not pending.startswith(magic[: len(pending)]):
                if (rest := out.take()) is not None:
                    yield rest
                raise StreamError(f"trailing garbage after the last {name} stream")
            d, data = make(), pending
        if d.needs_input and not data:  # type: ignore[attr-defined]
            data = fh.read(_IN_CHUNK)
            if not data:
                break
        try:
            piece = d.decompress(data, CHUNK)  # type: ignore[attr-defined]
        except (OSError, EOFError, lzma.LZMAError) as e:
            if (rest := out.take()) is not None:
                yield rest
            raise StreamError(f"corrupt {name} data ({e})") from None
        data = b""
        if (chunk := out.add(piece)) is not None:
            yield chunk
    if (rest := out.take()) is not None:
        yield rest
    raise StreamError(f"truncated {name} stream (unexpected end of file)")


class Interrupted:
    """Where `until_break` stopped: the stream error and the partial line it dropped."""

    def __init__(self) -> None:
        self.error: StreamError | None = None
        self.partial = 0


def until_break(chunks: Iterator[bytes], state: Interrupted) -> Iterator[bytes]:
    """Chunks cut at line ends; a stream error becomes a clean end of data (kept in `state`).

    For consumers that read big blocks and lose a whole block when `read()` raises (pyarrow's
    CSV reader reads 16 MB at a time): they see every complete line before the break, never a
    partial last line, and the caller raises `state.error` once they are done.
    """
    tail: list[bytes] = []
    try:
        for chunk in chunks:
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                tail.append(chunk)
                continue
            yield b"".join([*tail, chunk[:cut]]) if tail else chunk[:cut]
            tail = [chunk[cut:]] if cut < len(chunk) else []
    except StreamError as e:
        state.error = e
        state.partial = sum(map(len, tail))
        return
    if tail:
        yield b"".join(tail)


class ChunkReader(io.RawIOBase):
    """A read-only file object over `iter_chunks`, for libraries that want `read()`.

    `consumed` counts the decompressed bytes handed out so far: readers report per-batch
    `n_bytes` as its growth (pyarrow/tarfile/warcio read ahead a little, so per-batch figures
    are approximate, but the per-shard sum is exact once the stream is drained).
    A `StreamError` surfaces from `read()` unchanged so callers can finish their batch first.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buf = memoryview(b"")
        self._error: StreamError | None = None  # met while peeking; raised when reached
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        for chunk in self._chunks:
            if chunk:
                self._buf = memoryview(chunk)
                return True
        return False

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        if not self._buf and not self._fill():
            return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self.consumed += n
        return n

    def peek_bytes(self, n: int) -> bytes:
        """Up to `n` upcoming bytes, without consuming them (used to sniff headers)."""
        parts = [bytes(self._buf)]
        size = len(parts[0])
        while size < n and self._error is None:
            try:
                chunk = next(self._chunks, None)
            except StreamError as e:
                self._error = e
                break
            if chunk is None:
                break
            parts.append(chunk)
            size += len(chunk)
        joined = b"".join(parts)
        self._buf = memoryview(joined)
        return joined[:n]

    def drain(self) -> int:
        """Consume the rest of the stream (e.g. tar padding); returns the bytes skipped."""
        skipped = len(self._buf)
        self._buf = memoryview(b"")
        if self._error is not None:
            self.consumed += skipped
            error, self._error = self._error, None
            raise error
        for chunk in self._chunks:
            skipped += len(chunk)
        self.consumed += skipped
        return skipped


def open_binary(path: str) -> BinaryIO:
    """Open a shard for reading; an unreadable file is a ShardReadError, not a crash."""
    try:
        return open(path, "rb", buffering=0)  # noqa: SIM115 - caller closes it
    except OSError as e:
        raise ShardReadError(f"{path}: cannot open ({e.strerror or e})") from None
