"""Where a CSV record starts: pyarrow numbers records, a bad record's report wants its line."""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Iterator
from typing import BinaryIO

from corpus_scan.documents import ShardReadError, Source
from corpus_scan.sources.streams import ChunkReader, StreamError, iter_chunks, open_binary

MAX_FIELD = 16 << 20  # the CSV reader's block size: pyarrow's own limit on one record


class PhysicalLines:
    """Record number (pyarrow's: 1-based, header included, empty lines skipped) -> the
    physical line where the record starts, by a second pass over the file that starts at the
    first lookup and goes only as far as the records asked for. Lookups come nearly in order
    (a batch's ragged rows are looked up before its other bad rows), so the start lines of
    the last `RECENT` records are kept for a lookup that goes back."""

    RECENT = 1 << 15

    def __init__(self, source: Source) -> None:
        self._source = source
        self._reader: Iterator[list[str]] | None = None
        self._fh: BinaryIO | None = None
        self._record = 0  # records passed so far
        self._line_end = 0  # physical line on which the last record read ended
        self._start = 0  # start line of record number `self._record`
        self._failed = False
        self._recent: deque[int] = deque(maxlen=self.RECENT)  # starts of the last records

    def line(self, record: int) -> int | None:
        if self._failed or record < 1:
            return None
        if record <= self._record:  # asked before: from the recent starts, if still there
            back = self._record - record
            return self._recent[-1 - back] if back < len(self._recent) else None
        try:
            if self._reader is None:
                self._open()
            while self._record < record:
                row = next(self._reader)  # type: ignore[arg-type]
                start = self._line_end + 1
                self._line_end = self._reader.line_num  # type: ignore[attr-defined]
                if row:  # an empty line is no record (pyarrow skips it too)
                    self._record += 1
                    self._start = start
                    self._recent.append(start)
            return self._start
        except (StopIteration, csv.Error, OSError, ShardReadError, StreamError, ValueError):
            self._failed = True  # the main reader reports what is wrong with the file
            return None

    def _open(self) -> None:
        self._fh = open_binary(self._source.path)
        chunks = ChunkReader(iter_chunks(self._fh, self._source.compression))
        text = io.TextIOWrapper(io.BufferedReader(chunks, 1 << 20), encoding="utf-8",
                                errors="replace", newline="")
        csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD))
        self._reader = csv.reader(text)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
