"""Shadow challengers' predictions, joined to the prediction log on the prediction id.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:55:00

Downgrading drops the table: shadow scores are evidence for a comparison still in progress;
the decisions taken on them live in ``model_events.evidence``, which 0005 keeps.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create shadow_predictions and its per-version window index."""
    op.create_table(
        "shadow_predictions",
        sa.Column("prediction_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=15), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("prediction", sa.SmallInteger(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("prediction_id", "version", name=op.f("pk_shadow_predictions")),
    )
    op.create_index("ix_shadow_predictions_version_window", "shadow_predictions", ["version", "window_start"])


def downgrade() -> None:
    """Drop the shadow scores (see the module docstring)."""
    op.drop_index("ix_shadow_predictions_version_window", table_name="shadow_predictions")
    op.drop_table("shadow_predictions")
