"""Compact storage: evidence packed with zstd (trained dictionaries), result data once per change.

New reports keep ``body`` (store.packing, the JWS byte for byte) and no ``jws`` text or
SHA-256; a new result's data is read from its report's evidence (a report of one result)
or names a ``result_data`` row (``data_id``), the previous result's when the data did not
change (store.resultstore). Rows stored before keep their text and read as before.
Downgrade writes the JWS, its SHA-256 and each result's data back into the old columns.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-04
"""
import hashlib

import sqlalchemy as sa
from alembic import op
from hostpatrol.collector.store import packing
from hostpatrol.collector.store.dictionaries import EVIDENCE_COLUMNS, Codecs, evidence_text
from hostpatrol.collector.store.resultstore import with_data
from hostpatrol.collector.store.schema import check_results, reports

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHUNK = 500
# PostgreSQL indexes whose new keys always land at their right end (ids, a host's times):
# btree's default fillfactor 90 leaves a tenth of each page empty for inserts that never come
APPEND_ONLY = ("reports_pkey", "ix_reports_agent_created", "check_results_pkey",
               "ix_check_results_agent_check", "ix_check_results_report")
# SQLite rebuilds a table to alter it; reflecting only that table (not the ones its foreign
# keys name) keeps alembic away from agents' expression index, which it cannot reflect
ONLY_THIS = {"reflect_kwargs": {"resolve_fks": False}}


def upgrade() -> None:
    op.create_table(
        "zstd_dicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "result_data",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("digest", sa.LargeBinary(16), nullable=False),
        sa.Column("dict_id", sa.Integer),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    with op.batch_alter_table("reports", **ONLY_THIS) as batch:
        batch.alter_column("jws", existing_type=sa.Text, nullable=True)
        batch.alter_column("sha256", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("body", sa.LargeBinary))
        batch.add_column(sa.Column("dict_id", sa.Integer))
    with op.batch_alter_table("check_results", **ONLY_THIS) as batch:
        batch.alter_column("data", existing_type=sa.JSON, nullable=True)
        batch.add_column(sa.Column("data_id", BigId))
        batch.create_index("ix_check_results_data", ["data_id"],
                           sqlite_where=sa.text("data_id IS NOT NULL"),
                           postgresql_where=sa.text("data_id IS NOT NULL"))
    if op.get_bind().dialect.name == "postgresql":
        for index in APPEND_ONLY:  # keys only grow: a full leaf is never split into again
            op.execute(f"ALTER INDEX {index} SET (fillfactor = 100)")


def _unpack_reports(conn: sa.Connection) -> None:
    codecs = Codecs(conn)
    last = 0
    while True:
        rows = conn.execute(
            sa.select(reports.c.id, *EVIDENCE_COLUMNS)
            .where(reports.c.jws.is_(None), reports.c.id > last)
            .order_by(reports.c.id).limit(CHUNK)).all()
        if not rows:
            return
        for row in rows:
            try:
                text = evidence_text(codecs, row)
            except packing.PackError as e:
                msg = f"report row {row.id}: {e}; the old schema cannot hold it"
                raise RuntimeError(msg) from e
            conn.execute(reports.update().where(reports.c.id == row.id).values(
                jws=text, sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass"))
                .hexdigest()))
        last = rows[-1].id


def _unpack_results(conn: sa.Connection) -> None:
    codecs = Codecs(conn)
    last = 0
    while True:
        rows = conn.execute(
            sa.select(check_results.c.id, check_results.c.check_name, check_results.c.data,
                      check_results.c.data_id, check_results.c.report_pk)
            .where(check_results.c.data.is_(None), check_results.c.id > last)
            .order_by(check_results.c.id).limit(CHUNK)).all()
        if not rows:
            return
        for row in with_data(conn, rows, codecs):
            if row.data_error is not None:
                msg = f"result row {row.id}: {row.data_error}; the old schema cannot hold it"
                raise RuntimeError(msg)
            conn.execute(check_results.update().where(check_results.c.id == row.id)
                         .values(data=row.data))
        last = rows[-1].id


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for index in APPEND_ONLY:
            op.execute(f"ALTER INDEX {index} RESET (fillfactor)")
    _unpack_reports(conn)
    _unpack_results(conn)
    with op.batch_alter_table("check_results", **ONLY_THIS) as batch:
        batch.drop_index("ix_check_results_data")
        batch.drop_column("data_id")
        batch.alter_column("data", existing_type=sa.JSON, nullable=False)
    with op.batch_alter_table("reports", **ONLY_THIS) as batch:
        batch.drop_column("dict_id")
        batch.drop_column("body")
        batch.alter_column("sha256", existing_type=sa.String(64), nullable=False)
        batch.alter_column("jws", existing_type=sa.Text, nullable=False)
    op.drop_table("result_data")
    op.drop_table("zstd_dicts")
