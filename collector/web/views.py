"""The dashboard blueprint with every page module's routes attached."""

from __future__ import annotations

from . import admin, auditlog, auth, hosts, overview  # noqa: F401 - they register routes
from .blueprint import web

__all__ = ["web"]
