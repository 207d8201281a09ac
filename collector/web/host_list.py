"""The host list: search, filters, sorting and pages, and the same list as CSV or XLSX.

Every filter and the order live in the URL, so a link or bookmark reproduces the view;
the overview's figures link here with the filters that select exactly their hosts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, abort, g, render_template, request
from flask_babel import gettext as _

from .. import authz
from ..reports import observed, rollup, windows
from ..store import fleet
from ..store.hostfilter import SORTS, HostFilter
from . import sheets
from .blueprint import engine, page_number, settings, silent_after, web
from .finding_labels import area_label
from .labels import status_label

STATES = ("reporting", "silent", "pending", "active", "revoked")
RESULTS = ("ok", "warn", "fail", "error")
LATEST = ("ok", "warn", "fail", "error", "skipped")
COMPLIANCE = ("checked", "compliant", "noncompliant", "reported", "inscope")
TEXT = {"q": 100, "group": 128, "os": 255, "tag": 64, "family": 32, "distro": 64,
        "check": 64, "package": 512, "version": 256, "update": 256, "area": 64}
CHOICES: dict[str, tuple[str, ...]] = {"state": STATES, "result": RESULTS, "latest": LATEST,
                                       "compliance": COMPLIANCE, "sort": SORTS,
                                       "dir": ("asc", "desc")}


def list_args(args: Mapping[str, str]) -> dict[str, str]:
    """The list's parameters as given (trimmed to size, unknown choices dropped): what the
    view's links and bookmarks carry."""
    out = {}
    for name, size in TEXT.items():
        if value := (args.get(name) or "")[:size]:
            out[name] = value
    for name, allowed in CHOICES.items():
        if (value := args.get(name) or "") in allowed:
            out[name] = value
    for flag in ("security", "pending"):
        if args.get(flag) == "1":
            out[flag] = "1"
    return out


def _area_hosts(conn: Any, area: str | None, which: str) -> frozenset[str]:
    """The hosts behind one figure of the overview's compliance table (the live window):
    an area's checked, compliant or not compliant hosts, or the hosts in scope or that
    reported anything. Judged a slice of the fleet at a time, as the rollup is: the ids
    are kept, not every host's results."""
    out: set[str] = set()
    for part in observed.slices(conn, rollup.SLICE):
        live = windows.live(conn, g.now, authz.scope(), part=part)
        if which in ("reported", "inscope"):
            out |= live.reported if which == "reported" else set(live.scope)
            continue
        result = live.areas.get(area or "")
        if result is not None:
            out |= {"checked": result.checked, "compliant": result.compliant,
                    "noncompliant": result.noncompliant}[which]
    return frozenset(out)


def host_filter(conn: Any, p: Mapping[str, str]) -> HostFilter:
    """The filter of parameters ``p`` (from :func:`list_args`) for the current user."""
    ids = None
    if p.get("compliance"):
        ids = _area_hosts(conn, p.get("area"), p["compliance"])
    return HostFilter(
        q=p.get("q"), group=p.get("group"), os=p.get("os"), tag=p.get("tag"),
        state=p.get("state"), result=p.get("result"), scope=authz.scope(),
        family=p.get("family"), distro=p.get("distro"), check=p.get("check"),
        latest=p.get("latest"), package=p.get("package"), version=p.get("version"),
        update=p.get("update"), security=p.get("security") == "1",
        pending=p.get("pending") == "1", ids=ids,
        sort=p.get("sort", "hostname"), desc=p.get("dir") == "desc")


@web.get("/hosts")
@authz.require("read")
def hosts() -> str:
    """All hosts the user may see, filtered, sorted and paginated."""
    size = settings("dashboard")["page_size"]
    page = page_number()
    params = list_args(request.args)
    with engine().connect() as conn:
        f = host_filter(conn, params)
        rows = fleet.hosts(conn, f, now=g.now, silent_after=silent_after(), limit=size + 1,
                           offset=(page - 1) * size)
        total = fleet.count_hosts(conn, f, now=g.now, silent_after=silent_after())
        menus = fleet.facets(conn, f.scope)
    return render_template("hosts.html", hosts=rows[:size], total=total, page=page,
                           pages=max((total + size - 1) // size, 1), has_next=len(rows) > size,
                           f=f, params=params, menus=menus, states=STATES, results=RESULTS,
                           cutoff=g.now - silent_after(), drill=_drill_text(params))


def _drill_text(p: Mapping[str, str]) -> str | None:
    """What a drill-down filter that has no menu selects, in words."""
    if p.get("compliance") in ("reported", "inscope"):
        return (_("Hosts that reported anything over the last seven days")
                if p["compliance"] == "reported" else
                _("Hosts in the scope of the last seven days' compliance"))
    if p.get("area") and p.get("compliance"):
        what = {"checked": _("checked"), "compliant": _("compliant"),
                "noncompliant": _("not compliant")}[p["compliance"]]
        return _("Hosts %(what)s in %(area)s over the last seven days",
                 what=what, area=area_label(p["area"]))
    if p.get("check") and p.get("latest"):
        return _("Active hosts whose newest %(check)s result is %(status)s",
                 check=p["check"], status=status_label(p["latest"]))
    return None


def _state(h: Any, cutoff: Any) -> str:
    silent = h.status == "active" and (h.last_seen_at is None or h.last_seen_at < cutoff)
    return status_label("silent" if silent else h.status)


@web.get("/hosts.<fmt>")
@authz.require("read")
def hosts_export(fmt: str) -> Response:
    """The host list exactly as filtered on screen, every page, as CSV or XLSX."""
    if fmt not in sheets.FORMATS:
        abort(404)
    params = list_args(request.args)
    with engine().connect() as conn:
        f = host_filter(conn, params)
        rows = fleet.hosts(conn, f, now=g.now, silent_after=silent_after(), limit=None)
    cutoff = g.now - silent_after()
    header = [_("Hostname"), _("OS"), _("IP address"), _("Group"), _("Owner"),
              _("Last seen"), _("Open findings"), _("State"), _("Agent id")]
    table = ([h.hostname, h.os_name, h.ip, h.group_name, h.owner, h.last_seen_at,
              h.open_findings, _state(h, cutoff), h.id] for h in rows)
    return sheets.response(fmt, f"hostpatrol-hosts-{g.now:%Y%m%d-%H%M%S}", _("Hosts"),
                           header, table)

