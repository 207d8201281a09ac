"""The built-in checks, listed explicitly (nothing registers itself at import)."""

from __future__ import annotations

from .base import Check
from .disk import DiskCheck
from .inventory import InventoryCheck

BUILTIN_CHECKS: tuple[type[Check], ...] = (
    DiskCheck,
    InventoryCheck,
)


def by_name() -> dict[str, type[Check]]:
    """The registry as a name → class mapping."""
    return {c.name: c for c in BUILTIN_CHECKS}
