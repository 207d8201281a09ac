"""The findings register (整改台账): filtered list, one finding's page, panels elsewhere."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from flask import Flask, abort, g, render_template, request
from flask.blueprints import BlueprintSetupState
from flask_babel import lazy_gettext as _l

from .. import authz
from ..findings import queries
from ..findings.deadlines import is_overdue
from ..findings.events import timeline
from ..findings.lifecycle import MANUAL, STATES, get_finding
from ..policy import loader
from ..policy.model import LEVELS, level_name
from ..rules.drift import BASELINES
from ..store import profiles
from . import finding_labels as labels
from .blueprint import NAV_KEY, engine, page_number, settings, web
from .overview import PANELS_KEY

HOST_PANELS_KEY = "hostpatrol.web.host_panels"
FILTER_STATES = ("active", queries.WORK, *STATES)


def _overview_panel(conn: sa.Connection, scope: frozenset[str] | None
                    ) -> tuple[str, dict[str, Any]]:
    return "panel_findings.html", {"register": queries.open_by_level(conn, scope, g.now)}


def _host_panel(conn: sa.Connection, host: Any) -> tuple[str, dict[str, Any]]:
    rows = queries.host_findings(conn, host.id)
    policy = loader.current(conn)
    drift_rules = {r.id: r.param("baseline") for r in policy.rules if r.kind == "drift"}
    drift: dict[str, list[Any]] = {kind: [] for kind in BASELINES}
    for r in rows:
        kind = drift_rules.get(r.rule_id)
        if kind and r.state in ("open", "assigned", "in_progress", "fixed"):
            drift[kind].append(r)
    return "panel_host_findings.html", {
        "host_findings": rows, "host_events": queries.host_timeline(conn, host.id),
        "baselines": profiles.get_baselines(conn, host.id), "drift": drift}


def register_hooks(app: Flask) -> None:
    """Menu entries and panels of the register, the policy, groups and reports pages."""
    nav = app.extensions.setdefault(NAV_KEY, [])
    nav.extend([("web.findings", _l("Findings"), "read"), ("web.reports", _l("Reports"), "fleet"),
                ("web.policy", _l("Policy"), "fleet"), ("web.groups", _l("Groups"), "fleet")])
    app.extensions.setdefault(PANELS_KEY, []).append(_overview_panel)
    app.extensions.setdefault(HOST_PANELS_KEY, []).append(_host_panel)
    app.jinja_env.globals.update(
        level_label=labels.level_label, finding_state=labels.state_label,
        area_label=labels.area_label, event_label=labels.event_label,
        rule_title=labels.rule_title, result_label=labels.result_label,
        checklist_label=labels.checklist_label)
    app.jinja_env.filters["level_code"] = level_name


@web.record_once
def _setup(state: BlueprintSetupState) -> None:
    register_hooks(state.app)


def finding_filter(args: Mapping[str, str]) -> tuple[queries.FindingFilter, dict[str, str]]:
    """The register's filter from the URL's ``args``, and the parameters that reproduce it
    (links, bookmarks, the pager and the exports carry them)."""
    def arg(name: str, allowed: tuple[str, ...] | None = None, size: int = 128) -> str | None:
        value = (args.get(name) or "")[:size] or None
        return None if value is not None and allowed is not None and value not in allowed \
            else value

    f = queries.FindingFilter(
        state=arg("state", FILTER_STATES), level=arg("level", tuple(LEVELS)),
        host=arg("host", size=100), group=arg("group"), rule=arg("rule"),
        owner=arg("owner", size=64), overdue=args.get("overdue") == "1",
        scope=authz.scope(), sort=arg("sort", queries.SORTS) or "level",
        desc=args.get("dir") == "desc")
    if "state" not in args:
        f = replace(f, state="active")
    params = {k: v for k, v in {"state": f.state or "", "level": f.level, "host": f.host,
                                 "group": f.group, "rule": f.rule, "owner": f.owner,
                                 "overdue": "1" if f.overdue else None,
                                 "sort": arg("sort", queries.SORTS),
                                 "dir": "desc" if f.desc else None}.items()
              if v is not None}
    return f, params


@web.get("/findings")
@authz.require("read")
def findings() -> str:
    """The register: filters, sorting, pages, bulk actions."""
    size = settings("dashboard")["page_size"]
    page = page_number()
    f, params = finding_filter(request.args)
    with engine().connect() as conn:
        rows = queries.page(conn, f, g.now, limit=size + 1, offset=(page - 1) * size)
        total = queries.count(conn, f, g.now)
        menus = queries.facets(conn, f.scope, g.now)
        pending = queries.pending_waivers(conn, f.scope) if authz.can("approve") else []
    return render_template("findings.html", rows=rows[:size], total=total, page=page,
                           pages=max((total + size - 1) // size, 1), has_next=len(rows) > size,
                           f=f, params=params, menus=menus, states=FILTER_STATES,
                           levels=tuple(LEVELS), pending=pending, level_name=level_name,
                           is_overdue=is_overdue, targets=sorted(
                               {s for ss in MANUAL.values() for s in ss}, key=STATES.index))


@web.get("/findings/<int:finding_id>")
@authz.require("read")
def finding(finding_id: int) -> str:
    """One finding: facts, level factors, evidence, timeline, waivers and actions."""
    from ..errors import ApiError

    with engine().connect() as conn:
        try:
            row = get_finding(conn, finding_id)
        except ApiError:
            abort(404)
        if not authz.visible(row.group_name):
            abort(404)
        host = profiles.host_row(conn, row.agent_id)
        events = timeline(conn, finding_id)
        waivers = queries.waivers_of(conn, finding_id)
        report_id = queries.evidence_report(conn, row.last_result_id)
    return render_template(
        "finding.html", x=row, host=host, events=events, waivers=waivers, report_id=report_id,
        level=level_name(row.level), base_level=level_name(row.base_level),
        overdue=is_overdue(row.state, row.deadline, g.now), targets=MANUAL[row.state],
        evidence_json=json.dumps(row.evidence, indent=2, ensure_ascii=False)[:20000])
