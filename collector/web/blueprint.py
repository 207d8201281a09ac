"""The dashboard blueprint: user loading, locale, template filters, error pages."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, jsonify, render_template, request
from flask.blueprints import BlueprintSetupState
from flask_babel import (
    format_decimal,
    format_percent,
    format_timedelta,
)
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from .. import authz
from . import field_labels, finding_text, labels, timefmt
from .i18n import LANGUAGES, init_i18n, select_locale

web = Blueprint("web", __name__, template_folder="templates", static_folder="static",
                static_url_path="/assets")

# Other blueprints add menu entries here: (endpoint, label, permission).
NAV_KEY = "hostpatrol.web.nav"
DEFAULT_DASHBOARD = {"silent_hours": 48, "page_size": 50, "timezone": "UTC",
                     "trend_weeks": 12}
DEFAULT_LOGIN = {"max_failures_per_ip": 20, "window_minutes": 15}


def engine() -> sa.Engine:
    """The store engine."""
    return current_app.extensions["hostpatrol.engine"]


def settings(section: str) -> dict[str, Any]:
    """A config section for the dashboard, defaults filled in."""
    defaults = {"dashboard": DEFAULT_DASHBOARD, "login": DEFAULT_LOGIN}[section]
    config = current_app.extensions["hostpatrol.config"]
    return {**defaults, **config.settings.get(section, {})}


MAX_PAGE = 1_000_000  # ?page= beyond it shows the last page's emptiness, not an SQL error


def page_number() -> int:
    """The ``?page=`` of a paginated list: 1 to MAX_PAGE (1 when absent or not a number)."""
    return min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)


def silent_after() -> timedelta:
    """How long an active host may stay quiet before it counts as silent."""
    return timedelta(hours=settings("dashboard")["silent_hours"])


@web.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = state.app
    init_i18n(app, lambda: settings("dashboard")["timezone"])
    env = app.jinja_env
    env.globals.update(can=authz.can, LANGUAGES=LANGUAGES, check_label=labels.check_label,
                       status_label=labels.status_label, role_label=labels.role_label,
                       family_label=labels.family_label, distro_label=labels.distro_label,
                       baseline_label=labels.baseline_label, field_name=field_labels.field_name,
                       rule_kind_label=labels.rule_kind_label,
                       schedule_label=labels.schedule_label, source_label=labels.source_label,
                       audit_action_label=labels.audit_action_label,
                       nav_extra=app.extensions.setdefault(NAV_KEY, []),
                       lang=select_locale,
                       tz_name=lambda: settings("dashboard")["timezone"],
                       finding_message=finding_text.message,
                       factor_name=finding_text.factor_name,
                       factor_detail=finding_text.factor_detail,
                       event_note=finding_text.event_note,
                       actor_label=finding_text.actor_label,
                       subject_text=finding_text.subject_text)
    env.filters.update(dt=_dt, day=_day, num=_num, pct=_pct, size=_size, ago=_ago)


@web.before_app_request
def _load_user() -> None:
    authz.load_user(g.now)  # g.now: the app's clock, read once a request (app.py)


def _dt(value: datetime | str | None, fmt: str = "") -> str:
    """An instant, to the minute (one format per language: timefmt; ``fmt`` is ignored).
    An ISO text an agent sent is shown the same way; other text as it came."""
    if isinstance(value, str):
        return timefmt.datetime_text(timefmt.parse_instant(value)) \
            if timefmt.parse_instant(value) else value
    return timefmt.datetime_text(value) if value else _("never")


def _day(value: datetime | None) -> str:
    return timefmt.date_text(value)


def _number(value: Any) -> float | int | None:
    """A finite number to format, or None (absent, undefined, not a number): a page shows
    "—" rather than failing on a field a result does not carry."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if isinstance(value, int) or math.isfinite(value) else None


def _num(value: float | int | None, digits: int = 0) -> str:
    value = _number(value)
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0" + ("." + "0" * digits if digits else ""))


def _pct(value: float | None, digits: int = 0) -> str:
    value = _number(value)
    if value is None:
        return "—"
    return format_percent(value / 100, format="#,##0" + ("." + "0" * digits if digits else "")
                          + "%")


UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def _size(value: int | float | None) -> str:
    value = _number(value)
    if value is None:
        return "—"
    size, unit = float(value), 0
    while abs(size) >= 1024 and unit < len(UNITS) - 1:
        size, unit = size / 1024, unit + 1
    return f"{format_decimal(size, format='#,##0.#')} {UNITS[unit]}"


def _ago(value: datetime | None) -> str:
    if value is None:
        return _("never")
    return format_timedelta(value - g.now, add_direction=True, threshold=1.1)


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _error(status: int, message: str) -> Any:
    if _is_api():
        resp = jsonify({"ok": False, "error": message, "status": status})
        resp.status_code = status
        return resp
    return render_template("error.html", status=status, message=message), status


@web.app_errorhandler(authz.Forbidden)
def _forbidden(e: authz.Forbidden) -> Any:
    return _error(403, str(e))


@web.app_errorhandler(HTTPException)
def _http(e: HTTPException) -> Response | Any:
    if e.code is None or e.code < 400 or (e.code == 400 and request.blueprint == "api"):
        return e
    messages = {
        403: _("Your role does not allow this page or action."),
        404: _("There is nothing here."),
        429: _("Too many failed sign-ins from your address. Wait and try again."),
    }
    return _error(e.code, messages.get(e.code, e.description or e.name))
