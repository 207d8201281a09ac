"""The findings register as CSV or XLSX: every match of the filter on screen, in its order."""

from __future__ import annotations

from flask import Response, abort, g, request
from flask_babel import gettext as _

from .. import authz
from ..findings import queries
from ..findings.deadlines import is_overdue
from ..policy.model import level_name
from . import sheets
from .blueprint import engine, web
from .finding_labels import level_label, rule_title, state_label
from .findings_pages import finding_filter


@web.get("/findings.<fmt>")
@authz.require("read")
def findings_export(fmt: str) -> Response:
    """The register exactly as filtered and sorted on screen, every page."""
    if fmt not in sheets.FORMATS:
        abort(404)
    f, _params = finding_filter(request.args)
    with engine().connect() as conn:
        rows = queries.page(conn, f, g.now, limit=None)
    header = [_("Finding id"), _("Level"), _("Problem"), _("Subject"), _("Host"), _("Group"),
              _("Owner"), _("Backup owner"), _("State"), _("Deadline"), _("Overdue"),
              _("First seen"), _("Last seen"), _("Agent id")]
    table = ([x.id, level_label(level_name(x.level)), rule_title(x.title), x.subject,
              x.hostname, x.group_name, x.owner, x.backup_owner, state_label(x.state),
              x.deadline, _("yes") if is_overdue(x.state, x.deadline, g.now) else _("no"),
              x.first_seen, x.last_seen, x.agent_id] for x in rows)
    return sheets.response(fmt, f"hostpatrol-findings-{g.now:%Y%m%d-%H%M%S}",
                           _("Findings"), header, table)
