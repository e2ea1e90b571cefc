"""Alembic runs the job store's migrations on the connection the store hands it
(:func:`hal_jupyter.engine.schema.migrate`); there is no alembic.ini."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
# render_as_batch: SQLite alters a table by copying it, Alembic's batch mode does that
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
