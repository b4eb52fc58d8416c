"""The transactional store: schema, migrations, and the SQLite/PostgreSQL engine."""

from fpcredit.store.db import Store, open_store

__all__ = ["Store", "open_store"]
