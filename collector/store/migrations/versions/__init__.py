"""One module per schema revision, applied in order.
May import alembic and sqlalchemy only.
"""
