"""Chinese antivirus products: 360, Huorong (火绒), Qi An Xin Tianqing (奇安信天擎), Rising (瑞星),
Kingsoft (金山毒霸) and Tencent (腾讯电脑管家).

On Windows they register with Security Center, which names them and gives a state word
(``productState``); there the agent recognises them by words of the display name, and on
Windows Server (no Security Center) or when a product does not register, by its processes.
On Linux, the editions that exist are recognised by process and install path. Each
product's own signature date is read where a public source says where it is kept (today:
Huorong's virus database directory); for the others the age is reported as unknown, never as
fresh. Every name, process and path below is listed with its source in
``tests/fixtures/antivirus/SOURCES.md`` ("Chinese products"); what is not there is not
guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .host import Host
from .known import KnownProduct, known_products

MAX_SIGNATURE_FILES = 500


@dataclass(frozen=True, slots=True)
class CnProduct:
    """One product: how it is named and found, and where its signatures are dated."""

    key: str
    name: str
    vendor: str
    sc_words: tuple[str, ...]  # lower-case words of its Security Center display name
    win_processes: tuple[str, ...] = ()
    linux_processes: tuple[str, ...] = ()
    linux_paths: tuple[str, ...] = ()
    # Windows: a directory under %ProgramData% whose newest file dates the signatures.
    signature_dir: str | None = None


CN_PRODUCTS: tuple[CnProduct, ...] = (
    CnProduct("huorong", "火绒安全软件", "Huorong (火绒)", ("火绒", "huorong"),
              ("hipsdaemon.exe", "hipstray.exe", "wsctrlsvc.exe", "usysdiag.exe"),
              signature_dir=r"Huorong\Sysdiag\virdb"),
    CnProduct("qihoo360", "360 安全软件 (360杀毒 / 360安全卫士)", "Qihoo 360 (奇虎360)",
              ("360杀毒", "360安全", "360 total security", "360终端安全"),
              ("360tray.exe", "360sd.exe", "zhudongfangyu.exe", "360rp.exe", "360safe.exe"),
              linux_paths=("/opt/360safeforlinux",)),
    CnProduct("qianxin", "奇安信天擎", "Qi An Xin (奇安信)",
              ("奇安信", "天擎", "qianxin", "qi-anxin", "qi an xin"),
              ("qaxentclient.exe", "qaxtray.exe", "tqclient.exe", "tqtray.exe",
               "tqdefender.exe", "trantoragent.exe"),
              linux_processes=("qaxsafed",), linux_paths=("/opt/qaxsafe",)),
    CnProduct("rising", "瑞星杀毒软件", "Rising (瑞星)", ("瑞星", "rising")),
    CnProduct("kingsoft", "金山毒霸", "Kingsoft (金山)", ("金山", "毒霸", "kingsoft"),
              ("kxetray.exe", "kxescore.exe")),
    CnProduct("tencent", "腾讯电脑管家", "Tencent (腾讯)",
              ("腾讯", "电脑管家", "tencent", "qq电脑管家"), ("qqpcrtp.exe", "qqpctray.exe")),
)


def match_name(display_name: str,
               table: Sequence[CnProduct] = CN_PRODUCTS) -> CnProduct | None:
    """The product a Security Center display name belongs to, by its words; else None."""
    text = display_name.lower()
    for product in table:
        if any(word in text for word in product.sc_words):
            return product
    return None


def enrich_security_center(p: dict[str, Any], host: Host, scanner: str) -> None:
    """Name the vendor of a Security Center row and date its signatures where possible."""
    product = match_name(p["name"])
    if scanner == "expired":
        p["signatures_current"] = False
        p["notes"].append("Security Center state: expired (licence or subscription ended)")
    if product is None:
        return
    p["vendor"] = product.vendor
    _date_signatures(p, product, host)


def detect(host: Host, found: Sequence[dict[str, Any]],
           table: Sequence[CnProduct] = CN_PRODUCTS) -> list[dict[str, Any]]:
    """Products of the table running or installed here that no other source named."""
    named = {k.key for p in found if (k := match_name(p["name"], table)) is not None}
    windows = host.system == "Windows"
    todo = {product.name: product for product in table if product.key not in named}
    rows = [KnownProduct(p.name, p.vendor, p.win_processes if windows else p.linux_processes,
                         () if windows else p.linux_paths) for p in todo.values()]
    out = known_products(host, rows, unreadable=None)
    for p in out:
        if windows:
            _date_signatures(p, todo[p["name"]], host)
        else:
            p["notes"].append("signature date not readable: no public source says where "
                              "this edition keeps it")
    return out


def _date_signatures(p: dict[str, Any], product: CnProduct, host: Host) -> None:
    if product.signature_dir is None:
        p["notes"].append("signature date not readable: no public source says where this "
                          "product keeps it")
        return
    base = host.environ("ProgramData") or host.environ("PROGRAMDATA") or r"C:\ProgramData"
    where = f"{base}\\{product.signature_dir}"
    newest, count = newest_file_time(host, where)
    if newest is None:
        p["notes"].append(f"signature date unknown: no readable files in {where}")
        return
    p["signature_time"] = newest
    p["notes"].append(f"signature time: newest of {count} file(s) in {where} (file time)")


def newest_file_time(host: Host, directory: str) -> tuple[datetime | None, int]:
    """The newest modification time among a directory's files, and how many were read."""
    try:
        names = sorted(host.listdir(directory))[:MAX_SIGNATURE_FILES]
    except OSError:
        return None, 0
    times = []
    for name in names:
        try:
            times.append(host.mtime(f"{directory}\\{name}"))
        except (OSError, OverflowError, ValueError):
            continue
    if not times:
        return None, 0
    try:
        return datetime.fromtimestamp(max(times), UTC), len(times)
    except (OverflowError, OSError, ValueError):
        return None, len(times)
