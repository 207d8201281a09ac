"""Stored result data without NaN or Infinity (SQLite): JSON functions can read every row.

Versions before the typed boundary accepted numbers such as ``1e400`` and stored them in
SQLite as the token ``Infinity``, which is not JSON: SQLite's JSON functions then fail on
the row ("malformed JSON"), and the trend rules, which read earlier runs with them, failed
every later report of that host's check. Such values become null; the row stays visibly
unreadable (its data no longer matches its check's schema) and the signed report, the
evidence, is untouched. PostgreSQL's jsonb never held these tokens: nothing to do there.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    rows = bind.execute(sa.text(
        "SELECT id, data FROM check_results WHERE NOT json_valid(data)")).all()
    for row_id, text in rows:
        try:
            fixed = json.loads(text, parse_constant=lambda _: None)
        except ValueError:
            fixed = {}  # not even Python's JSON: nothing in it can be read
        bind.execute(sa.text("UPDATE check_results SET data = :data WHERE id = :id"),
                     {"data": json.dumps(fixed, allow_nan=False), "id": row_id})


def downgrade() -> None:
    """Nothing to undo: the values were never numbers."""
