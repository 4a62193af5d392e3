"""Runs record the server process that executes them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00

``training_runs.owner`` is ``"<hostname>:<pid>:<start>"`` (see ``server/store/run_owner.py``)
so that a starting server marks as interrupted only the runs whose process is provably gone,
not those another live server is executing. Existing runs get NULL, read as "owner unknown".

Downgrading drops the column: only the owner text is lost, which matters solely while a run
is in flight (the older code then treats every open run as orphaned, as it always did).
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add the nullable owner column."""
    with op.batch_alter_table("training_runs") as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=255), nullable=True))


def downgrade() -> None:
    """Drop the owner column (its text is lost)."""
    with op.batch_alter_table("training_runs") as batch_op:
        batch_op.drop_column("owner")
