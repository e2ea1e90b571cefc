"""Schema version 1: the job store as hal-jupyter 0.1 made it (before Alembic)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "hal_jobs",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(200), nullable=False, index=True),
        sa.Column("backend", sa.String(200)),
        sa.Column("name", sa.String(200)),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("status_message", sa.Text),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("submitted_at", sa.String(40)),
        sa.Column("finished_at", sa.String(40)),
        sa.Column("batch_id", sa.String(64), index=True),
        sa.Column("remote_id", sa.String(400)),
        sa.Column("shots", sa.Integer),
        sa.Column("cost_estimate", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
    )
    op.create_table(
        "hal_results",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
    )
    op.create_table(
        "hal_batches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("backend", sa.String(200)),
        sa.Column("job_ids", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
    )
    op.create_table(
        "hal_idempotency",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("job_ids", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    meta = op.create_table(
        "hal_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])


def downgrade() -> None:
    for table in ("hal_meta", "hal_idempotency", "hal_batches", "hal_results", "hal_jobs"):
        op.drop_table(table)
