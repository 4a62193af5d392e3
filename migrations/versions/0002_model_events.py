"""Append-only model events; runs point at the version they produced.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:05:00

``training_runs.version_id`` is added here rather than in 0001 because runs and versions
reference each other: creating it with the table would need the FK before
``model_versions`` exists, which PostgreSQL refuses. On SQLite the batch operation copies
the table, which is why migrations run with ``PRAGMA foreign_keys=OFF``.

Downgrading must not lose history: the event rows are parked in ``model_events_archive``
(a plain copy, no constraints) and restored by the next upgrade; the run -> version links
are derived again from ``model_versions.run_id``.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create model_events and link runs to their version."""
    op.create_table(
        "model_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("from_version_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "actor IN ('api', 'cli', 'startup', 'system')", name=op.f("ck_model_events_actor")
        ),
        sa.CheckConstraint(
            "kind IN ('trained', 'activated', 'rolled_back', 'pruned')",
            name=op.f("ck_model_events_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["from_version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_events_from_version_id_model_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_events_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_events")),
    )
    op.create_index(op.f("ix_model_events_created_at"), "model_events", ["created_at"])
    op.create_index(op.f("ix_model_events_version_id"), "model_events", ["version_id"])

    with op.batch_alter_table("training_runs") as batch_op:
        batch_op.add_column(sa.Column("version_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_training_runs_version_id_model_versions"),
            "model_versions",
            ["version_id"],
            ["id"],
        )
        batch_op.create_index(batch_op.f("ix_training_runs_version_id"), ["version_id"])
    _restore_history()


EVENT_COLUMNS = "id, kind, version_id, from_version_id, actor, reason, created_at"


def _restore_history() -> None:
    """Bring back events parked by a downgrade and re-link runs to the versions they made."""
    if sa.inspect(op.get_bind()).has_table("model_events_archive"):
        op.execute(
            f"INSERT INTO model_events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} "
            "FROM model_events_archive AS a "
            "WHERE a.version_id IN (SELECT id FROM model_versions) "
            "AND (a.from_version_id IS NULL OR a.from_version_id IN (SELECT id FROM model_versions)) "
            "ORDER BY a.id"
        )
        op.drop_table("model_events_archive")
        if op.get_bind().dialect.name == "postgresql":  # explicit ids left the sequence behind
            op.execute("SELECT setval(pg_get_serial_sequence('model_events', 'id'), "
                       "coalesce(max(id), 0) + 1, false) FROM model_events")
    op.execute(
        "UPDATE training_runs SET version_id = "
        "(SELECT min(v.id) FROM model_versions AS v WHERE v.run_id = training_runs.id)"
    )


def downgrade() -> None:
    """Drop the run -> version link and the event log, parking the events for a later upgrade."""
    op.execute(f"CREATE TABLE model_events_archive AS SELECT {EVENT_COLUMNS} FROM model_events")
    with op.batch_alter_table("training_runs") as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_runs_version_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_training_runs_version_id_model_versions"), type_="foreignkey"
        )
        batch_op.drop_column("version_id")
    op.drop_index(op.f("ix_model_events_version_id"), table_name="model_events")
    op.drop_index(op.f("ix_model_events_created_at"), table_name="model_events")
    op.drop_table("model_events")
