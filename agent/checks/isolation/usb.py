"""USB storage side of isolation: is usb-storage blocked, and which USB sticks were seen.

Linux: /etc/modprobe.d/*.conf, /proc/modules, kernel log lines, /sys/bus/usb/devices.
Windows: recorded ``reg query`` of the USBSTOR service and a PowerShell listing of
``HKLM:\\SYSTEM\\CurrentControlSet\\Enum\\USBSTOR``. All parsers are pure.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ... import ostext

MAX_DEVICES = 512
_MODNAMES = {"usb_storage", "usb-storage"}

_LOG = re.compile(
    r"^(?:(?P<ts>.+?)\s+\S+\s+kernel:\s*)?(?:\[\s*(?P<mono>\d+\.\d+)\]\s*)?(?P<msg>.*)$")
_NEW = re.compile(r"^usb (?P<port>[\d.-]+): New USB device found, idVendor=(?P<vid>\w+), "
                  r"idProduct=(?P<pid>\w+)")
_STR = re.compile(r"^usb (?P<port>[\d.-]+): (?P<key>Product|Manufacturer|SerialNumber):(?P<v>.*)$")
_STOR = re.compile(r"^usb-storage (?P<port>[\d.-]+):[\d.]+: USB Mass Storage device detected")


def parse_modprobe_conf(text: str) -> dict[str, bool]:
    """Whether a modprobe.d file blacklists usb-storage or replaces its install command."""
    blacklisted = install_blocked = False
    for line in text.splitlines():
        f = line.split("#", 1)[0].split()
        if len(f) >= 2 and f[1] in _MODNAMES:
            if f[0] == "blacklist":
                blacklisted = True
            elif f[0] == "install" and len(f) >= 3 and Path(f[2]).name in {"true", "false"}:
                install_blocked = True
    return {"blacklisted": blacklisted, "install_blocked": install_blocked}


def module_loaded(proc_modules: str) -> bool:
    """Whether usb_storage appears in /proc/modules."""
    return any(line.split(" ", 1)[0] == "usb_storage" for line in proc_modules.splitlines())


def parse_kernel_usb_log(text: str) -> list[dict[str, Any]]:
    """USB mass-storage devices from kernel log lines (journalctl -k, syslog or dmesg)."""
    current: dict[str, dict[str, Any]] = {}
    devices: dict[tuple[Any, ...], dict[str, Any]] = {}
    for line in text.splitlines():
        m = _LOG.match(line.rstrip())
        if not m:
            continue
        ts = m.group("ts") or (f"+{m.group('mono')}s" if m.group("mono") else None)
        msg = m.group("msg")
        if n := _NEW.match(msg):
            current[n["port"]] = {"port": n["port"], "vendor_id": n["vid"],
                                  "product_id": n["pid"], "manufacturer": None,
                                  "product": None, "serial": None, "ts": ts}
        elif s := _STR.match(msg):
            dev = current.setdefault(s["port"], {"port": s["port"], "ts": ts})
            key = {"Product": "product", "Manufacturer": "manufacturer",
                   "SerialNumber": "serial"}[s["key"]]
            dev[key] = s["v"].strip() or None
        elif st := _STOR.match(msg):
            dev = current.get(st["port"], {"port": st["port"], "ts": ts})
            ident = (dev.get("vendor_id"), dev.get("product_id"), dev.get("serial"),
                     dev.get("product"))
            seen = devices.get(ident)
            if seen is None and len(devices) < MAX_DEVICES:
                devices[ident] = seen = {
                    "vendor_id": dev.get("vendor_id"), "product_id": dev.get("product_id"),
                    "vendor": dev.get("manufacturer"), "product": dev.get("product"),
                    "serial": dev.get("serial"), "first_seen": dev.get("ts") or ts,
                    "last_seen": ts, "times_seen": 0, "source": "kernel-log"}
            if seen is not None:
                seen["last_seen"] = ts
                seen["times_seen"] += 1
    return list(devices.values())


def sysfs_usb_storage(usb_devices: Path) -> list[dict[str, Any]]:
    """USB devices present now with a mass-storage interface (class 08), from sysfs."""
    try:
        entries = sorted(usb_devices.iterdir())[:4096]
    except OSError:
        return []
    out = []
    for dev in entries:
        if ":" in dev.name or not (dev / "idVendor").exists():
            continue
        classes = {_text(i / "bInterfaceClass") for i in dev.glob(f"{dev.name}:*")}
        if "08" not in classes:
            continue
        out.append({"vendor_id": _text(dev / "idVendor"), "product_id": _text(dev / "idProduct"),
                    "vendor": _text(dev / "manufacturer") or None,
                    "product": _text(dev / "product") or None,
                    "serial": _text(dev / "serial") or None,
                    "first_seen": None, "last_seen": "now", "times_seen": 1, "source": "sysfs"})
    return out[:MAX_DEVICES]


def _text(path: Path) -> str:
    try:
        return ostext.read_text(path, 4096).strip()[:256]
    except OSError:
        return ""


def parse_reg_start(text: str) -> int | None:
    """The ``Start`` DWORD from ``reg query HKLM\\...\\Services\\USBSTOR /v Start``."""
    m = re.search(r"^\s*Start\s+REG_DWORD\s+0x([0-9a-fA-F]+)", text, re.MULTILINE)
    return int(m.group(1), 16) if m else None


def parse_ps_usbstor(text: str) -> list[dict[str, Any]]:
    """Devices from ``Get-ChildItem HKLM:\\...\\Enum\\USBSTOR | Get-ChildItem`` output."""
    out: list[dict[str, Any]] = []
    key: dict[str, str | None] = {}
    for line in text.splitlines():
        h = re.match(r"^\s*Hive:\s*\S*\\USBSTOR\\(?P<k>\S+)", line)
        if h:
            parts = dict(re.findall(r"(Ven|Prod|Rev)_([^&]*)", h["k"]))
            key = {"vendor": parts.get("Ven") or None, "product": parts.get("Prod") or None}
            continue
        row = re.match(r"^(?P<inst>\S+&\d+)\s+\w+\s*:", line)
        if row and key and len(out) < MAX_DEVICES:
            inst = row["inst"]
            # A second character '&' means Windows made the id up: no real serial.
            serial = None if inst[1:2] == "&" else inst.rsplit("&", 1)[0]
            out.append({"vendor_id": None, "product_id": None, "vendor": key["vendor"],
                        "product": key["product"], "serial": serial, "first_seen": None,
                        "last_seen": None, "times_seen": 1, "source": "registry"})
        fn = re.match(r"^\s+FriendlyName\s*:\s*(.+)$", line)
        if fn and out:
            out[-1]["friendly_name"] = fn.group(1).strip()[:256]
    return out
