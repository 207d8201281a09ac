"""batching: how many spooled reports one delivery request carries — by count and by bytes.

The collector states its limits in every answer's headers (``Hostpatrol-Max-Body-Bytes``,
``-Max-Report-Bytes``, ``-Max-Batch``); the agent keeps the last ones it saw in
``delivery.json`` and never sends a body over them (nor over ``delivery.max_batch_bytes``
before it has heard any). A ``413`` halves the byte budget from the size that failed;
so does a connection cut after an upload over :data:`PROBE_ABOVE_BYTES` while the
collector still answers a tiny request (how a server refusing a body it will not read
looks from here). A lone report over a known limit, refused with a read ``413``, or cut
:data:`CUTS_TO_GIVE_UP` times that way in a row, can never be delivered: the caller
dead-letters it (the gap record counts it). A timeout is no such sign (a slow link). The
learned budget is forgotten once the spool is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .client import LIMIT_HEADERS, batch_body_size
from .spool import Spooled

DEFAULT_BODY_BYTES = 4 * 1024 * 1024  # the collector's own default ingest.max_body_bytes
PROBE_ABOVE_BYTES = 64 * 1024
CUTS_TO_GIVE_UP = 3
MAX_CUT_RECORDS = 100


def _positive(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**53
    return value if ok else None


class Sizing:
    """The byte and count budget of one delivery pass, from ``delivery.json``'s record."""

    def __init__(self, record: Mapping[str, Any], configured_bytes: int) -> None:
        limits = record.get("limits")
        limits = limits if isinstance(limits, Mapping) else {}
        self.limits = {k: v for k in LIMIT_HEADERS if (v := _positive(limits.get(k)))}
        self.cap = _positive(record.get("batch_cap"))
        cuts = record.get("cuts")
        self.cuts = {str(k)[:64]: n for k, v in (cuts.items() if isinstance(cuts, Mapping)
                                                 else ()) if (n := _positive(v))}
        self.configured = max(1, configured_bytes)
        self.dirty = False

    def budget(self) -> int:
        """The most bytes a request body may have now."""
        return min(self.configured, self.limits.get("max_body_bytes", self.configured),
                   self.cap or self.configured)

    def plan(self, pending: list[Spooled], batch_size: int) -> tuple[list[Spooled], int]:
        """The oldest reports that fit (always at least one) and their body's size."""
        most = min(max(1, batch_size), self.limits.get("max_batch", batch_size))
        budget = self.budget()
        sizes: list[int] = []
        for item in pending[:most]:
            size = item.path.stat().st_size - 1  # the JWS, without the file's newline
            if sizes and batch_body_size([*sizes, size]) > budget:
                break
            sizes.append(size)
        return pending[:len(sizes)], batch_body_size(sizes)

    def never_fits(self, body: int) -> bool:
        """Whether a lone report with this body is over a limit the collector stated."""
        report = body - batch_body_size([0])
        return body > self.limits.get("max_body_bytes", body) or \
            report > self.limits.get("max_report_bytes", report)

    def limit_text(self) -> str:
        """The limit as the collector stated it, for the dead letter's reason."""
        if "max_body_bytes" in self.limits or "max_report_bytes" in self.limits:
            return ("the collector takes at most "
                    f"{self.limits.get('max_body_bytes', '?')} bytes a request and "
                    f"{self.limits.get('max_report_bytes', '?')} bytes a report")
        return "the collector answered 413"

    def learn(self, limits: Mapping[str, int]) -> None:
        """The collector's stated limits; a new body limit starts the budget afresh."""
        if limits and dict(limits) != self.limits:
            if limits.get("max_body_bytes") != self.limits.get("max_body_bytes"):
                self.cap = None
            self.limits = dict(limits)
            self.dirty = True

    def halve(self, body: int) -> None:
        """A body of ``body`` bytes was too large: send at most half of it from now on."""
        self.cap = max(1, body // 2)
        self.dirty = True

    def cut_again(self, report_id: str) -> bool:
        """One more cut upload of this lone report; True once it should be given up."""
        self.cuts[report_id] = self.cuts.get(report_id, 0) + 1
        if len(self.cuts) > MAX_CUT_RECORDS:
            self.cuts.pop(next(iter(self.cuts)))
        self.dirty = True
        return self.cuts.get(report_id, 0) >= CUTS_TO_GIVE_UP

    def delivered(self, batch: list[Spooled]) -> None:
        """These reports went through: forget their cut uploads."""
        for item in batch:
            if self.cuts.pop(item.report_id, None) is not None:
                self.dirty = True

    def changes(self, *, drained: bool) -> dict[str, Any] | None:
        """What to keep in ``delivery.json`` (None when nothing changed)."""
        if drained and (self.cap is not None or self.cuts):
            self.cap, self.cuts, self.dirty = None, {}, True
        if not self.dirty:
            return None
        return {"limits": self.limits, "batch_cap": self.cap, "cuts": self.cuts}
