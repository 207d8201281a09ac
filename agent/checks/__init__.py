"""The built-in checks, one module or package each, listed in BUILTIN_CHECKS (none self-registers).
Text from the OS is decoded by the agent's one rule for it (ostext).
May import the agent's commands and ostext, each other's parsers, hostpatrol.shared; nothing else.
"""

from __future__ import annotations

from .accounts.check import AccountsCheck
from .antivirus.check import AntivirusCheck
from .backups import BackupsCheck
from .base import Check
from .disk import DiskCheck
from .firewall.check import FirewallCheck
from .hardware import HardwareCheck
from .inventory import InventoryCheck
from .isolation.check import IsolationCheck
from .logs.check import LogsCheck
from .patches.check import PatchesCheck
from .ports.check import PortsCheck
from .software_policy import SoftwarePolicyCheck
from .timesync.check import TimeCheck

BUILTIN_CHECKS: tuple[type[Check], ...] = (
    DiskCheck,
    InventoryCheck,
    PatchesCheck,
    AntivirusCheck,
    LogsCheck,
    AccountsCheck,
    PortsCheck,
    SoftwarePolicyCheck,
    BackupsCheck,
    HardwareCheck,
    IsolationCheck,
    TimeCheck,
    FirewallCheck,
)


def by_name() -> dict[str, type[Check]]:
    """The registry as a name → class mapping."""
    return {c.name: c for c in BUILTIN_CHECKS}
