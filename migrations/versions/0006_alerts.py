"""Drift reports per window, alerts and the webhook delivery log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:30:00

Downgrading drops the three tables: alerts and their delivery log are lost (export them first
with ``SELECT * FROM alerts``). The ``profile`` artifact kind comes with 0005.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create drift_windows, alerts and webhook_deliveries."""
    op.create_table(
        "drift_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=15), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_windows")),
    )
    op.create_index(op.f("ix_drift_windows_window_start"), "drift_windows", ["window_start"])
    op.create_index("uq_drift_windows_version_window_start", "drift_windows", ["version", "window_start"], unique=True)
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=15), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_window_start", sa.BigInteger(), nullable=True),
        sa.Column("resolved_evidence", sa.JSON(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_opened_at"), "alerts", ["opened_at"])
    op.create_index(op.f("ix_alerts_resolved_at"), "alerts", ["resolved_at"])
    op.create_index("ix_alerts_rule_version", "alerts", ["rule", "version"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ('delivered', 'retrying', 'failed', 'dropped')",
                           name=op.f("ck_webhook_deliveries_outcome")),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_webhook_deliveries_alert_id_alerts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(op.f("ix_webhook_deliveries_alert_id"), "webhook_deliveries", ["alert_id"])
    op.create_index(op.f("ix_webhook_deliveries_message_id"), "webhook_deliveries", ["message_id"])


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("webhook_deliveries")
    op.drop_table("alerts")
    op.drop_table("drift_windows")
