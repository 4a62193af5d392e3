"""`congestion score`: load the version from the registry, run the job, print a summary."""
from __future__ import annotations

import asyncio
import sys

from server.config import Config
from server.errors import IntegrityFailure
from server.ml.errors import DataError
from server.scoring.job import ScoreOptions, score_file
from server.scoring.reader import BadRow
from server.services.inference import ServingBundle, build_bundle
from server.store.blob_factory import open_blob_store
from server.store.errors import BlobIntegrityError, BlobNotFound


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
            return await asyncio.to_thread(build_bundle, version, by_kind, open_blob_store(config.storage))
        except (BlobIntegrityError, BlobNotFound) as exc:
            raise IntegrityFailure(f"model version {version.tag} failed verification: {exc}") from None


def run(config: Config, options: ScoreOptions) -> int:
    """CLI entry: load the model, score, print a summary; 1 when no row could be scored."""
    if options.on_error not in ("skip", "fail"):
        raise DataError("--on-error must be skip or fail")
    if options.threshold is not None and not 0.0 <= options.threshold <= 1.0:
        raise DataError("--threshold must be a number between 0 and 1")
    if options.explain < 0 or options.chunk_rows < 1:
        raise DataError("--explain must be >= 0 and --chunk-rows >= 1")
    if options.explain_processes is not None and options.explain_processes < 1:
        raise DataError("--explain-processes must be >= 1")
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
    if report.quality is not None:
        print(report.quality)
    return 0 if report.rows_scored or not report.rows_read else 1
