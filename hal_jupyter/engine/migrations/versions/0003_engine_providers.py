"""v3: the providers each engine drives (``NULL``: every provider), so that an
engine claims only jobs it can drive and a job nobody drives says so; and one
index fewer to write with every accepted job (``status`` alone: the index on
``(status, group_key, engine_id)`` serves it)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("hal_engines") as table:
        table.add_column(sa.Column("providers", sa.Text))
    with op.batch_alter_table("hal_jobs") as table:
        table.drop_index("ix_hal_jobs_status")
    op.execute("UPDATE hal_meta SET value = '3' WHERE key = 'schema_version'")


def downgrade() -> None:
    with op.batch_alter_table("hal_jobs") as table:
        table.create_index("ix_hal_jobs_status", ["status"])
    with op.batch_alter_table("hal_engines") as table:
        table.drop_column("providers")
    op.execute("UPDATE hal_meta SET value = '2' WHERE key = 'schema_version'")
