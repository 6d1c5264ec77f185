"""The hub's database: tables, migrations and the operations the API needs."""

from gator_hub.store.hubstore import HubStore
from gator_hub.store.migrate import upgrade

__all__ = ["HubStore", "upgrade"]
