"""The self-inspection report's text, block by block, from one report content (REQUIREMENTS
§7 layout): title, 主送, opening, 一 to 五, 特此报告, unit and date, 附件, sign-off, annexes.

Every sentence is built from the content's figures, so each can be checked against the
database; the words follow REQUIREMENTS §8 (问题/隐患 for findings, 安全事件 only for
recorded incidents, N 项 for findings and N 台 for hosts).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_babel import gettext as _

from ..reports.period import parse, zh_numeral
from .finding_labels import checklist_label, result_label, rule_title
from .finding_labels import state_label as finding_state
from .labels import role_label
from .report_blocks import (
    Block,
    Column,
    Run,
    Table,
    local_day,
    long_date,
    para,
    short_date,
    typed_day,
    zh,
)
from .report_sections import (
    areas_section,
    level_short,
    problems_section,
    rectification_section,
)

ONE_DAY = timedelta(days=1)


def section(n: int, title: str) -> Block:
    """A numbered section heading: 一、… in Chinese, 1. … in English."""
    return para("heading", (zh_numeral(n) + "、" if zh() else f"{n}. ") + title)


def _title(content: dict[str, Any]) -> str:
    f, m = content["figures"], content["meta"]
    period = parse(f["period"]["key"]).label("zh" if zh() else "en")
    return _("%(unit)s Network and information security self-inspection report for "
             "%(period)s", unit=m["unit"] or _("(unit)"), period=period)


def _state(meta: dict[str, Any]) -> Block | None:
    texts = {"preview": _("preview, not saved"), "draft": _("draft, not approved"),
             "reviewed": _("reviewed, waiting for approval")}
    return para("state", texts[meta["state"]]) if meta["state"] in texts else None


def _opening(content: dict[str, Any]) -> list[Block]:
    f, m = content["figures"], content["meta"]
    zone = f["period"]["timezone"]
    first = long_date(local_day(f["period"]["start"], zone))
    last = long_date(local_day(f["period"]["end"], zone) - ONE_DAY)
    if m["basis"]:
        text = _("In accordance with %(basis)s, our unit carried out the network and "
                 "information security self-inspection from %(first)s to %(last)s. The "
                 "results are reported as follows:", basis=m["basis"], first=first, last=last)
    else:
        text = _("In accordance with the network and information security rules, our unit "
                 "carried out the network and information security self-inspection from "
                 "%(first)s to %(last)s. The results are reported as follows:",
                 first=first, last=last)
    out = [para("addressee", _("To: %(addressee)s",
                               addressee=m["addressee"] or _("(supervising unit)")),
                id="doc-addressee"),
           para("opening", text, id="doc-opening")]
    if not f["period"]["complete"]:
        out.append(para("note", _("The period has not ended; the figures are those of "
                                  "%(day)s.", day=long_date(local_day(f["period"]["as_of"],
                                                                      zone)))))
    return out


def verdict_label(result: str) -> str:
    """合格 / 基本合格 / 不合格."""
    return {"pass": _("pass"), "basic": _("basic pass"), "fail": _("fail")}[result]


def _scope_line(f: dict[str, Any], tally: dict[str, Any]) -> str:
    classes = f["scope"]["classes"]
    parts = [_("%(n)s servers", n=classes.get("server", 0)),
             _("%(n)s terminals", n=classes.get("terminal", 0))]
    parts += [f"{k} {v}" for k, v in classes.items() if k not in ("server", "terminal")]
    if "xinchuang" in f["scope"]:  # reports approved before it was counted keep their line
        parts.append(_("%(n)s on a domestic (Xinchuang) OS", n=f["scope"]["xinchuang"]))
    return _("Scope: %(n)s hosts (%(classes)s); %(m)s of them reported inspection results in "
             "the period, in %(r)s signed reports; %(k)s manual checklist items.",
             n=f["scope"]["hosts"], classes=("，" if zh() else ", ").join(parts),
             m=f["scope"]["reported"], r=f["scope"]["reports"], k=tally["items"])


def _incidents(f: dict[str, Any]) -> list[Block]:
    inc = f["incidents"]
    if not inc["count"]:
        line = _("Security incidents recorded in the period: none.")
    else:
        levels = [_("%(level)s: %(n)s", level=level_short(lvl), n=n)
                  for lvl, n in inc["by_level"].items() if n]
        line = _("Security incidents recorded in the period: %(n)s (%(levels)s), listed "
                 "below.", n=inc["count"], levels=("，" if zh() else ", ").join(levels))
    out = [para("para", line, id="doc-incidents"),
           para("note", _("A security incident is an event graded I–IV by the emergency "
                          "plan and recorded as such in the incident register; problems "
                          "found by the inspection are not incidents (section 3)."))]
    if inc["count"]:
        zone = f["period"]["timezone"]
        rows = tuple((str(n), long_date(local_day(i["occurred_at"], zone)),
                      level_short(i["level"]), i["title"],
                      ", ".join(f"#{x}" for x in i["findings"]) or "—")
                     for n, i in enumerate(inc["items"], 1))
        out.append(Block("table", id="doc-incident-table", table=Table(
            (Column(_("No."), "num", .7), Column(_("Date"), width=1.4),
             Column(_("Level"), width=.8), Column(_("Incident"), width=3),
             Column(_("Related findings"), width=1.2)), rows)))
    return out


def overall_section(content: dict[str, Any]) -> list[Block]:
    """一、总体情况: organisation, scope, verdict with its rule, incidents."""
    f, m, v = content["figures"], content["meta"], content["verdict"]
    organisation = m["narrative"]["organisation"] or _(
        "The hosts in scope were inspected automatically by the inspection client, each "
        "result signed on the host; what no client can check (machine room, power "
        "supply and the like) was checked by hand.")
    tone = {"pass": "pass", "basic": "basic", "fail": "fail"}[v["result"]]
    rule = _("Rule: the result is a fail when no host reported inspection results in the "
             "period or a level I or II problem is unrectified at its end; otherwise a basic "
             "pass when a problem is overdue or a manual checklist item does not meet its "
             "requirement; otherwise a pass. This period: %(m)s hosts reported, %(x)s level "
             "I–II problems unrectified, %(y)s overdue, %(z)s manual items not met.",
             m=v["reported"], x=v["open_major"], y=v["overdue"], z=v["manual_failed"])
    return [section(1, _("Overall situation")),
            para("para", organisation, id="doc-organisation"),
            para("para", _scope_line(f, content["manual"]), id="doc-scope"),
            para("para", _("Self-inspection result: "),
                 Run(verdict_label(v["result"]), bold=True, tone=tone), _("."),
                 id="doc-verdict"),
            para("note", rule, id="doc-rule"),
            *_incidents(f)]


def _signature(content: dict[str, Any]) -> list[Block]:
    f, m = content["figures"], content["meta"]
    zone = f["period"]["timezone"]
    when = m.get("approved_at") or f["generated_at"]
    return [para("closing", _("This report is hereby submitted.")),
            Block("signature", id="doc-signature",
                  lines=(m["unit"] or _("(unit)"), long_date(local_day(when, zone)))),
            para("annexes", _("Annexes: 1. Problems per host (rectification register); "
                              "2. Manual checklist"), id="doc-annexes")]


def _signoff(content: dict[str, Any]) -> Block:
    people = content["meta"].get("people") or {}

    def who(key: str) -> str:
        p = people.get(key)
        if not p:
            return ""
        return f"{p['name']}（{role_label(p['role'])}）" if zh() and p.get("role") else (
            f"{p['name']} ({role_label(p['role'])})" if p.get("role") else p["name"])

    return Block("signoff", id="doc-signoff", lines=(
        _("Prepared by:") + " " + who("prepared_by"),
        _("Reviewed by:") + " " + who("reviewed_by"),
        _("Approved by:") + " " + who("approved_by")))


def _footer(content: dict[str, Any], sha256: str | None) -> Block:
    f = content["figures"]
    zone = f["period"]["timezone"]
    lines = [_("Figures from hostpatrol's signed inspection results, rectification register "
               "and incident register; times in %(zone)s; generated %(day)s.", zone=zone,
               day=long_date(local_day(f["generated_at"], zone)))]
    if sha256:
        lines.append(_("Approved content, SHA-256: %(hash)s", hash=sha256))
    return Block("footer", lines=tuple(lines), id="doc-footer")


def _annex_problems(content: dict[str, Any]) -> list[Block]:
    f = content["figures"]
    zone = f["period"]["timezone"]
    rows = tuple((str(p["no"]), p["hostname"], rule_title(p["title"]),
                  p["subject"] if p["subject"] not in ("", "-") else "—",
                  level_short(p["level"]), p.get("owner_name") or p["owner"] or _("not named"),
                  short_date(p["deadline"], zone) or "—",
                  finding_state(p["state"]) + (_(" (overdue)") if p["overdue"] else ""))
                 for p in f["problems"])
    out = [Block("pagebreak"), para("annex_label", _("Annex 1")),
           para("annex_title", _("Problems per host (rectification register)"))]
    if rows:
        out.append(Block("table", id="doc-annex-problems", table=Table(
            (Column(_("No."), "num", .7), Column(_("Host"), width=1.45),
             Column(_("Problem"), width=2.1), Column(_("Subject"), width=1.1),
             Column(_("Level"), "center", .75), Column(_("Owner"), width=1.0),
             Column(_("Deadline"), width=1.55), Column(_("Status"), width=1.35)), rows)))
    else:
        out.append(para("para", _("No problems in this period.")))
    return out


def _annex_checklist(content: dict[str, Any]) -> list[Block]:
    rows = tuple((str(n), checklist_label(c["item"]), result_label(c["result"]),
                  c["note"] or "—", c["measure"] or "—", typed_day(c["deadline"]) or "—",
                  c["owner"] or "—")
                 for n, c in enumerate(content["meta"]["checklist"], 1))
    return [Block("pagebreak"), para("annex_label", _("Annex 2")),
            para("annex_title", _("Manual checklist")),
            Block("table", id="doc-annex-checklist", table=Table(
                (Column(_("No."), "num", .7), Column(_("Item"), width=2.4),
                 Column(_("Result"), width=1), Column(_("Note"), width=1.5),
                 Column(_("Measure"), width=1.5), Column(_("Deadline"), width=1.45),
                 Column(_("Owner"), width=.9)),
                rows or (("—",) * 7,)))]


def document(content: dict[str, Any], sha256: str | None = None) -> list[Block]:
    """The whole report, in the current locale."""
    m = content["meta"]
    blocks = [para("title", _title(content), id="doc-title")]
    state = _state(m)
    if state is not None:
        blocks.append(state)
    blocks += _opening(content)
    blocks += overall_section(content)
    blocks += areas_section(content, section(2, _("Inspection results")))
    blocks += problems_section(content, section(3, _("Problems found")))
    blocks += rectification_section(content, section(4, _("Rectification measures and "
                                                           "effect")))
    blocks.append(section(5, _("Next steps")))
    blocks.append(para("para", m["next_steps"], id="doc-next") if m["next_steps"].strip()
                  else para("note", _("(to be written by the preparer)"), id="doc-next"))
    blocks += _signature(content)
    blocks.append(_signoff(content))
    blocks.append(_footer(content, sha256))
    blocks += _annex_problems(content)
    blocks += _annex_checklist(content)
    return blocks
