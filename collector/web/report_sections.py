"""Sections 二 (results per check area), 三 (problems by type) and 四 (rectification) of
the self-inspection report, as blocks."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .finding_labels import area_label, checklist_label, rule_title
from .labels import breakdown_text
from .report_blocks import Block, Column, Table, joined, para, pct, short_date, typed_day, zh
from .report_measures import measure_for

LEVEL_SHORT = {"I": _l("level I"), "II": _l("level II"), "III": _l("level III"),
               "IV": _l("level IV"), "info": _l("informational")}


def level_short(name: str) -> str:
    """``Ⅳ级`` in Chinese, ``IV`` in English (``informational`` / ``提示``)."""
    if name in LEVEL_SHORT and (zh() or name == "info"):
        return str(LEVEL_SHORT[name])
    return name


def definition() -> str:
    """How compliance is counted (the same on the overview, the API and the CSV)."""
    return _("How it is counted (the same as on the dashboard, in the API and in the CSV): "
             "hosts checked are hosts whose newest result of the area in the period is valid "
             "(neither skipped nor failed to run); reporting on time counts every host in "
             "scope. Compliant are the checked hosts without an unrectified problem of the "
             "area at the end of the period (level I–IV, open, assigned, in progress, or "
             "fixed and awaiting verification). Informational records (what the policy does "
             "not count as a problem, such as security updates published only days ago) "
             "and approved exceptions do not count against a host. Compliance rate = "
             "compliant / checked; coverage = checked / hosts in scope.")


def areas_section(content: dict[str, Any], heading: Block) -> list[Block]:
    """二、自查情况: the per-area table, the overall rate, the definition, the manual tally."""
    f, tally = content["figures"], content["manual"]
    rows, unchecked = [], []
    for a in f["areas"]:
        if not a["checked"] and not a["issues"]:
            unchecked.append(area_label(a["area"]))
            continue
        issues = [f"{rule_title(i['title'])} ({i['hosts']})" for i in a["issues"][:3]]
        rows.append((str(len(rows) + 1), area_label(a["area"]), str(a["checked"]),
                     str(a["compliant"]), pct(a["rate"]), pct(a["coverage"]),
                     joined(issues) or "—"))
    table = Table((Column(_("No."), "num", .7), Column(_("Check area"), width=2.1),
                   Column(_("Hosts checked"), "num", 1.05), Column(_("Compliant"), "num", 1.15),
                   Column(_("Compliance rate"), "num", 1.15), Column(_("Coverage"), "num", 1.05),
                   Column(_("Main problems (hosts)"), width=2.9)), tuple(rows))
    o = f["overall"]
    out = [heading, Block("table", id="doc-areas", table=table)]
    if unchecked:
        out.append(para("para", _("No valid results in the period for: %(areas)s.",
                                  areas=joined(unchecked)), id="doc-unchecked"))
    out += [
            para("para", _("All areas together: %(c)s host checks, %(k)s compliant, overall "
                          "compliance rate %(r)s.", c=o["checked"], k=o["compliant"],
                           r=pct(o["rate"])), id="doc-overall"),
            para("note", definition(), id="doc-definition")]
    for extra in f.get("breakdowns") or []:  # further tables (e.g. by OS family)
        out.append(para("caption", breakdown_text(extra.get("title", ""))))
        out.append(Block("table", id=f"doc-breakdown-{extra.get('id', '')}", table=Table(
            tuple(Column(breakdown_text(c)) for c in extra.get("columns", [])),
            tuple(tuple(pct(x) if isinstance(x, float) else breakdown_text(x) for x in r)
                  for r in extra.get("rows", [])))))
    out.append(para("para", _("Manual checklist: %(k)s items; %(a)s meet the requirement, "
                              "%(b)s do not, %(c)s not applicable, %(d)s not checked (annex "
                              "2).", k=tally["items"], a=tally["pass"], b=tally["fail"],
                              c=tally["n/a"], d=tally["unchecked"]), id="doc-manual"))
    if content["meta"]["narrative"]["results"].strip():
        out.append(para("para", content["meta"]["narrative"]["results"]))
    return out


def _levels(names: list[str]) -> str:
    return joined([level_short(n) for n in names])


def _day(iso: str, zone: str) -> str:
    return short_date(iso, zone)


def _deadline(t: dict[str, Any], zone: str) -> str:
    if not t["unrectified"]:
        return _("done") if t["rectified"] else (_("approved exception") if t["waived"]
                                                 else "—")
    text = (_("by %(day)s", day=_day(t["deadline"], zone))
            if t["deadline"] else "")
    if t["open_without_deadline"]:
        text += (("；" if zh() else "; ") if text else "") + _(
            "%(n)s without a deadline", n=t["open_without_deadline"])
    return text


def _owners(t: dict[str, Any]) -> str:
    names = t["owners"][:3]
    text = joined(names)
    if len(t["owners"]) > 3:
        text += _(" and %(n)s more", n=len(t["owners"]) - 3)
    if t["without_owner"]:
        missing = _("%(n)s not named", n=t["without_owner"]) if names else _("not named")
        text = f"{text}{'；' if zh() else '; '}{missing}" if names else missing
    return text


def _type_row(t: dict[str, Any], zone: str, measures: dict[str, str]) -> tuple[str, ...]:
    hosts = _("%(n)s hosts", n=t["hosts"])
    if t["problems"] != t["hosts"]:
        hosts += _(" (%(n)s problems)", n=t["problems"])
    status = _("%(r)s of %(n)s rectified", r=t["rectified"], n=t["problems"])
    if t["overdue"]:
        status += _(", %(n)s overdue", n=t["overdue"])
    return (str(t["no"]), rule_title(t["title"]), hosts, _levels(t["levels"]),
            measure_for(t["key"], measures), _deadline(t, zone), _owners(t), status)


def _manual_row(n: int, c: dict[str, Any]) -> tuple[str, ...]:
    item = _("Manual check: %(item)s", item=checklist_label(c["item"]))
    if c["note"]:
        item += f"（{c['note']}）" if zh() else f" ({c['note']})"
    missing = _("not named")
    return (str(n), item, "—", "—", c["measure"] or missing,
            (_("by %(day)s", day=typed_day(c["deadline"])) if c["deadline"] else missing),
            c["owner"] or missing, "—")


def problems_section(content: dict[str, Any], heading: Block) -> list[Block]:
    """三、存在问题: problems grouped by type; failed manual items; the per-host list is
    annex 1."""
    f, m = content["figures"], content["meta"]
    zone = f["period"]["timezone"]
    measures = m["narrative"]["measures_by_type"]
    rows = [_type_row(t, zone, measures) for t in f["types"]]
    failed = content["manual"]["failed"]
    rows += [_manual_row(len(rows) + i, c) for i, c in enumerate(failed, 1)]
    out = [heading]
    if not rows:
        out.append(para("para", _("No problems were found in this period."),
                        id="doc-problems-summary"))
    else:
        r = f["rectification"]
        summary = _("%(n)s problems on %(h)s hosts were found in the period, %(t)s types; "
                    "by type below (each host in annex 1).", n=r["found"], h=r["hosts"],
                    t=len(f["types"]))
        if failed:
            summary += _(" %(n)s manual checklist items do not meet their requirement.",
                         n=len(failed))
        out += [para("para", summary, id="doc-problems-summary"),
                Block("table", id="doc-problems", table=Table(
                    (Column(_("No."), "num", .7), Column(_("Problem"), width=1.75),
                     Column(_("Hosts"), width=1.0), Column(_("Level"), width=.85),
                     Column(_("Measure"), width=2.5), Column(_("Deadline"), width=1.45),
                     Column(_("Owner"), width=1.05), Column(_("Status"), width=1.2)),
                    tuple(rows)))]
    if m["narrative"]["problems"].strip():
        out.append(para("para", m["narrative"]["problems"]))
    return out


def _register_statement(r: dict[str, Any]) -> str:
    if not r["found"]:
        return ""
    if not r["without_owner"] and not r["without_deadline"]:
        return _("Every problem is on the rectification register with an owner and a "
                 "deadline set by its level.")
    parts = []
    if r["without_owner"]:
        parts.append(_("%(n)s have no owner yet", n=r["without_owner"]))
    if r["without_deadline"]:
        parts.append(_("%(n)s have no deadline", n=r["without_deadline"]))
    return _("Every problem is on the rectification register; of them %(parts)s.",
             parts=joined(parts))


def rectification_section(content: dict[str, Any], heading: Block) -> list[Block]:
    """四、整改措施及效果: found, rectified, rate, overdue, and what the register holds."""
    r, m = content["figures"]["rectification"], content["meta"]
    out = [heading, para("para", _(
        "Found %(found)s problems; %(rectified)s rectified (confirmed by the next automatic "
        "inspection), closure rate %(rate)s; %(fixed)s fixed and awaiting verification, "
        "%(open)s being rectified, %(waived)s approved exceptions, %(overdue)s overdue.",
        found=r["found"], rectified=r["rectified"], rate=pct(r["closure_rate"]),
        fixed=r["fixed"], open=r["open"], waived=r["waived"], overdue=r["overdue"]),
        id="doc-effect")]
    statement = _register_statement(r)
    if statement:
        out.append(para("para", statement, id="doc-register"))
    if m["narrative"]["measures"].strip():
        out.append(para("para", m["narrative"]["measures"]))
    return out
