"""The PostgreSQL store, in parts (``store``: the ``EventStore`` itself; see its docstring)."""

from eventsvc.store.postgres.store import DB_NOW, PostgresEventStore, PostgresSnapshot

__all__ = ["DB_NOW", "PostgresEventStore", "PostgresSnapshot"]
