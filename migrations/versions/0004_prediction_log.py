"""The prediction log: logged predictions and labels, log writers, per-window aggregate states.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00

Downgrading drops the three tables, and with them the logged predictions and labels: export
them first (``SELECT * FROM predictions``) if they matter.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create predictions, monitoring_writers and monitoring_window_states."""
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("timestamp_seconds", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.String(length=15), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=False),
        sa.Column("dest_ip", sa.String(length=64), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("prediction", sa.SmallInteger(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("label", sa.SmallInteger(), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
    )
    op.create_index("ix_predictions_window", "predictions", ["window_start", "version"])
    op.create_index("ix_predictions_flow", "predictions", ["source_ip", "dest_ip", "timestamp_seconds"])
    op.create_table(
        "monitoring_writers",
        sa.Column("node", sa.String(length=8), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clean", sa.Boolean(), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("logged", sa.BigInteger(), nullable=False),
        sa.Column("sampled_out", sa.BigInteger(), nullable=False),
        sa.Column("dropped", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node", name=op.f("pk_monitoring_writers")),
    )
    op.create_table(
        "monitoring_window_states",
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.String(length=15), nullable=False),
        sa.Column("node", sa.String(length=8), nullable=False),
        sa.Column("part", sa.String(length=32), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("window_start", "version", "node", "part",
                                name=op.f("pk_monitoring_window_states")),
    )
    op.create_index(op.f("ix_monitoring_window_states_updated_at"), "monitoring_window_states",
                    ["updated_at"])


def downgrade() -> None:
    """Drop the log tables (their rows are lost)."""
    op.drop_index(op.f("ix_monitoring_window_states_updated_at"), table_name="monitoring_window_states")
    op.drop_table("monitoring_window_states")
    op.drop_table("monitoring_writers")
    op.drop_index("ix_predictions_flow", table_name="predictions")
    op.drop_index("ix_predictions_window", table_name="predictions")
    op.drop_table("predictions")
