"""antivirus: AV products installed and running, real-time protection, signature and scan age.

ClamAV is read from its binaries, daemons, clamd.conf, database headers and logs;
Microsoft Defender from Get-MpComputerStatus / Security Center (Windows) or ``mdatp health``;
Sophos, ESET, Trellix/McAfee, CrowdStrike, SentinelOne and Kaspersky by process and install
path; the Chinese products (360, Huorong, Qi An Xin, Rising, Kingsoft, Tencent) by Security
Center name, process and install path (``products_cn``). Needs read access to
/var/log/clamav (root or group adm) for update and scan history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from hostpatrol.shared.report import format_time

from ..base import Check, Option, Outcome, worst
from . import products as gather
from . import products_cn
from .clamav import active_paths
from .host import Host
from .known import known_products

_ORDER = {"ok": 0, "warn": 1, "fail": 2}


def evaluate(p: dict[str, Any], now: datetime, sig_max: float,
             scan_max: float) -> tuple[str, list[str]]:
    """Local status and issues for one product (times as datetimes)."""
    issues: list[tuple[str, str]] = []
    if not p["running"]:
        issues.append(("fail", "not running"))
    if p["realtime_protection"] is False:
        issues.append(("warn", "real-time protection off"))
    age = _age(now, p["signature_time"])
    if age is not None and age > sig_max:
        issues.append(("warn", f"signatures {age:.1f} days old (max {sig_max:g})"))
    elif age is None and p["signatures_current"] is not True:
        dbs = p.get("databases")
        issues.append(("warn", "signature age unknown (no signature databases found)"
                       if dbs == [] else "signature age unknown (only local databases)"
                       if dbs else "signature age unknown"))
    update = p.get("last_update") or {}
    if update.get("result") == "failed":
        since = update.get("failing_since")
        issues.append(("warn", f"signature updates failing ({update.get('failed_runs', 1)} "
                       f"run(s) since {format_time(since) if since else 'unknown'}): "
                       f"{(update.get('message') or '')[:120]}"))
    scan_age = _age(now, p["last_scan_time"])
    if scan_age is None:
        issues.append(("warn", "no scan recorded"))
    elif scan_age > scan_max:
        issues.append(("warn", f"last scan {scan_age:.1f} days ago (max {scan_max:g})"))
    uncleaned = len(active_paths(p["detections"]))
    if uncleaned:
        issues.append(("fail", f"{uncleaned} detection(s) not cleaned"))
    return worst(*(s for s, _ in issues)), [msg for _, msg in issues]


def _age(now: datetime, ts: datetime | None) -> float | None:
    return None if ts is None else round((now - ts).total_seconds() / 86400, 2)


def _wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


def summarize(products: list[dict[str, Any]], now: datetime, sig_max: float,
              scan_max: float) -> tuple[str, dict[str, Any]]:
    """Per-product verdicts, the host verdict (best product, fail on uncleaned) and summary."""
    rows, statuses = [], []
    for p in products:
        status, issues = evaluate(p, now, sig_max, scan_max)
        statuses.append(status)
        p = {**p, "status": status, "issues": issues,
             "signature_age_days": _age(now, p["signature_time"]),
             "notes": [n[:1024] for n in p["notes"][:100]],
             "detections": [{"resolved": False, "resolution": None, **d,
                             "path": d["path"][:4096], "threat": d["threat"][:512]}
                            for d in p["detections"]]}
        rows.append(_wire(p))
    uncleaned = sum(len(active_paths(p["detections"])) for p in products)
    host_issues = []
    if not products:
        overall = "fail"
        host_issues.append("no antivirus product found")
    else:
        overall = min(statuses, key=lambda s: _ORDER[s])
        if not any(p["running"] for p in products):
            host_issues.append("no antivirus product running")
    if uncleaned:
        overall = "fail"
        host_issues.append(f"{uncleaned} detection(s) not cleaned")
    rt = [p["realtime_protection"] for p in products if p["realtime_protection"] is not None]
    sig_ages = [r["signature_age_days"] for r in rows if r["signature_age_days"] is not None]
    scan_ages = [a for p in products if (a := _age(now, p["last_scan_time"])) is not None]
    failing = [a for p in products if (a := _age(now, (p.get("last_update") or {}).get(
        "failing_since"))) is not None]
    summary = {
        "installed": bool(products),
        "running": any(p["running"] for p in products),
        "realtime_protection": any(rt) if rt else None,
        "newest_signature_age_days": min(sig_ages) if sig_ages else None,
        "signature_age_known": _age_known(products, now),
        "last_scan_age_days": min(scan_ages) if scan_ages else None,
        "detections_total": sum(len(p["detections"]) for p in products),
        "uncleaned_detections": uncleaned,
        "update_failing_days": max(failing) if failing else None,
        "issues": host_issues,
    }
    return overall, {"products": rows, "summary": summary}


def _age_known(products: list[dict[str, Any]], now: datetime) -> bool | None:
    """Whether a running product's signatures are dated (or flagged current by it)."""
    running = [p for p in products if p["running"]]
    if not running:
        return None
    return any(_age(now, p["signature_time"]) is not None or p["signatures_current"] is True
               for p in running)


class AntivirusCheck(Check):
    """Antivirus presence, health, freshness and detections; root to read ClamAV logs."""

    name: ClassVar[str] = "antivirus"
    schedule: ClassVar[str] = "daily"
    timeout: ClassVar[float] = 120.0
    options: ClassVar = {
        "signature_max_age_days": Option((int, float), 7, "signatures older than this warn"),
        "scan_max_age_days": Option((int, float), 2, "a last scan older than this warns"),
        "clamav_db_dir": Option((str, type(None)), None,
                                "ClamAV database dir (default: clamd.conf DatabaseDirectory "
                                "or /var/lib/clamav)"),
        "clamd_config": Option(str, "/etc/clamav/clamd.conf", "clamd configuration file"),
        "freshclam_log": Option(str, "/var/log/clamav/freshclam.log", "freshclam update log"),
        "clamav_scan_logs": Option(list, ["/var/log/clamav/clamscan.log"],
                                   "clamscan --log files to read scans and detections from"),
        "clamd_log": Option((str, type(None)), None,
                            "clamd log with detections (default: clamd.conf LogFile)"),
        "max_detections": Option(int, 50, "most recent detections reported per product"),
    }

    def __init__(self, *args: Any, host: Host | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.host = host or Host(run=self.run)

    def collect(self) -> Outcome:
        """Find every antivirus product and judge it."""
        c = self.config
        products: list[dict[str, Any]] = []
        sources: dict[str, str] = {}
        clam = gather.clamav(self.host, c)
        if clam is not None:
            products.append(clam)
        if self.host.system == "Windows":
            found, unavailable = gather.windows(self.host)
            products.extend(found)
            if unavailable and not found:
                sources["windows"] = "; ".join(unavailable)[:500]
        else:
            mde = gather.mdatp(self.host)
            if mde is not None:
                products.append(mde)
        products.extend(known_products(self.host))
        products.extend(products_cn.detect(self.host, products))
        status, data = summarize(products, self.host.now(), float(c["signature_max_age_days"]),
                                 float(c["scan_max_age_days"]))
        data["unavailable_sources"] = sources
        return Outcome(status, data)
