"""The agent's own error base, importable without the HTTPS client (no requests/cryptography)."""

from __future__ import annotations


class ClientError(Exception):
    """Base of delivery and enrollment failures."""


class UsageError(Exception):
    """The command line asks for something that does not exist (exit 64, EX_USAGE)."""
