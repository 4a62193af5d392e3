"""The store's repository API: async functions taking an AsyncSession, returning records.

Callers own the transaction (``async with sm.begin() as session:`` for writes); functions
only flush. Implementations live in ``repo_runs``, ``repo_versions``, ``repo_artifacts`` and
``repo_events``.
"""

from server.store.repo_artifacts import (
    artifact_by_name,
    artifacts_for_version,
    referenced_sha256s,
)
from server.store.repo_events import (
    activate,
    active_version,
    active_version_at,
    active_version_id_at,
    add_event,
    list_events,
    mark_pruned,
    metrics_history,
    prune_candidates,
)
from server.store.repo_runs import (
    INTERRUPTED_MESSAGE,
    create_run,
    finish_run,
    get_run,
    list_runs,
    mark_interrupted_runs,
    record_phase_finished,
    record_phase_started,
    running_run,
    set_run_status,
)
from server.store.repo_versions import (
    check_tag,
    get_version,
    get_version_by_tag,
    list_versions,
    next_tag,
    register_version,
)

__all__ = [
    "INTERRUPTED_MESSAGE",
    "activate",
    "active_version",
    "active_version_at",
    "active_version_id_at",
    "add_event",
    "artifact_by_name",
    "artifacts_for_version",
    "check_tag",
    "create_run",
    "finish_run",
    "get_run",
    "get_version",
    "get_version_by_tag",
    "list_events",
    "list_runs",
    "list_versions",
    "mark_interrupted_runs",
    "mark_pruned",
    "metrics_history",
    "next_tag",
    "prune_candidates",
    "record_phase_finished",
    "record_phase_started",
    "referenced_sha256s",
    "register_version",
    "running_run",
    "set_run_status",
]
