"""Alembic, configured in code: no alembic.ini is needed where the hub runs, and the
scripts ship inside the package (``gator_hub/migrations``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

__all__ = ["VERSION_TABLE", "alembic_config", "upgrade"]

# Its own name, so that a hub can share a PostgreSQL database with other alembic users.
VERSION_TABLE = "gator_hub_version"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "gator_hub:migrations")
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``; a database already there is left as it is."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
