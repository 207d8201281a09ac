"""The default policy's rules for what 信创 hosts and Chinese antivirus products can't tell us:
updates that may be security fixes, and signatures of unknown age."""

from __future__ import annotations

from datetime import timedelta

from findings_kit import data, enroll_host, findings_of, real_data
from hostpatrol.collector.policy.model import LEVELS
from hostpatrol.shared.clock import utcnow


def test_unclassified_updates_age_into_a_finding_and_verify(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    host.send({"patches": data("patches", unclassified_count=5)}, now)
    [f] = findings_of(engine, host.agent_id, "unclassified-updates")
    assert f.level == LEVELS["info"]
    host.send({"patches": data("patches", unclassified_count=5)}, now + timedelta(days=15))
    assert findings_of(engine, host.agent_id, "unclassified-updates")[0].level == LEVELS["IV"]
    host.send({"patches": data("patches", unclassified_count=0)}, now + timedelta(days=16))
    assert findings_of(engine, host.agent_id, "unclassified-updates")[0].state == "verified"


def test_signature_age_unknown_is_a_finding_not_fresh(engine) -> None:
    now = utcnow()
    host = enroll_host(engine, now=now)
    summary = real_data()["antivirus"]["summary"]
    host.send({"antivirus": data("antivirus", summary={
        **summary, "signature_age_known": False})}, now)
    [f] = findings_of(engine, host.agent_id, "av-signature-age-unknown")
    assert (f.level, f.state) == (LEVELS["IV"], "open")
    host.send({"antivirus": data("antivirus", summary={
        **summary, "signature_age_known": True})}, now + timedelta(hours=1))
    assert findings_of(engine, host.agent_id, "av-signature-age-unknown")[0].state == \
        "verified"
    other = enroll_host(engine, now=now)  # nothing running: av-running says it, not this
    other.send({"antivirus": data("antivirus", summary={
        **summary, "signature_age_known": None})}, now)
    assert findings_of(engine, other.agent_id, "av-signature-age-unknown") == []
