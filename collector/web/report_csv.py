"""The report's tables as CSV: one block per section, each with its own header row; the
same figures, definitions and words as the printed report."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _

from ..reports.period import parse
from .finding_labels import area_label, checklist_label, result_label, rule_title
from .finding_labels import state_label as finding_state
from .labels import breakdown_text
from .report_blocks import locale_of, short_date, typed_day, zh
from .report_doc import verdict_label
from .report_measures import measure_for
from .report_sections import definition, level_short
from .sheets import BOM, cell


def _period_label(key: str) -> str:
    """``2026年第48周（2026-W48）`` / ``week 48 of 2026 (2026-W48)``: words and the key."""
    label = parse(key).label("zh" if zh() else "en")
    return _("%(label)s (%(key)s)", label=label, key=key) if label != key else key


def _summary(w: Any, content: dict[str, Any]) -> None:
    f, m, v = content["figures"], content["meta"], content["verdict"]
    scope, rect, o = f["scope"], f["rectification"], f["overall"]
    w.writerow([_("Section"), _("Item"), _("Value")])
    for item, value in (
            (_("Unit"), m["unit"]), (_("Addressee"), m["addressee"]),
            (_("Period"), _period_label(f["period"]["key"])),
            (_("Time zone"), f["period"]["timezone"]),
            (_("Hosts"), scope["hosts"]),
            (_("Servers"), scope["classes"].get("server", 0)),
            (_("Terminals"), scope["classes"].get("terminal", 0)),
            *([(_("Xinchuang (domestic OS)"), scope["xinchuang"])] if "xinchuang" in scope
              else []),
            (_("Hosts that reported"), scope["reported"]),
            (_("Verdict"), verdict_label(v["result"])),
            (_("Security incidents recorded"), f["incidents"]["count"]),
            (_("Problems found"), rect["found"]), (_("Rectified"), rect["rectified"]),
            (_("Fixed, awaiting verification"), rect["fixed"]),
            (_("Being rectified"), rect["open"]), (_("Approved exceptions"), rect["waived"]),
            (_("Overdue"), rect["overdue"]), (_("Closure rate %"), rect["closure_rate"]),
            (_("Without an owner"), rect["without_owner"]),
            (_("Overall compliance rate %"), o["rate"]),
            (_("Compliance, as counted"), definition()),
            (_("Report state"), finding_state(m["state"]))):
        w.writerow([_("Summary"), cell(item), cell(value)])


def render_csv(content: dict[str, Any], lang: str) -> str:
    """The report as CSV in ``lang``, BOM first (Excel on Chinese Windows reads UTF-8 so)."""
    f, m = content["figures"], content["meta"]
    zone = f["period"]["timezone"]
    buf = io.StringIO()
    buf.write(BOM)
    w = csv.writer(buf)
    with force_locale(locale_of(lang)):
        _summary(w, content)
        w.writerow([])
        w.writerow([_("Check area"), _("Hosts in scope"), _("Hosts checked"), _("Compliant"),
                    _("Compliance rate %"), _("Coverage %")])
        for a in f["areas"]:
            w.writerow([area_label(a["area"]), a["hosts"], a["checked"], a["compliant"],
                        a["rate"], a["coverage"]])
        for extra in f.get("breakdowns") or []:  # further tables of section 二
            w.writerow([])
            w.writerow([cell(breakdown_text(extra.get("title", "")))])
            w.writerow([cell(breakdown_text(c)) for c in extra.get("columns", [])])
            w.writerows([x if isinstance(x, int | float) else cell(breakdown_text(x))
                         for x in r] for r in extra.get("rows", []))
        w.writerow([])
        w.writerow(["#", _("Problem type"), _("Hosts"), _("Problems"), _("Level"),
                    _("Measure"), _("Deadline"), _("Owner"), _("Rectified"), _("Overdue")])
        measures = m["narrative"]["measures_by_type"]
        for t in f["types"]:
            w.writerow([t["no"], cell(rule_title(t["title"])), t["hosts"], t["problems"],
                        " ".join(level_short(x) for x in t["levels"]),
                        cell(measure_for(t["key"], measures)), short_date(t["deadline"], zone),
                        cell("; ".join(t["owners"])), t["rectified"], t["overdue"]])
        w.writerow([])
        w.writerow(["#", _("Host"), _("Problem"), _("Subject"), _("Level"), _("Owner"),
                    _("Deadline"), _("Status"), _("Overdue"), _("Finding id")])
        for p in f["problems"]:
            w.writerow([p["no"], cell(p["hostname"]), cell(rule_title(p["title"])),
                        cell(p["subject"]), level_short(p["level"]),
                        cell(p.get("owner_name") or p["owner"]), short_date(p["deadline"], zone),
                        finding_state(p["state"]), "1" if p["overdue"] else "0", p["id"]])
        w.writerow([])
        w.writerow(["#", _("Manual check"), _("Result"), _("Note"), _("Measure"),
                    _("Deadline"), _("Owner")])
        for n, c in enumerate(m["checklist"], 1):
            w.writerow([n, cell(checklist_label(c["item"])), result_label(c["result"]),
                        cell(c["note"]), cell(c["measure"]), typed_day(c["deadline"]),
                        cell(c["owner"])])
        w.writerow([])
        w.writerow(["#", _("Date"), _("Level"), _("Incident"), _("Related findings")])
        for i in f["incidents"]["items"]:
            w.writerow([i["id"], short_date(i["occurred_at"], zone), level_short(i["level"]),
                        cell(i["title"]), " ".join(f"#{x}" for x in i["findings"])])
    return buf.getvalue()
