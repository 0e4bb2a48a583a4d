"""The receiver's storage (``receiver.store.sqlite``: one SQLite file)."""
