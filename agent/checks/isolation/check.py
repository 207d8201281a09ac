"""isolation: can an intranet/isolated host reach outside, does it bridge networks, USB storage.

For hosts tagged ``intranet`` or ``isolated`` it probes egress (TCP connect and DNS
lookup, 2 s each): reaching anything is the violation. Internet-zone hosts skip the
probe. Lists extra NICs, bridges, Wi-Fi, cellular modems and default routes; whether
usb-storage is blocked and which USB storage devices were seen. Reading the kernel
log may need root (dmesg_restrict) or the systemd-journal group; that is reported.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ... import ostext
from ...commands import CommandError
from ..base import Check, Option, Outcome, worst
from .net import (
    Connector,
    Resolver,
    classify_interfaces,
    egress_probe,
    parse_ipv6_route,
    parse_proc_net_route,
    resolve_name,
    tcp_connect,
)
from .usb import (
    module_loaded,
    parse_kernel_usb_log,
    parse_modprobe_conf,
    parse_ps_usbstor,
    parse_reg_start,
    sysfs_usb_storage,
)

ZONES = ("internet", "intranet", "isolated")
PROBE_TIMEOUT = 2.0
KERNEL_LOG_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("journalctl", "-k", "-b", "all", "--no-pager", "-q", "-o", "short-iso", "-n", "50000"),
    ("dmesg", "--time-format", "iso"),
)
REG_USBSTOR_START = ("reg", "query", r"HKLM\SYSTEM\CurrentControlSet\Services\USBSTOR",
                     "/v", "Start")
PS_USBSTOR_ENUM = ("powershell", "-NoProfile", "-NonInteractive", "-Command",
                   r"Get-ChildItem 'HKLM:\SYSTEM\CurrentControlSet\Enum\USBSTOR' | Get-ChildItem"
                   " | Format-Table -AutoSize -Wrap | Out-String -Width 4096")


class IsolationCheck(Check):
    """Network isolation and USB storage control; the kernel log may need root."""

    name: ClassVar[str] = "isolation"
    schedule: ClassVar[str] = "daily"
    timeout: ClassVar[float] = 60.0
    options: ClassVar = {
        "zone": Option(str, "internet", "network zone of this host: internet, intranet or "
                                        "isolated; intranet/isolated hosts get an egress probe"),
        "egress_targets": Option(list, ["1.1.1.1:443", "8.8.8.8:53"],
                                 "host:port endpoints an isolated host must NOT reach"),
        "dns_probe_names": Option(list, ["example.com"],
                                  "names an isolated host must NOT be able to resolve"),
    }

    def __init__(self, *args: Any, root: Path = Path("/"),
                 system: Callable[[], str] = platform.system,
                 connect: Connector = tcp_connect, resolve: Resolver = resolve_name,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.root = root
        self.system = system
        self.connect = connect
        self.resolve = resolve

    def collect(self) -> Outcome:
        """Probe egress (restricted zones only), list networks and USB storage."""
        zone = str(self.config["zone"])
        if zone not in ZONES:
            msg = f"isolation.zone must be one of {', '.join(ZONES)}, not {zone!r}"
            raise ValueError(msg)
        restricted = zone != "internet"
        findings: list[str] = []
        if restricted:
            egress = egress_probe(list(self.config["egress_targets"]),
                                  list(self.config["dns_probe_names"]),
                                  self.connect, self.resolve, PROBE_TIMEOUT)
            if egress["reached"]:
                findings.append("reached outside: " + ", ".join(egress["reached"]))
        else:
            egress = {"performed": False, "reason": "internet zone: egress is allowed"}
        system = self.system()
        network = self._network() if system == "Linux" else {
            "interfaces": [], "default_routes": [], "note": f"not collected on {system}"}
        usb = self._usb_windows() if system == "Windows" else self._usb_linux()
        status = "fail" if findings else "ok"
        if restricted:
            kinds = [i for i in network["interfaces"]
                     if i["kind"] in {"bridge", "wireless", "wwan"}]
            phys_up = [i for i in network["interfaces"] if i["kind"] == "physical" and i["up"]]
            gw_ifaces = {r["interface"] for r in network["default_routes"]}
            if kinds:
                findings.append("bridge/wireless/cellular interfaces: "
                                + ", ".join(i["name"] for i in kinds))
            if len(phys_up) > 1 or len(gw_ifaces) > 1:
                findings.append("more than one network path (extra NIC or default route)")
            if usb["blocked"] is False:
                findings.append("USB mass storage is not blocked")
            if len(findings) and status == "ok":
                status = worst(status, "warn")
        return Outcome(status, {"zone": zone, "findings": findings, "egress": egress,
                                "network": network, "usb_storage": usb})

    def _read(self, rel: str) -> str | None:
        try:
            return ostext.read_text(self.root / rel, 1_000_000)
        except OSError:
            return None

    def _network(self) -> dict[str, Any]:
        routes = parse_proc_net_route(self._read("proc/net/route") or "")
        routes += parse_ipv6_route(self._read("proc/net/ipv6_route") or "")
        return {"interfaces": classify_interfaces(self.root / "sys/class/net"),
                "default_routes": [r.to_dict() for r in routes]}

    def _usb_linux(self) -> dict[str, Any]:
        conf_dir = self.root / "etc/modprobe.d"
        rules: list[str] = []
        blacklisted = install_blocked = False
        try:
            confs = sorted(conf_dir.glob("*.conf"))[:512]
        except OSError:
            confs = []
        for conf in confs:
            r = parse_modprobe_conf(self._read(str(conf.relative_to(self.root))) or "")
            if r["blacklisted"] or r["install_blocked"]:
                rules.append(conf.name)
            blacklisted |= r["blacklisted"]
            install_blocked |= r["install_blocked"]
        modules = self._read("proc/modules")
        loaded = module_loaded(modules) if modules is not None else None
        log_text, log_source = self._kernel_log()
        devices = parse_kernel_usb_log(log_text) if log_text else []
        devices += sysfs_usb_storage(self.root / "sys/bus/usb/devices")
        return {
            # blacklist alone still allows an explicit modprobe; install /bin/true does not.
            "blocked": install_blocked and not loaded,
            "blacklisted": blacklisted,
            "install_blocked": install_blocked,
            "module_loaded": loaded,
            "policy_files": rules,
            "devices": devices[:512],
            "log_source": log_source,
        }

    def _kernel_log(self) -> tuple[str, dict[str, Any]]:
        tried = []
        for argv in KERNEL_LOG_COMMANDS:
            out, why = self._try(argv)
            if out is not None:
                return out, {"command": argv[0], "available": True}
            tried.append(f"{argv[0]}: {why}")
        return "", {"command": None, "available": False, "reason": "; ".join(tried)[:500]}

    def _try(self, argv: Sequence[str]) -> tuple[str | None, str]:
        try:
            res = self.run(argv, 20.0)
        except CommandError as e:
            return None, str(e)
        if res.returncode != 0 or not res.stdout.strip():
            err = (res.stderr or "no output").strip().splitlines()
            return None, f"exit {res.returncode}: {err[0][:200] if err else 'no output'}"
        return res.stdout, ""

    def _usb_windows(self) -> dict[str, Any]:
        start_out, why = self._try(REG_USBSTOR_START)
        start = parse_reg_start(start_out) if start_out else None
        enum_out, enum_why = self._try(PS_USBSTOR_ENUM)
        return {
            "blocked": None if start is None else start == 4,  # 4 = SERVICE_DISABLED
            "usbstor_start": start,
            "module_loaded": None,
            "policy_files": [],
            "devices": parse_ps_usbstor(enum_out) if enum_out else [],
            "log_source": {"command": "registry", "available": enum_out is not None,
                           "reason": enum_why or why or None},
        }
