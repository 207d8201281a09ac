"""inventory on this host, compared with independent commands."""

from __future__ import annotations

import socket
import subprocess

import jsonschema
import psutil
from hostpatrol.agent.checks.inventory import InventoryCheck, parse_os_release
from hostpatrol.agent.commands import CommandResult
from hostpatrol.shared.schemas import load_schema


def test_real_host_matches_independent_sources() -> None:
    data = InventoryCheck().collect().data
    jsonschema.Draft202012Validator(load_schema("inventory")).validate(data)
    assert data["hostname"] == socket.gethostname()
    assert data["memory_bytes"] == psutil.virtual_memory().total
    assert data["kernel"] == subprocess.run(["uname", "-r"], capture_output=True, text=True,
                                            check=True).stdout.strip()
    names = {i["name"] for i in data["interfaces"]}
    assert names == set(psutil.net_if_addrs())
    dpkg = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\\t${db:Status-Abbrev}\\n"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    installed = {line.split("\t")[0] for line in dpkg if line.split("\t")[1].startswith("ii")}
    sw = data["software"]
    assert sw["source"] == "dpkg-query"
    assert {p["name"] for p in sw["packages"]} == installed
    assert sw["count"] == len(installed)
    assert len(sw["fingerprint"]) == 64


def test_package_cap_and_missing_manager() -> None:
    capped = InventoryCheck({"max_packages": 3}).collect().data["software"]
    assert len(capped["packages"]) == 3
    assert capped["truncated"] is True
    assert capped["count"] > 3
    none = InventoryCheck(manager=lambda: None).collect().data["software"]
    assert none["error"] == "no package manager known here"

    def broken(argv, timeout):
        return CommandResult(tuple(argv), 2, "", "dpkg-query: database locked")

    err = InventoryCheck(run=broken).collect().data["software"]
    assert err["error"].startswith("dpkg-query: exit 2")
    assert err["packages"] == []


def test_os_release_parsing_quotes_and_comments() -> None:
    text = ('# c\nNAME="Red Hat Enterprise Linux"\nVERSION_ID="9.3"\nID=rhel\n'
            "PRETTY_NAME='RHEL 9'\n")
    assert parse_os_release(text) == {"NAME": "Red Hat Enterprise Linux", "VERSION_ID": "9.3",
                                      "ID": "rhel", "PRETTY_NAME": "RHEL 9"}
