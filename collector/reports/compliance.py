"""The one definition of compliance (合格) per check area: the overview, the report, the API
and the CSV all count with :func:`judge`.

For a window of time (a report period, or the overview's last seven days) and a moment
``as_of`` (the window's end, or now while it runs):

- **hosts in scope**: approved hosts enrolled before the window ended and not revoked
  before it began (:mod:`observed` reads them);
- **checked** in an area: a host in scope whose newest result of the area's check in the
  window is applicable (status neither ``skipped`` nor ``error``); the ``reporting`` area
  (missed, late and silent runs) checks every host in scope;
- **compliant**: a checked host without an unrectified problem of the area at ``as_of``:
  a finding of level I–IV in state open, assigned, in progress or fixed (fixed but not yet
  verified by the next inspection). Informational findings (level ``info``, such as
  security updates pending for fewer than the policy's 14 days) are not problems, and an
  approved exception (``waived``) is not counted against the host;
- **coverage** = checked / hosts in scope; **compliance rate** = compliant / checked;
  the overall rate adds up every area's checked and compliant hosts.

Pure functions over plain values: who reads the database decides the window, this
module only decides what counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFINITION = (
    "Hosts in scope: approved hosts enrolled before the window ended and not revoked "
    "before it began. Checked: a host whose newest result of the area's check in the "
    "window is valid (status neither skipped nor error); the reporting area checks every "
    "host in scope. Compliant: a checked host without an unrectified problem of the area "
    "at the window's end (a finding of level I-IV in state open, assigned, in_progress or "
    "fixed); informational findings and approved exceptions (waived) do not count. "
    "rate = compliant / checked; coverage = checked / hosts in scope; overall = all "
    "areas' compliant / all areas' checked.")
NOT_APPLICABLE = ("skipped", "error")
UNRECTIFIED = ("open", "assigned", "in_progress", "fixed")
LOWEST_PROBLEM_LEVEL = 4  # IV; 5 is informational
REPORTING = "reporting"
# the order areas are shown in; a check outside it (a newer agent's) follows, by name
AREAS = ("disk", "patches", "antivirus", "logs", "accounts", "ports", "backups",
         "isolation", "software_policy", "time", "firewall", "inventory", "hardware",
         REPORTING)


def area_of(check_name: str, rule_kind: str | None) -> str:
    """The area a finding counts against: ``reporting`` for check-in rules, else its check."""
    return REPORTING if check_name == "*" or rule_kind == "checkin" else check_name


def is_problem(level: int, state: str | None) -> bool:
    """Whether a finding with ``level`` in ``state`` counts against compliance."""
    return level <= LOWEST_PROBLEM_LEVEL and state in UNRECTIFIED


def applicable(status: str) -> bool:
    """Whether a result with ``status`` checked the host (not skipped, not failed to run)."""
    return status not in NOT_APPLICABLE


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in %, one decimal (None when ``whole`` is 0)."""
    return round(100.0 * part / whole, 1) if whole else None


@dataclass(frozen=True, slots=True)
class AreaResult:
    """One area's figures and the hosts behind them (for drill-down)."""

    area: str
    hosts: int                  # hosts in scope
    checked: frozenset[str]     # agent ids
    compliant: frozenset[str]

    @property
    def noncompliant(self) -> frozenset[str]:
        """Checked hosts with an unrectified problem of the area."""
        return self.checked - self.compliant

    @property
    def coverage(self) -> float | None:
        """Checked hosts of all hosts in scope, in %."""
        return percent(len(self.checked), self.hosts)

    @property
    def rate(self) -> float | None:
        """Compliant hosts of the checked ones, in %."""
        return percent(len(self.compliant), len(self.checked))

    def counts(self) -> dict[str, object]:
        """JSON-safe figures."""
        return {"area": self.area, "hosts": self.hosts, "checked": len(self.checked),
                "compliant": len(self.compliant), "coverage": self.coverage,
                "rate": self.rate}


def judge(scope: Iterable[str], newest: Mapping[tuple[str, str], str],
          problems: Iterable[tuple[str, str]]) -> dict[str, AreaResult]:
    """Every area's result.

    ``scope``: agent ids in scope; ``newest``: (agent id, check) → status of the host's
    newest result of that check in the window; ``problems``: (agent id, area) of every
    finding that :func:`is_problem` at the window's end.
    """
    hosts = frozenset(scope)
    checked: dict[str, set[str]] = {}
    for (agent_id, check), status in newest.items():
        if agent_id in hosts and applicable(status):
            checked.setdefault(check, set()).add(agent_id)
    failing: dict[str, set[str]] = {}
    for agent_id, area in problems:
        failing.setdefault(area, set()).add(agent_id)
    extra = sorted((set(checked) | set(failing)) - set(AREAS) - {"*"})
    out = {}
    for area in (*AREAS, *extra):
        seen = hosts if area == REPORTING else frozenset(checked.get(area, ()))
        out[area] = AreaResult(area, len(hosts), seen,
                               seen - frozenset(failing.get(area, ())))
    return out


def overall(results: Iterable[AreaResult]) -> dict[str, object]:
    """All areas together: checked and compliant host-areas, and their rate."""
    checked = compliant = 0
    for r in results:
        checked += len(r.checked)
        compliant += len(r.compliant)
    return {"checked": checked, "compliant": compliant, "rate": percent(compliant, checked)}
