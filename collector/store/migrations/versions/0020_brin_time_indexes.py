"""PostgreSQL: the time indexes of ``reports`` and ``check_results`` become BRIN.

``ix_reports_received`` (arrival) and ``ix_check_results_started`` serve only ranges:
the weeks a late report reached (reports.rollup), a period's results (reports.observed),
rows past retention (retention). Both columns grow as rows are appended, so a block
range summary (BRIN: the least and greatest value of each 128 pages) finds the same rows
as a btree entry for each row, in a few pages instead of ~22 bytes a row: a heartbeat
writes one report and one result, 35,040 a host-year. A result whose agent started it
long before it arrived (a spooled report) widens only its block range's summary.

SQLite has no BRIN: its indexes stay as they are.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

INDEXES = (("ix_reports_received", "reports", "received_at"),
           ("ix_check_results_started", "check_results", "started_at"))


def _rebuild(using: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, column in INDEXES:  # on a partitioned table: every partition's too
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(f"CREATE INDEX {name} ON {table} USING {using} ({column})")


def upgrade() -> None:
    _rebuild("brin")


def downgrade() -> None:
    _rebuild("btree")
