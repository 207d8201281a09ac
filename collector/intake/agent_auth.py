"""agent_auth: requests signed by an agent key (``Authorization: Agent <JWS>``).

The JWS (EdDSA, ``kid`` = the agent key id) carries ``{"format": "hostpatrol.request/1",
"agent_id", "method", "path", "iat"}``. It is verified like a report: key lookup by kid,
the signature, the agent active, ``iat`` within the ingest clock skew, and method and
path equal to the request's (a token for one endpoint opens no other).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hostpatrol.shared import jws
from hostpatrol.shared.errors import JWSError, KeyFileError, SchemaError
from hostpatrol.shared.keys import public_from_b64
from hostpatrol.shared.report import parse_time

from ..errors import ApiError
from ..store import agents as agent_store

FORMAT = "hostpatrol.request/1"


def _refuse(message: str, status: int = 401) -> ApiError:
    return ApiError(message, status=status, reason="agent_auth")


def verify_agent_request(conn: sa.Connection, header: str, *, method: str, path: str,
                         now: datetime, skew: timedelta) -> Any:
    """The agents row behind a valid ``Authorization: Agent`` header; ApiError otherwise."""
    if not header.startswith("Agent "):
        msg = "agent authentication required (Authorization: Agent <JWS>)"
        raise _refuse(msg)
    try:
        unverified = jws.parse(header[6:].strip())
    except JWSError as e:
        msg = f"agent authorization is not a valid JWS: {e}"
        raise _refuse(msg) from e
    agent = agent_store.by_kid(conn, unverified.kid or "")
    if agent is None:
        msg = f"unknown agent key {str(unverified.kid)[:64]!r}"
        raise _refuse(msg)
    try:
        doc = jws.loads_strict(jws.verify(unverified, public_from_b64(agent.public_key)))
    except (JWSError, KeyFileError, ValueError, UnicodeDecodeError) as e:
        msg = f"agent authorization does not verify with the key of agent {agent.id}"
        raise _refuse(msg) from e
    if agent.status != "active":
        msg = f"agent {agent.id} is {agent.status}"
        raise _refuse(msg, 403)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        msg = f"agent authorization format must be {FORMAT}"
        raise _refuse(msg)
    if doc.get("agent_id") != agent.id:
        msg = f"agent authorization claims agent {doc.get('agent_id')!r}"
        raise _refuse(msg, 403)
    if doc.get("method") != method or doc.get("path") != path:
        msg = (f"agent authorization is for {doc.get('method')} {doc.get('path')}, "
               f"not {method} {path}")
        raise _refuse(msg)
    try:
        iat = parse_time(doc.get("iat"), "iat")
    except SchemaError as e:
        msg = f"agent authorization: {e}"
        raise _refuse(msg) from e
    if abs(now - iat) > skew:
        msg = (f"agent authorization iat {doc.get('iat')} is outside the allowed clock "
               f"skew ({int(skew.total_seconds())} s) of collector time")
        raise _refuse(msg)
    return agent
