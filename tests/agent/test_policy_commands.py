"""The agent trusts only policy and commands signed by the collector key it pinned."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from hostpatrol.agent.checkin import CommandLog, CommandRefused, accept_commands, verify_command
from hostpatrol.agent.checks import BUILTIN_CHECKS, by_name
from hostpatrol.agent.config import load_agent_config
from hostpatrol.agent.policy import PolicyCache, PolicyRefused, apply_policy, verify_policy
from hostpatrol.shared import jws
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import b64url, b64url_decode, generate, key_id, public_b64
from hostpatrol.shared.report import format_time

AGENT = str(uuid.uuid4())
COLLECTOR = generate()
PINNED = public_b64(COLLECTOR.public_key())


def policy(version: int = 3, key=COLLECTOR, typ: str = "hostpatrol.policy+jws",
           **changes) -> str:
    doc = {"format": "hostpatrol.policy/1", "version": version,
           "issued_at": format_time(utcnow()), "agent_id": AGENT,
           "schedules": {"weekly": "0 4 * * 5"},
           "checks": {"disk": {"enabled": True, "schedule": "daily",
                               "options": {"warn_percent": 70}}},
           "monitoring_level": "normal", **changes}
    return jws.sign(jws.dumps_compact(doc), key, kid=key_id(key.public_key()), typ=typ)


def command(key=COLLECTOR, expires_in=timedelta(hours=1), **changes) -> str:
    now = utcnow()
    doc = {"format": "hostpatrol.command/1", "id": str(uuid.uuid4()), "agent_id": AGENT,
           "kind": "run_now", "checks": ["disk"], "issued_at": format_time(now),
           "expires_at": format_time(now + expires_in), **changes}
    return jws.sign(jws.dumps_compact(doc), key, kid=key_id(key.public_key()),
                    typ="hostpatrol.command+jws")


def test_policy_signed_by_the_pinned_key_is_accepted() -> None:
    doc = verify_policy(policy(), PINNED, AGENT, cached_version=2)
    assert doc["version"] == 3
    assert verify_policy(policy(3), PINNED, AGENT, cached_version=3)["version"] == 3


@pytest.mark.parametrize(("token", "match"), [
    (lambda: policy(key=generate()), "another key|pinned collector key"),
    (lambda: policy(version=1), "older than the cached version 2"),
    (lambda: policy(agent_id=str(uuid.uuid4())), "it is for agent"),
    (lambda: policy(typ="hostpatrol.report+jws"), "typ"),
    (lambda: policy(monitoring_level="off"), "monitoring_level"),
    (lambda: policy(version="9"), "non-negative integer"),
    (lambda: "eyJhbGciOiJub25lIn0." + b64url(b'{"version":9}') + ".", "pinned collector key"),
])
def test_policy_refused(token, match: str) -> None:
    with pytest.raises(PolicyRefused, match=match):
        verify_policy(token(), PINNED, AGENT, cached_version=2)


def test_forged_signature_with_the_collector_kid_is_refused() -> None:
    good = policy(version=9)
    payload = b64url_decode(good.split(".")[1])
    forged = jws.sign(payload, generate(), kid=key_id(COLLECTOR.public_key()),
                      typ="hostpatrol.policy+jws")
    with pytest.raises(PolicyRefused, match="pinned collector key"):
        verify_policy(forged, PINNED, AGENT)
    assert verify_policy(good, PINNED, AGENT)["version"] == 9


def test_cache_is_verified_again_on_load(tmp_path: Path) -> None:
    cache = PolicyCache(tmp_path)
    assert cache.version(PINNED, AGENT) == -1
    cache.save(policy(5))
    assert cache.version(PINNED, AGENT) == 5
    (tmp_path / "policy.jws").write_text(policy(7, key=generate()))  # swapped on disk
    assert cache.load(PINNED, AGENT) is None


def test_policy_options_apply_over_agent_yaml_and_either_side_disables(tmp_path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("checks:\n  disk:\n    warn_percent: 80\n  hardware:\n    enabled: false\n")
    config = load_agent_config(cfg, BUILTIN_CHECKS)
    doc = verify_policy(policy(checks={
        "disk": {"enabled": True, "options": {"warn_percent": 70}},
        "hardware": {"enabled": True}, "ports": {"enabled": False},
        "future_check": {"enabled": True}}), PINNED, AGENT)
    applied = apply_policy(config, doc, by_name())
    assert applied.check_options("disk")["warn_percent"] == 70
    assert applied.check_options("disk")["fail_percent"] == 95
    assert not applied.enabled("hardware")  # disabled locally stays off
    assert not applied.enabled("ports")  # the policy may switch a check off
    assert config.check_options("disk")["warn_percent"] == 80  # base untouched
    bad = verify_policy(policy(checks={"disk": {"options": {"warn_percent": "high"}}}),
                        PINNED, AGENT)
    with pytest.raises(PolicyRefused, match="warn_percent"):
        apply_policy(config, bad, by_name())


def test_command_verification() -> None:
    now = utcnow()
    cmd = verify_command(command(), PINNED, AGENT, now)
    assert cmd.kind == "run_now"
    assert cmd.checks == ("disk",)
    for token, match in ((command(key=generate()), "pinned collector key"),
                         (command(expires_in=timedelta(seconds=-1)), "expired"),
                         (command(agent_id=str(uuid.uuid4())), "for agent"),
                         (command(kind="shell"), "unknown kind"),
                         (command(checks=["rm -rf /"]), "check names")):
        with pytest.raises(CommandRefused, match=match):
            verify_command(token, PINNED, AGENT, now)


def test_replayed_command_is_not_executed_twice(tmp_path: Path) -> None:
    now = utcnow()
    log = CommandLog(tmp_path)
    token = command()
    first = accept_commands([token, token], PINNED, AGENT, log, now)
    assert len(first) == 1
    log.remember(first[0], now)
    assert accept_commands([token], PINNED, AGENT, CommandLog(tmp_path), now) == []
    other = accept_commands([command(), command(key=generate())], PINNED, AGENT, log, now)
    assert len(other) == 1
