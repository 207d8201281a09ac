"""Antivirus products recognised by their process names and install paths (no status API).

Sophos, ESET, Trellix/McAfee, CrowdStrike, SentinelOne and Kaspersky here; the Chinese
products' table is in ``products_cn``, which uses the same finder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .host import Host, base_product, try_run

UNREADABLE = "signature and scan state not readable for this product"


@dataclass(frozen=True, slots=True)
class KnownProduct:
    """A product recognised by process names and install paths."""

    name: str
    vendor: str
    processes: tuple[str, ...]
    paths: tuple[str, ...] = ()
    version_cmd: tuple[str, ...] = ()


KNOWN_PRODUCTS: tuple[KnownProduct, ...] = (
    KnownProduct("Sophos Protection", "Sophos",
                 ("sophos_threat_detector", "savd", "sav-protect", "mcsagent", "sophoshealth.exe",
                  "savservice.exe", "sedservice.exe"), ("/opt/sophos-spl", "/opt/sophos-av")),
    KnownProduct("ESET Endpoint Antivirus", "ESET", ("esets_daemon", "oaeventd", "ekrn.exe"),
                 ("/opt/eset",)),
    KnownProduct("Trellix Endpoint Security (McAfee)", "Trellix",
                 ("mfetpd", "mfeespd", "isectpd", "masvc", "mcshield.exe", "mfemms.exe",
                  "masvc.exe"), ("/opt/McAfee", "/opt/isec")),
    KnownProduct("CrowdStrike Falcon", "CrowdStrike",
                 ("falcon-sensor", "falcond", "csfalconservice.exe"), ("/opt/CrowdStrike",),
                 ("/opt/CrowdStrike/falconctl", "-g", "--version")),
    KnownProduct("SentinelOne", "SentinelOne",
                 ("s1-agent", "s1-orchestrator", "s1-scanner", "sentinelagent.exe"),
                 ("/opt/sentinelone",), ("/opt/sentinelone/bin/sentinelctl", "version")),
    KnownProduct("Kaspersky Endpoint Security", "Kaspersky",
                 ("kesl", "wdserver", "avp.exe", "avpsus.exe"), ("/opt/kaspersky/kesl",)),
)
_VERSION = re.compile(r"\d+(?:\.\d+)+")


def known_products(host: Host, table: Sequence[KnownProduct] = KNOWN_PRODUCTS,
                   unreadable: str | None = UNREADABLE) -> list[dict[str, Any]]:
    """Products from the table that are installed (path) or running (process); each gets
    the ``unreadable`` note unless it is None (the caller reads more itself)."""
    procs = host.processes()
    out = []
    for kp in table:
        running = [n for n in kp.processes if n in procs]
        installed = [d for d in kp.paths if host.exists(d)]
        if not running and not installed:
            continue
        p = base_product(kp.name, kp.vendor, "process")
        p["running"] = bool(running)
        p["notes"].append(f"processes: {', '.join(running) or 'none'}; "
                          f"paths: {', '.join(installed) or 'none'}")
        if kp.version_cmd and host.exists(kp.version_cmd[0]):
            res, why = try_run(host, kp.version_cmd, 15.0)
            m = _VERSION.search(res.stdout) if res is not None else None
            p["version"] = m.group(0) if m else None
            if why:
                p["notes"].append(f"version unknown: {why}")
        if unreadable:
            p["notes"].append(unreadable)
        out.append(p)
    return out
