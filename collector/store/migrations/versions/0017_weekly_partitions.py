"""Reports and results partitioned by week of arrival on PostgreSQL (store.partitions), so
retention drops a week instead of deleting its rows; results carry their report's
``received_at`` (the partition key) on both backends.

PostgreSQL: ``reports`` and ``check_results`` are rebuilt as tables partitioned by range
of ``received_at``: one partition per week that has rows, this week and the two after it
(``partitions.AHEAD``), and a default partition. Every row is copied with its id; the
sequences go on where they were. A partitioned table's unique keys must hold the
partition key, so:
- the primary keys become (id, received_at);
- (agent_id, report_id) is no longer a unique constraint but a hash index of report_id:
  ingest refuses a report it already has while it holds its senders' rows (store.intake);
- results no longer name their report by a foreign key.

SQLite: ``check_results`` gets the column, left empty (unused there: it would cost 26
bytes a result, stored as text); nothing else changes.

Both: ``host_latest`` gets its result's ``received_at``: retention looks for the rows a
dropped week keeps only among the newest results that week holds. ``result_data_candidates``
lists the data rows a dropped week named, deleted later once no result names them.

Downgrade copies the rows back into plain tables with the constraints of 0016.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op
from hostpatrol.collector.store import partitions
from hostpatrol.shared.clock import utcnow

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

REPORT_COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('reports_id_seq'),
    agent_id varchar(36) NOT NULL,
    report_id varchar(36) NOT NULL,
    seq bigint NOT NULL,
    created_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    schedule varchar(64) NOT NULL,
    source varchar(16) NOT NULL,
    sha256 varchar(64),
    jws text,
    body bytea,
    dict_id integer"""
RESULT_COLUMNS = """
    id bigint NOT NULL DEFAULT nextval('check_results_id_seq'),
    report_pk bigint NOT NULL,
    agent_id varchar(36) NOT NULL,
    check_name varchar(64) NOT NULL,
    status varchar(16) NOT NULL,
    started_at timestamptz NOT NULL,
    duration_ms integer NOT NULL,
    data json,
    error text,
    data_id bigint"""
REPORT_NAMES = ("id, agent_id, report_id, seq, created_at, received_at, schedule, source, "
                "sha256, jws, body, dict_id")
RESULT_NAMES = ("id, report_pk, agent_id, check_name, status, started_at, duration_ms, "
                "data, error, data_id")
# every index but the keys; fillfactor 100 where 0015 set it (rows only ever appended)
INDEXES = (
    "CREATE INDEX ix_reports_agent_created ON reports (agent_id, created_at) "
    "WITH (fillfactor = 100)",
    "CREATE INDEX ix_reports_received ON reports (received_at)",
    "CREATE INDEX ix_check_results_agent_check ON check_results (agent_id, check_name, id) "
    "WITH (fillfactor = 100)",
    "CREATE INDEX ix_check_results_report ON check_results (report_pk) "
    "WITH (fillfactor = 100)",
    "CREATE INDEX ix_check_results_started ON check_results (started_at)",
    "CREATE INDEX ix_check_results_data ON check_results (data_id) WHERE data_id IS NOT NULL",
)
AGENT_FK = ("ALTER TABLE reports ADD CONSTRAINT reports_agent_id_fkey "
            "FOREIGN KEY (agent_id) REFERENCES agents (id)")


def _rebuild(build: list[str], fill: list[str], keys: list[str]) -> None:
    """Swap both tables for new ones: make them (``build``, under the names reports_new and
    check_results_new), copy (``fill``), drop the old, rename, then index (``keys``)."""
    for statement in build + fill:
        op.execute(statement)
    op.execute("ALTER SEQUENCE reports_id_seq OWNED BY NONE")
    op.execute("ALTER SEQUENCE check_results_id_seq OWNED BY NONE")
    op.execute("DROP TABLE check_results")
    op.execute("DROP TABLE reports")
    for table in ("reports", "check_results"):
        op.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    for statement in keys + list(INDEXES) + [AGENT_FK]:
        op.execute(statement)


def _postgresql_upgrade() -> None:
    build = [f"CREATE TABLE reports_new ({REPORT_COLUMNS}) PARTITION BY RANGE (received_at)",
             f"CREATE TABLE check_results_new ({RESULT_COLUMNS}, received_at timestamptz "
             "NOT NULL) PARTITION BY RANGE (received_at)"]
    bind = op.get_bind()
    starts = {partitions.week_start(t) for t in bind.execute(sa.text(  # Mondays, in UTC
        "SELECT DISTINCT date_trunc('week', received_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' "
        "FROM reports")).scalars()}
    now_week = partitions.week_start(utcnow())
    starts |= {now_week + k * partitions.WEEK for k in range(partitions.AHEAD + 1)}
    for start in sorted(starts):
        for table in ("reports", "check_results"):
            build.append(partitions.partition_of(table, start, f"{table}_new"))
    for table in ("reports", "check_results"):
        build.append(f"CREATE TABLE {partitions.default_name(table)} PARTITION OF "
                     f"{table}_new DEFAULT")
    with_report = ", ".join(f"c.{n}" for n in RESULT_NAMES.split(", "))
    fill = [f"INSERT INTO reports_new SELECT {REPORT_NAMES} FROM reports",  # noqa: S608
            f"INSERT INTO check_results_new SELECT {with_report}, r.received_at "  # noqa: S608
            "FROM check_results c JOIN reports r ON r.id = c.report_pk"]
    _rebuild(build, fill, [
        "ALTER TABLE reports ADD CONSTRAINT reports_pkey PRIMARY KEY (id, received_at) "
        "WITH (fillfactor = 100)",
        "ALTER TABLE check_results ADD CONSTRAINT check_results_pkey "
        "PRIMARY KEY (id, received_at) WITH (fillfactor = 100)",
        # a hash of the report id alone: ~38 bytes a report against ~138 for a btree of
        # (agent_id, report_id), whose random keys leave its pages half full; the agent
        # id is checked on the few rows found
        "CREATE INDEX ix_reports_report_hash ON reports USING hash (report_id)"])


def _postgresql_downgrade() -> None:
    build = [f"CREATE TABLE reports_new ({REPORT_COLUMNS})",
             f"CREATE TABLE check_results_new ({RESULT_COLUMNS})"]
    fill = [f"INSERT INTO reports_new SELECT {REPORT_NAMES} FROM reports",  # noqa: S608
            f"INSERT INTO check_results_new SELECT {RESULT_NAMES} "  # noqa: S608
            "FROM check_results"]
    _rebuild(build, fill, [
        "ALTER TABLE reports ADD CONSTRAINT reports_pkey PRIMARY KEY (id) "
        "WITH (fillfactor = 100)",
        "ALTER TABLE check_results ADD CONSTRAINT check_results_pkey PRIMARY KEY (id) "
        "WITH (fillfactor = 100)",
        "ALTER TABLE reports ADD CONSTRAINT uq_reports_agent_report "
        "UNIQUE (agent_id, report_id)",
        "ALTER TABLE check_results ADD CONSTRAINT check_results_report_pk_fkey "
        "FOREIGN KEY (report_pk) REFERENCES reports (id)"])


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # left empty: unused there, and 26 bytes a result as text
        op.execute("ALTER TABLE check_results ADD COLUMN received_at DATETIME")
    else:
        _postgresql_upgrade()
    # result_data rows a dropped week's results named, until no result names them
    op.create_table("result_data_candidates",
                    sa.Column("data_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                              primary_key=True, autoincrement=False))
    # which week holds each host's newest result: retention finds the rows it keeps there
    op.execute(f"ALTER TABLE host_latest ADD COLUMN received_at "
               f"{'DATETIME' if sqlite else 'timestamptz'}")
    op.execute("UPDATE host_latest SET received_at = r.received_at FROM check_results c "
               "JOIN reports r ON r.id = c.report_pk "  # joins: not one search per row
               "WHERE c.id = host_latest.result_id")


def downgrade() -> None:
    # the candidates' rows are deleted as 0016's retention does it: when no result names them
    op.execute("DELETE FROM result_data WHERE id IN (SELECT data_id FROM result_data_candidates) "
               "AND NOT EXISTS (SELECT 1 FROM check_results c WHERE c.data_id = result_data.id)")
    op.drop_table("result_data_candidates")
    op.execute("ALTER TABLE host_latest DROP COLUMN received_at")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE check_results DROP COLUMN received_at")
    else:
        _postgresql_downgrade()
