"""v4 (API v1.2 spend control and execution modes): a job's actual cost, its execution
and the budgets its estimate is reserved against; the budgets, their charges, and the
provider sessions opened for session names."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("hal_jobs") as table:
        table.add_column(sa.Column("cost_actual", sa.Text))
        table.add_column(sa.Column("execution", sa.Text))
        table.add_column(sa.Column("budgets", sa.Text))
    op.create_table(
        "hal_budgets",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("limit_amount", sa.Float, nullable=False),
        sa.Column("currency", sa.String(16), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "hal_charges",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("budget", sa.String(200), primary_key=True),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("amount", sa.Float, nullable=False),
        sa.Column("spent", sa.Boolean, nullable=False),
    )
    op.create_table(
        "hal_budget_usage",
        sa.Column("budget", sa.String(200), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("spent", sa.Float, nullable=False),
        sa.Column("reserved", sa.Float, nullable=False),
    )
    op.create_table(
        "hal_sessions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("backend", sa.String(200), nullable=False),
        sa.Column("session_id", sa.String(400), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.String(40), nullable=False),
        sa.Column("last_used_at", sa.String(40), nullable=False),
        sa.Column("closed_at", sa.String(40)),
        sa.Column("job_ids", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.execute("UPDATE hal_meta SET value = '4' WHERE key = 'schema_version'")


def downgrade() -> None:
    op.drop_table("hal_sessions")
    op.drop_table("hal_budget_usage")
    op.drop_table("hal_charges")
    op.drop_table("hal_budgets")
    with op.batch_alter_table("hal_jobs") as table:
        table.drop_column("budgets")
        table.drop_column("execution")
        table.drop_column("cost_actual")
    op.execute("UPDATE hal_meta SET value = '3' WHERE key = 'schema_version'")
