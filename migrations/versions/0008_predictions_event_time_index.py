"""Flow lookups on the prediction log through an event-time-first index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 07:00:00

Feedback without prediction ids matches (source_ip, dest_ip, timestamp_seconds) by equality,
which any column order of the index answers. Leading with the source address scattered every
logged prediction over the whole index: on a log of ~900k rows that random insert was ~12 of the
~16 µs SQLite spent per row, on the serving process (bench/log_writer.py). Traffic arrives
roughly in event-time order, so an index led by `timestamp_seconds` takes its inserts near its
end, and it also serves the event-time range queries of the README.
"""

from typing import Sequence, Union

from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Replace ix_predictions_flow with ix_predictions_event_time."""
    op.create_index("ix_predictions_event_time", "predictions", ["timestamp_seconds", "source_ip", "dest_ip"])
    op.drop_index("ix_predictions_flow", table_name="predictions")


def downgrade() -> None:
    """Back to the address-first flow index."""
    op.create_index("ix_predictions_flow", "predictions", ["source_ip", "dest_ip", "timestamp_seconds"])
    op.drop_index("ix_predictions_event_time", table_name="predictions")
