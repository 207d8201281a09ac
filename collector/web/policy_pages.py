"""Policy (current version, history, diff, load) and groups and owners of hosts."""

from __future__ import annotations

import difflib
import re
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from hostpatrol.shared.configfile import ConfigError

from .. import audit, authz
from ..findings import owners as people_owners
from ..policy import groups_edit, loader
from ..reports.figures import host_class
from ..store import profiles
from ..store.schema import agents, host_profiles
from .admin import GROUP
from .blueprint import engine, page_number, settings, web

MAX_POLICY = 256 * 1024
LINE = re.compile(r":(\d+):")


def _policy_page(text: str | None = None, error: str | None = None) -> str:
    with engine().connect() as conn:
        history = loader.history(conn)
        version, current = loader.text_of(conn)
        policy = loader.current(conn)
    bad = {int(n) for n in LINE.findall(error or "")}
    shown = text if text is not None else current
    return render_template("policy.html", history=history, version=version, current=current,
                           rules=policy.rules, lines=shown.splitlines(), bad_lines=bad,
                           error=error, draft=text)


@web.get("/policy")
@authz.require("fleet")
def policy() -> str:
    """The current policy, every version, and (for admins) a form to load a new one."""
    return _policy_page()


@web.post("/policy")
@authz.require("admin")
def policy_load() -> Any:
    """Validate the YAML and store it as the next version (audited)."""
    text = (request.form.get("yaml_text") or "").replace("\r\n", "\n")
    if not text.strip() or len(text) > MAX_POLICY:
        flash(_("Paste a policy of at most 256 KiB."))
        return redirect(url_for("web.policy"))
    try:
        with engine().begin() as conn:
            stored = loader.store(conn, text, source="dashboard", loaded_by=g.user.name,
                                  now=g.now)
            if stored.changed:
                audit.record(conn, actor=g.user.name, action="policy.load",
                             target=f"policy:{stored.version}",
                             details={"sha256": stored.sha256, "source": "dashboard"},
                             now=g.now)
    except ConfigError as e:  # PolicyError included: message carries source:line
        return _policy_page(text, str(e)), 400
    if stored.changed:
        flash(_("Policy version %(v)s loaded.", v=stored.version))
    else:
        flash(_("Nothing changed: this is already version %(v)s.", v=stored.version))
    return redirect(url_for("web.policy"))


@web.get("/policy/diff")
@authz.require("fleet")
def policy_diff() -> str:
    """A unified diff between two stored versions (text escaped by the template)."""
    a, b = request.args.get("a", type=int), request.args.get("b", type=int)
    with engine().connect() as conn:
        versions = [s.version for s in loader.history(conn)]
        if a not in versions or b not in versions:
            abort(404)
        _, text_a = loader.text_of(conn, a)
        _, text_b = loader.text_of(conn, b)
    lines = list(difflib.unified_diff(text_a.splitlines(), text_b.splitlines(),
                                      fromfile=f"version {a}", tofile=f"version {b}",
                                      lineterm="", n=3))
    return render_template("policy_diff.html", a=a, b=b, versions=versions,
                           diff=[(_kind(x), x) for x in lines])


def _kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")


def _hosts(conn: sa.Connection, group: str | None, limit: int, offset: int) -> list[sa.Row]:
    q = (sa.select(agents.c.id, agents.c.hostname, agents.c.group_name, agents.c.os_name,
                   agents.c.status, host_profiles.c.critical, host_profiles.c.tags,
                   host_profiles.c.owner, host_profiles.c.backup_owner)
         .select_from(agents.outerjoin(host_profiles, host_profiles.c.agent_id == agents.c.id))
         .where(agents.c.status != "revoked")
         .order_by(agents.c.group_name, agents.c.hostname, agents.c.id)
         .limit(limit).offset(offset))
    if group == "-":
        q = q.where(agents.c.group_name.is_(None))
    elif group:
        q = q.where(agents.c.group_name == group)
    return list(conn.execute(q).all())


@web.get("/groups")
@authz.require("fleet")
def groups() -> str:
    """Groups (hosts, owners, escalation parent) and each host's owners and criticality."""
    size = settings("dashboard")["page_size"]
    page = page_number()
    group = (request.args.get("group") or "")[:128] or None
    with engine().connect() as conn:
        counts = conn.execute(
            sa.select(agents.c.group_name, sa.func.count(),
                      sa.func.sum(sa.case((host_profiles.c.critical.is_(True), 1), else_=0)))
            .select_from(agents.outerjoin(host_profiles,
                                          host_profiles.c.agent_id == agents.c.id))
            .where(agents.c.status != "revoked").group_by(agents.c.group_name)).all()
        policy = loader.current(conn)
        rows = _hosts(conn, group, size + 1, (page - 1) * size)
    table: dict[str | None, dict[str, Any]] = {}
    for name, n, critical in counts:
        table[name] = {"name": name, "hosts": n, "critical": int(critical or 0),
                       "policy": policy.groups.get(name or "")}
    for name, grp in policy.groups.items():
        table.setdefault(name, {"name": name, "hosts": 0, "critical": 0, "policy": grp})
    listing = sorted(table.values(), key=lambda x: (x["name"] is None, x["name"] or ""))
    return render_template("groups.html", groups=listing, hosts=rows[:size], page=page,
                           has_next=len(rows) > size, group=group, host_class=host_class,
                           params={"group": group} if group else {},
                           default_owner=policy.default_owner,
                           default_backup=policy.default_backup_owner)


@web.post("/groups/hosts/<agent_id>")
@authz.require("admin")
def host_profile(agent_id: str) -> Any:
    """Set a host's group, owners, criticality and tags (the host profile, audited)."""
    form = request.form
    if not {"group", "owner", "backup_owner", "tags"} <= set(form):
        abort(400)  # the whole profile comes from the form; never blank it by accident
    group = (form.get("group") or "").strip()
    owner = (form.get("owner") or "").strip()
    backup = (form.get("backup_owner") or "").strip()
    tags = sorted({t.strip() for t in (form.get("tags") or "").split(",") if t.strip()})
    with engine().connect() as conn:
        known = set(people_owners.known_owners(conn, loader.current(conn)))
    bad_owner = any(x and x not in known for x in (owner, backup))
    if (group and not GROUP.match(group)) or bad_owner or any(len(t) > 64 for t in tags):
        flash(_("Group: a short name; owners: user names; tags: comma-separated words."))
        return redirect(url_for("web.groups"))
    critical = form.get("critical") == "on"
    with engine().begin() as conn:
        host = profiles.host_row(conn, agent_id[:64])
        if host is None:
            abort(404)
        profiles.set_profile(conn, host.id, by=g.user.name, now=g.now, critical=critical,
                             tags=tags, owner=owner, backup_owner=backup, group=group)
        audit.record(conn, actor=g.user.name, action="host.profile", target=f"host:{host.id}",
                     details={"critical": critical, "tags": tags, "group": group or None,
                              "owner": owner or None, "backup_owner": backup or None},
                     now=g.now)
    flash(_("Host %(name)s updated.", name=host.hostname))
    nxt = form.get("next", "")
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//")
                    else url_for("web.groups"))


def _names(form: Any, key: str) -> list[str]:
    return [(v or "").strip()[:256] for v in form.getlist(key)]


@web.post("/groups/contacts")
@authz.require("admin")
def group_contacts() -> Any:
    """Every group's escalation parent, owner and backup owner, saved by one submit as the
    next policy version: the YAML is edited in place (comments kept) and validated as the
    loader validates any policy; owners must be users or contacts the policy names."""
    form = request.form
    names, parents = _names(form, "name"), _names(form, "parent")
    owners, backups = _names(form, "owner"), _names(form, "backup_owner")
    if not names or not len(names) == len(parents) == len(owners) == len(backups):
        abort(400)
    with engine().connect() as conn:
        known = set(people_owners.known_owners(conn, loader.current(conn)))
        version, text = loader.text_of(conn)
    rows, bad = [], []
    for name, parent, owner, backup in zip(names, parents, owners, backups, strict=True):
        if not name and not (parent or owner or backup):
            continue  # the empty "new group" row
        if not GROUP.match(name) or (parent and not GROUP.match(parent)):
            bad.append(name or "—")
            continue
        bad += [x for x in (owner, backup) if x and x not in known]
        rows.append(groups_edit.GroupContacts(name, parent or None, owner or None,
                                              backup or None))
    if bad:
        flash(_("Not saved: %(names)s is neither a group name nor a known user or contact.",
                names=", ".join(sorted(set(bad)))))
        return redirect(url_for("web.groups"))
    try:
        new = groups_edit.with_groups(text, rows)
        with engine().begin() as conn:
            stored = loader.store(conn, new, source="groups page", loaded_by=g.user.name,
                                  now=g.now)
            if stored.changed:
                audit.record(conn, actor=g.user.name, action="policy.load",
                             target=f"policy:{stored.version}",
                             details={"sha256": stored.sha256, "source": "groups page",
                                      "previous": version,
                                      "groups": sorted(r.name for r in rows)}, now=g.now)
    except ConfigError as e:  # the loader's own message: a parent cycle, an unknown key
        flash(_("Not saved: %(why)s", why=str(e)))
        return redirect(url_for("web.groups"))
    if stored.changed:
        flash(_("Groups saved as policy version %(v)s.", v=stored.version))
    else:
        flash(_("Nothing changed: this is already version %(v)s.", v=stored.version))
    return redirect(url_for("web.groups"))


@web.post("/groups/hosts")
@authz.require("admin")
def host_profiles_all() -> Any:
    """Every host row of the page saved by one submit (each audited as host.profile)."""
    form = request.form
    ids = [x[:64] for x in form.getlist("id")][:500]
    with engine().connect() as conn:
        known = set(people_owners.known_owners(conn, loader.current(conn)))
    changes = []
    for agent_id in ids:
        group = (form.get(f"group-{agent_id}") or "").strip()
        owner = (form.get(f"owner-{agent_id}") or "").strip()
        backup = (form.get(f"backup_owner-{agent_id}") or "").strip()
        tags = sorted({t.strip() for t in (form.get(f"tags-{agent_id}") or "").split(",")
                       if t.strip()})
        bad_owner = any(x and x not in known for x in (owner, backup))
        if (group and not GROUP.match(group)) or bad_owner or any(len(t) > 64 for t in tags):
            flash(_("Not saved: owners must be known users or contacts, groups short names, "
                    "tags comma-separated words."))
            return redirect(url_for("web.groups"))
        changes.append((agent_id, group, owner, backup, tags,
                        form.get(f"critical-{agent_id}") == "on"))
    done = 0
    with engine().begin() as conn:
        for agent_id, group, owner, backup, tags, critical in changes:
            host = profiles.host_row(conn, agent_id)
            if host is None:
                continue
            before = profiles.get_profile(conn, host.id)
            same = before is not None and (before.critical, list(before.tags or []),
                                           before.owner or "", before.backup_owner or "",
                                           host.group_name or "") == (
                critical, tags, owner, backup, group)
            if same or (before is None and not (critical or tags or owner or backup)
                        and group == (host.group_name or "")):
                continue
            profiles.set_profile(conn, host.id, by=g.user.name, now=g.now, critical=critical,
                                 tags=tags, owner=owner, backup_owner=backup, group=group)
            audit.record(conn, actor=g.user.name, action="host.profile",
                         target=f"host:{host.id}",
                         details={"critical": critical, "tags": tags, "group": group or None,
                                  "owner": owner or None, "backup_owner": backup or None},
                         now=g.now)
            done += 1
    flash(_("%(n)s host(s) updated.", n=done))
    nxt = form.get("next", "")
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//")
                    else url_for("web.groups"))
