"""Alembic's environment for the hub: always given an open connection by
:func:`gator_hub.store.migrate.upgrade` (no URL, no ini file)."""

from __future__ import annotations

from alembic import context

from gator_hub.store.migrate import VERSION_TABLE
from gator_hub.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("gator_hub migrations run through gator_hub.store.migrate.upgrade(engine)")
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
