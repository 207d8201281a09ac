"""The trends page: findings opened and rectified per report week, time to fix per level."""

from __future__ import annotations

from flask import g, render_template
from flask.blueprints import BlueprintSetupState
from flask_babel import lazy_gettext as _l

from .. import authz
from ..findings import trends
from ..reports.rollup import week_keys
from ..store.schema import findings
from .blueprint import NAV_KEY, engine, settings, web
from .charts import nice_step, time_plot
from .report_render import report_timezone


@web.record_once
def _setup(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault(NAV_KEY, []).append(("web.trends_page", _l("Trends"), "read"))


@web.get("/trends")
@authz.require("read")
def trends_page() -> str:
    """Findings opened and rectified per report week; median and 90th-percentile time to
    fix per level over the same weeks (a viewer: its groups only)."""
    tz, n = report_timezone(), settings("dashboard")["trend_weeks"]
    weeks = [(p.key, p.start, p.end) for p in week_keys(g.now, tz, n)]
    scope = authz.scope_clause(findings.c.group_name)
    with engine().connect() as conn:
        flow = trends.weekly_flow(conn, weeks, scope)
        fixes = trends.time_to_fix(conn, weeks[0][1], weeks[-1][2], scope)
    peak = max([w.opened for w in flow] + [w.rectified for w in flow] + [1])
    y_max = nice_step(peak) * -(-peak // nice_step(peak))
    chart = time_plot([("opened", "line-1", [(w.start, w.opened) for w in flow], False),
                       ("rectified", "line-2", [(w.start, w.rectified) for w in flow], False)],
                      y_max=y_max, y_step=nice_step(y_max), height=220)
    return render_template("trends.html", flow=flow, fixes=fixes, chart=chart, report_tz=tz,
                           first=weeks[0][1], weeks=n)
