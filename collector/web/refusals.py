"""A refused action, said in the reader's language: the refusal's code and values (an
``ApiError``'s ``reason`` and ``params``) when the dashboard knows it, else its message."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from .finding_labels import state_label
from .labels import role_label


def _states(names: Any) -> str:
    if not isinstance(names, list | tuple) or not names:
        return _("none (only agent results and waivers move it)")
    return ", ".join(state_label(n) for n in names)


def refusal_text(error: Any) -> str:
    """Why an action was not done."""
    reason = getattr(error, "reason", None)
    p = getattr(error, "params", None) or {}
    state = state_label(p.get("state")) if "state" in p else ""
    texts = {
        "state_not_allowed": lambda: _("finding %(id)s is %(state)s; it can move to: "
                                       "%(allowed)s", id=p.get("id"), state=state,
                                       allowed=_states(p.get("allowed"))),
        "close_needs_approver": lambda: _("closing a level I or II finding needs an "
                                          "approver or admin"),
        "role_cannot_change": lambda: _("the %(role)s role cannot change findings (admin, "
                                        "operator or approver)",
                                        role=role_label(str(p.get("role")))),
        "owner_missing": lambda: _("name the owner to assign the finding to"),
        "unknown_owner": lambda: _("%(owner)s is neither a user nor an owner the policy "
                                   "names", owner=p.get("owner")),
        "nothing_to_assign": lambda: _("finding %(id)s is %(state)s; it has no work left to "
                                       "assign", id=p.get("id"), state=state),
        "justification_short": lambda: _("a waiver needs a justification (at least 10 "
                                         "characters)"),
        "not_waivable": lambda: _("finding %(id)s is %(state)s; only an open finding can be "
                                  "waived", id=p.get("id"), state=state),
        "own_waiver": lambda: _("separation of duties: nobody approves their own waiver"),
    }
    if reason in texts:
        return texts[reason]()
    return getattr(error, "message", None) or str(error)
