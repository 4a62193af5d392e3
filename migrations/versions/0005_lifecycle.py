"""Model lifecycle decisions: promotion evidence, shadows, audited thresholds, hold-out artifacts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:00:00

``model_events`` gains an ``evidence`` JSON column and the kinds ``promoted`` (an activation
decided on evidence), ``rejected``/``held`` (the promotion gate kept the active version),
``shadow_started``/``shadow_stopped`` and ``threshold_changed``; ``kind`` widens to 32
characters for the latter. The actor ``rule`` marks decisions the server took by itself.
``artifacts`` may hold ``holdout``, ``calibrator`` and ``profile`` files.

Downgrading must not lose history nor change which version serves: every row the old
constraints would refuse is parked in full in ``lifecycle_archive_*`` tables, ``promoted``
rows stay as ``activated`` (by ``system``), the other new kinds leave the log until the next
upgrade puts every parked row back as it was.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_EVENT_KINDS = ("trained", "activated", "rolled_back", "pruned")
NEW_EVENT_KINDS = OLD_EVENT_KINDS + ("promoted", "rejected", "held", "shadow_started",
                                     "shadow_stopped", "threshold_changed")
OLD_ACTORS = ("api", "cli", "startup", "system")
NEW_ACTORS = OLD_ACTORS + ("rule",)
OLD_ARTIFACT_KINDS = ("pipeline", "preprocessor", "metrics", "shap", "distribution", "plot")
NEW_ARTIFACT_KINDS = OLD_ARTIFACT_KINDS + ("holdout", "calibrator", "profile")
EVENT_COLUMNS = "id, kind, version_id, from_version_id, actor, reason, created_at"
ARTIFACT_COLUMNS = "id, version_id, kind, name, sha256, size_bytes, content_type"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _has(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    """Widen the constraints, add evidence, then restore rows a downgrade parked."""
    with op.batch_alter_table("model_events") as batch_op:
        batch_op.drop_constraint(op.f("ck_model_events_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_model_events_actor"), type_="check")
        batch_op.alter_column("kind", type_=sa.String(length=32), existing_type=sa.String(length=16),
                              existing_nullable=False)
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.create_check_constraint("kind", _in("kind", NEW_EVENT_KINDS))
        batch_op.create_check_constraint("actor", _in("actor", NEW_ACTORS))
    with op.batch_alter_table("artifacts") as batch_op:
        batch_op.drop_constraint(op.f("ck_artifacts_kind"), type_="check")
        batch_op.create_check_constraint("kind", _in("kind", NEW_ARTIFACT_KINDS))
    _restore_parked()


def _restore_parked() -> None:
    if _has("lifecycle_archive_events"):
        op.execute("DELETE FROM model_events WHERE id IN (SELECT id FROM lifecycle_archive_events)")
        op.execute(f"INSERT INTO model_events ({EVENT_COLUMNS}, evidence) "
                   f"SELECT {EVENT_COLUMNS}, evidence FROM lifecycle_archive_events "
                   "WHERE version_id IN (SELECT id FROM model_versions) ORDER BY id")
        op.drop_table("lifecycle_archive_events")
    if _has("lifecycle_archive_artifacts"):
        op.execute(f"INSERT INTO artifacts ({ARTIFACT_COLUMNS}) SELECT {ARTIFACT_COLUMNS} "
                   "FROM lifecycle_archive_artifacts "
                   "WHERE version_id IN (SELECT id FROM model_versions) ORDER BY id")
        op.drop_table("lifecycle_archive_artifacts")
    if op.get_bind().dialect.name == "postgresql":  # explicit ids left the sequences behind
        for table in ("model_events", "artifacts"):
            op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"coalesce(max(id), 0) + 1, false) FROM {table}")


def downgrade() -> None:
    """Park what the old constraints refuse; keep promotions as activations meanwhile."""
    new_kind = f"NOT ({_in('kind', OLD_EVENT_KINDS)})"
    refused = f"({new_kind} OR NOT ({_in('actor', OLD_ACTORS)}) OR evidence IS NOT NULL)"
    op.execute(f"CREATE TABLE lifecycle_archive_events AS SELECT {EVENT_COLUMNS}, evidence "
               f"FROM model_events WHERE {refused}")
    op.execute(f"CREATE TABLE lifecycle_archive_artifacts AS SELECT {ARTIFACT_COLUMNS} "
               f"FROM artifacts WHERE NOT ({_in('kind', OLD_ARTIFACT_KINDS)})")
    op.execute(f"DELETE FROM artifacts WHERE NOT ({_in('kind', OLD_ARTIFACT_KINDS)})")
    op.execute("UPDATE model_events SET kind = 'activated' WHERE kind = 'promoted'")
    op.execute(f"DELETE FROM model_events WHERE {new_kind}")
    op.execute("UPDATE model_events SET actor = 'system' WHERE actor = 'rule'")
    with op.batch_alter_table("artifacts") as batch_op:
        batch_op.drop_constraint(op.f("ck_artifacts_kind"), type_="check")
        batch_op.create_check_constraint("kind", _in("kind", OLD_ARTIFACT_KINDS))
    with op.batch_alter_table("model_events") as batch_op:
        batch_op.drop_constraint(op.f("ck_model_events_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_model_events_actor"), type_="check")
        batch_op.drop_column("evidence")
        batch_op.alter_column("kind", type_=sa.String(length=16), existing_type=sa.String(length=32),
                              existing_nullable=False)
        batch_op.create_check_constraint("kind", _in("kind", OLD_EVENT_KINDS))
        batch_op.create_check_constraint("actor", _in("actor", OLD_ACTORS))
