"""The overview page: hosts reporting or silent, OS families and 信创 coverage, compliance per
check area, weekly trends.

Compliance is the report's (:mod:`reports.compliance`), over the last seven days up to
now; the weekly trend is each report week's, in the report's time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, render_template

from .. import authz
from ..reports import rollup
from ..reports.period import current_week
from ..store import fleet, osfamilies
from .blueprint import engine, settings, silent_after, web
from .charts import bar_plot, time_plot
from .report_render import report_timezone

# Other packages (findings) add panels here: f(conn, scope) -> (template, context) | None.
PANELS_KEY = "hostpatrol.web.overview_panels"
Panel = Callable[[sa.Connection, frozenset[str] | None], tuple[str, dict[str, Any]] | None]


@web.get("/")
@authz.require("read")
def overview() -> str:
    """Fleet at a glance."""
    scope, weeks = authz.scope(), settings("dashboard")["trend_weeks"]
    tz = report_timezone()
    panels: list[tuple[str, dict[str, Any]]] = []
    with engine().connect() as conn:
        states = fleet.state_counts(conn, scope, now=g.now, silent_after=silent_after())
        statuses = fleet.coverage(conn, scope, g.now)
        live = rollup.live_figures(conn, scope, g.now)
        trend = rollup.weekly(conn, scope, g.now, tz, weeks)
        families = osfamilies.fleet(conn, fleet.scope_clause(scope))
        for panel in current_app.extensions.get(PANELS_KEY, []):
            shown = panel(conn, scope)
            if shown is not None:
                panels.append(shown)
    areas = [{**a, "statuses": statuses.get(a["area"], {})} for a in live["areas"]]
    compliance_line = [(w["week_start"], w["compliance"]) for w in trend
                       if w["compliance"] is not None]
    compliance_chart = time_plot([("compliance", "line-ok", compliance_line, False)],
                                 y_max=100, height=200)
    hosts_chart = bar_plot([(w["week_start"], w["hosts"]) for w in trend])
    return render_template("overview.html", states=states, areas=areas, live=live,
                           trend=trend, compliance_chart=compliance_chart,
                           hosts_chart=hosts_chart, panels=panels,
                           this_week=current_week(g.now, tz), report_tz=tz,
                           silent_hours=settings("dashboard")["silent_hours"],
                           families=families)
