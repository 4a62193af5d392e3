"""Bulk scoring output: an atomic streaming CSV/Parquet writer (renamed into place only on success)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from server.ml.ingest import _kind  # one definition of which suffixes are CSV and which Parquet


class AtomicTableWriter:
    """Writes tables to a temp file beside `path` and renames it into place only on success."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.kind = _kind(self.path)
        self._tmp: Path | None = None
        self._writer: Any = None
        self._schema: pa.Schema | None = None  # kept here: pyarrow's CSVWriter does not expose its schema
        self.rows = 0

    def __enter__(self) -> "AtomicTableWriter":
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        return self

    def write(self, table: pa.Table) -> None:
        """Append rows; the first table fixes the schema."""
        if self._writer is None:
            self._schema = table.schema
            if self.kind == "parquet":
                self._writer = pq.ParquetWriter(self._tmp, table.schema)
            else:
                self._writer = pacsv.CSVWriter(self._tmp, table.schema)
        elif table.schema != self._schema:
            table = table.cast(self._schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._tmp is not None
        try:
            if self._writer is not None:
                self._writer.close()
            if exc_type is None:
                with open(self._tmp, "rb") as fh:
                    os.fsync(fh.fileno())
                os.replace(self._tmp, self.path)
        finally:
            self._tmp.unlink(missing_ok=True)
