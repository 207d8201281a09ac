"""The agent's own error base, importable without the HTTPS client (no requests/cryptography)."""

from __future__ import annotations


class ClientError(Exception):
    """Base of delivery and enrollment failures."""
