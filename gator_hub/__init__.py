"""Gator hub: a web hub of Gator runs, live and past (docs/hub.md).

This step holds the server core: the database (:mod:`gator_hub.store`, SQLAlchemy
with alembic migrations), the JSON API (:func:`gator_hub.api.create_app`), pushing
a tracking directory (:mod:`gator_hub.client`) and the ``gator hub`` command line
(:mod:`gator_hub.cli`).  It uses only gator_core's public API.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
