"""Schema version 2: owners, batch groups, leases (engine, fencing token), cancel requests."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("hal_jobs") as table:
        table.add_column(sa.Column("owner", sa.String(200)))
        table.add_column(sa.Column("group_key", sa.String(64)))
        table.add_column(sa.Column("engine_id", sa.String(64)))
        table.add_column(sa.Column("fence", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()))
        table.create_index("ix_hal_jobs_owner", ["owner"])
        table.create_index("ix_hal_jobs_engine_id", ["engine_id"])
        table.create_index("ix_hal_jobs_updated_at", ["updated_at"])
        table.create_index("ix_hal_jobs_queued_groups", ["status", "group_key", "engine_id"])
    op.create_table(
        "hal_engines",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("dispatch", sa.Boolean, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.execute("UPDATE hal_meta SET value = '2' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_table("hal_engines")
    with op.batch_alter_table("hal_jobs") as table:
        table.drop_index("ix_hal_jobs_queued_groups")
        table.drop_index("ix_hal_jobs_updated_at")
        table.drop_index("ix_hal_jobs_engine_id")
        table.drop_index("ix_hal_jobs_owner")
        for column in ("cancel_requested", "fence", "engine_id", "group_key", "owner"):
            table.drop_column(column)
    op.execute("UPDATE hal_meta SET value = '1' WHERE key = 'schema_version'")
