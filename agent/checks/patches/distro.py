"""patches: which package manager a Linux distribution uses, from its os-release.

A Kylin server is dnf-based and a Kylin desktop apt-based, UOS has apt, dnf and OSTree
editions: the manager follows from the distribution (``hostpatrol.shared.osfamily``), not
from whichever tool happens to be on PATH. When the distribution's manager is missing the
check says so instead of asking another one; an unrecognised distribution falls back to the
tool found and says that it did. Pure, given the os-release text and ``which``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hostpatrol.shared.osfamily import OsIdentity, identify

from ..inventory import parse_os_release

# Package family → the tools that serve it, in order of preference.
TOOLS = {"apt": ("apt-get",), "dnf": ("dnf", "yum"), "zypper": ("zypper",)}
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
# apt list files of a security pocket are named …_dists_<suite>-security_…Release.
SECURITY_SUITE = "-security_"


class ManagerMissing(Exception):
    """The distribution's own package manager is not installed (or cannot be read)."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The manager to ask, the distribution it was chosen for, and a note when guessed."""

    manager: str | None
    identity: OsIdentity
    note: str | None = None

    def distribution(self) -> dict[str, Any]:
        """The wire form of the distribution facts (patches ``distribution``)."""
        i = self.identity
        return {"id": i.distro[:64], "name": i.name[:256], "edition": (i.edition or None)
                and i.edition[:64], "package_family": i.package_family,
                "domestic": i.domestic, "note": self.note and self.note[:512]}


def read_identity(read: Callable[[str], str | None]) -> OsIdentity:
    """The identity from /etc/os-release (else /usr/lib/os-release)."""
    for path in OS_RELEASE:
        text = read(path)
        if text is not None:
            raw = parse_os_release(text)
            return identify({k.lower(): v for k, v in raw.items()}, "Linux")
    return identify({}, "Linux")


def choose(identity: OsIdentity, which: Callable[[str], str | None],
           fallback: Callable[[], str | None]) -> Choice:
    """The manager for this distribution; ManagerMissing when its own is absent."""
    family = identity.package_family
    label = identity.name + (f" ({identity.edition})" if identity.edition else "")
    if family == "ostree":
        msg = (f"{label} delivers system updates through OSTree; apt there lists only "
               "app-store packages, and hostpatrol cannot read OSTree updates: patch state "
               "unknown")
        raise ManagerMissing(msg)
    if family in TOOLS:
        for tool in TOOLS[family]:
            if which(tool):
                return Choice(tool, identity)
        wanted = " or ".join(TOOLS[family])
        msg = (f"{label} is {family}-based but {wanted} is not installed: patch state "
               "unknown (no other package manager was asked)")
        raise ManagerMissing(msg)
    tool = fallback()
    note = None
    if tool is not None:
        note = (f"distribution not recognised (ID={identity.distro}); asked {tool}, the "
                "package manager found on this host")
    return Choice(tool, identity, note)


def apt_security_known(release_files: list[str]) -> bool:
    """True when some apt list file is a ``-security`` suite's (the pocket is configured)."""
    return any(SECURITY_SUITE in path.rsplit("/", 1)[-1] for path in release_files)
