"""Pure rule functions that look past one result: trend (log errors against the host's own
weekly baseline) and crossing (one USB stick on isolated and internet hosts), plus their
policy validation. USB devices come from the agent's parsers over recorded real outputs
(tests/fixtures/isolation/SOURCES.md names each source)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostpatrol.agent.checks.isolation.usb import parse_kernel_usb_log, parse_ps_usbstor
from hostpatrol.collector.policy import loader
from hostpatrol.collector.policy.model import LEVELS
from hostpatrol.collector.policy.validation import PolicyError
from hostpatrol.collector.rules.crossing import crossing, outside_sightings
from hostpatrol.collector.rules.engine import evaluate, evaluate_fleet
from hostpatrol.collector.rules.model import HostFacts, Result, Sample
from hostpatrol.collector.rules.trend import trend, weekly_baseline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "isolation"
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
POLICY = loader.parse_text(loader.default_text(), source="default")
LOG_ERRORS = POLICY.rule("log-errors")
USB = POLICY.rule("usb-crossing")
HOST = HostFacts("a-1", "web-1", "g1")


def _stick_journal() -> dict:
    [dev] = parse_kernel_usb_log((FIXTURES / "journalctl_k_usb_storage.txt").read_text())
    return dev  # serial 62908886


def _sticks_pi() -> list[dict]:
    return parse_kernel_usb_log((FIXTURES / "syslog_kernel_usb_raspberrypi.txt").read_text())


def _stick_windows() -> dict:
    [dev] = parse_ps_usbstor((FIXTURES / "ps_usbstor_enum_pny.txt").read_text())
    return dev  # serial 0510101000022047


def _daily(days: int, per_day: float, *, start: datetime = T0) -> list[Sample]:
    """A first run, then ``days`` daily runs counting ``per_day`` errors each."""
    out = [Sample(start, {"errors.total": 5000, "first_run": True})]
    out += [Sample(start + timedelta(days=i), {"errors.total": per_day, "first_run": False})
            for i in range(1, days + 1)]
    return out


def _logs_run(count: float, history: list[Sample], after_hours: float = 24,
              first_run: bool = False) -> dict[str, Result]:
    at = history[-1].started_at + timedelta(hours=after_hours)
    data = {"errors": {"total": count}, "first_run": first_run}
    return {"logs": Result("logs", "warn", at, data, 9, history=tuple(history))}


def _trend(count: float, history: list[Sample], **kw) -> list:
    results = _logs_run(count, history, **kw)
    return trend(LOG_ERRORS, HOST, results, {}, results["logs"].started_at)


def test_trend_fires_only_above_factor_times_the_weekly_baseline() -> None:
    history = _daily(14, 100)  # 700 a week: 100 expected in a 24 h window
    assert _trend(300, history) == []  # exactly 3×: not more than
    [dev] = _trend(301, history)
    assert (dev.rule_id, dev.subject, dev.level) == ("log-errors", "-", LEVELS["IV"])
    assert dev.evidence["weekly_baseline"] == 700.0
    assert dev.evidence["expected"] == 100.0
    assert dev.evidence["baseline_days"] == 14.0  # the first run's 5000 is not counted
    assert dev.evidence["baseline_runs"] == 14
    assert "301" in dev.message
    assert "3×" in dev.message


def test_trend_scales_the_baseline_to_the_run_window() -> None:
    history = _daily(10, 100)
    assert _trend(151, history, after_hours=12) != []  # 50 expected in 12 h
    assert _trend(301, history, after_hours=72) == []  # 300 expected in 3 days


def test_trend_needs_a_full_prior_week_of_history() -> None:
    assert _trend(10_000, _daily(6, 100)) == []  # six days covered
    assert _trend(10_000, _daily(7, 100)) != []  # one full week


def test_trend_ignores_runs_outside_history_days_and_first_runs() -> None:
    old = _daily(20, 1000)  # a noisy month long ago
    recent = _daily(10, 100, start=old[-1].started_at + timedelta(days=30))
    [dev] = _trend(400, old + recent)
    assert dev.evidence["weekly_baseline"] == 700.0  # only the last 28 days count
    assert _trend(400, _daily(10, 100), first_run=True) == []  # this window is unknown


def test_trend_min_count_guards_a_zero_baseline() -> None:
    quiet = _daily(10, 0)
    assert _trend(9, quiet) == []
    assert _trend(10, quiet)[0].evidence["expected"] == 0.0


def test_weekly_baseline_covers_gaps_by_time() -> None:
    samples = [Sample(T0, {"n": 0}), Sample(T0 + timedelta(days=3), {"n": 30}),
               Sample(T0 + timedelta(days=7), {"n": 40}), Sample(T0 + timedelta(days=8),
                                                                  {"n": None})]
    base = weekly_baseline(samples, "n")
    assert (base.total, base.hours, base.runs) == (70.0, 168.0, 2)
    assert base.weekly == 70.0


def _isolation(zone: str, devices: list[dict], at: datetime = T0) -> Result:
    data = {"zone": zone, "findings": [], "egress": {"performed": False}, "network": {
        "interfaces": [], "default_routes": []}, "usb_storage": {"blocked": False,
                                                                  "devices": devices}}
    return Result("isolation", "ok", at, data, 1)


def _host(n: int, group: str | None = "g1") -> HostFacts:
    return HostFacts(f"a-{n}", f"host-{n}", group)


def test_crossing_flags_the_isolated_host_and_names_the_internet_ones() -> None:
    stick = _stick_journal()
    fleet = [(_host(1), _isolation("isolated", [stick])),
             (_host(2), _isolation("internet", [stick])),
             (_host(3), _isolation("internet", [dict(stick)])),
             (_host(4), _isolation("intranet", [stick]))]
    outside = outside_sightings(USB, fleet, T0)
    assert sorted(s.agent_id for s in outside["62908886"]) == ["a-2", "a-3"]
    [dev] = crossing(USB, _host(1), fleet[0][1], outside, T0)
    assert (dev.subject, dev.level) == ("62908886", LEVELS["II"])
    assert "host-2 (internet), host-3 (internet)" in dev.message
    assert "asdf wqer" in dev.message
    assert [h["hostname"] for h in dev.evidence["other_hosts"]] == ["host-2", "host-3"]
    assert crossing(USB, _host(2), fleet[1][1], outside, T0) == []  # internet side: none
    assert len(crossing(USB, _host(4), fleet[3][1], outside, T0)) == 1  # intranet too


def test_crossing_same_zone_only_stale_and_serialless_are_not_deviations() -> None:
    pi = _sticks_pi()  # one device without a serial, one with 070B3A1D8E99D055
    fleet = [(_host(1), _isolation("isolated", pi)),
             (_host(2), _isolation("intranet", pi)),
             (_host(3), _isolation("internet", [pi[0]])),  # serial-less only
             (_host(4), _isolation("internet", pi, at=T0 - timedelta(days=31)))]
    ev = evaluate_fleet(POLICY, {"isolation": fleet}, T0)
    assert sorted(ev) == ["a-1", "a-2", "a-3"]  # the stale host is not judged
    assert all(e.deviations == () for e in ev.values())
    assert [r.id for r in ev["a-1"].rules] == ["usb-crossing"]


def test_crossing_compares_serials_case_blind_and_honours_ignore() -> None:
    win = _stick_windows()
    lower = dict(_stick_journal(), serial=win["serial"].lower() + " ")
    fleet = [(_host(1), _isolation("isolated", [win])),
             (_host(2), _isolation("internet", [lower]))]
    ev = evaluate_fleet(POLICY, {"isolation": fleet}, T0)
    assert [d.subject for d in ev["a-1"].deviations] == ["0510101000022047"]
    text = loader.default_text().replace("    ignore: []", "    ignore: ['05101010*']")
    ignoring = loader.parse_text(text, source="t")
    assert evaluate_fleet(ignoring, {"isolation": fleet}, T0)["a-1"].deviations == ()


def test_crossing_respects_group_overrides_and_errors() -> None:
    text = loader.default_text().replace(
        "\ngroups: {}\n", "\ngroups:\n  lab: {rules: {usb-crossing: {enabled: false}}}\n")
    policy = loader.parse_text(text, source="t")
    stick = _stick_journal()
    broken = Result("isolation", "error", T0, {}, 5)
    fleet = [(_host(1, "lab"), _isolation("isolated", [stick])),
             (_host(2), _isolation("internet", [stick])),
             (_host(3), _isolation("isolated", [stick])), (_host(5), broken)]
    ev = evaluate_fleet(policy, {"isolation": fleet}, T0)
    assert sorted(ev) == ["a-2", "a-3"]  # lab host: rule off; errored result: not judged
    assert [d.subject for d in ev["a-3"].deviations] == ["62908886"]


def test_per_report_evaluation_never_runs_fleet_rules() -> None:
    stick = _stick_journal()
    ev = evaluate(POLICY, _host(1), {"isolation": _isolation("isolated", [stick])}, {}, T0)
    assert "usb-crossing" not in [r.id for r in ev.rules]
    assert "isolation-egress" in [r.id for r in ev.rules]


@pytest.mark.parametrize(("old", "new", "where", "says"), [
    ("    factor: 3\n", "    factor: 0.5\n", ".factor:", "at least 1"),
    ("    min_history_days: 7\n", "    min_history_days: 40\n", ".min_history_days:",
     "could never fire"),
    ("    min_count: 10\n", "    min_count: -1\n", ".min_count:", "negative"),
    ("    factor: 3\n", "    factr: 3\n", "", "factr"),
    ("    isolated_zones: [intranet, isolated]\n", "    isolated_zones: []\n",
     ".isolated_zones:", "non-empty"),
    ("    within_days: 30\n", "    within_days: 0\n", ".within_days:", "above 0"),
    ("    ignore: []\n", "    ignore: [12]\n", ".ignore:", "globs"),
    ("    subject: serial\n", "", "", "subject"),
])
def test_bad_parameters_are_refused_with_file_and_line(old: str, new: str, where: str,
                                                       says: str) -> None:
    text = loader.default_text()
    assert text.count(old) == 1
    bad = text.replace(old, new)
    with pytest.raises(PolicyError) as e:
        loader.parse_text(bad, source="my-policy.yaml")
    msg = str(e.value)
    assert msg.startswith("my-policy.yaml:")
    assert where in msg
    assert says in msg
    rules_at = msg.split(":")[1]
    assert rules_at.isdigit()  # a line number
