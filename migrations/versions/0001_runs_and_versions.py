"""Runs, phases, versions, artifacts and metrics.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 07:00:00

Types are spelled out here (not imported from server.store.tables) so this file keeps
describing the schema of its time when the models change later.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the run log and the version tables."""
    op.create_table(
        "training_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("model_type", sa.String(length=64), nullable=False),
        sa.Column("config_snapshot", sa.JSON(), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')",
            name=op.f("ck_training_runs_status"),
        ),
        sa.CheckConstraint(
            "trigger IN ('api', 'api_sync', 'cli', 'startup')",
            name=op.f("ck_training_runs_trigger"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_runs")),
    )
    op.create_index(op.f("ix_training_runs_started_at"), "training_runs", ["started_at"])
    op.create_index(op.f("ix_training_runs_status"), "training_runs", ["status"])

    op.create_table(
        "run_phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["training_runs.id"],
            name=op.f("fk_run_phases_run_id_training_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_phases")),
    )
    op.create_index("uq_run_phases_run_id_name", "run_phases", ["run_id", "name"], unique=True)

    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=15), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("model_type", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("feature_names", sa.JSON(), nullable=False),
        sa.Column("data_summary", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("pruned_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["training_runs.id"], name=op.f("fk_model_versions_run_id_training_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("tag", name=op.f("uq_model_versions_tag")),
    )
    op.create_index(op.f("ix_model_versions_created_at"), "model_versions", ["created_at"])
    op.create_index(op.f("ix_model_versions_run_id"), "model_versions", ["run_id"])

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.CheckConstraint(
            "kind IN ('pipeline', 'preprocessor', 'metrics', 'shap', 'distribution', 'plot')",
            name=op.f("ck_artifacts_kind"),
        ),
        sa.CheckConstraint("length(sha256) = 64", name=op.f("ck_artifacts_sha256_length")),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_artifacts_size_bytes_positive")),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_artifacts_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
        sa.UniqueConstraint("name", name=op.f("uq_artifacts_name")),
    )
    op.create_index(op.f("ix_artifacts_sha256"), "artifacts", ["sha256"])
    op.create_index(op.f("ix_artifacts_version_id"), "artifacts", ["version_id"])

    op.create_table(
        "version_metrics",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("precision", sa.Float(), nullable=True),
        sa.Column("recall", sa.Float(), nullable=True),
        sa.Column("f1_score", sa.Float(), nullable=True),
        sa.Column("auc_roc", sa.Float(), nullable=True),
        sa.Column("pr_auc", sa.Float(), nullable=True),
        sa.Column("brier", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("best_f1_threshold", sa.Float(), nullable=False),
        sa.Column("tn", sa.Integer(), nullable=False),
        sa.Column("fp", sa.Integer(), nullable=False),
        sa.Column("fn", sa.Integer(), nullable=False),
        sa.Column("tp", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("features", sa.Integer(), nullable=False),
        sa.Column("bayes_auc_roc", sa.Float(), nullable=True),
        sa.Column("bayes_f1", sa.Float(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_version_metrics_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_version_metrics")),
    )


def downgrade() -> None:
    """Drop everything 0001 created, children first."""
    op.drop_table("version_metrics")
    op.drop_index(op.f("ix_artifacts_version_id"), table_name="artifacts")
    op.drop_index(op.f("ix_artifacts_sha256"), table_name="artifacts")
    op.drop_table("artifacts")
    op.drop_index(op.f("ix_model_versions_run_id"), table_name="model_versions")
    op.drop_index(op.f("ix_model_versions_created_at"), table_name="model_versions")
    op.drop_table("model_versions")
    op.drop_index("uq_run_phases_run_id_name", table_name="run_phases")
    op.drop_table("run_phases")
    op.drop_index(op.f("ix_training_runs_status"), table_name="training_runs")
    op.drop_index(op.f("ix_training_runs_started_at"), table_name="training_runs")
    op.drop_table("training_runs")
