"""Append-only model events; runs point at the version they produced.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:05:00

``training_runs.version_id`` is added here rather than in 0001 because runs and versions
reference each other: creating it with the table would need the FK before
``model_versions`` exists, which PostgreSQL refuses. On SQLite the batch operation copies
the table, which is why migrations run with ``PRAGMA foreign_keys=OFF``.
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


def downgrade() -> None:
    """Drop the run -> version link and the event log (its history is lost)."""
    with op.batch_alter_table("training_runs") as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_runs_version_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_training_runs_version_id_model_versions"), type_="foreignkey"
        )
        batch_op.drop_column("version_id")
    op.drop_index(op.f("ix_model_events_version_id"), table_name="model_events")
    op.drop_index(op.f("ix_model_events_created_at"), table_name="model_events")
    op.drop_table("model_events")
