"""The database: schema, migrations and queries (SQLAlchemy Core; SQLite or PostgreSQL).
May import hostpatrol.shared only; the other collector packages build on it.
"""
