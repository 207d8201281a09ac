"""A result that cannot travel becomes an error result with the reason; the report still goes."""

from __future__ import annotations

import math
import uuid
from typing import Any, ClassVar

import pytest
from hostpatrol.agent.checks.base import Check, Outcome
from hostpatrol.agent.checks.disk import DiskCheck
from hostpatrol.agent.runner import build_report, host_identity, run_checks, sign_report
from hostpatrol.shared import jws
from hostpatrol.shared.keys import generate
from hostpatrol.shared.report import validate_report

KEY = generate()


def odd_check(name: str, data: Any, status: str = "ok") -> Check:
    class Odd(Check):
        options: ClassVar = {}

        def collect(self) -> Outcome:
            return Outcome(status, data)

    Odd.name = name
    return Odd()


class Raising(Check):
    name: ClassVar[str] = "ports"

    def collect(self) -> Outcome:
        raise OSError(2, "No such file or directory", "/srv/b\udcffk")


PORTS_OK = {"listening": [], "truncated": False, "tcp_ports": [], "udp_ports": [],
            "owner_unknown": 0, "services": [], "services_down": [], "error": None}


@pytest.mark.parametrize(("data", "why"), [
    ({"x": float("nan")}, "could not be serialised"),
    ({"x": {1, 2}}, "could not be serialised"),
    ({"x": b"\xff"}, "could not be serialised"),
    ({"x": math.inf}, "could not be serialised"),
    ([1, 2], "could not be serialised"),
    ({**PORTS_OK, "owner_unknown": 2**63}, "could not be serialised"),  # beyond 64 bits
    ({**PORTS_OK, "error": "e" * 5000}, "would be refused by the collector's schema"),
    ({**PORTS_OK, "surprise": 1}, "would be refused by the collector's schema"),
])
def test_a_result_that_cannot_travel_is_an_error_and_the_others_go(data: Any,
                                                                   why: str) -> None:
    results = run_checks([odd_check("ports", data), DiskCheck()])
    bad, disk = results
    assert bad.status == "error"
    assert why in bad.error
    assert bad.error.startswith(f"result {why} (ok): ")
    assert disk.status in ("ok", "warn", "fail")
    assert disk.data["filesystems"]
    token = sign_report(build_report(str(uuid.uuid4()), 1, "manual", results), KEY)
    doc = validate_report(jws.verify_json(token, KEY.public_key()))
    assert [r.status for r in doc.results] == ["error", disk.status]


def test_os_text_anywhere_in_a_result_travels_visible() -> None:
    data = {**PORTS_OK, "listening": [{
        "protocol": "tcp", "port": 4444, "address": "127.0.0.1", "family": "ipv4", "pid": 9,
        "process": "ev\udcffil", "user": "u\udcfe"}], "error": "read /proc/\udc80: denied"}
    (res,) = run_checks([odd_check("ports", data)])
    assert res.status == "ok"
    assert res.data["listening"][0]["process"] == "ev\\xffil"
    assert res.data["error"] == "read /proc/\\x80: denied"
    token = sign_report(build_report(str(uuid.uuid4()), 1, "manual", [res]), KEY)
    assert validate_report(jws.verify_json(token, KEY.public_key())).results[0].data == res.data


def test_an_exception_naming_odd_bytes_is_an_error_that_shows_them() -> None:
    (res,) = run_checks([Raising()])
    assert res.status == "error"
    assert res.error == "FileNotFoundError: [Errno 2] No such file or directory: '/srv/b\\xffk'"
    sign_report(build_report(str(uuid.uuid4()), 1, "manual", [res]), KEY)


def test_error_and_skipped_results_are_not_held_to_the_data_schema() -> None:
    (res,) = run_checks([odd_check("ports", {"reason": "x"}, status="skipped")])
    assert res.status == "skipped"


def test_the_host_fields_are_visible_and_free_of_control_characters(monkeypatch) -> None:
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "web\udcff\n01" + "x" * 300)
    ident = host_identity()
    assert ident["hostname"].startswith("web\\xff\\x0a01")
    assert len(ident["hostname"]) == 255
    validate_report(build_report(str(uuid.uuid4()), 1, "manual", []).to_dict())
