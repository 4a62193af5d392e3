"""One bulk scoring job: stream a flow file in chunks through the server's features, runtime and windows.

Memory depends on the chunk size, not the file size; the output is written atomically.
"""
from __future__ import annotations

import contextlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from server.ml.errors import DataError
from server.ml.schema import LABEL
from server.scoring.explain import ChunkExplainer, auto_processes
from server.scoring.features import StreamWindows, feature_matrix
from server.scoring.output import output_table
from server.scoring.progress import ScoreProgress
from server.scoring.quality import FileQuality, QualityCounter
from server.scoring.reader import BadRow, Chunk, FlowReader, rename_columns
from server.scoring.rows import CheckedChunk, check_chunk, label_values, missing_columns
from server.scoring.writer import AtomicTableWriter
from server.services.inference import ServingBundle

log = logging.getLogger(__name__)

SHOWN_BAD_ROWS = 20


@dataclass(frozen=True)
class ScoreOptions:
    """One scoring job, as the command line gives it."""

    data: Path
    out: Path
    version: str | None = None
    threshold: float | None = None
    explain: int = 0
    on_error: str = "skip"
    chunk_rows: int = 100_000
    progress: bool = True
    explain_processes: int | None = None  # None: every usable core for large inputs, else one

    @classmethod
    def from_args(cls, args: Any) -> "ScoreOptions":
        """From the `score` subcommand's argparse namespace."""
        return cls(Path(args.data), Path(args.out), args.version, args.threshold, args.explain,
                   args.on_error, args.chunk_rows, not args.no_progress, args.explain_processes)


@dataclass
class ScoreReport:
    """What a job did: rows read, scored and skipped (the first few named), and how fast."""

    version: str
    rows_read: int = 0
    rows_scored: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)
    bad_count: int = 0
    seconds: float = 0.0
    online_reason: str | None = None
    quality: FileQuality | None = None  # when the input has a label column

    @property
    def rows_per_s(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


def score_file(bundle: ServingBundle, options: ScoreOptions, *, max_window_keys: int,
               column_map: dict[str, str] | None = None, threshold: float = 0.5,
               on_bad: Callable[[BadRow], None] | None = None) -> ScoreReport:
    """Score options.data into options.out; DataError (and no output) on a bad row with on_error=fail."""
    if options.out.resolve() == options.data.resolve():
        raise DataError("--out must differ from --data")
    threshold = options.threshold if options.threshold is not None else threshold
    reader = FlowReader(options.data, options.chunk_rows)
    columns = rename_columns(reader.columns, column_map or {})
    missing_columns(columns)
    windows = StreamWindows.for_bundle(bundle, max_window_keys)
    report = ScoreReport(bundle.version)
    quality = QualityCounter(threshold) if LABEL in columns else None
    started = time.perf_counter()

    def finish(chunk: Chunk, checked: CheckedChunk, X: np.ndarray, labels: np.ndarray | None) -> None:
        """Predict and write one chunk (worker thread: GTIL and the Parquet writer release the GIL)."""
        probability = bundle.runtime.positive_proba(X) if len(X) else np.empty(0)  # type: ignore[union-attr]
        shap = None
        if options.explain > 0:
            shap = explainer.values(X) if len(X) else np.empty((0, len(bundle.feature_names)))
        writer.write(output_table(chunk.table, checked, columns, probability, threshold, bundle, shap,
                                  options.explain))
        if quality is not None and labels is not None:
            quality.add(labels, probability)
        progress.advance(chunk.table.num_rows)

    # Two stages on two cores: this thread reads, checks and builds features for chunk k+1 while the
    # worker predicts and writes chunk k. One chunk in flight keeps memory at about three chunks.
    finished = False
    with contextlib.closing(reader), AtomicTableWriter(options.out) as writer, contextlib.ExitStack() as stack, \
            ThreadPoolExecutor(1) as worker:
        progress = ScoreProgress(reader.total_rows, reader.estimated_rows, options.progress)
        stack.callback(lambda: progress.close(finished))
        processes = options.explain_processes or auto_processes(
            options.explain, reader.total_rows or reader.estimated_rows)
        explainer = ChunkExplainer(bundle.explainer, processes)
        stack.callback(explainer.close)  # after the worker's last chunk (exits run in reverse)
        pending: Future | None = None  # the executor's exit waits for it, so the writer never closes mid-table
        for chunk in reader:
            checked = check_chunk(chunk.table, columns, chunk.lines)
            labels = label_values(chunk.table, columns[LABEL], checked.ok) if quality is not None else None
            last = int(chunk.lines[-1]) if len(chunk.lines) else None
            dropped = reader.drain_bad_rows(last)  # rows the CSV parser could not split into fields
            report.rows_read += len(dropped)
            _record_bad(report, dropped + checked.bad, options.on_error, on_bad)
            X = feature_matrix(bundle, checked.frame, windows.aggregates(checked.frame))
            if pending is not None:
                pending.result()
            pending = worker.submit(finish, chunk, checked, X, labels)
            report.rows_read += chunk.table.num_rows
            report.rows_scored += len(X)
        dropped = reader.drain_bad_rows()
        report.rows_read += len(dropped)
        _record_bad(report, dropped, options.on_error, on_bad)
        if pending is not None:
            pending.result()
        if report.rows_read == 0:
            raise DataError("the file has a header but no data rows")
        finished = True
    report.seconds = time.perf_counter() - started
    report.online_reason = windows.online_reason
    report.quality = quality.result() if quality is not None else None
    return report


def _record_bad(report: ScoreReport, bad: list[BadRow], on_error: str, on_bad: Callable | None) -> None:
    if not bad:
        return
    bad.sort(key=lambda b: b.line)
    if on_error == "fail":
        shown = "; ".join(str(b) for b in bad[:5])
        raise DataError(f"bad row(s), nothing written (use --on-error skip to score the rest): {shown}")
    report.bad_count += len(bad)
    for row in bad:
        if len(report.bad_rows) < SHOWN_BAD_ROWS:
            report.bad_rows.append(row)
            if on_bad is not None:
                on_bad(row)
