"""Talking to the collector over HTTPS with the certificate fingerprint pinned."""

from __future__ import annotations

import email.utils
import json
import re
from datetime import UTC, datetime
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hostpatrol.shared import __version__, jws
from hostpatrol.shared.clock import utcnow
from hostpatrol.shared.keys import key_id
from hostpatrol.shared.report import format_time
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from .errors import ClientError

REQUEST_FORMAT = "hostpatrol.request/1"


class Unreachable(ClientError):
    """The collector could not be reached or did not answer in time: try later.

    ``connected`` is True when a connection was made and then cut (reset, TLS EOF):
    after a large upload that is how a collector refusing the size looks.
    """

    def __init__(self, message: str, *, connected: bool = False) -> None:
        super().__init__(message)
        self.connected = connected


class FingerprintMismatch(ClientError):
    """The server's certificate is not the pinned one: refuse to talk."""


class Refused(ClientError):
    """The collector answered with an error status."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"collector refused ({status}): {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after


def normalize_fingerprint(text: str) -> str:
    """``sha256:HEX`` (colons or not, any case) → lower-case hex; ValueError otherwise."""
    raw = text.strip().lower()
    if raw.startswith("sha256:"):
        raw = raw[len("sha256:"):]
    raw = raw.replace(":", "")
    if len(raw) != 64 or any(c not in "0123456789abcdef" for c in raw):
        msg = f"fingerprint must be sha256:<64 hex digits>, got {text!r}"
        raise ValueError(msg)
    return raw


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or utcnow())).total_seconds())


def agent_authorization(key: Ed25519PrivateKey, agent_id: str, method: str,
                        path: str) -> str:
    """``Authorization: Agent <JWS>`` for one request, signed with the agent key."""
    claims = {"format": REQUEST_FORMAT, "agent_id": agent_id, "method": method,
              "path": path, "iat": format_time(utcnow())}
    token = jws.sign(jws.dumps_compact(claims), key, kid=key_id(key.public_key()),
                     typ="hostpatrol.request+jws")
    return f"Agent {token}"


LIMIT_HEADERS = {"max_body_bytes": "Hostpatrol-Max-Body-Bytes",
                 "max_report_bytes": "Hostpatrol-Max-Report-Bytes",
                 "max_batch": "Hostpatrol-Max-Batch"}


def advertised_limits(headers: Any) -> dict[str, int]:
    """The ingest limits a collector states in its answer's headers (positive integers)."""
    out = {}
    for key, header in LIMIT_HEADERS.items():
        value = (headers.get(header) or "").strip()
        if value.isdigit() and 0 < int(value) < 2**53:
            out[key] = int(value)
    return out


def batch_body(reports: list[str]) -> bytes:
    """The exact request body for a batch: ``{"reports":[...]}`` (JWS are ASCII)."""
    return json.dumps({"reports": reports}, separators=(",", ":")).encode("ascii")


def batch_body_size(sizes: list[int]) -> int:
    """:func:`batch_body`'s length for reports of these lengths, without building it."""
    return len('{"reports":[]}') + sum(n + 2 for n in sizes) + max(0, len(sizes) - 1)


def _connected(error: Exception) -> bool:
    """Whether a request's connection was made and then cut (reset, TLS EOF); not when it
    was refused or unresolved, nor a timeout (a slow link is no size limit)."""
    if isinstance(error, requests.exceptions.Timeout):
        return False
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return not isinstance(reason, NewConnectionError)


def _presented(error_text: str) -> str | None:
    """The digest of the certificate the server presented, from urllib3's mismatch text
    ('Fingerprints did not match. Expected "…", got "…"'), so the message tells a changed
    certificate from another server; None when the text names none."""
    found = re.search(r'got "([0-9a-f]{64})"', error_text)
    return found.group(1) if found else None


class _PinnedAdapter(HTTPAdapter):
    def __init__(self, fingerprint: str, **kwargs: Any) -> None:
        self._fingerprint = fingerprint
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_fingerprint"] = self._fingerprint
        kwargs["cert_reqs"] = "CERT_NONE"
        kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)


class Client:
    """One collector, reached over HTTPS; the certificate must match ``fingerprint``."""

    def __init__(self, server: str, fingerprint: str, *, timeout: float = 20.0) -> None:
        if not server.startswith("https://"):
            msg = f"server URL must start with https:// (got {server!r})"
            raise ClientError(msg)
        self.server = server.rstrip("/")
        self.fingerprint = normalize_fingerprint(fingerprint)
        self.timeout = timeout
        self.session = requests.Session()
        self.session.mount("https://", _PinnedAdapter(self.fingerprint))
        self.session.headers["User-Agent"] = f"hostpatrol-agent/{__version__}"
        self.limits: dict[str, int] = {}  # the collector's, from its last answer

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            # verify=False per request: REQUESTS_CA_BUNDLE in the environment would
            # otherwise switch CA validation back on; the pinned fingerprint is the check.
            return self.session.request(method, self.server + path, timeout=self.timeout,
                                        verify=False, **kwargs)
        except requests.exceptions.SSLError as e:
            if "fingerprint" in str(e).lower():
                seen = _presented(str(e))
                msg = (f"{self.server}: the server certificate does not match the pinned "
                       f"fingerprint sha256:{self.fingerprint}"
                       f"{f' (it presented sha256:{seen})' if seen else ''}; refusing to "
                       f"talk to it (wrong server, or the collector's certificate changed)")
                raise FingerprintMismatch(msg) from e
            msg = f"{self.server}: TLS error: {e}"
            raise Unreachable(msg, connected=_connected(e)) from e
        except requests.exceptions.RequestException as e:
            msg = f"{self.server}: {type(e).__name__}: {e}"
            raise Unreachable(msg, connected=_connected(e)) from e

    def _note_limits(self, resp: requests.Response) -> None:
        limits = advertised_limits(resp.headers)
        if limits:
            self.limits = limits

    @staticmethod
    def _answer(resp: requests.Response, ok: tuple[int, ...]) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            body = {"error": resp.text[:300]}
        if resp.status_code in ok:
            return body
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        raise Refused(resp.status_code, str(body.get("error", body))[:500], retry_after)

    def enroll(self, token: str, proof: str) -> dict[str, Any]:
        """Register this host's key."""
        resp = self._request("POST", "/api/v1/enroll", json={"token": token, "proof": proof})
        return self._answer(resp, (201,))

    def deliver(self, reports: list[str]) -> dict[str, Any]:
        """Send a batch of JWS reports (:func:`batch_body`); the answer lists each one's
        outcome. The collector's limits it sends along are kept in :attr:`limits`."""
        resp = self._request("POST", "/api/v1/reports", data=batch_body(reports),
                             headers={"Content-Type": "application/json"})
        self._note_limits(resp)
        return self._answer(resp, (200,))

    def probe(self) -> dict[str, int]:
        """Whether the collector answers at all (``GET /healthz``, any status): its
        advertised limits (empty from a collector that sends none); Unreachable if not."""
        resp = self._request("GET", "/healthz")
        self._note_limits(resp)
        return advertised_limits(resp.headers)

    def policy(self, key: Ed25519PrivateKey, agent_id: str) -> str:
        """Fetch this agent's signed policy (a JWS; verify it before use)."""
        path = "/api/v1/policy"
        resp = self._request("GET", path, headers={
            "Authorization": agent_authorization(key, agent_id, "GET", path)})
        if resp.status_code != 200:
            self._answer(resp, (200,))
        return resp.text.strip()

    def rotate(self, announcement: str) -> dict[str, Any]:
        """Announce a new key: a JWS signed by the old key holding the new key's proof."""
        resp = self._request("POST", "/api/v1/agents/rotate", data=announcement,
                             headers={"Content-Type": "application/jose"})
        return self._answer(resp, (200,))
