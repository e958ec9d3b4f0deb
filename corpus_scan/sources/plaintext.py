"""Plain-text readers: one `.txt` file = one document; one tar member = one document.

Decoding policy (`decode_text`), chosen so no text is silently mangled or silently lost:

1. A byte-order mark decides (UTF-8, UTF-16 LE/BE), decoded strictly.
2. Otherwise strict UTF-8.
3. If that fails and the bytes look like binary data (a NUL byte, or more than 10% control
   bytes), the record is bad: "binary content (not text)".
4. Otherwise the file is legacy 8-bit text, decoded as Windows-1252 (Latin-1 where cp1252 has
   no character). That is what such files almost always are in web/news corpora, it never
   loses a document, and ASCII keywords match exactly as they would in UTF-8. Replacing bad
   bytes with U+FFFD would hide the problem; rejecting the whole file would lose the document.

Member names of tar archives are the document ids; members of any extension are treated as
text under the same policy (a compressed or image member is "binary content"). Directories,
links and other non-file members are not records. A text document over 256 MB is a bad record
("too large") rather than a memory spike.
"""

from __future__ import annotations

import codecs
import tarfile
from collections.abc import Iterator

from corpus_scan.documents import DocBatch, ReadOptions, ShardReadError, Source
from corpus_scan.sources.batches import MAX_DOC_BYTES, BatchBuilder
from corpus_scan.sources.streams import ChunkReader, StreamError, iter_chunks, open_binary

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# bytes that occur in text: printable ASCII, high bytes, and \t \n \v \f \r, ESC
_TEXT_BYTES = bytes([7, 8, 9, 10, 11, 12, 13, 27, *range(0x20, 0x7F), *range(0x80, 0x100)])


def decode_text(data: bytes) -> tuple[str, None] | tuple[None, str]:
    """(text, None) or (None, reason) under the module's decoding policy."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec), None
            except UnicodeDecodeError:
                return None, f"invalid {codec.upper()}"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    if b"\0" in data or len(data.translate(None, _TEXT_BYTES)) * 10 > len(data):
        return None, "binary content (not text)"
    try:
        return data.decode("cp1252"), None
    except UnicodeDecodeError:
        return data.decode("latin-1"), None


def _document(builder: BatchBuilder, row: int, doc_id: str, data: bytes) -> None:
    text, reason = decode_text(data)
    if text is None:
        builder.add_bad(row, None, reason or "undecodable")
    else:
        builder.add(row, doc_id, text, None)


def read_txt(source: Source, opts: ReadOptions) -> Iterator[DocBatch]:
    """One document per file; id `<path>:0`."""
    path = source.path
    parts: list[bytes] = []
    size = 0
    with open_binary(path) as fh:
        try:
            for chunk in iter_chunks(fh, source.compression):
                parts.append(chunk)
                size += len(chunk)
                if size > MAX_DOC_BYTES:
                    break
        except StreamError as e:
            raise ShardReadError(f"{path}: {e} (text file, nothing read)") from None
    builder = BatchBuilder(opts.batch_size)
    if size > MAX_DOC_BYTES:
        builder.add_bad(0, None, f"too large for one document (over {MAX_DOC_BYTES >> 20} MB)")
    elif size:
        _document(builder, 0, f"{path}:0", b"".join(parts))
    else:
        return
    yield builder.take(size)


def read_tar(source: Source, opts: ReadOptions) -> Iterator[DocBatch]:
    """Each regular member is one document (id = member name), streamed in archive order."""
    path = source.path
    builder = BatchBuilder(opts.batch_size)
    row = 0
    reported = 0
    with open_binary(path) as fh:
        stream = ChunkReader(iter_chunks(fh, source.compression))
        try:
            # "r|": a pure stream, never seeks, so memory is one member at a time.
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    if builder.full():
                        yield builder.take(stream.consumed - reported)
                        reported = stream.consumed
                    if member.size > MAX_DOC_BYTES:
                        builder.add_bad(row, None, f"too large for one document ({member.size} B)")
                    else:
                        member_file = tar.extractfile(member)
                        data = member_file.read() if member_file is not None else b""
                        if len(data) < member.size:
                            raise tarfile.ReadError(f"member {member.name!r} is cut short")
                        _document(builder, row, member.name, data)
                    row += 1
            stream.drain()  # end-of-archive blocks and padding, so n_bytes adds up
        except StreamError as e:
            yield builder.take(stream.consumed - reported)
            raise ShardReadError(f"{path}: {e} after {row} tar members") from None
        except (tarfile.TarError, EOFError) as e:
            yield builder.take(stream.consumed - reported)
            raise ShardReadError(f"{path}: broken tar archive after {row} members ({e})") from None
    if builder.count() or stream.consumed > reported:
        yield builder.take(stream.consumed - reported)
