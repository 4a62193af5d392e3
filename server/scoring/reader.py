"""Bulk scoring input: chunked CSV/Parquet readers that keep each row's data line number."""
from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from server.ml.errors import DataError
from server.ml.ingest import _kind  # one definition of which suffixes are CSV and which Parquet

SAMPLE_BYTES = 64 * 1024
MIN_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class BadRow:
    """A row that cannot be scored: its 1-based data line, the column (None: the whole row), why."""

    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"column '{self.column}': " if self.column else ""
        return f"line {self.line}: {where}{self.reason}"


@dataclass(frozen=True)
class Chunk:
    """Rows as read (all input columns) and the 1-based data line of each."""

    table: pa.Table
    lines: np.ndarray


class FlowReader:
    """Streams a flow file in chunks of about `chunk_rows`; CSV rows with a wrong field count become BadRows."""

    def __init__(self, path: str | os.PathLike, chunk_rows: int) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"file not found: {self.path.name}")
        if self.path.stat().st_size == 0:
            raise DataError("the file is empty")
        self.kind = _kind(self.path)
        self.chunk_rows = max(1, int(chunk_rows))
        self.total_rows: int | None = None       # exact (Parquet metadata), else None
        self.estimated_rows: int | None = None   # CSV: from the file size and sampled line lengths
        self._malformed: list[int] = []   # data lines the CSV parser dropped, in file order
        self._pending: list[BadRow] = []
        self._file: Any = None
        self._csv: Any = None
        if self.kind == "parquet":
            try:
                self._file = pq.ParquetFile(self.path)
            except Exception as exc:  # noqa: BLE001 - arrow's errors vary by corruption; the user needs one line
                raise DataError(f"could not read the file: {exc}") from None
            self.total_rows = self._file.metadata.num_rows
            self.columns = list(self._file.schema_arrow.names)
        else:
            self.columns = self._csv_header()

    def _csv_header(self) -> list[str]:
        with open(self.path, "rb") as fh:
            sample = fh.read(SAMPLE_BYTES)
            header, _, rest = sample.partition(b"\n")
            names = next(csv.reader([header.decode("utf-8", "replace").rstrip("\r")]), [])
            if not any(n.strip() for n in names):
                raise DataError("the file has no header row")
            rows = max(1, rest.count(b"\n"))
            self._row_bytes = max(16, len(rest) // rows)
            data_bytes = self.path.stat().st_size - len(header) - 1
            self.estimated_rows = max(1, round(data_bytes / _mean_line_bytes(fh, len(header) + 1, data_bytes)))
        return names

    def close(self) -> None:
        """Release the CSV reader now: arrow aborts the process if it is torn down at interpreter exit."""
        if self._csv is not None:
            self._csv.close()
            self._csv = None

    def drain_bad_rows(self, through_line: int | None = None) -> list[BadRow]:
        """Rows the parser dropped (up to a data line; the parser reads ahead) not drained before."""
        if through_line is None:
            out, self._pending = self._pending, []
        else:
            out = [b for b in self._pending if b.line <= through_line]
            self._pending = [b for b in self._pending if b.line > through_line]
        return out

    def _on_invalid(self, row: Any) -> str:
        line = int(row.number) - 1 if row.number is not None else -1  # number counts the header row
        self._malformed.append(line)
        self._pending.append(BadRow(line, None, f"expected {row.expected_columns} fields, found {row.actual_columns}"))
        return "skip"

    def _csv_lines(self, first: int, n: int) -> np.ndarray:
        """Data lines of parsed rows first..first+n-1, accounting for the malformed rows skipped before them."""
        k = np.arange(first, first + n, dtype=np.int64)
        m = np.asarray(self._malformed, dtype=np.int64)
        before = m - 1 - np.arange(len(m))   # parsed rows preceding each malformed row
        return k + 1 + np.searchsorted(before, k, side="right")

    def __iter__(self) -> Iterator[Chunk]:
        if self.kind == "parquet":
            seen = 0
            for batch in self._file.iter_batches(batch_size=self.chunk_rows):
                yield Chunk(pa.Table.from_batches([batch]), np.arange(seen + 1, seen + 1 + batch.num_rows))
                seen += batch.num_rows
            return
        yield from self._iter_csv()

    def _iter_csv(self) -> Iterator[Chunk]:
        block = max(MIN_BLOCK_BYTES, self._row_bytes * self.chunk_rows)  # a block must hold any single row
        read = pacsv.ReadOptions(use_threads=False, block_size=block)
        parse = pacsv.ParseOptions(invalid_row_handler=self._on_invalid, newlines_in_values=True)
        convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in self.columns},
                                       strings_can_be_null=False, quoted_strings_can_be_null=False)
        try:
            reader = pacsv.open_csv(self.path, read_options=read, parse_options=parse, convert_options=convert)
        except pa.ArrowInvalid as exc:
            raise DataError(f"could not read the file: {exc}") from None
        self._csv = reader
        seen = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise DataError(f"could not read the file after data line {seen}: {exc}") from None
            table, lines = pa.Table.from_batches([batch]), self._csv_lines(seen, batch.num_rows)
            for start in range(0, batch.num_rows, self.chunk_rows):
                yield Chunk(table.slice(start, self.chunk_rows), lines[start:start + self.chunk_rows])
            seen += batch.num_rows


def _mean_line_bytes(fh: Any, start: int, size: int) -> float:
    """Mean data line length from samples at the start, middle and end (whole lines only)."""
    lines = length = 0
    for offset in sorted({start, start + max(0, size // 2 - SAMPLE_BYTES // 2), start + max(0, size - SAMPLE_BYTES)}):
        fh.seek(offset)
        sample = fh.read(SAMPLE_BYTES)
        if offset > start:  # drop the partial line the sample starts in
            sample = sample.partition(b"\n")[2]
        whole = sample[:sample.rfind(b"\n") + 1] if sample.count(b"\n") else b""
        lines += whole.count(b"\n")
        length += len(whole)
    return length / lines if lines else max(1, size)


def rename_columns(names: list[str], column_map: Mapping[str, str]) -> dict[str, str]:
    """Schema name -> the file's column name, after the configured map and trimming/lower-casing (as ingest)."""
    out: dict[str, str] = {}
    for name in names:
        mapped = str(column_map.get(name, name)).strip().lower()
        out.setdefault(mapped, name)
    return out
