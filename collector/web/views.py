"""The dashboard blueprint with every page module's routes attached."""

from __future__ import annotations

from . import (  # noqa: F401 - they register routes
    account,
    admin,
    auditlog,
    auth,
    findings_actions,
    findings_pages,
    hosts,
    incidents_pages,
    overview,
    owners,
    policy_pages,
    report_pages,
    trends_page,
)
from .blueprint import web

__all__ = ["web"]
