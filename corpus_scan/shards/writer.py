"""Output shards that appear whole or not at all (`corpus_scan.atomic`).

A shard is written to `.<name>.tmp-<pid>` beside its final name (hidden, so a later scan of
the folder skips it), fsynced, hashed, and renamed over the final name. An interrupted job
therefore leaves at most a hidden temporary file (removed by the next run), never a
half-written shard under a final name. Folders are fsynced once, before the manifest is
written (`fsync_dirs`), so a renamed shard may be lost by a power cut before that, but then
it is simply redone on resume (its state-log entry is checked against the file's sha256).

Sinks: `JsonlSink` (gzip JSON lines, one record per line, via ISA-L) and `ParquetSink`
(zstd Parquet, one schema, row groups of about `ROW_GROUP_ROWS` rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from isal import igzip

from corpus_scan.atomic import AtomicFile, fsync_dir

ROW_GROUP_ROWS = 50_000
ROW_GROUP_BYTES = 128 << 20


def fsync_dirs(root: Path, names: list[str]) -> None:
    """fsync `root` and every folder holding one of the files `names` (relative to root)."""
    folders = {root, *((root / n).parent for n in names)}
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(folder)


class JsonlSink:
    """gzip-compressed JSON lines; `write` takes complete lines (each ending in a newline)."""

    def __init__(self, final: Path) -> None:
        self.file = AtomicFile(final)
        self._fh: BinaryIO = open(self.file.tmp, "wb")  # noqa: SIM115 - closed in close/abort
        self._gz = igzip.IGzipFile(
            filename="", fileobj=self._fh, mode="wb", compresslevel=2, mtime=0
        )  # no name or time in the header: the same job writes the same bytes

    def write(self, lines: list[bytes]) -> None:
        if lines:
            self._gz.write(b"".join(lines))

    def close(self) -> tuple[int, str]:
        try:
            self._gz.close()
            self._fh.close()
        except BaseException:  # the last bytes could not be written (disk full)
            self.abort()
            raise
        return self.file.commit()

    def abort(self) -> None:
        try:
            try:
                self._gz.close()
            finally:
                self._fh.close()
        except Exception:  # noqa: BLE001 - the file is thrown away: a failing flush is moot
            pass
        finally:
            self.file.abort()


class ParquetSink:
    """One Parquet file of a fixed schema; tables are buffered into large row groups."""

    def __init__(self, final: Path, schema: pa.Schema) -> None:
        self.file = AtomicFile(final)
        self.schema = schema
        self._writer = pq.ParquetWriter(self.file.tmp, schema, compression="zstd")
        self._pending: list[pa.Table] = []
        self._rows = 0
        self._bytes = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._pending.append(table)
        self._rows += table.num_rows
        self._bytes += table.nbytes
        if self._rows >= ROW_GROUP_ROWS or self._bytes >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            table = pa.concat_tables(self._pending)
            self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self._pending, self._rows, self._bytes = [], 0, 0

    def close(self) -> tuple[int, str]:
        try:
            self._flush()
            self._writer.close()
        except BaseException:  # the last row group or the footer could not be written
            self.abort()
            raise
        return self.file.commit()

    def abort(self) -> None:
        try:
            self._pending = []
            self._writer.close()
        except Exception:  # noqa: BLE001 - the file is thrown away: a failing flush is moot
            pass
        finally:
            self.file.abort()
