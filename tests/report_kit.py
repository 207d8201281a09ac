"""Report test kit: an app over a given engine with a zh-CN config, signed-in clients, the
text of a generated PDF and Word file, and what the database says, read independently."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from harness import Collector, free_port
from hostpatrol.collector.app import create_app
from hostpatrol.collector.config import load_config
from hostpatrol.collector.reports.period import Period
from hostpatrol.collector.store import accounts
from hostpatrol.collector.store import users as user_store
from hostpatrol.collector.store.schema import (
    agents,
    check_results,
    findings,
    incidents,
    reports,
    users,
)

BASE = "https://localhost"
CONFIG = """bind: 127.0.0.1:8443
language: zh-CN
report:
  unit: 某某银行某某支行
  addressee: 某某银行信息科技部
  basis: 《某某银行网络安全管理办法》
"""
UNRECTIFIED = ("open", "assigned", "in_progress", "fixed")


def make_app(root: Path, engine: sa.Engine, now: datetime, config: str = CONFIG) -> Flask:
    """An app on ``engine`` (any backend) with a real data dir and a fixed clock."""
    c = Collector(root / "data", free_port())
    c.init()
    (c.data_dir / "collector.yaml").write_text(config, encoding="utf-8")
    app = create_app(load_config(c.data_dir), engine, clock=lambda: now)
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def client(app: Flask, login: str, role: str = "auditor") -> FlaskClient:
    """A client signed in as ``login`` (created with ``role`` when missing)."""
    engine, now = app.extensions["hostpatrol.engine"], app.extensions["hostpatrol.clock"]()
    with engine.begin() as conn:
        row = user_store.by_name(conn, login)
        uid = row.id if row else user_store.add_user(conn, login, role, None, now)
        token = accounts.open_session(conn, uid, now=now, lifetime=timedelta(hours=1),
                                      ip="127.0.0.1")
    c = app.test_client()
    with c.session_transaction(base_url=BASE) as sess:
        sess["sid"] = token
    return c


def pdf_text(data: bytes) -> str:
    """Every page's text, whitespace removed (CJK lines break anywhere)."""
    from pypdf import PdfReader

    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text, whitespace removed."""
    from pypdf import PdfReader

    return [re.sub(r"\s+", "", p.extract_text()) for p in PdfReader(io.BytesIO(data)).pages]


@dataclass
class Word:
    """A .docx read back: paragraphs in order and tables as rows of cell texts."""

    paragraphs: list[str]
    tables: list[list[list[str]]]
    page_mm: tuple[float, float]


def docx_read(data: bytes) -> Word:
    """Read a generated .docx with python-docx."""
    from docx import Document

    doc = Document(io.BytesIO(data))
    section = doc.sections[0]
    return Word([p.text for p in doc.paragraphs],
                [[[c.text for c in r.cells] for r in t.rows] for t in doc.tables],
                (round(section.page_width.mm), round(section.page_height.mm)))


def truth(engine: sa.Engine, period: Period) -> dict[str, Any]:
    """What the tables hold for a period that has ended and had no change after it, read
    without the product's code: the report must state exactly this."""
    with engine.connect() as conn:
        hosts = conn.execute(sa.select(agents.c.id, agents.c.hostname, agents.c.os_family)
                             .where(agents.c.status != "pending")).all()
        results = conn.execute(sa.select(check_results.c.agent_id, check_results.c.check_name,
                                         check_results.c.status, check_results.c.started_at,
                                         check_results.c.id)
                               .where(check_results.c.started_at >= period.start,
                                      check_results.c.started_at < period.end)).all()
        sent = conn.execute(sa.select(sa.func.count()).select_from(reports).where(
            reports.c.created_at >= period.start, reports.c.created_at < period.end)
        ).scalar_one()
        rows = conn.execute(sa.select(findings).where(findings.c.level <= 4)).all()
        people = {r.name: r.display_name or r.name
                  for r in conn.execute(sa.select(users.c.name, users.c.display_name))}
        recorded = conn.execute(sa.select(incidents.c.level).where(
            incidents.c.occurred_at >= period.start, incidents.c.occurred_at < period.end)
        ).scalars().all()
    newest: dict[tuple[str, str], tuple[Any, int, str]] = {}
    for a, check, status, at, rid in results:
        if (a, check) not in newest or (at, rid) > newest[(a, check)][:2]:
            newest[(a, check)] = (at, rid, status)
    checked: dict[str, set[str]] = defaultdict(set)
    for (a, check), (_, _, status) in newest.items():
        if status not in ("skipped", "error"):
            checked[check].add(a)
    failing: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.state in UNRECTIFIED:
            failing[r.check_name].add(r.agent_id)
    areas = {check: (len(ids), len(ids - failing[check])) for check, ids in checked.items()}
    by_rule: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        by_rule[r.rule_id].append(r)
    return {
        "hosts": len(hosts), "names": {h.id: h.hostname for h in hosts},
        "xinchuang": sum(h.os_family == "xinchuang" for h in hosts),
        "reported": len({a for a, *_ in results}), "reports": sent,
        "areas": areas, "findings": rows, "people": people,
        "types": {rule: (len({r.agent_id for r in rs}), len(rs)) for rule, rs in by_rule.items()},
        "without_owner": sum(r.owner is None for r in rows),
        "rectified": sum(r.state in ("verified", "closed") for r in rows),
        "overdue": sum(r.state in ("open", "assigned", "in_progress")
                       and r.deadline is not None and r.deadline < period.end for r in rows),
        "open_major": sum(r.level <= 2 and r.state in UNRECTIFIED for r in rows),
        "incidents": len(recorded),
    }
