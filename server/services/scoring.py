"""`congestion score`: bulk scoring of a flow log with the server's features, fast runtime and window state.

Streams the input in chunks, so memory depends on the chunk size, not the file size; writes the input
columns plus `probability`, `prediction`, `version` (and top-N SHAP contributions) atomically.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from server.config import Config
from server.errors import IntegrityFailure
from server.ml.errors import DataError
from server.ml.schema import FLOW_COLUMNS, HOUR
from server.services.batch_features import StreamWindows, feature_matrix
from server.services.inference import ServingBundle, build_bundle
from server.services.scoring_io import AtomicTableWriter, BadRow, Chunk, FlowReader, rename_columns
from server.services.scoring_rows import CheckedChunk, check_chunk, missing_columns
from server.store.blobs import LocalBlobStore
from server.store.errors import BlobIntegrityError, BlobNotFound

log = logging.getLogger(__name__)

OUTPUT_COLUMNS = ("probability", "prediction", "version")
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

    @classmethod
    def from_args(cls, args: Any) -> "ScoreOptions":
        """From the `score` subcommand's argparse namespace."""
        return cls(Path(args.data), Path(args.out), args.version, args.threshold, args.explain,
                   args.on_error, args.chunk_rows, not args.no_progress)


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

    @property
    def rows_per_s(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


async def load_bundle(config: Config, tag: str | None) -> ServingBundle:
    """The active version (or `tag`), read through the registry with every blob's hash checked."""
    from server.commands import open_registry
    from server.store import repo

    async with open_registry(config) as (sessions, _registry, _hub):
        async with sessions() as session:
            version = await repo.get_version_by_tag(session, tag) if tag else await repo.active_version(session)
        if version is None:
            raise DataError("no model version is active; train one first (congestion pipeline)")
        if version.pruned:
            raise DataError(f"model version {version.tag} was pruned; its artifacts are gone")
        by_kind = {a.kind: a for a in version.artifacts}
        try:
            return await asyncio.to_thread(build_bundle, version, by_kind, LocalBlobStore(Path(config.storage.blob_dir)))
        except (BlobIntegrityError, BlobNotFound) as exc:
            raise IntegrityFailure(f"model version {version.tag} failed verification: {exc}") from None


def score_file(bundle: ServingBundle, options: ScoreOptions, *, max_window_keys: int,
               column_map: dict[str, str] | None = None, threshold: float = 0.5,
               on_bad: Callable[[BadRow], None] | None = None) -> ScoreReport:
    """Score options.data into options.out; DataError (and no output) on a bad row with on_error=fail."""
    from tqdm import tqdm

    if options.out.resolve() == options.data.resolve():
        raise DataError("--out must differ from --data")
    threshold = options.threshold if options.threshold is not None else threshold
    reader = FlowReader(options.data, options.chunk_rows)
    columns = rename_columns(reader.columns, column_map or {})
    missing_columns(columns)
    windows = StreamWindows.for_bundle(bundle, max_window_keys)
    report = ScoreReport(bundle.version)
    started = time.perf_counter()

    def finish(chunk: Chunk, checked: CheckedChunk, X: np.ndarray) -> None:
        """Predict and write one chunk (worker thread: GTIL and the Parquet writer release the GIL)."""
        probability = bundle.runtime.positive_proba(X) if len(X) else np.empty(0)  # type: ignore[union-attr]
        writer.write(_output(chunk.table, checked, columns, probability, threshold, bundle, X, options.explain))
        bar.update(chunk.table.num_rows)

    # Two stages on two cores: this thread reads, checks and builds features for chunk k+1 while the
    # worker predicts and writes chunk k. One chunk in flight keeps memory at about three chunks.
    with contextlib.closing(reader), AtomicTableWriter(options.out) as writer, tqdm(
            total=reader.total_rows, unit=" rows", unit_scale=True, desc="scoring", file=sys.stderr,
            disable=not options.progress, dynamic_ncols=True) as bar, ThreadPoolExecutor(1) as worker:
        pending: Future | None = None  # the executor's exit waits for it, so the writer never closes mid-table
        for chunk in reader:
            checked = check_chunk(chunk.table, columns, chunk.lines)
            last = int(chunk.lines[-1]) if len(chunk.lines) else None
            dropped = reader.drain_bad_rows(last)  # rows the CSV parser could not split into fields
            report.rows_read += len(dropped)
            _record_bad(report, dropped + checked.bad, options.on_error, on_bad)
            X = feature_matrix(bundle, checked.frame, windows.aggregates(checked.frame))
            if pending is not None:
                pending.result()
            pending = worker.submit(finish, chunk, checked, X)
            report.rows_read += chunk.table.num_rows
            report.rows_scored += len(X)
        dropped = reader.drain_bad_rows()
        report.rows_read += len(dropped)
        _record_bad(report, dropped, options.on_error, on_bad)
        if pending is not None:
            pending.result()
        if report.rows_read == 0:
            raise DataError("the file has a header but no data rows")
    report.seconds = time.perf_counter() - started
    report.online_reason = windows.online_reason
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


def _output(table: pa.Table, checked, columns: dict[str, str], probability: np.ndarray, threshold: float,
            bundle: ServingBundle, X: np.ndarray, explain: int) -> pa.Table:
    """Good input rows (schema columns as the model read them) plus the scores."""
    kept = table.filter(pa.array(checked.ok)) if not checked.ok.all() else table
    for name in FLOW_COLUMNS:
        if name in columns and (name != HOUR or HOUR in columns):
            index = kept.schema.get_field_index(columns[name])
            kept = kept.set_column(index, columns[name], pa.array(checked.frame[name].to_numpy()))
    extra = {"probability": pa.array(probability, pa.float64()),
             "prediction": pa.array((probability >= threshold).astype(np.int8)),
             "version": pa.array([bundle.version] * len(probability), pa.string())}
    if explain > 0:
        extra.update(_explanations(bundle, X, explain))
    for name, values in extra.items():
        if name in kept.column_names:
            kept = kept.drop_columns([name])
        kept = kept.append_column(name, values)
    return kept


def _explanations(bundle: ServingBundle, X: np.ndarray, n: int) -> dict[str, pa.Array]:
    """Top-n features by |SHAP| per row: explain_<k>_feature and explain_<k>_shap (probability units)."""
    names = np.asarray(bundle.feature_names, dtype=object)
    n = min(n, len(names))
    if len(X):
        values, _, _ = bundle.explainer.shap_values(X)  # type: ignore[union-attr]
    else:
        values = np.empty((0, len(names)))
    top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n]
    rows = np.arange(len(X))[:, None]
    out: dict[str, pa.Array] = {}
    for k in range(n):
        out[f"explain_{k + 1}_feature"] = pa.array(names[top[:, k]].tolist() if len(X) else [], pa.string())
        out[f"explain_{k + 1}_shap"] = pa.array(values[rows[:, 0], top[:, k]] if len(X) else [], pa.float64())
    return out


def run(config: Config, options: ScoreOptions) -> int:
    """CLI entry: load the model, score, print a summary; 1 when no row could be scored."""
    if options.on_error not in ("skip", "fail"):
        raise DataError("--on-error must be skip or fail")
    if options.threshold is not None and not 0.0 <= options.threshold <= 1.0:
        raise DataError("--threshold must be a number between 0 and 1")
    if options.explain < 0 or options.chunk_rows < 1:
        raise DataError("--explain must be >= 0 and --chunk-rows >= 1")
    bundle = asyncio.run(load_bundle(config, options.version))
    for warning in bundle.alignment.warnings if bundle.alignment else ():
        print(f"warning: {warning}", file=sys.stderr)

    def show(row: BadRow) -> None:
        print(f"skipped {row}", file=sys.stderr)

    report = score_file(bundle, options, max_window_keys=config.features.max_window_keys,
                        column_map=dict(config.data.column_map), threshold=config.api.default_threshold,
                        on_bad=show)
    if report.bad_count > len(report.bad_rows):
        print(f"... and {report.bad_count - len(report.bad_rows)} more bad row(s)", file=sys.stderr)
    if report.online_reason:
        print(f"note: window aggregates were computed record by record: {report.online_reason}", file=sys.stderr)
    print(f"scored {report.rows_scored} of {report.rows_read} rows with version {report.version} "
          f"in {report.seconds:.1f} s ({report.rows_per_s:,.0f} rows/s), {report.bad_count} skipped -> {options.out}")
    return 0 if report.rows_scored or not report.rows_read else 1
