"""Gathering per-product antivirus facts from the host (ClamAV, Microsoft, others by process).

Each gatherer takes a :class:`Host` of injected OS accessors and returns product dicts in
the wire shape (times still as datetimes); :mod:`.antivirus` applies the policy.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ... import ostext
from . import clamav as clam
from . import products_cn as cn
from . import windows as win
from .host import Host, base_product, try_run

FLOOR = datetime.min.replace(tzinfo=UTC)
MAX_DB_FILES = 200
MAX_TEXT_DB_BYTES = 8 * 1024 * 1024
LOG_TAIL_BYTES = 2 * 1024 * 1024
_PS = ("powershell", "-NoProfile", "-NonInteractive", "-Command")


def _find(host: Host, name: str) -> str | None:
    found = host.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/local/sbin", "/sbin"):
        if host.exists(f"{d}/{name}"):
            return f"{d}/{name}"
    return None


def clamav(host: Host, cfg: dict[str, Any]) -> dict[str, Any] | None:
    """ClamAV: binaries, daemons, clamd.conf, databases, freshclam result, scans, detections."""
    bins = {n: _find(host, n) for n in ("clamscan", "clamd", "freshclam", "clamonacc")}
    if not any(bins[n] for n in ("clamscan", "clamd", "freshclam")):
        return None
    procs = host.processes()
    p = base_product("ClamAV", "Cisco Talos", "clamav")
    p["components"] = {n: {"path": bins[n], "running": n in procs} for n in bins}
    p["running"] = "clamd" in procs
    conf: dict[str, list[str]] | None = None
    try:
        conf = clam.parse_clamd_conf(host.tail(cfg["clamd_config"], LOG_TAIL_BYTES))
    except OSError as e:
        p["notes"].append(f"clamd config {cfg['clamd_config']}: {e.strerror or e}")
    if conf is not None:
        p["realtime_protection"] = clam.onaccess_configured(conf) and (
            "clamonacc" in procs
            or p["running"] and clam.conf_value(conf, "ScanOnAccess") is not None)
        p["clamd_socket"] = clam.conf_value(conf, "LocalSocket")
    exe = bins["clamscan"] or bins["clamd"] or bins["freshclam"]
    res, why = try_run(host, [exe, "--version"], 15.0)
    if res is not None:
        ver = clam.parse_clamav_version(res.stdout)
        p["version"] = p["engine_version"] = ver["engine_version"]
    else:
        p["notes"].append(f"version unknown: {why}")
    db_dir = cfg["clamav_db_dir"] or (conf and clam.conf_value(conf, "DatabaseDirectory")) \
        or "/var/lib/clamav"
    _databases(host, p, db_dir)
    try:
        p["last_update"] = clam.parse_freshclam_log(host.tail(cfg["freshclam_log"], LOG_TAIL_BYTES))
    except OSError as e:
        p["notes"].append(f"freshclam log {cfg['freshclam_log']}: {e.strerror or e}")
    clamd_log = cfg["clamd_log"] or (conf and clam.conf_value(conf, "LogFile"))
    _scans(host, p, list(cfg["clamav_scan_logs"]), clamd_log, cfg["max_detections"])
    return p


def _databases(host: Host, p: dict[str, Any], db_dir: str) -> None:
    p["database_dir"] = db_dir
    try:
        names = sorted(host.listdir(db_dir))
    except OSError as e:
        p["databases"] = []
        p["notes"].append(f"database directory {db_dir} unreadable: {e.strerror or e}")
        return
    dbs = []
    now = host.now()
    for name in names[:MAX_DB_FILES]:
        kind = clam.database_kind(name)
        if kind is None:
            continue
        path = f"{db_dir}/{name}"
        entry: dict[str, Any] = {"name": name, "kind": kind, "version": None, "signatures": None,
                                 "build_time": None, "time_source": None}
        try:
            if kind == "text":
                if host.size(path) <= MAX_TEXT_DB_BYTES:
                    entry["signatures"] = clam.count_text_signatures(
                        ostext.decode(host.head(path, MAX_TEXT_DB_BYTES)))
            else:
                hdr = clam.parse_cvd_header(host.head(path, clam.HEADER_SIZE))
                if hdr is None:
                    p["notes"].append(f"{name}: not a ClamAV database header")
                else:
                    entry.update(version=hdr.version, signatures=hdr.signatures,
                                 build_time=hdr.build_time, time_source="header")
            if entry["build_time"] is None:
                entry["build_time"] = datetime.fromtimestamp(host.mtime(path), UTC)
                entry["time_source"] = "mtime"
        except OSError as e:
            p["notes"].append(f"{name}: {e.strerror or e}")
        entry["age_days"] = _age(now, entry["build_time"])
        dbs.append(entry)
    p["databases"] = dbs
    if not dbs:
        p["notes"].append(f"no signature databases in {db_dir} (freshclam never succeeded?)")
        return
    # Signature age is the official databases' own build time (cvd/cld/cud header): a
    # fresh local .hdb/.ndb must not hide a month-old daily.
    official = [d for d in dbs if d["time_source"] == "header"]
    local = [d["name"] for d in dbs if d["kind"] == "text"]
    times = [d["build_time"] for d in official if d["build_time"] is not None]
    p["signature_time"] = max(times) if times else None
    if not official:
        p["notes"].append("no official database (cvd/cld) with a build time in "
                          f"{db_dir}; local ones ({', '.join(local[:10])}) do not date "
                          "the signatures")
    elif local:
        p["notes"].append(f"local databases not counted in the signature age: "
                          f"{', '.join(local[:10])}")
    daily = [d for d in official if d["name"].split(".")[0] == "daily" and d["version"]]
    pick = daily or [d for d in official if d["version"] is not None]
    if pick:
        p["signature_version"] = str(max(d["version"] for d in pick))


def _scans(host: Host, p: dict[str, Any], scan_logs: list[str], clamd_log: str | None,
           cap: int) -> None:
    scans: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for i, path in enumerate(scan_logs):
        try:
            parsed = clam.parse_clamscan_log(host.tail(path, LOG_TAIL_BYTES), cap)
        except OSError as e:
            p["notes"].append(f"scan log {path}: {e.strerror or e}")
            continue
        # order: (time, log, position); a detection sits just before its scan's summary
        for j, scan in enumerate(parsed["scans"]):
            scans.append({**scan, "log": path, "order": (scan["time"] or FLOOR, i, 2 * j + 1)})
        for d in parsed["detections"]:
            j = d.pop("scan", None)
            found.append({**d, "order": (d["time"] or FLOOR, i,
                                         2 * j if j is not None else 1 << 40)})
    if clamd_log:
        try:
            hits = clam.parse_clamd_log(host.tail(clamd_log, LOG_TAIL_BYTES), cap)
        except OSError as e:
            p["notes"].append(f"clamd log {clamd_log}: {e.strerror or e}")
            hits = []
        # clamdscan's --log and clamd's LogFile tell of the same detection: keep one
        seen = {(d["path"], d["time"]) for d in found}
        found += [{**d, "order": (d["time"] or FLOOR, len(scan_logs), k)}
                  for k, d in enumerate(hits) if (d["path"], d["time"]) not in seen]
        if not scans:
            p["notes"].append("clamd keeps no record of clean scans: run clamdscan with "
                              "--log FILE and list FILE in clamav_scan_logs")
    dated = [s for s in scans if s["time"] is not None]
    if dated:
        last = max(dated, key=lambda s: s["order"])  # same second: the later in its log
        p["last_scan_time"] = last["time"]
        p["last_scan_source"] = {"log": last["log"][:4096], "tool": last["tool"]}
        inf = last["infected"] or 0
        p["last_scan_result"] = "clean" if inf == 0 else f"{inf} infected"
        if last["errors"]:
            p["last_scan_result"] += f", {last['errors']} errors"
    settled = sorted(clam.settle(found, scans, host.exists), key=lambda d: d["order"])
    p["detections"] = [{k: v for k, v in d.items() if k != "order"} for d in settled[-cap:]]


def _age(now: datetime, ts: datetime | None) -> float | None:
    return None if ts is None else round((now - ts).total_seconds() / 86400, 2)


def mdatp(host: Host) -> dict[str, Any] | None:
    """Microsoft Defender for Endpoint on Linux/macOS via ``mdatp health``."""
    if not (host.which("mdatp") or host.exists("/opt/microsoft/mdatp")):
        return None
    p = base_product("Microsoft Defender for Endpoint", "Microsoft", "mdatp")
    p["running"] = "wdavdaemon" in host.processes()
    res, why = try_run(host, ["mdatp", "health"], 30.0)
    if res is None:
        p["notes"].append(f"mdatp health unavailable: {why}")
        return p
    h = win.parse_mdatp_health(res.stdout)
    for k in ("realtime_protection", "version", "engine_version", "signature_version",
              "signature_time"):
        p[k] = h[k]
    p["signatures_current"] = h["definitions_status"] == "up_to_date" if h[
        "definitions_status"] else None
    if h["healthy"] is False:
        p["notes"].append(f"mdatp reports unhealthy: {h['health_issues']}")
    p["notes"].append("mdatp health does not report scan times")
    return p


def windows(host: Host) -> tuple[list[dict[str, Any]], list[str]]:
    """Defender (Get-MpComputerStatus) and Security Center products; plus why a source failed."""
    out: list[dict[str, Any]] = []
    res, why = try_run(host, [*_PS, "Get-MpComputerStatus | ConvertTo-Json"], 60.0)
    if res is not None and res.stdout.strip():
        d = win.parse_mp_status(res.stdout)
        p = base_product("Microsoft Defender Antivirus", "Microsoft", "defender")
        for k in ("running", "realtime_protection", "version", "engine_version",
                  "signature_version", "signature_time", "last_scan_time", "last_scan_result"):
            p[k] = d[k]
        if d["running_mode"]:
            p["notes"].append(f"running mode: {d['running_mode']}")
        out.append(p)
    res, why2 = try_run(host, [*_PS, "Get-CimInstance -Namespace root/SecurityCenter2 "
                                     "-ClassName AntiVirusProduct | ConvertTo-Json"], 60.0)
    sc = win.parse_security_center(res.stdout) if res is not None else []
    for item in sc:
        if out and re.search(r"defender", item["name"], re.I):
            out[0]["notes"].append(f"Security Center state: {item['scanner']}")
            continue
        p = base_product(item["name"], "unknown", "security_center")
        p["running"] = p["realtime_protection"] = item["scanner"] == "on"
        p["signatures_current"] = item["signatures_up_to_date"]
        p["notes"].append(f"Security Center productState {item['product_state']}")
        cn.enrich_security_center(p, host, item["scanner"])
        out.append(p)
    return out, [r for r in (why, why2) if r]
