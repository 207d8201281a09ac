"""Alembic migrations of the store's schema; ``init`` and ``db upgrade`` apply them.
May import the store's schema only.
"""
